/* cpu_threads: per-thread CPU facts the other cpu_/sched_ programs leave out: a thread's CPU
 * time stays in the process's after it exits; clock_getcpuclockid of the caller's pid and of a
 * missing one; nice values are per thread, inherited by new threads, raised freely; a new
 * thread inherits its creator's CPU affinity. Only facts that hold on any machine print. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#include "fsutil.h"

static long long clock_ns(clockid_t c)
{
	struct timespec t;
	if (clock_gettime(c, &t) != 0)
		return -1;
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Spins until this thread has used `ms` of CPU time. */
static void burn_ms(int ms)
{
	long long start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	volatile unsigned long x = 0;
	while (clock_ns(CLOCK_THREAD_CPUTIME_ID) - start < ms * 1000000LL)
		for (int i = 0; i < 10000; i++)
			x += i;
}

static void *burner(void *arg)
{
	(void)arg;
	burn_ms(60);
	return NULL;
}

static void exited_threads(void)
{
	long long before = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	pthread_t t;
	pthread_create(&t, NULL, burner, NULL);
	pthread_join(t, NULL);
	long long after = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	yes("a finished thread's 60 ms stay in the process CPU clock", after - before >= 60000000);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long long used = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	yes("and in getrusage(RUSAGE_SELF)", used >= 60000000);

	clockid_t c;
	CHECK(clock_getcpuclockid(getpid(), &c));
	yes("clock_getcpuclockid(getpid()) reads the process clock", clock_ns(c) >= after);
	/* It returns the error number rather than setting errno. */
	printf("clock_getcpuclockid(a missing pid) = %s\n",
	       errname(clock_getcpuclockid(999999, &c)));
}

static int seen_nice = 99, seen_after = 99;

static void *nicer(void *arg)
{
	(void)arg;
	seen_nice = getpriority(PRIO_PROCESS, 0);
	setpriority(PRIO_PROCESS, 0, 9);
	seen_after = getpriority(PRIO_PROCESS, 0);
	return NULL;
}

static void nice_values(void)
{
	/* Only upwards: going down needs CAP_SYS_NICE, which root on a host has and a
	 * container's root does not. */
	CHECK(getpriority(PRIO_PROCESS, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 4));
	CHECK(getpriority(PRIO_PROCESS, 0));
	pthread_t t;
	pthread_create(&t, NULL, nicer, NULL);
	pthread_join(t, NULL);
	printf("a new thread inherits nice %d and sets its own to %d\n", seen_nice, seen_after);
	printf("the creator's stays %d\n", getpriority(PRIO_PROCESS, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 100));
	CHECK(getpriority(PRIO_PROCESS, 0));
	SHOW("getpriority(99, 0)", getpriority(99, 0));
	SHOW("getpriority(PRIO_PROCESS, a missing task)", getpriority(PRIO_PROCESS, 999999));
}

static int child_mask_ok = -1, child_cpu = -1;

static void *pinned(void *arg)
{
	(void)arg;
	cpu_set_t s;
	sched_getaffinity(0, sizeof s, &s);
	child_mask_ok = CPU_COUNT(&s) == 1 && CPU_ISSET(0, &s);
	child_cpu = sched_getcpu();
	return NULL;
}

static void inherited_affinity(void)
{
	cpu_set_t all, one;
	sched_getaffinity(0, sizeof all, &all);
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one));
	pthread_t t;
	pthread_create(&t, NULL, pinned, NULL);
	pthread_join(t, NULL);
	yes("a new thread inherits its creator's mask", child_mask_ok == 1);
	yes("and runs on CPU 0", child_cpu == 0);
	CHECK(sched_setaffinity(0, sizeof all, &all));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "cpu_threads");
	exited_threads();
	nice_values();
	inherited_affinity();
	return fs_end();
}
