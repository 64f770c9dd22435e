/* thr_join_value: what pthread_join hands back: returned pointers and integers, pthread_exit
 * from deep inside a thread, heap results; threads with a small stack, a big
 * stack, and a stack the program provides. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "thrutil.h"

static void *returns_arg_plus_one(void *arg)
{
	return (void *)((long)arg + 1);
}

static void deep_exit(int depth, long value);
/* Called through a pointer, which also keeps gcc from folding the recursion. */
static void (*volatile deeper)(int, long) = deep_exit;

static void deep_exit(int depth, long value)
{
	if (depth > 0)
		deeper(depth - 1, value * 2);
	else
		pthread_exit((void *)value);
	printf("not reached\n");
}

static void *exits_deep(void *arg)
{
	deep_exit(10, (long)arg);
	return (void *)-1;
}

struct summary {
	long first, last, total;
};

static void *heap_result(void *arg)
{
	long n = (long)arg;
	struct summary *s = malloc(sizeof *s);
	s->first = 1;
	s->last = n;
	s->total = 0;
	for (long i = 1; i <= n; i++)
		s->total += i;
	return s;
}

/* Uses `bytes` of stack, touching every page; the sum of what it wrote. */
static void *use_stack(void *arg)
{
	long bytes = (long)arg;
	volatile char *buf = __builtin_alloca(bytes);
	for (long i = 0; i < bytes; i += 4096)
		buf[i] = (char)(i / 4096);
	long sum = 0;
	for (long i = 0; i < bytes; i += 4096)
		sum += buf[i];
	return (void *)sum;
}

static long expected_stack_sum(long bytes)
{
	long sum = 0;
	for (long i = 0; i < bytes; i += 4096)
		sum += (char)(i / 4096);
	return sum;
}

struct stack_seen {
	void *addr;
	size_t size;
	int inside; /* a local variable lies within the reported stack */
};

static void *report_stack(void *arg)
{
	struct stack_seen *seen = arg;
	pthread_attr_t attr;
	int local;
	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return (void *)-1;
	pthread_attr_getstack(&attr, &seen->addr, &seen->size);
	seen->inside = (char *)&local >= (char *)seen->addr &&
		       (char *)&local < (char *)seen->addr + seen->size;
	pthread_attr_destroy(&attr);
	return NULL;
}

static void stacks(void)
{
	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	expect_rc("pthread_attr_setstacksize(64 KiB)", pthread_attr_setstacksize(&attr, 65536), 0);
	die_rc("create", pthread_create(&t, &attr, use_stack, (void *)(long)(32 * 1024)));
	check("a 64 KiB stack thread used 32 KiB of it",
	      (long)join(t) == expected_stack_sum(32 * 1024));
	expect_rc("pthread_attr_setstacksize(16 MiB)",
		  pthread_attr_setstacksize(&attr, 16 << 20), 0);
	die_rc("create", pthread_create(&t, &attr, use_stack, (void *)(long)(12 << 20)));
	check("a 16 MiB stack thread used 12 MiB of it",
	      (long)join(t) == expected_stack_sum(12 << 20));
	struct stack_seen seen;
	die_rc("create", pthread_create(&t, &attr, report_stack, &seen));
	check("pthread_getattr_np reports it", join(t) == NULL);
	check("its reported size is at least 16 MiB", seen.size >= (16u << 20));
	check("a local variable lies within the reported stack", seen.inside);
	pthread_attr_destroy(&attr);

	size_t size = 256 * 1024;
	char *mine = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mine == MAP_FAILED)
		die("mmap");
	pthread_attr_init(&attr);
	expect_rc("pthread_attr_setstack(own 256 KiB mapping)",
		  pthread_attr_setstack(&attr, mine, size), 0);
	die_rc("create", pthread_create(&t, &attr, report_stack, &seen));
	check("a thread on the program's own stack ran", join(t) == NULL);
	/* musl keeps its thread structure at the top of a provided stack and reports the rest. */
	check("its stack lies within the program's mapping",
	      seen.inside && (char *)seen.addr >= mine &&
		      (char *)seen.addr + seen.size <= mine + size && seen.size >= size / 2);
	die_rc("create", pthread_create(&t, &attr, use_stack, (void *)(long)(128 * 1024)));
	check("and used 128 KiB of it", (long)join(t) == expected_stack_sum(128 * 1024));
	pthread_attr_destroy(&attr);
	munmap(mine, size);
}

int main(void)
{
	pthread_t t[4];
	spawn(&t[0], returns_arg_plus_one, (void *)(long)41);
	spawn(&t[1], exits_deep, (void *)(long)3);
	spawn(&t[2], heap_result, (void *)(long)1000);
	spawn(&t[3], returns_arg_plus_one, (void *)(long)-1);
	long a = (long)join(t[0]), b = (long)join(t[1]);
	struct summary *s = join(t[2]);
	void *d = join(t[3]);
	printf("returned 41 + 1 = %ld\n", a);
	check("a returned integer comes back", a == 42);
	printf("pthread_exit from 10 calls deep: %ld\n", b);
	check("pthread_exit's value comes back", b == 3 * 1024);
	printf("heap result: %ld..%ld sums to %ld\n", s->first, s->last, s->total);
	check("a heap result comes back", s->first == 1 && s->last == 1000 && s->total == 500500);
	free(s);
	check("-1 + 1 comes back as a null pointer", d == NULL);
	stacks();
	return finish();
}
