/* thr_clone_raw: threads made by hand with clone(2) and clone3(2): the thread flags, a stack
 * and a thread pointer of the program's own, PARENT_SETTID, CHILD_SETTID, CHILD_CLEARTID with
 * the futex wake on exit, set_tid_address, gettid and tgkill (with signal 0 and a signal
 * handled on the new thread), and the flag combinations clone refuses.
 *
 * The new threads have no libc thread structure, so they run only code that makes raw
 * syscalls and leaves errno and the stack protector alone. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>
#include "thrutil.h"

#define FUTEX_WAIT_ 0
#define FUTEX_WAKE_ 1
#define FUTEX_PRIVATE_ 128
#define STACK_SIZE (256 * 1024)

#define NO_SSP __attribute__((noinline, no_stack_protector))

/* A thread control block of the program's own: x86_64 wants %fs:0 to hold its address. */
struct tcb {
	struct tcb *self;
	long words[63];
};

/* What a hand-made thread reports, and how it is told to finish. */
struct report {
	volatile int ready, go, handled;
	volatile long fs0, tid, pid, handler_tid, set_tid_address_ret;
	volatile int *clear_at; /* for set_tid_address, when not NULL */
};

static struct report *current;

static inline long raw0(long n)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n) : "rcx", "r11", "memory");
	return r;
}

static inline long raw1(long n, long a)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a) : "rcx", "r11", "memory");
	return r;
}

static inline long raw4(long n, long a, long b, long c, long d)
{
	long r;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return r;
}

/* clone or clone3; in the new thread, pops the argument and the function from the new stack,
 * calls it and exits the thread with its return value. The caller gets the raw result. */
static long spawn_raw(long nr, long a1, long a2, long a3, long a4, long a5)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "pop %%rdi\n\t"
			 "pop %%rax\n\t"
			 "call *%%rax\n\t"
			 "mov %%eax, %%edi\n\t"
			 "mov $60, %%eax\n\t" /* exit: this thread only */
			 "syscall\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

NO_SSP static void on_usr1(int sig)
{
	(void)sig;
	current->handler_tid = raw0(SYS_gettid);
	__atomic_store_n(&current->handled, 1, __ATOMIC_RELEASE);
	raw4(SYS_futex, (long)&current->handled, FUTEX_WAKE_ | FUTEX_PRIVATE_, 1, 0);
}

NO_SSP static int child(void *arg)
{
	struct report *r = arg;
	long fs0;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs0));
	r->fs0 = fs0;
	r->tid = raw0(SYS_gettid);
	r->pid = raw0(SYS_getpid);
	if (r->clear_at)
		r->set_tid_address_ret = raw1(SYS_set_tid_address, (long)r->clear_at);
	__atomic_store_n(&r->ready, 1, __ATOMIC_RELEASE);
	raw4(SYS_futex, (long)&r->ready, FUTEX_WAKE_ | FUTEX_PRIVATE_, 1, 0);
	while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
		raw4(SYS_futex, (long)&r->go, FUTEX_WAIT_ | FUTEX_PRIVATE_, 0, 0);
	return 0;
}

/* A fresh stack with `fn` and `arg` on top; returns the initial stack pointer. */
static long prepare_stack(char **base, int (*fn)(void *), void *arg)
{
	*base = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*base == MAP_FAILED)
		die("mmap");
	long *sp = (long *)(*base + STACK_SIZE) - 2;
	sp[0] = (long)arg;
	sp[1] = (long)fn;
	return (long)sp;
}

/* Waits until *word == want, its waker using FUTEX_WAKE_PRIVATE (the waits are sliced). */
static int wait_word(volatile int *word, int want)
{
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	int v;
	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != want) {
		if (mono_ns() > until)
			return 0;
		struct timespec slice = {0, 100 * 1000000};
		syscall(SYS_futex, word, FUTEX_WAIT_ | FUTEX_PRIVATE_, v, &slice,
			NULL, 0);
	}
	return 1;
}

/* Waits for the kernel to clear *word (which holds a thread id) when the thread exits: the
 * waiter either sees it cleared or is woken, never left to time out. */
static int wait_cleared(volatile int *word)
{
	int v;
	while ((v = __atomic_load_n(word, __ATOMIC_ACQUIRE)) != 0) {
		struct timespec limit = {LONG_WAIT_S, 0};
		if (syscall(SYS_futex, word, FUTEX_WAIT_, v, &limit, NULL, 0) != 0 &&
		    errno == ETIMEDOUT)
			return 0;
	}
	return 1;
}

/* Polls tgkill(pid, tid, 0) until the thread is gone; whether it went. */
static int wait_gone(long tid)
{
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (syscall(SYS_tgkill, getpid(), tid, 0) == 0) {
		if (mono_ns() > until)
			return 0;
		sleep_ms(1);
	}
	return errno == ESRCH;
}

static void release(struct report *r)
{
	__atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &r->go, FUTEX_WAKE_ | FUTEX_PRIVATE_, 1, NULL, NULL, 0);
}

#define THREAD_FLAGS                                                                    \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
	 CLONE_SETTLS)

static void with_clone(void)
{
	static struct tcb tcb;
	static struct report r;
	static volatile int ptid, ctid;
	char *stack;
	tcb.self = &tcb;
	ctid = 1; /* CHILD_CLEARTID without CHILD_SETTID: stays 1 until the thread exits */
	current = &r;
	long sp = prepare_stack(&stack, child, &r);
	long tid = spawn_raw(SYS_clone, THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
			     sp, (long)&ptid, (long)&ctid, (long)&tcb);
	if (tid < 0) {
		printf("clone: %s\n", errname((int)-tid));
		check("clone made a thread", 0);
		return;
	}
	check("clone: returned the new thread's id to the parent", tid > 0 && tid != getpid());
	check("clone: PARENT_SETTID stored it", ptid == tid);
	check("clone: the thread started", wait_word(&r.ready, 1));
	check("clone: in the thread, %fs:0 is the given thread pointer", r.fs0 == (long)&tcb);
	check("clone: in the thread, gettid() is that id", r.tid == tid);
	check("clone: in the thread, getpid() is the parent's", r.pid == getpid());
	check("clone: CHILD_CLEARTID's word untouched while it runs", ctid == 1);
	expect_ret("clone: tgkill(pid, tid, 0)", syscall(SYS_tgkill, getpid(), tid, 0), 0);
	errno = 0;
	expect_errno("clone: tgkill with the wrong thread group",
		     syscall(SYS_tgkill, getpid() + 1, tid, 0), ESRCH);
	expect_ret("clone: tgkill(pid, tid, SIGUSR1)", syscall(SYS_tgkill, getpid(), tid, SIGUSR1),
		   0);
	check("clone: the handler ran", wait_word(&r.handled, 1));
	check("clone: on the new thread", r.handler_tid == tid);
	release(&r);
	check("clone: exit cleared the CHILD_CLEARTID word and woke its futex",
	      wait_cleared(&ctid));
	check("clone: then tgkill says the thread is gone (ESRCH)", wait_gone(tid));
	munmap(stack, STACK_SIZE);
}

/* struct clone_args, version 0 (64 bytes) of clone3(2). */
struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

static void with_clone3(void)
{
	static struct tcb tcb;
	static struct report r;
	static volatile int ptid, ctid, alternate = 7;
	char *stack;
	tcb.self = &tcb;
	r.clear_at = &alternate;
	current = &r;
	long sp = prepare_stack(&stack, child, &r);
	struct clone_args_ args = {
		.flags = THREAD_FLAGS | CLONE_PARENT_SETTID | CLONE_CHILD_SETTID |
			 CLONE_CHILD_CLEARTID,
		.child_tid = (uintptr_t)&ctid,
		.parent_tid = (uintptr_t)&ptid,
		.stack = (uintptr_t)stack,
		.stack_size = (uint64_t)(sp - (long)stack), /* the thread starts at sp */
		.tls = (uintptr_t)&tcb,
	};
	long tid = spawn_raw(SYS_clone3, (long)&args, sizeof args, 0, 0, 0);
	if (tid < 0) {
		printf("clone3: %s\n", errname((int)-tid));
		check("clone3 made a thread", 0);
		return;
	}
	check("clone3: PARENT_SETTID stored the id", tid > 0 && ptid == tid);
	check("clone3: the thread started", wait_word(&r.ready, 1));
	check("clone3: CHILD_SETTID stored the id in the thread's word", ctid == tid);
	check("clone3: %fs:0 is the given thread pointer", r.fs0 == (long)&tcb);
	check("clone3: gettid() and getpid() in the thread", r.tid == tid && r.pid == getpid());
	check("clone3: set_tid_address returned the thread's id", r.set_tid_address_ret == tid);
	expect_ret("clone3: tgkill(pid, tid, SIGUSR1)",
		   syscall(SYS_tgkill, getpid(), tid, SIGUSR1), 0);
	check("clone3: the handler ran on the new thread",
	      wait_word(&r.handled, 1) && r.handler_tid == tid);
	release(&r);
	check("clone3: exit cleared the word given to set_tid_address",
	      wait_cleared(&alternate));
	check("clone3: and left CHILD_CLEARTID's word alone", ctid == tid);
	check("clone3: then the thread is gone", wait_gone(tid));
	munmap(stack, STACK_SIZE);
}

NO_SSP static int exit_at_once(void *arg)
{
	(void)arg;
	return 0;
}

/* Flag combinations clone and clone3 refuse; a thread that starts anyway exits at once. */
static void refusals(void)
{
	char *stack;
	long sp = prepare_stack(&stack, exit_at_once, NULL);
	long r = spawn_raw(SYS_clone, CLONE_VM | CLONE_THREAD, sp, 0, 0, 0);
	printf("clone(CLONE_VM|CLONE_THREAD) without CLONE_SIGHAND: %s\n",
	       r < 0 ? errname((int)-r) : "made a thread");
	check("refused with EINVAL", r == -EINVAL);
	r = spawn_raw(SYS_clone, CLONE_SIGHAND | CLONE_FS, sp, 0, 0, 0);
	printf("clone(CLONE_SIGHAND) without CLONE_VM: %s\n",
	       r < 0 ? errname((int)-r) : "made a process");
	check("refused with EINVAL", r == -EINVAL);
	struct clone_args_ args = {
		.flags = THREAD_FLAGS & ~(uint64_t)CLONE_SETTLS,
		.stack = (uintptr_t)stack,
		.stack_size = (uint64_t)(sp - (long)stack),
	};
	r = spawn_raw(SYS_clone3, (long)&args, 32, 0, 0, 0);
	printf("clone3 with a 32-byte argument: %s\n", r < 0 ? errname((int)-r) : "made a thread");
	check("refused with EINVAL", r == -EINVAL);
	args.stack_size = 0;
	r = spawn_raw(SYS_clone3, (long)&args, sizeof args, 0, 0, 0);
	printf("clone3 with a stack of size 0: %s\n", r < 0 ? errname((int)-r) : "made a thread");
	check("refused with EINVAL", r == -EINVAL);
	munmap(stack, STACK_SIZE);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		die("sigaction");
	check("the main thread's id is the pid", gettid_() == getpid());
	with_clone();
	with_clone3();
	refusals();
	return finish();
}
