/* sig_segv: SIGSEGV caught by an SA_SIGINFO handler that records si_addr, si_code and the
 * trap number and error code from the ucontext, then leaves with siglongjmp. Faults: reading
 * an unmapped page, writing a read-only page and read-only data, reading a PROT_NONE page,
 * a null pointer, running code on a page without PROT_EXEC, and a kernel address. Addresses
 * are printed relative to the address the program aimed at. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include "thrutil.h"

static sigjmp_buf env;
static volatile int caught, code, signo, trapno, err_write, err_fetch;
static void *volatile addr;
static volatile uintptr_t rip;

static void on_segv(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;
	if (++caught > 3)
		_exit(3); /* faulting again and again: stop rather than loop */
	signo = sig;
	code = si->si_code;
	addr = si->si_addr;
	trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	err_write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
	err_fetch = (uc->uc_mcontext.gregs[REG_ERR] & 16) != 0;
	rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(env, 1);
}

static const char *code_name(int c)
{
	switch (c) {
	case SEGV_MAPERR: return "SEGV_MAPERR";
	case SEGV_ACCERR: return "SEGV_ACCERR";
	case SI_KERNEL: return "SI_KERNEL";
	default: return "other";
	}
}

static volatile char sink;

/* Runs `fault` expecting a SIGSEGV; prints what the handler saw, addresses relative to
 * `target` (or absolute when target is NULL, for the null pointer). */
static void expect_segv(const char *what, void (*fault)(void *), void *target,
			const char *want_code, int want_write)
{
	caught = 0;
	addr = (void *)-1;
	if (sigsetjmp(env, 1) == 0) {
		fault(target);
		printf("%s: no signal\n", what);
		check(what, 0);
		return;
	}
	long offset = (long)((char *)addr - (char *)target);
	printf("%s: signal %d, %s, si_addr = target%+ld, trap %d, write %d\n", what, signo,
	       code_name(code), offset, trapno, err_write);
	char line[256];
	snprintf(line, sizeof line, "%s: as expected", what);
	check(line, caught == 1 && signo == SIGSEGV && strcmp(code_name(code), want_code) == 0 &&
			    offset == 0 && trapno == 14 && err_write == want_write);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	snprintf(line, sizeof line, "%s: SIGSEGV unblocked again after siglongjmp", what);
	check(line, !sigismember(&now, SIGSEGV));
}

static void read_at(void *p)
{
	sink = *(volatile char *)p;
}

static void write_at(void *p)
{
	*(volatile char *)p = 1;
}

static void call_at(void *p)
{
	((void (*)(void))p)();
}

static const char rodata[64] = "read-only data";

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSEGV, &sa, NULL) != 0)
		die("sigaction");
	long page = sysconf(_SC_PAGESIZE);
	char *three = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
	if (three == MAP_FAILED || munmap(three + page, page) != 0)
		die("mmap");
	expect_segv("read an unmapped page", read_at, three + page + 0x10, "SEGV_MAPERR", 0);
	expect_segv("write an unmapped page", write_at, three + page + 0xff8, "SEGV_MAPERR", 1);

	char *ro = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		die("mmap");
	expect_segv("write a PROT_READ page", write_at, ro + 0x20, "SEGV_ACCERR", 1);
	expect_segv("write read-only data", write_at, (void *)(rodata + 3), "SEGV_ACCERR", 1);
	char *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (none == MAP_FAILED)
		die("mmap");
	expect_segv("read a PROT_NONE page", read_at, none + 0x30, "SEGV_ACCERR", 0);
	expect_segv("read the null pointer", read_at, NULL, "SEGV_MAPERR", 0);

	/* A page holding `ret`, readable but not executable: fetching it faults at its start. */
	char *text = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (text == MAP_FAILED)
		die("mmap");
	text[0] = (char)0xc3;
	mprotect(text, page, PROT_READ);
	expect_segv("call into a page without PROT_EXEC", call_at, text, "SEGV_ACCERR", 0);
	check("an instruction fetch, at the page's start", err_fetch && rip == (uintptr_t)text);
	mprotect(text, page, PROT_READ | PROT_EXEC);
	call_at(text);
	check("the same page runs once PROT_EXEC is added", 1);

	/* The page is there again once mapped: the fault was about the mapping, not the access. */
	char *again = mmap(three + page, page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check("mapping the hole again", again == three + page);
	read_at(three + page + 0x10);
	check("reading it now works and reads zero", sink == 0);

	caught = 0;
	if (sigsetjmp(env, 1) == 0)
		read_at((void *)0xffffffff81000000UL);
	printf("read a kernel address: signal %d, %s\n", signo, code_name(code));
	check("read a kernel address: SIGSEGV", caught == 1 && signo == SIGSEGV);
	return finish();
}
