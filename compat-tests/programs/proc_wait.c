/* proc_wait: reaping children with wait4 and waitid and every option: WNOHANG on a running
 * child, zombies kept until reaped, WNOWAIT leaving them waitable, WUNTRACED/WSTOPPED and
 * WCONTINUED around SIGSTOP/SIGCONT, the siginfo waitid fills in, P_PID, P_PGID, P_ALL and
 * P_PIDFD, waitpid(0) and waitpid(-pgid), many zombies reaped by waitpid(-1), rusage, SIGCHLD
 * ignored or SA_NOCLDWAIT (children reaped by the kernel: ECHILD), and the errors. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include "procutil.h"

static void expect_waitid(const char *what, int r, const siginfo_t *si, pid_t pid, int code,
			  int status)
{
	char line[256], st[16];
	if (r != 0) {
		snprintf(line, sizeof line, "%s: waitid = -1 %s", what, errname(errno));
		check(line, 0);
		return;
	}
	if (si->si_code == CLD_EXITED)
		snprintf(st, sizeof st, "%d", si->si_status);
	else
		snprintf(st, sizeof st, "%s", signame(si->si_status));
	snprintf(line, sizeof line, "%s: signo %s, %s, status %s, pid %s, uid %d", what,
		 signame(si->si_signo), cld_code(si->si_code), st,
		 si->si_pid == pid ? "right" : "wrong", (int)si->si_uid);
	check(line, si->si_signo == SIGCHLD && si->si_code == code && si->si_status == status &&
			    si->si_pid == pid && si->si_uid == getuid());
}

/* A child that waits for `go` then exits with `code`. */
static pid_t child_waiting(struct event go, int code)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		event_wait(go);
		_exit(code);
	}
	return pid;
}

static void nohang_and_zombies(void)
{
	struct event go = event_new();
	pid_t pid = child_waiting(go, 7);
	int status = -1;
	expect_ret("waitpid(WNOHANG) on a running child", waitpid(pid, &status, WNOHANG), 0);
	siginfo_t si;
	memset(&si, 0x55, sizeof si);
	int r = waitid(P_PID, pid, &si, WEXITED | WNOHANG);
	check("waitid(WNOHANG) on a running child returns 0 with si_pid 0",
	      r == 0 && si.si_pid == 0);
	event_set(go);
	event_close(go);
	/* WNOWAIT: the zombie stays, twice; then wait4 reaps it with its rusage. */
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	expect_waitid("waitid(WNOWAIT)", r, &si, pid, CLD_EXITED, 7);
	memset(&si, 0, sizeof si);
	r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT);
	expect_waitid("waitid(P_ALL, WNOWAIT) again", r, &si, pid, CLD_EXITED, 7);
	check("a zombie can still be sent signal 0", kill(pid, 0) == 0);
	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	pid_t got = wait4(pid, &status, 0, &ru);
	check("wait4 reaps it", got == pid);
	checkf(WIFEXITED(status) && WEXITSTATUS(status) == 7, "status %#x: %s", status,
	       status_str(status));
	check("wait4 fills in rusage", ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000 &&
					       ru.ru_stime.tv_usec >= 0 &&
					       ru.ru_stime.tv_usec < 1000000);
	expect_errno("waitpid(reaped child)", waitpid(pid, &status, 0), ECHILD);
	expect_errno("kill(reaped child, 0)", kill(pid, 0), ESRCH);
	expect_errno("waitpid(-1) with no children", waitpid(-1, &status, 0), ECHILD);
	expect_errno("waitpid(-1, WNOHANG) with no children", waitpid(-1, &status, WNOHANG),
		     ECHILD);
	expect_errno("waitid(P_ALL) with no children", waitid(P_ALL, 0, &si, WEXITED), ECHILD);
}

static void exit_statuses(void)
{
	int codes[] = {0, 1, 42, 255, 256, 257};
	for (unsigned i = 0; i < sizeof codes / sizeof *codes; i++) {
		pid_t pid = fork_or_die();
		if (pid == 0)
			_exit(codes[i]);
		siginfo_t si;
		memset(&si, 0, sizeof si);
		int r = waitid(P_PID, pid, &si, WEXITED);
		char what[64];
		snprintf(what, sizeof what, "_exit(%d)", codes[i]);
		expect_waitid(what, r, &si, pid, CLD_EXITED, codes[i] & 0xff);
	}
	int sigs[] = {SIGTERM, SIGKILL, SIGSEGV, SIGABRT, SIGUSR1, SIGQUIT};
	for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		pid_t pid = fork_or_die();
		if (pid == 0)
			die_by(sigs[i]);
		siginfo_t si;
		memset(&si, 0, sizeof si);
		int r = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
		char what[64];
		snprintf(what, sizeof what, "killed by %s", signame(sigs[i]));
		expect_waitid(what, r, &si, pid, CLD_KILLED, sigs[i]);
		int status = reap(pid);
		checkf(status == sigs[i], "raw status of death by %s: %#x", signame(sigs[i]),
		       status);
	}
}

static void stop_and_continue(void)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(3);
	}
	int status;
	pid_t got = waitpid(pid, &status, WUNTRACED);
	checkf(got == pid && WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP,
	       "waitpid(WUNTRACED): %s, raw %#x", status_str(status), status);
	expect_ret("a stop is reported once", waitpid(pid, &status, WUNTRACED | WNOHANG), 0);
	kill(pid, SIGCONT);
	got = waitpid(pid, &status, WCONTINUED);
	checkf(got == pid && WIFCONTINUED(status), "waitpid(WCONTINUED): %s, raw %#x",
	       status_str(status), status);
	expect_status("then it exits", pid, "exited 3");

	/* The same with waitid: WSTOPPED, WCONTINUED, and WNOWAIT on a stop. */
	struct event go = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		raise(SIGSTOP);
		event_wait(go);
		_exit(4);
	}
	close(go.r);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PID, pid, &si, WSTOPPED | WNOWAIT);
	expect_waitid("waitid(WSTOPPED | WNOWAIT)", r, &si, pid, CLD_STOPPED, SIGSTOP);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WSTOPPED);
	expect_waitid("waitid(WSTOPPED)", r, &si, pid, CLD_STOPPED, SIGSTOP);
	memset(&si, 0x55, sizeof si);
	r = waitid(P_PID, pid, &si, WSTOPPED | WNOHANG);
	check("the stop was consumed", r == 0 && si.si_pid == 0);
	memset(&si, 0x55, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED | WNOHANG);
	check("WEXITED does not report a stop", r == 0 && si.si_pid == 0);
	kill(pid, SIGCONT);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WCONTINUED);
	expect_waitid("waitid(WCONTINUED)", r, &si, pid, CLD_CONTINUED, SIGCONT);
	event_set(go);
	close(go.w);
	memset(&si, 0, sizeof si);
	r = waitid(P_PID, pid, &si, WEXITED | WSTOPPED | WCONTINUED);
	expect_waitid("waitid(all three) after it exits", r, &si, pid, CLD_EXITED, 4);

	/* Killed while stopped. */
	pid = fork_or_die();
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(5);
	}
	waitpid(pid, &status, WUNTRACED);
	kill(pid, SIGKILL);
	expect_status("SIGKILL while stopped", pid, "killed by KILL");
	/* Plain waitpid(0 options) does not report a stop: it returns at the exit. */
	pid = fork_or_die();
	if (pid == 0) {
		raise(SIGSTOP);
		_exit(6);
	}
	siginfo_t stopped;
	memset(&stopped, 0, sizeof stopped);
	waitid(P_PID, pid, &stopped, WSTOPPED | WNOWAIT);
	kill(pid, SIGCONT);
	expect_status("waitpid without WUNTRACED sees only the exit", pid, "exited 6");
}

static void selectors(void)
{
	/* Two children in a group of their own, one in ours. */
	struct event go = event_new();
	pid_t leader = child_waiting(go, 10);
	setpgid(leader, leader);
	pid_t member = fork_or_die();
	if (member == 0) {
		setpgid(0, leader);
		close(go.w);
		event_wait(go);
		_exit(11);
	}
	setpgid(member, leader);
	pid_t ours = child_waiting(go, 12);
	close(go.r);
	event_set(go);
	event_set(go);
	event_set(go);
	close(go.w);

	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PGID, leader, &si, WEXITED);
	check("waitid(P_PGID) reaps a member of that group",
	      r == 0 && (si.si_pid == leader || si.si_pid == member));
	int status;
	pid_t got = waitpid(-leader, &status, 0);
	check("waitpid(-pgid) reaps the other",
	      (got == leader || got == member) && got != si.si_pid);
	expect_errno("waitpid(-pgid) when the group has no children left", waitpid(-leader, &status, 0),
		     ECHILD);
	got = waitpid(0, &status, 0);
	checkf(got == ours && WEXITSTATUS(status) == 12,
	       "waitpid(0) reaps the child in our group: %s", status_str(status));

	/* Many zombies, reaped in any order by waitpid(-1). */
	int n = 25, sum = 0, reaped = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork_or_die();
		if (pid == 0)
			_exit(i);
	}
	while ((got = waitpid(-1, &status, 0)) > 0) {
		reaped++;
		sum += WEXITSTATUS(status);
	}
	checkf(reaped == n && sum == n * (n - 1) / 2 && errno == ECHILD,
	       "waitpid(-1) reaped %d zombies, statuses summing to %d, then %s", reaped, sum,
	       errname(errno));

	/* P_PIDFD. */
	struct event go2 = event_new();
	pid_t pid = child_waiting(go2, 13);
	close(go2.r);
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	check("pidfd_open(child)", pidfd >= 0);
	event_set(go2);
	close(go2.w);
	memset(&si, 0, sizeof si);
	r = waitid(P_PIDFD, pidfd, &si, WEXITED);
	expect_waitid("waitid(P_PIDFD)", r, &si, pid, CLD_EXITED, 13);
	expect_errno("waitid(P_PIDFD) after it was reaped", waitid(P_PIDFD, pidfd, &si, WEXITED),
		     ECHILD);
	close(pidfd);
	expect_errno("waitid(P_PIDFD, not a pidfd)", waitid(P_PIDFD, 0, &si, WEXITED), EBADF);
}

static void errors(void)
{
	siginfo_t si;
	int status;
	struct event go = event_new();
	pid_t pid = child_waiting(go, 0);
	expect_errno("waitid without WEXITED, WSTOPPED or WCONTINUED",
		     waitid(P_PID, pid, &si, WNOHANG), EINVAL);
	expect_errno("waitid(bad idtype)", waitid((idtype_t)42, pid, &si, WEXITED), EINVAL);
	expect_errno("waitpid(unknown option bit)", waitpid(pid, &status, 0x10000), EINVAL);
	expect_errno("waitpid(a process that is not a child)", waitpid(1 == getpid() ? 2 : 1,
								       &status, WNOHANG),
		     ECHILD);
	expect_errno("waitid(P_PID, 0)", waitid(P_PID, 0, &si, WEXITED), EINVAL);
	expect_errno("waitid(P_PGID, a group with no children)",
		     waitid(P_PGID, 999999, &si, WEXITED | WNOHANG), ECHILD);
	event_set(go);
	event_close(go);
	/* A bad status pointer: EFAULT, and the child stays a zombie only if Linux says so:
	 * it reaps first and then fails the copy, so the child is gone. */
	waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
	expect_errno("wait4(bad status pointer)", wait4(pid, (int *)16, 0, NULL), EFAULT);
	expect_errno("then the child is gone", waitpid(pid, &status, WNOHANG), ECHILD);
	/* Linux checks the siginfo pointer even when there is nothing to report. */
	expect_errno("waitid(bad siginfo pointer) with no children",
		     waitid(P_ALL, 0, (siginfo_t *)16, WEXITED), EFAULT);
}

static void reaped_by_the_kernel(void)
{
	/* SIGCHLD set to SIG_IGN: children do not become zombies; wait blocks until all are
	 * gone and then fails with ECHILD. */
	signal(SIGCHLD, SIG_IGN);
	pid_t pid = fork_or_die();
	if (pid == 0)
		_exit(1);
	int status;
	pid_t got = waitpid(pid, &status, 0);
	checkf(got == -1 && errno == ECHILD, "SIG_IGN: waitpid = %d %s", (int)got,
	       got < 0 ? errname(errno) : "");
	signal(SIGCHLD, SIG_DFL);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	pid = fork_or_die();
	if (pid == 0)
		_exit(2);
	got = waitpid(-1, &status, 0);
	checkf(got == -1 && errno == ECHILD, "SA_NOCLDWAIT: waitpid = %d %s", (int)got,
	       got < 0 ? errname(errno) : "");
	sa.sa_flags = 0;
	sigaction(SIGCHLD, &sa, NULL);
	pid = fork_or_die();
	if (pid == 0)
		_exit(3);
	expect_status("SIGCHLD back to default: a zombie again", pid, "exited 3");
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	nohang_and_zombies();
	exit_statuses();
	stop_and_continue();
	selectors();
	errors();
	reaped_by_the_kernel();
	return finish();
}
