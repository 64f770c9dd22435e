/* bench_futex: nanoseconds per futex ping-pong round trip between two threads.
 * Usage: bench_futex [ROUND_TRIPS]   (default 20000)
 * The main thread bumps `ping` and wakes it, then waits for `pong` to reach the same value;
 * the partner does the mirror image. Raw FUTEX_WAIT/FUTEX_WAKE (private) on two int words. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* From <linux/futex.h>, which musl-gcc does not ship. */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

static _Atomic int ping, pong;
static long rounds;

static void futex_wait_for(_Atomic int *word, int want)
{
	int seen;
	while ((seen = atomic_load(word)) != want) {
		long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
		if (r != 0 && errno != EAGAIN && errno != EINTR)
			bench_die("futex(FUTEX_WAIT_PRIVATE)", errno);
	}
}

static void futex_set_and_wake(_Atomic int *word, int value)
{
	atomic_store(word, value);
	if (syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
		bench_die("futex(FUTEX_WAKE_PRIVATE)", errno);
}

static void *partner(void *arg)
{
	(void)arg;
	for (int i = 1; i <= rounds; i++) {
		futex_wait_for(&ping, i);
		futex_set_and_wake(&pong, i);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	rounds = bench_arg(argc, argv, 1, 20000);
	pthread_t t;
	int err = pthread_create(&t, NULL, partner, NULL);
	if (err)
		bench_die("pthread_create", err);
	long long t0 = bench_now_ns();
	for (int i = 1; i <= rounds; i++) {
		futex_set_and_wake(&ping, i);
		futex_wait_for(&pong, i);
	}
	long long t1 = bench_now_ns();
	err = pthread_join(t, NULL);
	if (err)
		bench_die("pthread_join", err);
	printf("# %ld round trips\n", rounds);
	bench_report("futex_pingpong", (double)(t1 - t0) / rounds, "ns");
	return 0;
}
