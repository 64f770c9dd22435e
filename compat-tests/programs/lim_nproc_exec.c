/* lim_nproc_exec: RLIMIT_NPROC on execve after set*uid. Moving to a user that already has
 * more tasks than the limit does not make setuid fail; Linux marks the process and its
 * execve fails with EAGAIN while the user is still over the limit, and works once it is not
 * (PF_NPROC_EXCEEDED). A process that changed user while under the limit execs whatever the
 * limit becomes later. Runs as root with Docker's capabilities; the user is uid 54399. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "credutil.h"
#include "checkcall.h"

#define USER 54399

static char *self;

/* A task of USER that waits to be killed; returns once it has changed user. */
static pid_t helper(void)
{
	int fds[2];
	CHECK(pipe(fds));
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (setuid(USER) != 0)
			_exit(1);
		(void)!write(fds[1], "x", 1);
		pause();
		_exit(0);
	}
	close(fds[1]);
	char c;
	if (read(fds[0], &c, 1) != 1)
		printf("helper: did not start\n");
	close(fds[0]);
	return pid;
}

static void kill_helper(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* execve of this program in its "--ran" mode: the errno's name when it failed. */
static void try_exec(const char *what)
{
	char *argv[] = {self, "--ran", (char *)what, NULL};
	char *envp[] = {NULL};
	execve(self, argv, envp);
	printf("%s: execve: %s\n", what, errname(errno));
}

/* Over the limit when it changes user: execve fails until the helpers are gone. */
static void over(int go_fd, int done_fd)
{
	struct rlimit r = {1, 1};
	CHECK(setrlimit(RLIMIT_NPROC, &r));
	printf("over: setuid: %d\n", setuid(USER));
	try_exec("over, two other tasks");
	/* The parent kills and reaps the helpers, then says so. */
	char c = 'k';
	(void)!write(go_fd, &c, 1);
	if (read(done_fd, &c, 1) != 1)
		printf("over: no word from the parent\n");
	try_exec("over, alone");
}

/* Under the limit when it changes user: a lower limit later does not stop execve. */
static void under(void)
{
	printf("under: setuid: %d\n", setuid(USER));
	struct rlimit r = {0, 0};
	CHECK(setrlimit(RLIMIT_NPROC, &r));
	try_exec("under, limit 0 after");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--ran") == 0) {
		printf("%s: execve ran\n", argv[2]);
		return 0;
	}
	self = argv[0];
	cred_start();
	pid_t h1 = helper(), h2 = helper();
	int go[2], done[2];
	CHECK(pipe(go));
	CHECK(pipe(done));
	printf("== over the limit at setuid\n");
	pid_t pid = fork();
	if (pid == 0) {
		close(go[0]);
		close(done[1]);
		over(go[1], done[0]);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	char c;
	if (read(go[0], &c, 1) == 1) {
		kill_helper(h1);
		kill_helper(h2);
	}
	(void)!write(done[1], "d", 1);
	waitpid(pid, NULL, 0);
	in_child("under the limit at setuid", under);
	return 0;
}
