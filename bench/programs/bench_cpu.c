/* bench_cpu: a fixed CPU-bound job split over T threads; prints the elapsed time.
 * Usage: bench_cpu [THREADS [MILLION_STEPS]]   (defaults 2 and 400)
 * Run it with --cpus 1 and --cpus 2: the ratio of the two times is the speedup. Each thread
 * iterates its own xorshift generator; the checksum is printed so the work cannot be elided
 * and so that runs can be compared (it depends only on the arguments). */
#include <pthread.h>
#include <stdint.h>

#include "bench.h"

struct job {
	uint64_t seed, steps, result;
};

static void *work(void *arg)
{
	struct job *j = arg;
	uint64_t x = j->seed, acc = 0;
	for (uint64_t i = 0; i < j->steps; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		acc += x >> 60;
	}
	j->result = acc;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = bench_arg(argc, argv, 1, 2);
	long million = bench_arg(argc, argv, 2, 400);
	if (threads > 256) {
		fprintf(stderr, "at most 256 threads\n");
		return 2;
	}
	uint64_t total = (uint64_t)million * 1000000, per = total / threads;
	struct job jobs[256];
	pthread_t ids[256];
	long long t0 = bench_now_ns();
	for (long i = 0; i < threads; i++) {
		jobs[i] = (struct job){.seed = 0x9e3779b97f4a7c15ULL * (i + 1), .steps = per};
		if (i == 0)
			continue; /* the main thread does job 0 itself */
		int err = pthread_create(&ids[i], NULL, work, &jobs[i]);
		if (err)
			bench_die("pthread_create", err);
	}
	work(&jobs[0]);
	uint64_t sum = jobs[0].result;
	for (long i = 1; i < threads; i++) {
		int err = pthread_join(ids[i], NULL);
		if (err)
			bench_die("pthread_join", err);
		sum += jobs[i].result;
	}
	long long t1 = bench_now_ns();
	printf("# %ld threads x %llu steps, checksum %llu\n", threads, (unsigned long long)per,
	       (unsigned long long)sum);
	bench_report("cpu_elapsed", (double)(t1 - t0) / 1e6, "ms");
	return 0;
}
