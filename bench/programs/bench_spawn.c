/* bench_spawn: times a command from inside the guest, so that neither VM's boot counts: each
 * of N runs is fork + execv(COMMAND) + waitpid, timed with CLOCK_MONOTONIC around the three,
 * and the median, minimum and maximum are reported in microseconds as NAME_us, NAME_min_us and
 * NAME_max_us. The first run is a warm-up (it reads the files into the page cache) and is not
 * counted. The command must exit with status 0.
 * Usage: bench_spawn N NAME COMMAND [ARGS...]   (COMMAND an absolute path) */
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static int by_value(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long spawn_once(char **argv)
{
	long long t0 = bench_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		bench_die("fork", errno);
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		bench_die("waitpid", errno);
	long long t1 = bench_now_ns();
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s ended with status %#x\n", argv[0], status);
		exit(1);
	}
	return t1 - t0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_spawn N NAME COMMAND [ARGS...]\n");
		return 2;
	}
	long n = bench_arg(argc, argv, 1, 1);
	const char *name = argv[2];
	long long *ns = malloc(sizeof(*ns) * (size_t)n);
	if (!ns)
		bench_die("malloc", ENOMEM);
	fflush(stdout);
	spawn_once(argv + 3);
	for (long i = 0; i < n; i++)
		ns[i] = spawn_once(argv + 3);
	qsort(ns, (size_t)n, sizeof(*ns), by_value);
	char metric[128];
	snprintf(metric, sizeof(metric), "%s_us", name);
	bench_report(metric, ns[n / 2] / 1e3, "us");
	snprintf(metric, sizeof(metric), "%s_min_us", name);
	bench_report(metric, ns[0] / 1e3, "us");
	snprintf(metric, sizeof(metric), "%s_max_us", name);
	bench_report(metric, ns[n - 1] / 1e3, "us");
	return 0;
}
