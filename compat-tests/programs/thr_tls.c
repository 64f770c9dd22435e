/* thr_tls: thread-local storage: initialised (.tdata) and zeroed (.tbss) __thread variables of
 * several sizes and alignments, the %fs self pointer, pthread keys with destructors, and
 * pthread_once run exactly once when many threads race for it. */
#define _GNU_SOURCE
#include <stdalign.h>
#include "thrutil.h"

#ifndef ARCH_GET_FS
#define ARCH_GET_FS 0x1003
#endif

#define THREADS 8

static __thread int small = 17;
static __thread char text[5000] = "initial tls text";
static __thread alignas(64) long aligned64[4] = {1, 2, 3, 4};
static __thread alignas(4096) char page_aligned[100] = "on a page boundary";
static __thread long zeroed[1000];
static __thread double dbl = 2.5;

static pthread_key_t key_a, key_b;
static int destructor_calls_a, destructor_calls_b, destructor_sum;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_calls;

static void destroy_a(void *value)
{
	__atomic_fetch_add(&destructor_calls_a, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&destructor_sum, (int)(long)value, __ATOMIC_RELAXED);
}

static void destroy_b(void *value)
{
	(void)value;
	__atomic_fetch_add(&destructor_calls_b, 1, __ATOMIC_RELAXED);
}

static void init_once(void)
{
	sleep_ms(5); /* others arrive meanwhile and must wait */
	__atomic_fetch_add(&once_calls, 1, __ATOMIC_RELAXED);
}

/* Whether this thread's TLS holds the initial image. */
static int initial_image(void)
{
	int zero = 1;
	for (int i = 0; i < 1000; i++)
		zero &= zeroed[i] == 0;
	return small == 17 && strcmp(text, "initial tls text") == 0 && aligned64[0] == 1 &&
	       aligned64[3] == 4 && strcmp(page_aligned, "on a page boundary") == 0 && zero &&
	       dbl == 2.5;
}

static int aligned(void)
{
	return ((uintptr_t)aligned64 % 64) == 0 && ((uintptr_t)page_aligned % 4096) == 0;
}

/* The x86_64 thread pointer: %fs:0 holds the thread control block's own address. */
static int self_pointer(void)
{
	uintptr_t fs0, base = 0;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
	if (syscall(SYS_arch_prctl, ARCH_GET_FS, &base) != 0)
		return 0;
	return fs0 == base && base != 0;
}

struct seen {
	int image, aligned, self, key_empty, kept, once_done;
	uintptr_t base;
};

static volatile int ready, go;

static void *thread(void *arg)
{
	struct seen *s = arg;
	s->image = initial_image();
	s->aligned = aligned();
	s->self = self_pointer();
	syscall(SYS_arch_prctl, ARCH_GET_FS, &s->base);
	s->key_empty = pthread_getspecific(key_a) == NULL && pthread_getspecific(key_b) == NULL;
	small = (int)(uintptr_t)s;
	snprintf(text, sizeof text, "thread %p", (void *)s);
	zeroed[999] = (long)s;
	pthread_setspecific(key_a, (void *)(long)7);
	pthread_setspecific(key_b, s);
	__atomic_fetch_add(&ready, 1, __ATOMIC_ACQ_REL);
	wait_flag(&go);
	pthread_once(&once, init_once);
	s->once_done = __atomic_load_n(&once_calls, __ATOMIC_ACQUIRE) == 1;
	char expect[64];
	snprintf(expect, sizeof expect, "thread %p", (void *)s);
	s->kept = small == (int)(uintptr_t)s && strcmp(text, expect) == 0 &&
		  zeroed[999] == (long)s && pthread_getspecific(key_b) == s;
	return NULL;
}

int main(void)
{
	check("main sees the initial TLS image", initial_image());
	check("TLS variables are aligned as declared in main", aligned());
	check("%fs:0 is the thread pointer in main", self_pointer());
	die_rc("pthread_key_create", pthread_key_create(&key_a, destroy_a));
	die_rc("pthread_key_create", pthread_key_create(&key_b, destroy_b));
	pthread_setspecific(key_a, (void *)(long)1000);

	static struct seen seen[THREADS];
	pthread_t threads[THREADS];
	for (int i = 0; i < THREADS; i++)
		spawn(&threads[i], thread, &seen[i]);
	wait_count(&ready, THREADS);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		join(threads[i]);

	int image = 0, al = 0, self = 0, empty = 0, kept = 0, once_ok = 0, distinct = 1;
	uintptr_t main_base = 0;
	syscall(SYS_arch_prctl, ARCH_GET_FS, &main_base);
	for (int i = 0; i < THREADS; i++) {
		image += seen[i].image;
		al += seen[i].aligned;
		self += seen[i].self;
		empty += seen[i].key_empty;
		kept += seen[i].kept;
		once_ok += seen[i].once_done;
		distinct &= seen[i].base != main_base;
		for (int j = 0; j < i; j++)
			distinct &= seen[i].base != seen[j].base;
	}
	printf("of %d threads: %d saw the initial image, %d had aligned TLS, %d had a good %%fs "
	       "self pointer, %d started with empty keys, %d kept their values\n",
	       THREADS, image, al, self, empty, kept);
	check("every thread started with the initial TLS image", image == THREADS);
	check("TLS was aligned in every thread", al == THREADS);
	check("%fs:0 was the thread pointer in every thread", self == THREADS);
	check("every thread had its own thread pointer", distinct);
	check("keys started empty in every thread", empty == THREADS);
	check("every thread kept its own values", kept == THREADS);
	printf("pthread_once ran the routine %d time(s); %d threads saw it done\n", once_calls,
	       once_ok);
	check("pthread_once ran exactly once and everyone saw it done",
	      once_calls == 1 && once_ok == THREADS);
	printf("destructors: key a %d calls (values summing to %d), key b %d calls\n",
	       destructor_calls_a, destructor_sum, destructor_calls_b);
	check("each key's destructor ran once per exited thread with its value",
	      destructor_calls_a == THREADS && destructor_sum == 7 * THREADS &&
		      destructor_calls_b == THREADS);
	check("main kept its key value", pthread_getspecific(key_a) == (void *)(long)1000);
	check("main kept its TLS", initial_image());
	expect_rc("pthread_key_delete", pthread_key_delete(key_a), 0);
	return finish();
}
