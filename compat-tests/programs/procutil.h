/* procutil.h - what the process programs (proc_*) share on top of thrutil.h: fork and wait
 * helpers, wait statuses and signals described by name (the libcs' strsignal texts differ),
 * running this same program again in a helper mode, and pipes used as one-shot events.
 *
 * These programs never print a pid, only whether pids relate as they should. The program runs
 * as PID 1 in Coracle and as an ordinary process on the host; a check that depends on that
 * says how it is made to agree. Helpers are this program re-executed through argv[0], which is
 * its absolute path on both sides, with "--child MODE ..." as arguments. */
#ifndef COMPAT_PROCUTIL_H
#define COMPAT_PROCUTIL_H

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "thrutil.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* argv[0] of this program, for re-executing it. */
static const char *self_path;

static __attribute__((unused)) const char *signame(int sig)
{
	static char other[16];
	switch (sig) {
	case SIGHUP: return "HUP";
	case SIGINT: return "INT";
	case SIGQUIT: return "QUIT";
	case SIGILL: return "ILL";
	case SIGTRAP: return "TRAP";
	case SIGABRT: return "ABRT";
	case SIGBUS: return "BUS";
	case SIGFPE: return "FPE";
	case SIGKILL: return "KILL";
	case SIGUSR1: return "USR1";
	case SIGSEGV: return "SEGV";
	case SIGUSR2: return "USR2";
	case SIGPIPE: return "PIPE";
	case SIGALRM: return "ALRM";
	case SIGTERM: return "TERM";
	case SIGCHLD: return "CHLD";
	case SIGCONT: return "CONT";
	case SIGSTOP: return "STOP";
	case SIGTSTP: return "TSTP";
	case SIGTTIN: return "TTIN";
	case SIGTTOU: return "TTOU";
	case SIGXCPU: return "XCPU";
	case SIGSYS: return "SYS";
	}
	snprintf(other, sizeof other, "%d", sig);
	return other;
}

/* A wait status in words: "exited 3", "killed by SEGV", "killed by SEGV (core)",
 * "stopped by STOP", "continued". */
static __attribute__((unused)) const char *status_str(int status)
{
	static char buf[64];
	if (WIFEXITED(status))
		snprintf(buf, sizeof buf, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, sizeof buf, "killed by %s%s", signame(WTERMSIG(status)),
			 WCOREDUMP(status) ? " (core)" : "");
	else if (WIFSTOPPED(status))
		snprintf(buf, sizeof buf, "stopped by %s", signame(WSTOPSIG(status)));
	else if (WIFCONTINUED(status))
		snprintf(buf, sizeof buf, "continued");
	else
		snprintf(buf, sizeof buf, "status %#x", status);
	return buf;
}

static __attribute__((unused)) const char *cld_code(int code)
{
	static char other[16];
	switch (code) {
	case CLD_EXITED: return "CLD_EXITED";
	case CLD_KILLED: return "CLD_KILLED";
	case CLD_DUMPED: return "CLD_DUMPED";
	case CLD_TRAPPED: return "CLD_TRAPPED";
	case CLD_STOPPED: return "CLD_STOPPED";
	case CLD_CONTINUED: return "CLD_CONTINUED";
	}
	snprintf(other, sizeof other, "code %d", code);
	return other;
}

static __attribute__((unused)) pid_t fork_or_die(void)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	return pid;
}

/* waitpid(pid) for a final status, retrying on EINTR; -1 (printed) when it fails. */
static __attribute__((unused)) int reap(pid_t pid)
{
	int status;
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r != pid) {
		printf("waitpid: %s\n", r < 0 ? errname(errno) : "another child");
		return -1;
	}
	return status;
}

/* Checks that `pid` ends with the status described as `want` (see status_str). */
static __attribute__((unused)) void expect_status(const char *what, pid_t pid, const char *want)
{
	int status = reap(pid);
	const char *got = status < 0 ? "not reaped" : status_str(status);
	char line[256];
	snprintf(line, sizeof line, "%s: %s", what, got);
	check(line, strcmp(got, want) == 0);
}

/* A child that dies by `sig`, default action, without a core dump: RLIMIT_CORE 0 and not
 * dumpable (a core_pattern pipe ignores the limit), so a core-dumping signal gives the same
 * status on a host that would dump core. */
static __attribute__((unused)) void die_by(int sig)
{
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0);
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	kill(getpid(), sig);
	_exit(200);
}

/* execv of this program as "--child MODE args..." (at most 6 args); returns only on failure. */
static __attribute__((unused)) void exec_self(const char *mode, const char *a1, const char *a2)
{
	char *argv[] = {(char *)self_path, "--child", (char *)mode, (char *)a1, (char *)a2, NULL};
	execv(self_path, argv);
}

/* Forks and runs this program as "--child MODE a1 a2" in the child; the child's pid. */
static __attribute__((unused)) pid_t spawn_self(const char *mode, const char *a1, const char *a2)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		exec_self(mode, a1, a2);
		printf("exec %s: %s\n", self_path, errname(errno));
		fflush(stdout);
		_exit(127);
	}
	return pid;
}

/* One-shot events between processes: a pipe whose writer either writes a byte or closes. */
struct event {
	int r, w;
};

static __attribute__((unused)) struct event event_new(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe");
	struct event e = {fds[0], fds[1]};
	return e;
}

static __attribute__((unused)) void event_set(struct event e)
{
	char c = 1;
	while (write(e.w, &c, 1) < 0 && errno == EINTR)
		;
}

/* Waits for one byte; 1 when it came, 0 at end of file or on error. */
static __attribute__((unused)) int event_wait(struct event e)
{
	char c;
	ssize_t n;
	while ((n = read(e.r, &c, 1)) < 0 && errno == EINTR)
		;
	return n == 1;
}

static __attribute__((unused)) void event_close(struct event e)
{
	close(e.r);
	close(e.w);
}

#endif
