/* thr_many: 64 threads alive at once, each with its own __thread values, distinct thread ids,
 * joined with their results; then 64 more created and joined one after another. */
#define _GNU_SOURCE
#include "thrutil.h"

#define THREADS 64

static __thread long mine;                 /* .tbss: zero in every new thread */
static __thread long initialised = 4242;   /* .tdata: the initial image in every new thread */
static __thread char pattern[300] = "tls-pattern";

static volatile int started, release;
static long tids[THREADS];

struct result {
	long index, value;
	int fresh;   /* saw the initial TLS image */
	int kept;    /* its own values survived while the others wrote theirs */
};

static void *work(void *arg)
{
	struct result *r = arg;
	r->fresh = mine == 0 && initialised == 4242 && strcmp(pattern, "tls-pattern") == 0;
	mine = r->index * 7 + 1;
	initialised = r->index;
	snprintf(pattern, sizeof pattern, "thread %ld", r->index);
	tids[r->index] = gettid_();
	__atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
	/* Every thread is alive and has written its TLS before any checks it. */
	wait_flag(&release);
	char expect[32];
	snprintf(expect, sizeof expect, "thread %ld", r->index);
	r->kept = mine == r->index * 7 + 1 && initialised == r->index && strcmp(pattern, expect) == 0;
	r->value = mine * 10;
	return r;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	static struct result results[THREADS];
	pthread_t threads[THREADS];
	mine = -1;
	for (long i = 0; i < THREADS; i++) {
		results[i].index = i;
		spawn(&threads[i], work, &results[i]);
	}
	int all_started = wait_count(&started, THREADS);
	__atomic_store_n(&release, 1, __ATOMIC_RELEASE);
	int fresh = 0, kept = 0, values = 0, distinct_self = 1;
	for (int i = 0; i < THREADS; i++) {
		struct result *r = join(threads[i]);
		fresh += r == &results[i] && r->fresh;
		kept += r->kept;
		values += r->value == (i * 7 + 1) * 10;
		for (int j = 0; j < i; j++)
			distinct_self &= !pthread_equal(threads[i], threads[j]);
	}
	check("all 64 threads were alive at once", all_started);
	printf("%d threads saw the initial TLS image, %d kept their own values, %d returned the "
	       "right value\n", fresh, kept, values);
	check("every thread saw the initial TLS image", fresh == THREADS);
	check("every thread kept its own TLS values", kept == THREADS);
	check("every join returned the thread's value", values == THREADS);
	check("main's TLS is untouched", mine == -1 && initialised == 4242 &&
					       strcmp(pattern, "tls-pattern") == 0);
	check("pthread_t values are distinct", distinct_self);
	long pid = getpid(), main_tid = gettid_();
	qsort(tids, THREADS, sizeof tids[0], cmp_long);
	int distinct = 1;
	for (int i = 0; i < THREADS; i++)
		distinct &= tids[i] > 0 && tids[i] != pid && (i == 0 || tids[i] != tids[i - 1]);
	check("main's tid is the pid", main_tid == pid);
	check("the 64 tids are distinct and none is the pid", distinct);

	/* Sequential: each joined before the next starts, so ids and stacks get reused. */
	int sequential = 1;
	for (long i = 0; i < THREADS; i++) {
		struct result r = {.index = i};
		pthread_t t;
		started = 0;
		spawn(&t, work, &r);
		sequential &= join(t) == &r && r.fresh && r.kept && r.value == (i * 7 + 1) * 10;
	}
	check("64 more threads one after another, each fresh and right", sequential);
	return finish();
}
