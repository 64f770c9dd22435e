/* thr_mutex: threads incrementing shared counters under a mutex, a spinlock and atomics; the
 * mutex types' rules (recursive, error-checking), trylock and timedlock from another thread,
 * and a robust mutex whose owner dies. */
#define _GNU_SOURCE
#include "thrutil.h"

#define THREADS 8
#define ITERATIONS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t spin;
static long counter, spin_counter, atomic_counter;
/* Plain (unprotected) per-thread work, to check each thread ran its whole loop. */
static long done_by[THREADS];

static void *increment(void *arg)
{
	long index = (long)arg;
	for (int i = 0; i < ITERATIONS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		pthread_spin_lock(&spin);
		spin_counter += 2;
		pthread_spin_unlock(&spin);
		__atomic_fetch_add(&atomic_counter, 3, __ATOMIC_RELAXED);
		done_by[index]++;
	}
	return NULL;
}

static void counters(void)
{
	pthread_t threads[THREADS];
	die_rc("pthread_spin_init", pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE));
	for (long i = 0; i < THREADS; i++)
		spawn(&threads[i], increment, (void *)i);
	for (int i = 0; i < THREADS; i++)
		join(threads[i]);
	printf("%d threads x %d increments\n", THREADS, ITERATIONS);
	printf("mutex counter = %ld\n", counter);
	check("mutex counter is threads x increments", counter == (long)THREADS * ITERATIONS);
	printf("spinlock counter = %ld\n", spin_counter);
	check("spinlock counter is 2 x threads x increments",
	      spin_counter == 2L * THREADS * ITERATIONS);
	printf("atomic counter = %ld\n", atomic_counter);
	check("atomic counter is 3 x threads x increments",
	      atomic_counter == 3L * THREADS * ITERATIONS);
	int all = 1;
	for (int i = 0; i < THREADS; i++)
		all &= done_by[i] == ITERATIONS;
	check("every thread ran its whole loop", all);
}

/* Tries `m` from another thread: what pthread_mutex_trylock returned there. */
struct try_arg {
	pthread_mutex_t *mutex;
	int rc;
	int timed;
};

static void *try_from_thread(void *p)
{
	struct try_arg *arg = p;
	if (arg->timed) {
		struct timespec at = deadline_in(CLOCK_REALTIME, 50 * 1000000);
		arg->rc = pthread_mutex_timedlock(arg->mutex, &at);
	} else {
		arg->rc = pthread_mutex_trylock(arg->mutex);
	}
	if (arg->rc == 0)
		pthread_mutex_unlock(arg->mutex);
	return NULL;
}

static int try_elsewhere(pthread_mutex_t *mutex, int timed)
{
	struct try_arg arg = {mutex, -1, timed};
	pthread_t thread;
	spawn(&thread, try_from_thread, &arg);
	join(thread);
	return arg.rc;
}

static void types(void)
{
	pthread_mutexattr_t attr;
	pthread_mutex_t recursive, checking, normal = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	die_rc("init recursive", pthread_mutex_init(&recursive, &attr));
	expect_rc("recursive: lock", pthread_mutex_lock(&recursive), 0);
	expect_rc("recursive: lock again", pthread_mutex_lock(&recursive), 0);
	expect_rc("recursive: trylock a third time", pthread_mutex_trylock(&recursive), 0);
	expect_rc("recursive: trylock from another thread", try_elsewhere(&recursive, 0), EBUSY);
	for (int i = 0; i < 3; i++)
		pthread_mutex_unlock(&recursive);
	expect_rc("recursive: trylock from another thread after 3 unlocks",
		  try_elsewhere(&recursive, 0), 0);

	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	die_rc("init errorcheck", pthread_mutex_init(&checking, &attr));
	expect_rc("errorcheck: unlock while unlocked", pthread_mutex_unlock(&checking), EPERM);
	expect_rc("errorcheck: lock", pthread_mutex_lock(&checking), 0);
	expect_rc("errorcheck: lock again", pthread_mutex_lock(&checking), EDEADLK);
	expect_rc("errorcheck: unlock", pthread_mutex_unlock(&checking), 0);

	expect_rc("normal: lock", pthread_mutex_lock(&normal), 0);
	expect_rc("normal: trylock from another thread", try_elsewhere(&normal, 0), EBUSY);
	int64_t before = mono_ns();
	expect_rc("normal: timedlock (50 ms) from another thread", try_elsewhere(&normal, 1),
		  ETIMEDOUT);
	check("the timedlock waited at least 50 ms", mono_ns() - before >= 50 * 1000000);
	expect_rc("normal: unlock", pthread_mutex_unlock(&normal), 0);
	expect_rc("normal: timedlock from another thread once unlocked",
		  try_elsewhere(&normal, 1), 0);
	pthread_mutexattr_destroy(&attr);
}

static pthread_mutex_t robust;

static void *lock_and_die(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust);
	return NULL; /* exits holding it */
}

static void robustness(void)
{
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	die_rc("init robust", pthread_mutex_init(&robust, &attr));
	pthread_t thread;
	spawn(&thread, lock_and_die, NULL);
	join(thread);
	expect_rc("robust: lock after the owner exited", pthread_mutex_lock(&robust), EOWNERDEAD);
	expect_rc("robust: pthread_mutex_consistent", pthread_mutex_consistent(&robust), 0);
	expect_rc("robust: unlock", pthread_mutex_unlock(&robust), 0);
	expect_rc("robust: lock again", pthread_mutex_lock(&robust), 0);
	expect_rc("robust: unlock again", pthread_mutex_unlock(&robust), 0);

	/* Without pthread_mutex_consistent the mutex becomes unusable. */
	spawn(&thread, lock_and_die, NULL);
	join(thread);
	expect_rc("robust: lock after the second owner exited", pthread_mutex_lock(&robust),
		  EOWNERDEAD);
	expect_rc("robust: unlock without making it consistent", pthread_mutex_unlock(&robust), 0);
	expect_rc("robust: lock now", pthread_mutex_lock(&robust), ENOTRECOVERABLE);
	pthread_mutexattr_destroy(&attr);
}

int main(void)
{
	counters();
	types();
	robustness();
	return finish();
}
