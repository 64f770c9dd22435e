/* bench_thread: nanoseconds per pthread_create + pthread_join of a thread that returns at once.
 * Usage: bench_thread [THREADS]   (default 2000) */
#include <pthread.h>

#include "bench.h"

static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	long n = bench_arg(argc, argv, 1, 2000);
	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pthread_t t;
		void *ret;
		int err = pthread_create(&t, NULL, nothing, (void *)i);
		if (err)
			bench_die("pthread_create", err);
		err = pthread_join(t, &ret);
		if (err)
			bench_die("pthread_join", err);
		if (ret != (void *)i) {
			fprintf(stderr, "thread %ld returned %p\n", i, ret);
			return 1;
		}
	}
	long long t1 = bench_now_ns();
	printf("# %ld threads, one at a time\n", n);
	bench_report("thread_create_join", (double)(t1 - t0) / n, "ns");
	return 0;
}
