/* ev_cpu: CPU time and placement: the thread and process CPU clocks (also by the ids of
 * clock_getcpuclockid and pthread_getcpuclockid), getrusage and times after busy work in two
 * threads, sched_getaffinity/setaffinity (per thread) with sched_getcpu, the scheduling
 * policies and priority ranges, and nice values per thread. Prints only facts that hold on
 * any machine (no CPU counts, no times). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <time.h>
#include "fsutil.h"

static long long ts_ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long long clock_ns(clockid_t c)
{
	struct timespec t;
	if (clock_gettime(c, &t) != 0)
		return -1;
	return ts_ns(t);
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

static long long worker_cpu;
static clockid_t worker_clock;
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
	(void)arg;
	burn_ms(60);
	worker_cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	pthread_barrier_wait(&barrier); /* main reads this thread's clock now */
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void cpu_time(void)
{
	long long wall0 = clock_ns(CLOCK_MONOTONIC);
	long long self0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	burn_ms(80);
	long long self1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	long long wall1 = clock_ns(CLOCK_MONOTONIC);
	yes("thread CPU time grew by at least 80 ms", self1 - self0 >= 80000000);
	yes("and by no more than the wall time", self1 - self0 <= wall1 - wall0 + 2000000);
	long long thread_now = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	yes("process CPU time >= thread CPU time", clock_ns(CLOCK_PROCESS_CPUTIME_ID) >= thread_now);

	pthread_t t;
	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&t, NULL, worker, NULL);
	pthread_barrier_wait(&barrier);
	CHECK(pthread_getcpuclockid(t, &worker_clock));
	long long seen = clock_ns(worker_clock);
	/* (A virtual CPU may lose its host CPU for a while, which counts as the thread's.) */
	yes("the worker's clock read from main matches what it saw",
	    seen >= worker_cpu && seen - worker_cpu < 100000000);
	yes("the worker's clock id is negative", worker_clock < 0);
	pthread_barrier_wait(&barrier);
	pthread_join(t, NULL);
	thread_now = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	long long proc = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	yes("process CPU time includes the exited worker's", proc >= thread_now + 60000000);

	clockid_t pc;
	CHECK(clock_getcpuclockid(0, &pc));
	long long by_id = clock_ns(pc);
	yes("clock_getcpuclockid(0) reads the process clock", by_id >= proc);
	CHECK(clock_getcpuclockid(getpid(), &pc));
	SHOW("clock_getcpuclockid(no such pid)", -clock_getcpuclockid(999999, &pc));
	struct timespec res;
	CHECK(clock_getres(CLOCK_THREAD_CPUTIME_ID, &res));
	printf("thread clock resolution: %ld ns\n", res.tv_nsec);
	CHECK(clock_getres(CLOCK_PROCESS_CPUTIME_ID, &res));
	printf("process clock resolution: %ld ns\n", res.tv_nsec);

	struct rusage ru;
	CHECK(getrusage(RUSAGE_SELF, &ru));
	long long used = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
			 ru.ru_stime.tv_usec;
	yes("RUSAGE_SELF counts both threads (>= 140 ms)", used >= 140000);
	CHECK(getrusage(RUSAGE_THREAD, &ru));
	used = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
	yes("RUSAGE_THREAD counts this thread (>= 80 ms)", used >= 80000);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru));
	yes("RUSAGE_CHILDREN is zero without children",
	    ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0 && ru.ru_stime.tv_usec == 0);
	SHOW("getrusage(7)", getrusage(7, &ru));
	SHOW("getrusage(bad pointer)", getrusage(RUSAGE_SELF, BAD_PTR));

	struct tms tm;
	clock_t t0 = times(&tm);
	/* 140 ms at least; Linux's split into user and system time rounds each down. */
	yes("times: user + system >= 12 ticks", tm.tms_utime + tm.tms_stime >= 12);
	yes("times: no children", tm.tms_cutime == 0 && tm.tms_cstime == 0);
	struct timespec nap = {0, 50000000};
	nanosleep(&nap, NULL);
	clock_t t1 = times(NULL);
	yes("times' return value advanced by 5 ticks or a little more", t1 - t0 >= 4 && t1 - t0 <= 100);
}

static int count_set(cpu_set_t *s)
{
	return CPU_COUNT(s);
}

static int pinned_cpu = -1;

static void *pinned(void *arg)
{
	(void)arg;
	cpu_set_t s;
	sched_getaffinity(0, sizeof s, &s);
	pinned_cpu = count_set(&s) == 1 && CPU_ISSET(0, &s) ? sched_getcpu() : -2;
	return NULL;
}

static void placement(void)
{
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t all, one, back;
	CHECK(sched_getaffinity(0, sizeof all, &all));
	yes("the mask has every online CPU", count_set(&all) == online);
	int cpu = sched_getcpu();
	yes("sched_getcpu() is in the mask", cpu >= 0 && CPU_ISSET(cpu, &all));
	unsigned c = 99, node = 99;
	CHECK(syscall(SYS_getcpu, &c, &node, NULL));
	yes("getcpu's node is 0 and its CPU is valid", node == 0 && (long)c < online);
	SHOW("sched_getaffinity(len 4)", syscall(SYS_sched_getaffinity, 0, 4, &all));
	SHOW("sched_getaffinity(no such task)", sched_getaffinity(999999, sizeof all, &all));
	CPU_ZERO(&one);
	SHOW("sched_setaffinity(empty)", sched_setaffinity(0, sizeof one, &one));
	CPU_SET(1000, &one);
	SHOW("sched_setaffinity(no such CPU)", sched_setaffinity(0, sizeof one, &one));

	/* Pin to CPU 0: getcpu then says 0. */
	CPU_ZERO(&one);
	CPU_SET(0, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one));
	sched_getaffinity(0, sizeof back, &back);
	yes("pinned to CPU 0", count_set(&back) == 1 && CPU_ISSET(0, &back));
	yes("running on CPU 0", sched_getcpu() == 0);
	/* A new thread inherits the mask. */
	pthread_t t;
	pthread_create(&t, NULL, pinned, NULL);
	pthread_join(t, NULL);
	printf("a new thread inherits it and runs on CPU %d\n", pinned_cpu);
	CHECK(sched_setaffinity(0, sizeof all, &all));
	sched_getaffinity(0, sizeof back, &back);
	yes("unpinned", CPU_EQUAL(&back, &all));
}

static void policies(void)
{
	struct sched_param sp = {0};
	CHECK(sched_getscheduler(0));
	CHECK(sched_setscheduler(0, SCHED_BATCH, &sp));
	CHECK(sched_getscheduler(0));
	CHECK(sched_setscheduler(0, SCHED_OTHER, &sp));
	CHECK(sched_getscheduler(0));
	SHOW("SCHED_FIFO with priority 0", sched_setscheduler(0, SCHED_FIFO, &sp));
	sp.sched_priority = 5;
	SHOW("SCHED_OTHER with priority 5", sched_setscheduler(0, SCHED_OTHER, &sp));
	SHOW("policy 42", sched_setscheduler(0, 42, &sp));
	SHOW("sched_setparam(priority 5)", sched_setparam(0, &sp));
	SHOW("sched_getscheduler(-1)", sched_getscheduler(-1));
	SHOW("sched_getscheduler(no such task)", sched_getscheduler(999999));
	sp.sched_priority = 7;
	CHECK(sched_getparam(0, &sp));
	printf("priority %d\n", sp.sched_priority);
	CHECK(sched_get_priority_min(SCHED_FIFO));
	CHECK(sched_get_priority_max(SCHED_FIFO));
	CHECK(sched_get_priority_min(SCHED_RR));
	CHECK(sched_get_priority_max(SCHED_RR));
	CHECK(sched_get_priority_min(SCHED_OTHER));
	CHECK(sched_get_priority_max(SCHED_BATCH));
	CHECK(sched_get_priority_max(SCHED_IDLE));
	CHECK(sched_get_priority_max(77));
}

static int thread_nice = 99;

static void *nicer(void *arg)
{
	(void)arg;
	int inherited = getpriority(PRIO_PROCESS, 0);
	setpriority(PRIO_PROCESS, 0, 9);
	thread_nice = getpriority(PRIO_PROCESS, 0);
	printf("thread: inherited nice %d, set its own to %d\n", inherited, thread_nice);
	fflush(stdout);
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
	printf("main's nice stays %d\n", getpriority(PRIO_PROCESS, 0));
	CHECK(setpriority(PRIO_PROCESS, 0, 100));
	CHECK(getpriority(PRIO_PROCESS, 0));
	SHOW("getpriority(99, 0)", getpriority(99, 0));
	SHOW("getpriority(PRIO_PROCESS, no such task)", getpriority(PRIO_PROCESS, 999999));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "ev_cpu");
	cpu_time();
	placement();
	policies();
	nice_values();
	return fs_end();
}
