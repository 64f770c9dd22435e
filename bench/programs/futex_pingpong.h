/* futex_pingpong.h: the futex ping-pong both bench_futex and bench_overview time.
 * The main thread bumps `ping` and wakes it, then waits for `pong` to reach the same value;
 * the partner thread does the mirror image. Raw FUTEX_WAIT/FUTEX_WAKE (private) on two int
 * words. Include after bench.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

/* From <linux/futex.h>, which musl-gcc does not ship. */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

static _Atomic int ping, pong;
static long pingpong_rounds;

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

static void *pingpong_partner(void *arg)
{
	(void)arg;
	for (int i = 1; i <= pingpong_rounds; i++) {
		futex_wait_for(&ping, i);
		futex_set_and_wake(&pong, i);
	}
	return NULL;
}

/* Runs `rounds` round trips with a partner thread; ns per round trip. */
static double futex_pingpong(long rounds)
{
	pingpong_rounds = rounds;
	pthread_t t;
	int err = pthread_create(&t, NULL, pingpong_partner, NULL);
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
	return (double)(t1 - t0) / rounds;
}
