/* proc_clone_settid: clone(CLONE_VM | CLONE_PARENT_SETTID) stores the child's pid in the
 * parent's memory before the child runs, so the child, sharing that memory, finds its own
 * pid there (LTP clone08 saw 0); without CLONE_VM the child's copy was made first and
 * holds 0; CLONE_CHILD_SETTID stores it for the child. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t ptid, ctid;
static char stack[256 * 1024] __attribute__((aligned(16)));

static int child_parent_settid(void *arg)
{
	(void)arg;
	_exit(ptid == getpid() ? 0 : 1);
}

static int child_child_settid(void *arg)
{
	(void)arg;
	_exit(ctid == getpid() ? 0 : 1);
}

static void run(const char *what, int (*fn)(void *), int flags)
{
	ptid = ctid = 0;
	pid_t pid = clone(fn, stack + sizeof stack, flags | SIGCHLD, NULL, &ptid, NULL, &ctid);
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, __WALL);
	printf("%s: the child found its pid: %s, the parent's ptid: %s\n", what,
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "yes" : "no",
	       flags & CLONE_PARENT_SETTID ? (ptid == pid ? "= pid" : "wrong") : "unset");
}

int main(void)
{
	run("CLONE_VM|CLONE_PARENT_SETTID", child_parent_settid, CLONE_VM | CLONE_PARENT_SETTID);
	run("CLONE_PARENT_SETTID", child_parent_settid, CLONE_PARENT_SETTID);
	run("CLONE_CHILD_SETTID", child_child_settid, CLONE_CHILD_SETTID);
	return 0;
}
