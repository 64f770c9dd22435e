/* thr_cancel: pthread_cancel: deferred cancellation at cancellation points (read, nanosleep,
 * pthread_cond_wait, pthread_testcancel) with cleanup handlers run in reverse order, a thread
 * that disables cancellation meanwhile, and asynchronous cancellation of a spinning thread. */
#define _GNU_SOURCE
#include <semaphore.h>
#include "thrutil.h"

/* The cleanup handlers of one thread append their tags here, in the order they run. */
static char order[64];

static void note(void *tag)
{
	strncat(order, tag, sizeof order - strlen(order) - 1);
}

static int pipe_fds[2];
static volatile int reached;

static void *blocked_in_read(void *arg)
{
	(void)arg;
	char c;
	pthread_cleanup_push(note, "A");
	pthread_cleanup_push(note, "B");
	pthread_cleanup_push(note, "C");
	__atomic_store_n(&reached, 1, __ATOMIC_RELEASE);
	read(pipe_fds[0], &c, 1); /* nobody writes */
	note("not-reached");
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static void *blocked_in_sleep(void *arg)
{
	(void)arg;
	pthread_cleanup_push(note, "S");
	__atomic_store_n(&reached, 1, __ATOMIC_RELEASE);
	sleep(1000);
	pthread_cleanup_pop(0);
	return (void *)1;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void unlock(void *arg)
{
	note("U");
	pthread_mutex_unlock(arg);
}

static void *blocked_in_cond_wait(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	pthread_cleanup_push(unlock, &lock);
	__atomic_store_n(&reached, 1, __ATOMIC_RELEASE);
	for (;;)
		pthread_cond_wait(&never, &lock);
	pthread_cleanup_pop(1);
	return NULL;
}

/* Runs `fn` in a thread, cancels it once it reached its blocking call (or before: deferred
 * cancellation acts at the next cancellation point either way), and reports. */
static void cancel_one(const char *what, void *(*fn)(void *), const char *expected_order)
{
	pthread_t t;
	order[0] = 0;
	reached = 0;
	spawn(&t, fn, NULL);
	wait_flag(&reached);
	sleep_ms(10); /* most likely blocked by now; the outcome is the same if not */
	expect_rc("pthread_cancel", pthread_cancel(t), 0);
	void *value = join(t);
	char line[256];
	snprintf(line, sizeof line, "%s: joined with PTHREAD_CANCELED", what);
	check(line, value == PTHREAD_CANCELED);
	printf("%s: cleanup handlers ran as \"%s\"\n", what, order);
	snprintf(line, sizeof line, "%s: cleanup order", what);
	check(line, strcmp(order, expected_order) == 0);
}

/* Disables cancellation, is cancelled, goes on, then enables it and tests for it. */
static sem_t disabled, cancelled;
static volatile int survived;

static void *disables_first(void *arg)
{
	(void)arg;
	int old = -1;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_cleanup_push(note, "D");
	sem_post(&disabled);
	while (sem_wait(&cancelled) != 0) /* a cancellation point, but disabled */
		;
	sleep_ms(1); /* nanosleep: also a cancellation point */
	survived = old == PTHREAD_CANCEL_ENABLE ? 1 : 2;
	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
	pthread_testcancel();
	survived = 3; /* not reached */
	pthread_cleanup_pop(0);
	return NULL;
}

static void disabled_state(void)
{
	pthread_t t;
	order[0] = 0;
	sem_init(&disabled, 0, 0);
	sem_init(&cancelled, 0, 0);
	spawn(&t, disables_first, NULL);
	while (sem_wait(&disabled) != 0)
		;
	expect_rc("pthread_cancel (cancellation disabled)", pthread_cancel(t), 0);
	sem_post(&cancelled);
	void *value = join(t);
	check("disabled: the thread went on past two cancellation points", survived == 1);
	check("disabled: cancelled at pthread_testcancel once enabled", value == PTHREAD_CANCELED);
	printf("disabled: cleanup handlers ran as \"%s\"\n", order);
	check("disabled: its cleanup handler ran", strcmp(order, "D") == 0);
}

static volatile unsigned long spins;

static void *spins_async(void *arg)
{
	(void)arg;
	int old;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
	__atomic_store_n(&reached, 1, __ATOMIC_RELEASE);
	for (;;)
		spins++;
	return NULL;
}

static void asynchronous(void)
{
	pthread_t t;
	reached = 0;
	spawn(&t, spins_async, NULL);
	wait_flag(&reached);
	expect_rc("pthread_cancel (asynchronous, spinning)", pthread_cancel(t), 0);
	check("asynchronous: the spinning thread was cancelled", join(t) == PTHREAD_CANCELED);
}

int main(void)
{
	if (pipe(pipe_fds) != 0)
		die("pipe");
	cancel_one("read", blocked_in_read, "CBA");
	cancel_one("sleep", blocked_in_sleep, "S");
	cancel_one("cond_wait", blocked_in_cond_wait, "U");
	check("cond_wait: the mutex was released by the cleanup handler",
	      pthread_mutex_trylock(&lock) == 0 && pthread_mutex_unlock(&lock) == 0);
	disabled_state();
	asynchronous();
	return finish();
}
