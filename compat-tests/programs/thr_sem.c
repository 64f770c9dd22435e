/* thr_sem: unnamed POSIX semaphores between threads: ping-pong, a counting semaphore that
 * limits how many threads are inside at once, trywait and timedwait, getvalue, post overflow. */
#define _GNU_SOURCE
#include <limits.h>
#include <semaphore.h>
#include "thrutil.h"

#define ROUNDS 2000

static sem_t ping, pong;
static long volley;

static void *ponger(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		while (sem_wait(&ping) != 0)
			;
		volley++; /* ordered by the semaphores */
		sem_post(&pong);
	}
	return NULL;
}

static void ping_pong(void)
{
	die_rc("sem_init", sem_init(&ping, 0, 0) ? errno : 0);
	die_rc("sem_init", sem_init(&pong, 0, 0) ? errno : 0);
	pthread_t thread;
	spawn(&thread, ponger, NULL);
	int in_step = 1;
	for (int i = 0; i < ROUNDS; i++) {
		volley++;
		sem_post(&ping);
		while (sem_wait(&pong) != 0)
			;
		in_step &= volley == 2L * (i + 1);
	}
	join(thread);
	printf("ping-pong: %ld hits in %d rounds\n", volley, ROUNDS);
	check("every round alternated", in_step && volley == 2L * ROUNDS);
}

#define WORKERS 8
#define LIMIT 3
#define ENTRIES 300
static sem_t gate;
static int inside, most_inside, entries;

static void *enter_many_times(void *arg)
{
	(void)arg;
	for (int i = 0; i < ENTRIES; i++) {
		while (sem_wait(&gate) != 0)
			;
		int now = __atomic_add_fetch(&inside, 1, __ATOMIC_ACQ_REL);
		int seen = __atomic_load_n(&most_inside, __ATOMIC_RELAXED);
		while (now > seen &&
		       !__atomic_compare_exchange_n(&most_inside, &seen, now, 0, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))
			;
		if ((i & 15) == 0)
			sched_yield();
		__atomic_fetch_add(&entries, 1, __ATOMIC_RELAXED);
		__atomic_sub_fetch(&inside, 1, __ATOMIC_ACQ_REL);
		sem_post(&gate);
	}
	return NULL;
}

static void counting(void)
{
	die_rc("sem_init", sem_init(&gate, 0, LIMIT) ? errno : 0);
	pthread_t threads[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		spawn(&threads[i], enter_many_times, NULL);
	for (int i = 0; i < WORKERS; i++)
		join(threads[i]);
	printf("%d entries by %d threads through a semaphore of %d\n", entries, WORKERS, LIMIT);
	check("every entry happened", entries == WORKERS * ENTRIES);
	check("never more than 3 inside at once", most_inside >= 1 && most_inside <= LIMIT);
	int value = -1;
	sem_getvalue(&gate, &value);
	printf("value afterwards = %d\n", value);
	check("the value is back to 3", value == LIMIT);
}

static sem_t later;

static void *post_later(void *arg)
{
	(void)arg;
	sleep_ms(20);
	sem_post(&later);
	return NULL;
}

static void waits(void)
{
	sem_t s;
	die_rc("sem_init", sem_init(&s, 0, 2) ? errno : 0);
	expect_ret("sem_trywait (value 2)", sem_trywait(&s), 0);
	expect_ret("sem_trywait (value 1)", sem_trywait(&s), 0);
	errno = 0;
	expect_errno("sem_trywait (value 0)", sem_trywait(&s), EAGAIN);
	int64_t before = mono_ns();
	struct timespec at = deadline_in(CLOCK_REALTIME, 30 * 1000000);
	int r;
	while ((r = sem_timedwait(&s, &at)) != 0 && errno == EINTR)
		;
	expect_errno("sem_timedwait (30 ms, nobody posts)", r, ETIMEDOUT);
	check("it waited at least 30 ms", mono_ns() - before >= 30 * 1000000);
	struct timespec bad = {0, 1000000000};
	errno = 0;
	expect_errno("sem_timedwait with tv_nsec = 1e9", sem_timedwait(&s, &bad), EINVAL);
	expect_ret("sem_post", sem_post(&s), 0);
	at = deadline_in(CLOCK_REALTIME, -1000000000);
	expect_ret("sem_timedwait with a past deadline when the value is 1", sem_timedwait(&s, &at),
		   0);

	die_rc("sem_init", sem_init(&later, 0, 0) ? errno : 0);
	pthread_t thread;
	spawn(&thread, post_later, NULL);
	at = deadline_in(CLOCK_REALTIME, (int64_t)LONG_WAIT_S * 1000000000);
	while ((r = sem_timedwait(&later, &at)) != 0 && errno == EINTR)
		;
	expect_ret("sem_timedwait for a post from another thread", r, 0);
	join(thread);

	sem_t full;
	die_rc("sem_init", sem_init(&full, 0, SEM_VALUE_MAX) ? errno : 0);
	errno = 0;
	expect_errno("sem_post at SEM_VALUE_MAX", sem_post(&full), EOVERFLOW);
	errno = 0;
	expect_errno("sem_init above SEM_VALUE_MAX", sem_init(&full, 0, (unsigned)SEM_VALUE_MAX + 1),
		     EINVAL);
}

int main(void)
{
	ping_pong();
	counting();
	waits();
	return finish();
}
