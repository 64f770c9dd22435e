/* thr_barrier: threads in lock step through a pthread barrier for many rounds; exactly one
 * waiter per round gets PTHREAD_BARRIER_SERIAL_THREAD; nobody passes before everyone arrived. */
#define _GNU_SOURCE
#include "thrutil.h"

#define THREADS 6
#define ROUNDS 200

static pthread_barrier_t barrier;
static int slot[THREADS];
static int serial_per_round[ROUNDS];
static int early[THREADS]; /* times a thread saw a slot not yet at this round after the barrier */

static void *step(void *arg)
{
	long me = (long)arg;
	for (int round = 0; round < ROUNDS; round++) {
		__atomic_store_n(&slot[me], round + 1, __ATOMIC_RELEASE);
		int rc = pthread_barrier_wait(&barrier);
		if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&serial_per_round[round], 1, __ATOMIC_RELAXED);
		else if (rc != 0)
			early[me] += 1000000; /* an error */
		for (int i = 0; i < THREADS; i++)
			if (__atomic_load_n(&slot[i], __ATOMIC_ACQUIRE) < round + 1)
				early[me]++;
		/* A second barrier keeps fast threads from starting the next round's writes while
		 * slow ones still check this round's. */
		rc = pthread_barrier_wait(&barrier);
		if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
			early[me] += 1000000;
	}
	return NULL;
}

int main(void)
{
	expect_rc("pthread_barrier_init(count 0)", pthread_barrier_init(&barrier, NULL, 0), EINVAL);
	die_rc("pthread_barrier_init", pthread_barrier_init(&barrier, NULL, THREADS));
	pthread_t threads[THREADS];
	for (long i = 0; i < THREADS; i++)
		spawn(&threads[i], step, (void *)i);
	for (int i = 0; i < THREADS; i++)
		join(threads[i]);
	printf("%d threads, %d rounds\n", THREADS, ROUNDS);
	int one_serial = 1, none_early = 1;
	for (int r = 0; r < ROUNDS; r++)
		one_serial &= serial_per_round[r] == 1;
	for (int i = 0; i < THREADS; i++)
		none_early &= early[i] == 0;
	check("exactly one serial thread in every round", one_serial);
	check("no thread left the barrier before all had arrived", none_early);
	expect_rc("pthread_barrier_destroy", pthread_barrier_destroy(&barrier), 0);

	/* A barrier of one never blocks and always elects its only waiter. */
	die_rc("pthread_barrier_init(1)", pthread_barrier_init(&barrier, NULL, 1));
	int serial = 0;
	for (int i = 0; i < 3; i++)
		serial += pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD;
	printf("barrier of 1: serial %d of 3 times\n", serial);
	check("a barrier of one elects its only waiter each time", serial == 3);
	pthread_barrier_destroy(&barrier);
	return finish();
}
