/* sig_altstack: stack overflows caught on an alternate signal stack, on the main thread (whose
 * stack grows until the limit, set here to 8 MiB) and on a thread (which has a guard page);
 * SS_ONSTACK reported inside the handler and EPERM for changing the stack there; handlers
 * without SA_ONSTACK stay on the normal stack; sigaltstack's argument errors. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include "thrutil.h"

#define ALT_SIZE (256 * 1024)

struct seen {
	int caught, code, on_alt, ss_onstack, change_refused;
	void *addr;
};

/* Per thread: where the alternate stack is, what the handler saw, and where to go back. */
static __thread char *alt_base;
static __thread struct seen seen;
static __thread sigjmp_buf env;

static void on_segv(int sig, siginfo_t *si, void *context)
{
	(void)sig;
	(void)context;
	char local;
	if (++seen.caught > 3)
		_exit(3); /* faulting again and again: stop rather than loop */
	seen.code = si->si_code;
	seen.addr = si->si_addr;
	seen.on_alt = &local >= alt_base && &local < alt_base + ALT_SIZE;
	stack_t now;
	if (sigaltstack(NULL, &now) == 0)
		seen.ss_onstack = (now.ss_flags & SS_ONSTACK) != 0;
	stack_t other = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0};
	seen.change_refused = sigaltstack(&other, NULL) == -1 && errno == EPERM;
	siglongjmp(env, 1);
}

static volatile long limit = 1L << 40;

/* Recurses until the stack runs out; `frame` keeps each frame big and live. */
static long recurse(long depth)
{
	volatile char frame[2048];
	frame[0] = (char)depth;
	frame[sizeof frame - 1] = (char)depth;
	if (depth > limit)
		return 0;
	return recurse(depth + 1) + frame[0] + frame[sizeof frame - 1];
}

static void setup_alt_stack(void)
{
	alt_base = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt_base == MAP_FAILED)
		die("mmap");
	stack_t ss = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0)
		die("sigaltstack");
}

static const char *code_name(int c)
{
	return c == SEGV_MAPERR ? "SEGV_MAPERR" : c == SEGV_ACCERR ? "SEGV_ACCERR" : "other";
}

static void report(const char *where, struct seen *s)
{
	printf("%s: caught %d, %s, handler on the alternate stack: %s, SS_ONSTACK: %s, changing "
	       "the stack inside refused with EPERM: %s\n",
	       where, s->caught, code_name(s->code), s->on_alt ? "yes" : "no",
	       s->ss_onstack ? "yes" : "no", s->change_refused ? "yes" : "no");
	char line[200];
	snprintf(line, sizeof line, "%s: overflow caught on the alternate stack", where);
	check(line, s->caught == 1 && s->on_alt && s->ss_onstack && s->change_refused);
}

/* Copies what its handler saw to *arg: its own TLS goes away with it. */
static void *overflow_in_thread(void *arg)
{
	setup_alt_stack();
	if (sigsetjmp(env, 1) == 0)
		recurse(0);
	memcpy(arg, &seen, sizeof seen);
	return NULL;
}

static volatile int plain_on_alt = -1;

static void on_usr1(int sig)
{
	(void)sig;
	char local;
	plain_on_alt = &local >= alt_base && &local < alt_base + ALT_SIZE;
}

int main(void)
{
	struct rlimit stack_limit = {8 << 20, 8 << 20};
	setrlimit(RLIMIT_STACK, &stack_limit);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		die("sigaction");

	stack_t old;
	expect_ret("sigaltstack(NULL, &old) before any", sigaltstack(NULL, &old), 0);
	check("no alternate stack at first", (old.ss_flags & SS_DISABLE) != 0);
	char small[1024];
	stack_t ss = {.ss_sp = small, .ss_size = 1024, .ss_flags = 0};
	errno = 0;
	expect_errno("sigaltstack with 1 KiB (below MINSIGSTKSZ)", sigaltstack(&ss, NULL), ENOMEM);
	ss.ss_size = ALT_SIZE;
	ss.ss_flags = 0x1234;
	errno = 0;
	expect_errno("sigaltstack with unknown flags", sigaltstack(&ss, NULL), EINVAL);

	setup_alt_stack();
	expect_ret("sigaltstack(NULL, &old) after setting it", sigaltstack(NULL, &old), 0);
	check("it reports the stack given, not in use",
	      old.ss_sp == alt_base && old.ss_size == ALT_SIZE && old.ss_flags == 0);

	struct sigaction plain;
	memset(&plain, 0, sizeof plain);
	plain.sa_handler = on_usr1;
	sigaction(SIGUSR1, &plain, NULL);
	raise(SIGUSR1);
	check("a handler without SA_ONSTACK runs on the normal stack", plain_on_alt == 0);
	plain.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &plain, NULL);
	raise(SIGUSR1);
	check("the same handler with SA_ONSTACK runs on the alternate stack", plain_on_alt == 1);

	if (sigsetjmp(env, 1) == 0)
		recurse(0);
	report("main thread", &seen);
	expect_ret("sigaltstack(NULL, &old) after leaving the handler", sigaltstack(NULL, &old), 0);
	check("no longer on it", (old.ss_flags & SS_ONSTACK) == 0);

	/* The main thread's stack is usable again: a second overflow is caught the same way. */
	memset(&seen, 0, sizeof seen);
	if (sigsetjmp(env, 1) == 0)
		recurse(0);
	report("main thread, again", &seen);

	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	struct seen in_thread;
	die_rc("pthread_create", pthread_create(&t, &attr, overflow_in_thread, &in_thread));
	join(t);
	report("thread", &in_thread);
	printf("thread: the guard page gives %s\n", code_name(in_thread.code));

	ss.ss_flags = SS_DISABLE;
	expect_ret("sigaltstack(SS_DISABLE)", sigaltstack(&ss, NULL), 0);
	expect_ret("sigaltstack(NULL, &old)", sigaltstack(NULL, &old), 0);
	check("disabled", (old.ss_flags & SS_DISABLE) != 0);
	return finish();
}
