/* bench_clock: nanoseconds per clock_gettime(CLOCK_MONOTONIC), through libc (the vDSO when
 * the kernel offers one) and through the raw system call.
 * Usage: bench_clock [ITERATIONS]   (default 200000) */
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

int main(int argc, char **argv)
{
	long n = bench_arg(argc, argv, 1, 200000);
	struct timespec t;
	long long sink = 0;

	printf("# vDSO offered (AT_SYSINFO_EHDR): %s\n", getauxval(AT_SYSINFO_EHDR) ? "yes" : "no");
	for (long i = 0; i < 1000; i++)
		clock_gettime(CLOCK_MONOTONIC, &t);
	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
			bench_die("clock_gettime", errno);
		sink += t.tv_nsec;
	}
	long long t1 = bench_now_ns();
	bench_report("clock_gettime_libc", (double)(t1 - t0) / n, "ns");

	t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t) != 0)
			bench_die("syscall(SYS_clock_gettime)", errno);
		sink += t.tv_nsec;
	}
	t1 = bench_now_ns();
	bench_report("clock_gettime_syscall", (double)(t1 - t0) / n, "ns");
	printf("# %ld calls each (checksum %lld)\n", n, sink & 0xff);
	return 0;
}
