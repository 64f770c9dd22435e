/* thr_detach_exit: detached threads (by attribute and by pthread_detach) run to completion
 * after main calls pthread_exit; the process lives on until its last thread is gone and then
 * exits with status 0. The threads take turns through a chain of semaphores so that the output
 * order is fixed; they write with write(2), main's stdio buffer being flushed before it leaves. */
#define _GNU_SOURCE
#include <semaphore.h>
#include "thrutil.h"

#define THREADS 5

static sem_t turn[THREADS + 1];
static long main_tid;

static void say(const char *text)
{
	size_t len = strlen(text);
	if (write(1, text, len) != (ssize_t)len)
		_exit(3);
}

static void *chained(void *arg)
{
	long index = (long)arg;
	char line[160];
	while (sem_wait(&turn[index]) != 0)
		;
	if (index == 0)
		sleep_ms(20); /* main, which posted turn[0] just before pthread_exit, is most
			       * likely gone by now; the output is the same if not */
	long sum = 0;
	for (long i = 1; i <= 1000 * (index + 1); i++)
		sum += i;
	snprintf(line, sizeof line, "detached thread %ld: sum to %ld = %ld, tid is %s\n", index,
		 1000 * (index + 1), sum,
		 gettid_() != main_tid && getpid() == main_tid ? "its own, pid is main's" : "WRONG");
	say(line);
	sem_post(&turn[index + 1]);
	if (index == THREADS - 1)
		say("last detached thread returns: the process exits with 0\n");
	return NULL;
}

int main(void)
{
	main_tid = gettid_();
	for (int i = 0; i <= THREADS; i++)
		sem_init(&turn[i], 0, 0);
	pthread_attr_t detached;
	pthread_attr_init(&detached);
	int state = -1;
	expect_rc("pthread_attr_setdetachstate(DETACHED)",
		  pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED), 0);
	pthread_attr_getdetachstate(&detached, &state);
	check("the attribute says detached", state == PTHREAD_CREATE_DETACHED);
	for (long i = 0; i < THREADS; i++) {
		pthread_t t;
		if (i % 2 == 0) {
			die_rc("create detached",
			       pthread_create(&t, &detached, chained, (void *)i));
		} else {
			spawn(&t, chained, (void *)i);
			expect_rc("pthread_detach", pthread_detach(t), 0);
		}
	}
	pthread_attr_destroy(&detached);
	printf("main: %d threads started, calling pthread_exit\n", THREADS);
	fflush(stdout);
	if (t_failures)
		exit(1);
	sem_post(&turn[0]);
	pthread_exit(NULL);
}
