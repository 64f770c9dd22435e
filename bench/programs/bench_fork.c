/* bench_fork: microseconds per fork + _exit + waitpid, per fork + execve + waitpid and per
 * vfork + execve + waitpid; the exec'd program is this one again, which exits at once when
 * given "--exit" (a small static executable).
 * Usage: bench_fork [ITERATIONS]   (default 300) */
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static void reap(pid_t pid)
{
	int status;
	if (waitpid(pid, &status, 0) != pid)
		bench_die("waitpid", errno);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "child ended with status %#x\n", status);
		exit(1);
	}
}

/* vfork + execve in a function of its own: nothing of the caller's frame is live across
 * vfork's second return. */
static __attribute__((noinline)) pid_t vfork_exec(char **child_argv)
{
	pid_t pid = vfork();
	if (pid == 0) {
		execv(child_argv[0], child_argv);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		return 0;
	long n = bench_arg(argc, argv, 1, 300);
	char *child_argv[] = {argv[0], "--exit", NULL};
	fflush(stdout);

	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork", errno);
		if (pid == 0)
			_exit(0);
		reap(pid);
	}
	long long t1 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork", errno);
		if (pid == 0) {
			execv(argv[0], child_argv);
			_exit(127);
		}
		reap(pid);
	}
	long long t2 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = vfork_exec(child_argv);
		if (pid < 0)
			bench_die("vfork", errno);
		reap(pid);
	}
	long long t3 = bench_now_ns();
	printf("# %ld of each, one at a time; exec runs %s --exit\n", n, argv[0]);
	bench_report("fork_wait", (double)(t1 - t0) / n / 1000, "us");
	bench_report("fork_exec_wait", (double)(t2 - t1) / n / 1000, "us");
	bench_report("vfork_exec_wait", (double)(t3 - t2) / n / 1000, "us");
	return 0;
}
