/* proc_sigchld: SIGCHLD and what fork does with signal state. The siginfo of SIGCHLD for an
 * exit, a death by signal, a stop and a continue (SA_SIGINFO handler and sigwaitinfo),
 * SA_NOCLDSTOP, one SIGCHLD per child even when several exit together (standard signals merge,
 * so the handler reaps in a loop), and across fork: handlers and the mask inherited, pending
 * signals and alarms not; exit() flushing stdio and running atexit handlers in a child,
 * _exit() not; a child's exit_group from a second thread. */
#define _GNU_SOURCE
#include <sys/time.h>
#include "procutil.h"

#define LOG_MAX 64
static volatile int log_code[LOG_MAX], log_status[LOG_MAX], log_pid_ok[LOG_MAX];
static volatile int nlog;
static volatile pid_t expected_pid;

static void on_chld(int sig, siginfo_t *si, void *ctx)
{
	(void)sig;
	(void)ctx;
	int i = nlog;
	if (i >= LOG_MAX)
		return;
	log_code[i] = si->si_code;
	log_status[i] = si->si_status;
	log_pid_ok[i] = si->si_pid == expected_pid;
	nlog = i + 1;
}

static void install(int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | flags;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		die("sigaction");
}

static void block(int sig, int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(how, &set, NULL);
}

/* Waits (in sigsuspend, SIGCHLD blocked otherwise) until the handler logged `n` entries. */
static int await_log(int n)
{
	sigset_t none;
	sigemptyset(&none);
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (nlog < n && mono_ns() < until) {
		struct timespec t = {0, 20 * 1000000};
		sigset_t old;
		sigprocmask(SIG_SETMASK, &none, &old);
		nanosleep(&t, NULL);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	return nlog >= n;
}

static void show_log(const char *what, int i, int code, int status)
{
	char st[16];
	if (log_code[i] == CLD_EXITED)
		snprintf(st, sizeof st, "%d", log_status[i]);
	else
		snprintf(st, sizeof st, "%s", signame(log_status[i]));
	checkf(log_code[i] == code && log_status[i] == status && log_pid_ok[i],
	       "%s: %s, status %s, pid %s", what, cld_code(log_code[i]), st,
	       log_pid_ok[i] ? "right" : "wrong");
}

static void handler_fields(void)
{
	install(0);
	nlog = 0;
	block(SIGCHLD, SIG_BLOCK);
	pid_t pid = fork_or_die();
	if (pid == 0)
		_exit(9);
	expected_pid = pid;
	check("SIGCHLD for an exit arrives", await_log(1));
	show_log("exit", 0, CLD_EXITED, 9);
	reap(pid);

	nlog = 0;
	pid = fork_or_die();
	if (pid == 0)
		die_by(SIGTERM);
	expected_pid = pid;
	check("SIGCHLD for a death arrives", await_log(1));
	show_log("death", 0, CLD_KILLED, SIGTERM);
	reap(pid);

	/* The child waits for `go` before it exits, so that the continue and the exit do not
	 * merge into one pending SIGCHLD. */
	nlog = 0;
	struct event go = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		raise(SIGSTOP);
		event_wait(go);
		_exit(1);
	}
	close(go.r);
	expected_pid = pid;
	check("SIGCHLD for a stop arrives", await_log(1));
	show_log("stop", 0, CLD_STOPPED, SIGSTOP);
	kill(pid, SIGCONT);
	check("SIGCHLD for a continue arrives", await_log(2));
	show_log("continue", 1, CLD_CONTINUED, SIGCONT);
	event_set(go);
	close(go.w);
	check("then one for the exit", await_log(3));
	show_log("exit after continuing", 2, CLD_EXITED, 1);
	reap(pid);

	/* SA_NOCLDSTOP: only the exit. */
	install(SA_NOCLDSTOP);
	nlog = 0;
	go = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		raise(SIGSTOP);
		event_wait(go);
		_exit(2);
	}
	close(go.r);
	expected_pid = pid;
	int status;
	waitpid(pid, &status, WUNTRACED);
	kill(pid, SIGCONT);
	waitpid(pid, &status, WCONTINUED);
	event_set(go);
	close(go.w);
	check("SA_NOCLDSTOP: the exit arrives", await_log(1));
	show_log("SA_NOCLDSTOP: first SIGCHLD is the exit", 0, CLD_EXITED, 2);
	reap(pid);
	checkf(nlog == 1, "SA_NOCLDSTOP: %d SIGCHLD in all", nlog);
	block(SIGCHLD, SIG_UNBLOCK);
	signal(SIGCHLD, SIG_DFL);
}

static volatile int reaped_in_handler;

static void reap_all(int sig)
{
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		reaped_in_handler++;
	errno = saved;
}

static void merged(void)
{
	/* Ten children exit while SIGCHLD is blocked: it is pending once; a handler that loops
	 * over waitpid(WNOHANG) reaps all ten. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = reap_all;
	sigaction(SIGCHLD, &sa, NULL);
	block(SIGCHLD, SIG_BLOCK);
	pid_t pids[10];
	for (int i = 0; i < 10; i++) {
		pids[i] = fork_or_die();
		if (pids[i] == 0)
			_exit(0);
	}
	/* Every child is a zombie once waitid(WNOWAIT) sees it. */
	for (int i = 0; i < 10; i++) {
		siginfo_t si;
		waitid(P_PID, pids[i], &si, WEXITED | WNOWAIT);
	}
	sigset_t pending;
	sigpending(&pending);
	check("SIGCHLD pending while blocked", sigismember(&pending, SIGCHLD));
	block(SIGCHLD, SIG_UNBLOCK);
	checkf(reaped_in_handler == 10, "one handler run reaped %d of 10", reaped_in_handler);
	signal(SIGCHLD, SIG_DFL);
}

static void with_sigwaitinfo(void)
{
	block(SIGCHLD, SIG_BLOCK);
	pid_t pid = fork_or_die();
	if (pid == 0)
		_exit(77);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int sig = sigwaitinfo(&set, &si);
	checkf(sig == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 77 && si.si_pid == pid &&
		       si.si_uid == getuid(),
	       "sigwaitinfo: %s, %s, status %d", signame(sig), cld_code(si.si_code), si.si_status);
	reap(pid);
	block(SIGCHLD, SIG_UNBLOCK);
}

static volatile int usr1_seen;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void on_exit_handler(void)
{
	printf("atexit handler ran\n");
}

static void *exit_from_thread(void *arg)
{
	(void)arg;
	exit(33);
}

static void inheritance(void)
{
	signal(SIGUSR1, on_usr1);
	block(SIGUSR2, SIG_BLOCK);
	raise(SIGUSR2); /* pending in the parent only */
	alarm(100);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		sigset_t mask, pending;
		sigprocmask(SIG_BLOCK, NULL, &mask);
		sigpending(&pending);
		int ok = sigismember(&mask, SIGUSR2) && !sigismember(&pending, SIGUSR2);
		raise(SIGUSR1);
		ok = ok && usr1_seen == 1;
		/* alarm() returns the seconds left of a pending alarm: none in a child. */
		ok = ok && alarm(0) == 0;
		struct itimerval it;
		getitimer(ITIMER_REAL, &it);
		ok = ok && it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0;
		_exit(ok ? 0 : 1);
	}
	expect_status("child: mask and handler inherited, pending signal and alarm not", pid,
		      "exited 0");
	check("the parent's alarm is still set", alarm(0) > 0);
	sigset_t pending;
	sigpending(&pending);
	check("the parent's SIGUSR2 is still pending", sigismember(&pending, SIGUSR2));
	signal(SIGUSR2, SIG_IGN);
	block(SIGUSR2, SIG_UNBLOCK);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);

	/* exit() in a child flushes its stdio buffer and runs atexit handlers; _exit() does
	 * neither (the buffered line is lost). */
	atexit(on_exit_handler);
	pid = fork_or_die();
	if (pid == 0) {
		printf("buffered line written by exit()\n");
		exit(0);
	}
	expect_status("child that called exit()", pid, "exited 0");
	pid = fork_or_die();
	if (pid == 0) {
		printf("buffered line lost by _exit()\n");
		_exit(0);
	}
	expect_status("child that called _exit()", pid, "exited 0");

	/* A second thread of a child calls exit(): the whole child ends with that status. */
	pid = fork_or_die();
	if (pid == 0) {
		pthread_t t;
		spawn(&t, exit_from_thread, NULL);
		for (;;)
			pause();
	}
	expect_status("child whose second thread called exit(33)", pid, "exited 33");
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	handler_fields();
	merged();
	with_sigwaitinfo();
	inheritance();
	int status = finish();
	/* The atexit handler prints in this process too, after the summary. */
	return status;
}
