/* sched_misc: scheduling calls: sched_yield; sched_getaffinity (its CPU count is compared with
 * COMPAT_CPUS, which the harness sets on each side to the number of CPUs the program may run
 * on there), sched_setaffinity pinning to each allowed CPU in turn with getcpu agreeing, and
 * their errors; the CPU counts sysconf reports; policies and priority ranges; getcpu from many
 * threads. No CPU number or count is printed, only how they relate. */
#define _GNU_SOURCE
#include <sched.h>
#include "thrutil.h"

static int getcpu_(unsigned *cpu, unsigned *node)
{
	return (int)syscall(SYS_getcpu, cpu, node, NULL);
}

#define THREADS 8
static cpu_set_t allowed;
static int thread_ok[THREADS];

static void *where_am_i(void *arg)
{
	long i = (long)arg;
	int ok = 1;
	for (int round = 0; round < 50; round++) {
		unsigned cpu = ~0u, node = ~0u;
		ok &= getcpu_(&cpu, &node) == 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed) &&
		      node == 0;
		int c = sched_getcpu();
		ok &= c >= 0 && CPU_ISSET(c, &allowed);
		sched_yield();
	}
	thread_ok[i] = ok;
	return NULL;
}

int main(void)
{
	int yields = 0;
	for (int i = 0; i < 1000; i++)
		yields += sched_yield() == 0;
	check("sched_yield returned 0 a thousand times", yields == 1000);

	CPU_ZERO(&allowed);
	expect_ret("sched_getaffinity(0)", sched_getaffinity(0, sizeof allowed, &allowed), 0);
	int count = CPU_COUNT(&allowed);
	const char *expected = getenv("COMPAT_CPUS");
	if (expected) {
		check("its CPU count is COMPAT_CPUS", count == atoi(expected));
	} else {
		printf("COMPAT_CPUS is not set: the count is not compared\n");
	}
	check("at least one CPU", count >= 1);
	long online = sysconf(_SC_NPROCESSORS_ONLN), configured = sysconf(_SC_NPROCESSORS_CONF);
	check("sysconf: allowed <= online <= configured", count <= online && online <= configured);
	cpu_set_t mine;
	CPU_ZERO(&mine);
	sched_getaffinity(gettid_(), sizeof mine, &mine);
	check("sched_getaffinity(own tid) is the same set", CPU_EQUAL(&mine, &allowed));

	long raw = syscall(SYS_sched_getaffinity, 0, sizeof mine, &mine);
	check("the raw call returns a positive multiple of 8 (the kernel's mask size)",
	      raw > 0 && raw % 8 == 0);
	errno = 0;
	expect_errno("raw sched_getaffinity with a 4-byte mask",
		     syscall(SYS_sched_getaffinity, 0, 4, &mine), EINVAL);
	errno = 0;
	expect_errno("sched_getaffinity of a tid that does not exist",
		     sched_getaffinity(0x3ffffff0, sizeof mine, &mine), ESRCH);

	/* Pin to each allowed CPU in turn: getcpu must then name that CPU. */
	int pinned_ok = 1, pins = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &allowed))
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pins++;
		if (sched_setaffinity(0, sizeof one, &one) != 0) {
			pinned_ok = 0;
			continue;
		}
		sched_yield();
		unsigned at = ~0u, node = ~0u;
		pinned_ok &= getcpu_(&at, &node) == 0 && (int)at == cpu && sched_getcpu() == cpu;
		cpu_set_t now;
		sched_getaffinity(0, sizeof now, &now);
		pinned_ok &= CPU_COUNT(&now) == 1 && CPU_ISSET(cpu, &now);
	}
	check("pinned to each allowed CPU in turn, getcpu named it each time",
	      pinned_ok && pins == count);
	expect_ret("sched_setaffinity back to the whole set",
		   sched_setaffinity(0, sizeof allowed, &allowed), 0);
	CPU_ZERO(&mine);
	sched_getaffinity(0, sizeof mine, &mine);
	check("the whole set is back", CPU_EQUAL(&mine, &allowed));
	cpu_set_t empty;
	CPU_ZERO(&empty);
	errno = 0;
	expect_errno("sched_setaffinity(empty set)", sched_setaffinity(0, sizeof empty, &empty),
		     EINVAL);
	cpu_set_t far;
	CPU_ZERO(&far);
	CPU_SET(CPU_SETSIZE - 1, &far);
	errno = 0;
	expect_errno("sched_setaffinity({CPU 1023}), a CPU that is not there",
		     sched_setaffinity(0, sizeof far, &far), EINVAL);

	unsigned cpu = ~0u, node = ~0u;
	expect_ret("getcpu", getcpu_(&cpu, &node), 0);
	check("it names an allowed CPU, node 0", cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed) &&
							node == 0);
	expect_ret("getcpu with both pointers NULL", getcpu_(NULL, NULL), 0);
	pthread_t threads[THREADS];
	for (long i = 0; i < THREADS; i++)
		spawn(&threads[i], where_am_i, (void *)i);
	int all = 1;
	for (int i = 0; i < THREADS; i++) {
		join(threads[i]);
		all &= thread_ok[i];
	}
	check("8 threads, 50 getcpu each: always an allowed CPU", all);

	/* Raw: musl's wrappers say ENOSYS on purpose. */
	expect_ret("sched_getscheduler(0)", syscall(SYS_sched_getscheduler, 0), SCHED_OTHER);
	struct sched_param param = {.sched_priority = -1};
	expect_ret("sched_getparam(0)", syscall(SYS_sched_getparam, 0, &param), 0);
	check("priority 0", param.sched_priority == 0);
	printf("priority ranges: OTHER %d..%d, FIFO %d..%d, RR %d..%d\n",
	       sched_get_priority_min(SCHED_OTHER), sched_get_priority_max(SCHED_OTHER),
	       sched_get_priority_min(SCHED_FIFO), sched_get_priority_max(SCHED_FIFO),
	       sched_get_priority_min(SCHED_RR), sched_get_priority_max(SCHED_RR));
	check("FIFO is 1..99",
	      sched_get_priority_min(SCHED_FIFO) == 1 && sched_get_priority_max(SCHED_FIFO) == 99);
	errno = 0;
	expect_errno("sched_get_priority_max(policy 42)", sched_get_priority_max(42), EINVAL);
	struct timespec rr;
	expect_ret("sched_rr_get_interval(0)", sched_rr_get_interval(0, &rr), 0);
	return finish();
}
