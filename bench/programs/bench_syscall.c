/* bench_syscall: nanoseconds per trivial system call.
 * Usage: bench_syscall [ITERATIONS]   (default 200000)
 * getppid is made with syscall(2) so that no libc can answer it from a cache. */
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
	long n = bench_arg(argc, argv, 1, 200000);
	long sink = 0;
	for (long i = 0; i < 1000; i++)
		sink += syscall(SYS_getppid);
	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		sink += syscall(SYS_getppid);
	long long t1 = bench_now_ns();
	if (sink < 0) {
		fprintf(stderr, "getppid failed\n");
		return 1;
	}
	printf("# %ld calls of syscall(SYS_getppid)\n", n);
	bench_report("syscall_getppid", (double)(t1 - t0) / n, "ns");
	return 0;
}
