/* proc_pid1: what is particular to PID 1, the program's place in Coracle (and in a container):
 * getpid() is 1 and getppid() 0, orphans are reparented to it without asking, and kill(-1)
 * reaches every other process but not the sender (ESRCH when there is none). On the host the
 * program first enters a new PID namespace (unshare(CLONE_NEWPID) and fork, as root), so the
 * checks run as PID 1 there too, and kill(-1) cannot reach anything outside. */
#define _GNU_SOURCE
#include <sched.h>
#include "procutil.h"

static volatile int usr1_seen;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* Makes this program PID 1 of a new namespace unless it is PID 1 already; returns in the PID 1
 * process, or exits with the status of the PID 1 child. */
static void become_pid1(void)
{
	if (getpid() == 1)
		return;
	if (unshare(CLONE_NEWPID) != 0)
		die("unshare(CLONE_NEWPID) (the host side needs root)");
	pid_t pid = fork_or_die();
	if (pid == 0)
		return;
	int status = reap(pid);
	if (status >= 0 && WIFEXITED(status))
		exit(WEXITSTATUS(status));
	printf("the PID 1 child: %s\n", status < 0 ? "not reaped" : status_str(status));
	exit(1);
}

static void identity(void)
{
	checkf(getpid() == 1, "getpid() is 1");
	checkf(getppid() == 0, "getppid() is 0");
	pid_t pid = fork_or_die();
	if (pid == 0)
		_exit(getppid() == 1 ? 0 : 1);
	checkf(pid > 1, "a child's pid is above 1");
	expect_status("the child's getppid() is 1", pid, "exited 0");
}

static void orphans(void)
{
	/* No subreaper: orphans go to PID 1, which is this program. */
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe");
	struct event seen = event_new();
	pid_t middle = fork_or_die();
	if (middle == 0) {
		pid_t mid = getpid();
		pid_t grandchild = fork_or_die();
		if (grandchild == 0) {
			int before = getppid() == mid;
			event_set(seen);
			int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
			while (getppid() == mid && mono_ns() < until)
				sleep_ms(1);
			char r = before && getppid() == 1 ? 'y' : 'n';
			write(fds[1], &r, 1);
			_exit(7);
		}
		event_wait(seen);
		_exit(6);
	}
	close(fds[1]);
	event_close(seen);
	expect_status("the middle process", middle, "exited 6");
	char r = 0;
	read(fds[0], &r, 1);
	close(fds[0]);
	check("the orphan's parent is now PID 1", r == 'y');
	int status;
	pid_t got = waitpid(-1, &status, 0);
	checkf(got > 1 && WIFEXITED(status) && WEXITSTATUS(status) == 7,
	       "PID 1 reaps the orphan: %s", status_str(status));
}

static void kill_all(void)
{
	signal(SIGUSR1, on_usr1);
	expect_errno("kill(-1, 0) with no other process", kill(-1, 0), ESRCH);
	/* Two children in different groups (one in a session of its own) and a grandchild. */
	struct event ready = event_new();
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork_or_die();
		if (kids[i] == 0) {
			if (i == 1)
				setsid();
			else
				setpgid(0, 0);
			signal(SIGUSR1, SIG_DFL);
			event_set(ready);
			for (;;)
				pause();
		}
	}
	pid_t parent_of_grandchild = fork_or_die();
	if (parent_of_grandchild == 0) {
		pid_t g = fork_or_die();
		if (g == 0) {
			signal(SIGUSR1, SIG_DFL);
			event_set(ready);
			for (;;)
				pause();
		}
		signal(SIGUSR1, SIG_IGN);
		int status = reap(g);
		_exit(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1 ? 0 : 1);
	}
	for (int i = 0; i < 3; i++)
		event_wait(ready);
	expect_ret("kill(-1, 0) with others", kill(-1, 0), 0);
	expect_ret("kill(-1, USR1)", kill(-1, SIGUSR1), 0);
	expect_status("child in its own group", kids[0], "killed by USR1");
	expect_status("child in its own session", kids[1], "killed by USR1");
	expect_status("a child ignoring it, whose child died of it", parent_of_grandchild,
		      "exited 0");
	checkf(usr1_seen == 0, "the sender itself got it %d times", usr1_seen);
	expect_errno("kill(-1, USR1) with nobody left", kill(-1, SIGUSR1), ESRCH);
	event_close(ready);
	signal(SIGUSR1, SIG_DFL);
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	become_pid1();
	identity();
	orphans();
	kill_all();
	return finish();
}
