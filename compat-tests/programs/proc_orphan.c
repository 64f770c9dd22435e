/* proc_orphan: orphans and what prctl says about parents and names. The program makes itself a
 * child subreaper (PR_SET_CHILD_SUBREAPER), so orphaned grandchildren are reparented to it on
 * both sides (in Coracle it is PID 1 as well, which they would reach anyway): getppid() turns
 * into this program's pid, and it reaps them. PR_SET_PDEATHSIG fires when the parent dies and
 * is cleared in a forked child; PR_SET_NAME/PR_GET_NAME and /proc/self/comm, inherited by fork
 * and reset by exec to the program's file name. */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include "procutil.h"

/* Helper mode "--child name": prints its name as prctl and /proc/self/comm give it. */
static int child_mode(char **argv)
{
	if (strcmp(argv[2], "name") == 0) {
		char name[32] = {0};
		prctl(PR_GET_NAME, name);
		char comm[64] = {0};
		int fd = open("/proc/self/comm", O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, comm, sizeof comm - 1) : -1;
		if (n > 0 && comm[n - 1] == '\n')
			comm[n - 1] = 0;
		const char *base = strrchr(self_path, '/');
		base = base ? base + 1 : self_path;
		char want[16];
		snprintf(want, sizeof want, "%s", base);
		printf("after exec: name is the file's (up to 15 bytes): %s\n",
		       strcmp(name, want) == 0 && strcmp(comm, want) == 0 ? "yes" : "no");
		int sig = -1;
		prctl(PR_GET_PDEATHSIG, &sig);
		printf("after exec: PR_GET_PDEATHSIG = %s\n", sig ? signame(sig) : "0");
		return 0;
	}
	return 125;
}

static pid_t wait_ppid_change(pid_t from)
{
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	pid_t p;
	while ((p = getppid()) == from && mono_ns() < until)
		sleep_ms(1);
	return p;
}

static void orphans(void)
{
	int on = -1;
	expect_ret("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	prctl(PR_GET_CHILD_SUBREAPER, &on);
	checkf(on == 1, "PR_GET_CHILD_SUBREAPER = %d", on);

	pid_t me = getpid();
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe");
	struct event seen = event_new();
	pid_t middle = fork_or_die();
	if (middle == 0) {
		pid_t mid = getpid();
		pid_t grandchild = fork_or_die();
		if (grandchild == 0) {
			close(fds[0]);
			int before = getppid() == mid;
			event_set(seen);
			/* Wait for the middle process to exit, then say who the parent is now. */
			pid_t now = wait_ppid_change(mid);
			char r = before && now == me ? 'y' : 'n';
			write(fds[1], &r, 1);
			_exit(21);
		}
		event_wait(seen);
		_exit(20);
	}
	event_close(seen);
	close(fds[1]);
	expect_status("the middle process", middle, "exited 20");
	char r = 0;
	read(fds[0], &r, 1);
	close(fds[0]);
	check("the orphan's getppid() became the subreaper's pid", r == 'y');
	int status;
	pid_t got = waitpid(-1, &status, 0);
	checkf(got > 0 && got != middle && WIFEXITED(status) && WEXITSTATUS(status) == 21,
	       "the subreaper reaps the orphan: %s", status_str(status));
	expect_errno("then no children are left", waitpid(-1, &status, WNOHANG), ECHILD);

	/* An orphan that is already a zombie when its parent exits is reaped by the subreaper. */
	middle = fork_or_die();
	if (middle == 0) {
		pid_t grandchild = fork_or_die();
		if (grandchild == 0)
			_exit(22);
		siginfo_t si;
		waitid(P_PID, grandchild, &si, WEXITED | WNOWAIT);
		_exit(23);
	}
	expect_status("a middle process that leaves a zombie", middle, "exited 23");
	got = waitpid(-1, &status, 0);
	checkf(got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 22,
	       "the zombie orphan is reaped here: %s", status_str(status));

	/* A whole chain: three generations exit from the top; every orphan ends up here. */
	middle = fork_or_die();
	if (middle == 0) {
		for (int depth = 0; depth < 3; depth++) {
			pid_t next = fork_or_die();
			if (next != 0)
				_exit(30 + depth);
		}
		sleep_ms(10);
		_exit(40);
	}
	expect_status("the top of the chain", middle, "exited 30");
	int sum = 0, n = 0;
	while ((got = waitpid(-1, &status, 0)) > 0) {
		n++;
		sum += WEXITSTATUS(status);
	}
	checkf(n == 3 && sum == 31 + 32 + 40, "the chain's %d orphans reaped here (sum %d)", n, sum);
}

static void pdeathsig(void)
{
	int sig = -1;
	expect_ret("PR_SET_PDEATHSIG(USR1)", prctl(PR_SET_PDEATHSIG, SIGUSR1), 0);
	prctl(PR_GET_PDEATHSIG, &sig);
	checkf(sig == SIGUSR1, "PR_GET_PDEATHSIG = %s", signame(sig));
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int s = -1;
		prctl(PR_GET_PDEATHSIG, &s);
		_exit(s == 0 ? 0 : 1);
	}
	expect_status("a forked child's death signal is cleared", pid, "exited 0");
	prctl(PR_SET_PDEATHSIG, 0);
	expect_errno("PR_SET_PDEATHSIG(bad signal)", prctl(PR_SET_PDEATHSIG, 65), EINVAL);

	/* The grandchild asks for SIGTERM when its parent (the middle process) dies. */
	struct event armed = event_new();
	pid_t middle = fork_or_die();
	if (middle == 0) {
		pid_t mid = getpid();
		pid_t grandchild = fork_or_die();
		if (grandchild == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			/* The parent may have died already (then no signal would come). */
			if (getppid() != mid)
				_exit(50);
			event_set(armed);
			for (;;)
				pause();
		}
		event_wait(armed);
		_exit(24);
	}
	expect_status("the parent of a process with a death signal", middle, "exited 24");
	int status;
	pid_t got = waitpid(-1, &status, 0);
	checkf(got > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
	       "the orphan got its death signal: %s", status_str(status));
	event_close(armed);
}

static void names(void)
{
	char name[32] = {0};
	expect_ret("PR_SET_NAME", prctl(PR_SET_NAME, "proc-test-name"), 0);
	prctl(PR_GET_NAME, name);
	printf("PR_GET_NAME: %s\n", name);
	prctl(PR_SET_NAME, "a-name-longer-than-fifteen-bytes");
	prctl(PR_GET_NAME, name);
	printf("a long name is cut to 15 bytes: %s\n", name);
	prctl(PR_SET_NAME, "inherited");
	pid_t pid = fork_or_die();
	if (pid == 0) {
		char n[32] = {0};
		prctl(PR_GET_NAME, n);
		char comm[32] = {0};
		int fd = open("/proc/self/comm", O_RDONLY);
		ssize_t r = fd >= 0 ? read(fd, comm, sizeof comm - 1) : -1;
		_exit(strcmp(n, "inherited") == 0 && r == 10 && strcmp(comm, "inherited\n") == 0 ? 0
												     : 1);
	}
	expect_status("a forked child inherits the name (prctl and /proc/self/comm)", pid,
		      "exited 0");
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	pid = fork_or_die();
	if (pid == 0) {
		/* Set in the child itself, it is kept across the exec. */
		prctl(PR_SET_PDEATHSIG, SIGUSR2);
		exec_self("name", NULL, NULL);
		_exit(127);
	}
	expect_status("the exec'd helper", pid, "exited 0");
	prctl(PR_SET_PDEATHSIG, 0);
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_mode(argv);
	orphans();
	pdeathsig();
	names();
	return finish();
}
