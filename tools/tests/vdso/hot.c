/* hot: reads every vDSO clock argv[1] times, then prints the wall clock's seconds (from
 * clock_gettime, gettimeofday and time) and the CPU, one per line, for tools/tests/vdso.rs. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	struct timespec ts = {0, 0};
	struct timeval tv = {0, 0};
	time_t t = 0;
	int cpu = -1;
	for (long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		clock_gettime(CLOCK_BOOTTIME, &ts);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		clock_gettime(CLOCK_REALTIME, &ts);
		gettimeofday(&tv, NULL);
		t = time(NULL);
		cpu = sched_getcpu();
	}
	printf("%lld\n%lld\n%lld\n%d\n", (long long)ts.tv_sec, (long long)tv.tv_sec, (long long)t,
	       cpu);
	return 0;
}
