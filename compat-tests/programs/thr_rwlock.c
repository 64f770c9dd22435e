/* thr_rwlock: writers keep an invariant under the write lock while readers check it under the
 * read lock; several readers hold the lock at once; try and timed locks from other threads. */
#define _GNU_SOURCE
#include "thrutil.h"

#define WRITERS 3
#define READERS 4
#define WRITES 3000
#define READS 6000

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long a, b; /* the writers keep a == b and both even */
static long broken, reads_done;

static void *writer(void *arg)
{
	(void)arg;
	for (int i = 0; i < WRITES; i++) {
		pthread_rwlock_wrlock(&rw);
		a++;
		if ((i & 63) == 0)
			sched_yield(); /* a reader must not see a != b even now */
		b++;
		a++;
		b++;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	long bad = 0;
	for (int i = 0; i < READS; i++) {
		pthread_rwlock_rdlock(&rw);
		if (a != b || (a & 1))
			bad++;
		pthread_rwlock_unlock(&rw);
	}
	__atomic_fetch_add(&broken, bad, __ATOMIC_RELAXED);
	__atomic_fetch_add(&reads_done, READS, __ATOMIC_RELAXED);
	return NULL;
}

static void invariant(void)
{
	pthread_t threads[WRITERS + READERS];
	for (int i = 0; i < WRITERS; i++)
		spawn(&threads[i], writer, NULL);
	for (int i = 0; i < READERS; i++)
		spawn(&threads[WRITERS + i], reader, NULL);
	for (int i = 0; i < WRITERS + READERS; i++)
		join(threads[i]);
	printf("after %d writers x %d writes: a = %ld, b = %ld\n", WRITERS, WRITES, a, b);
	check("no write was lost", a == 2L * WRITERS * WRITES && b == a);
	printf("%ld reads saw a broken invariant, of %ld\n", broken, reads_done);
	check("no reader saw a writer half-way", broken == 0 && reads_done == (long)READERS * READS);
}

struct attempt {
	int op; /* 0 tryrdlock, 1 trywrlock, 2 timedrdlock, 3 timedwrlock, 4 rdlock (holds) */
	int rc;
};

static void *attempt_from_thread(void *p)
{
	struct attempt *at = p;
	struct timespec deadline = deadline_in(CLOCK_REALTIME, 30 * 1000000);
	switch (at->op) {
	case 0: at->rc = pthread_rwlock_tryrdlock(&rw); break;
	case 1: at->rc = pthread_rwlock_trywrlock(&rw); break;
	case 2: at->rc = pthread_rwlock_timedrdlock(&rw, &deadline); break;
	default: at->rc = pthread_rwlock_timedwrlock(&rw, &deadline); break;
	}
	if (at->rc == 0)
		pthread_rwlock_unlock(&rw);
	return NULL;
}

static int attempt(int op)
{
	struct attempt at = {op, -1};
	pthread_t thread;
	spawn(&thread, attempt_from_thread, &at);
	join(thread);
	return at.rc;
}

/* Readers that all hold the lock at the same time: each waits for the others inside. */
#define SHARERS 4
static volatile int inside;
static int all_inside_seen;

static void *share(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&rw);
	__atomic_fetch_add(&inside, 1, __ATOMIC_ACQ_REL);
	int ok = wait_count(&inside, SHARERS);
	pthread_rwlock_unlock(&rw);
	if (ok)
		__atomic_fetch_add(&all_inside_seen, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void sharing(void)
{
	expect_rc("rdlock in main", pthread_rwlock_rdlock(&rw), 0);
	expect_rc("tryrdlock from another thread while main reads", attempt(0), 0);
	expect_rc("trywrlock from another thread while main reads", attempt(1), EBUSY);
	int64_t before = mono_ns();
	expect_rc("timedwrlock (30 ms) from another thread while main reads", attempt(3),
		  ETIMEDOUT);
	check("it waited at least 30 ms", mono_ns() - before >= 30 * 1000000);
	expect_rc("unlock in main", pthread_rwlock_unlock(&rw), 0);

	expect_rc("wrlock in main", pthread_rwlock_wrlock(&rw), 0);
	expect_rc("tryrdlock from another thread while main writes", attempt(0), EBUSY);
	expect_rc("timedrdlock (30 ms) from another thread while main writes", attempt(2),
		  ETIMEDOUT);
	expect_rc("unlock in main", pthread_rwlock_unlock(&rw), 0);
	expect_rc("trywrlock from another thread when free", attempt(1), 0);

	pthread_t threads[SHARERS];
	for (int i = 0; i < SHARERS; i++)
		spawn(&threads[i], share, NULL);
	for (int i = 0; i < SHARERS; i++)
		join(threads[i]);
	printf("%d readers held the read lock at the same time\n", all_inside_seen);
	check("all readers were inside at once", all_inside_seen == SHARERS);
}

int main(void)
{
	invariant();
	sharing();
	return finish();
}
