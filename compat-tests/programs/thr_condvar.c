/* thr_condvar: a bounded buffer with two producers and two consumers on condition variables,
 * a broadcast that wakes every waiter, signal waking one at a time, and timed waits on the
 * realtime and monotonic clocks. */
#define _GNU_SOURCE
#include "thrutil.h"

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 5000 /* per producer */
#define SLOTS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static long buffer[SLOTS];
static int head, count, producers_left = PRODUCERS;
static int max_count;

struct consumed {
	long items, sum, sum_of_squares;
};

static void *produce(void *arg)
{
	long base = (long)arg * ITEMS;
	for (long i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&lock);
		while (count == SLOTS)
			pthread_cond_wait(&not_full, &lock);
		buffer[(head + count) % SLOTS] = base + i;
		count++;
		if (count > max_count)
			max_count = count;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	producers_left--;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consume(void *arg)
{
	struct consumed *out = arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (count == 0 && producers_left > 0)
			pthread_cond_wait(&not_empty, &lock);
		if (count == 0) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		long item = buffer[head];
		head = (head + 1) % SLOTS;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
		out->items++;
		out->sum += item;
		out->sum_of_squares += item * item;
	}
}

static void producer_consumer(void)
{
	pthread_t producers[PRODUCERS], consumers[CONSUMERS];
	struct consumed got[CONSUMERS] = {{0}};
	for (long i = 0; i < CONSUMERS; i++)
		spawn(&consumers[i], consume, &got[i]);
	for (long i = 0; i < PRODUCERS; i++)
		spawn(&producers[i], produce, (void *)i);
	for (int i = 0; i < PRODUCERS; i++)
		join(producers[i]);
	for (int i = 0; i < CONSUMERS; i++)
		join(consumers[i]);
	long items = 0, sum = 0, squares = 0;
	for (int i = 0; i < CONSUMERS; i++) {
		items += got[i].items;
		sum += got[i].sum;
		squares += got[i].sum_of_squares;
	}
	long n = (long)PRODUCERS * ITEMS;
	printf("consumed %ld items, sum %ld, sum of squares %ld\n", items, sum, squares);
	check("every item consumed exactly once (count, sum, sum of squares)",
	      items == n && sum == n * (n + 1) / 2 && squares == n * (n + 1) * (2 * n + 1) / 6);
	check("the buffer never held more than its slots", max_count <= SLOTS && max_count >= 1);
}

/* Broadcast: every waiter wakes. */
#define WAITERS 6
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int waiting, released, woken;

static void *wait_for_go(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	waiting++;
	while (!released)
		pthread_cond_wait(&go, &lock);
	woken++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void broadcast(void)
{
	pthread_t threads[WAITERS];
	for (int i = 0; i < WAITERS; i++)
		spawn(&threads[i], wait_for_go, NULL);
	int all_waiting = wait_count(&waiting, WAITERS);
	pthread_mutex_lock(&lock);
	released = 1;
	pthread_cond_broadcast(&go);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < WAITERS; i++)
		join(threads[i]);
	check("all waiters reached the wait", all_waiting);
	printf("broadcast woke %d of %d waiters\n", woken, WAITERS);
	check("broadcast woke every waiter", woken == WAITERS);
}

/* Signal, one token at a time: each signal lets exactly one more waiter through. */
static pthread_cond_t token_cond = PTHREAD_COND_INITIALIZER;
static int tokens, passed;

static void *take_token(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (tokens == 0)
		pthread_cond_wait(&token_cond, &lock);
	tokens--;
	passed++;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void signal_one_by_one(void)
{
	pthread_t threads[WAITERS];
	for (int i = 0; i < WAITERS; i++)
		spawn(&threads[i], take_token, NULL);
	int in_order = 1;
	for (int i = 1; i <= WAITERS; i++) {
		pthread_mutex_lock(&lock);
		tokens++;
		pthread_cond_signal(&token_cond);
		pthread_mutex_unlock(&lock);
		in_order &= wait_count(&passed, i);
		pthread_mutex_lock(&lock);
		in_order &= passed == i && tokens == 0;
		pthread_mutex_unlock(&lock);
	}
	for (int i = 0; i < WAITERS; i++)
		join(threads[i]);
	check("each signal with one token let exactly one waiter through", in_order);
}

static void timed_waits(void)
{
	pthread_cond_t cond = PTHREAD_COND_INITIALIZER, mono;
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	expect_rc("pthread_condattr_setclock(MONOTONIC)",
		  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), 0);
	die_rc("pthread_cond_init", pthread_cond_init(&mono, &attr));

	pthread_mutex_lock(&lock);
	int64_t before = mono_ns();
	struct timespec at = deadline_in(CLOCK_REALTIME, 30 * 1000000);
	int rc;
	while ((rc = pthread_cond_timedwait(&cond, &lock, &at)) == 0)
		;
	expect_rc("timedwait (realtime, 30 ms, nobody signals)", rc, ETIMEDOUT);
	check("it waited at least 30 ms", mono_ns() - before >= 30 * 1000000);
	check("the mutex is held again after the timeout",
	      pthread_mutex_trylock(&lock) == EBUSY);

	before = mono_ns();
	at = deadline_in(CLOCK_MONOTONIC, 30 * 1000000);
	while ((rc = pthread_cond_timedwait(&mono, &lock, &at)) == 0)
		;
	expect_rc("timedwait (monotonic, 30 ms, nobody signals)", rc, ETIMEDOUT);
	check("it waited at least 30 ms", mono_ns() - before >= 30 * 1000000);

	at = deadline_in(CLOCK_MONOTONIC, -1000000000);
	expect_rc("timedwait with a deadline in the past", pthread_cond_timedwait(&mono, &lock, &at),
		  ETIMEDOUT);
	pthread_mutex_unlock(&lock);
	pthread_condattr_destroy(&attr);
}

int main(void)
{
	producer_consumer();
	broadcast();
	signal_one_by_one();
	timed_waits();
	return finish();
}
