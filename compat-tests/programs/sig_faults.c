/* sig_faults: the other synchronous signals, caught with SA_SIGINFO: SIGILL from ud2 (leaving
 * by siglongjmp, and resuming after it by moving RIP in the ucontext), SIGTRAP from int3
 * (returning resumes after it), SIGBUS from touching a file mapping past the end of the file,
 * and SIGSEGV from privileged instructions (a general protection fault: si_addr 0). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <sys/mman.h>
#include <ucontext.h>
#include "thrutil.h"

/* Instructions at known addresses. */
__asm__(".text\n"
	".globl sigt_ud2\n"
	".type sigt_ud2, @function\n"
	"sigt_ud2:\n"
	"	mov $1, %eax\n"
	"	ud2\n"
	".globl sigt_after_ud2\n"
	"sigt_after_ud2:\n"
	"	ret\n"
	".globl sigt_int3\n"
	".type sigt_int3, @function\n"
	"sigt_int3:\n"
	"	mov $5, %eax\n"
	"	int3\n"
	".globl sigt_after_int3\n"
	"sigt_after_int3:\n"
	"	add $1, %eax\n"
	"	ret\n"
	".globl sigt_hlt\n"
	".type sigt_hlt, @function\n"
	"sigt_hlt:\n"
	"	hlt\n"
	"	ret\n"
	".globl sigt_cli\n"
	".type sigt_cli, @function\n"
	"sigt_cli:\n"
	"	cli\n"
	"	ret\n");
int sigt_ud2(void);
void sigt_after_ud2(void);
int sigt_int3(void);
void sigt_after_int3(void);
void sigt_hlt(void);
void sigt_cli(void);

static sigjmp_buf env;
static volatile int caught, signo, code, trapno;
static void *volatile addr;
static volatile uintptr_t rip;
static volatile int resume; /* 1: move RIP past ud2 and return instead of siglongjmp */

static void handler(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;
	if (++caught > 3)
		_exit(3); /* faulting again and again: stop rather than loop */
	signo = sig;
	code = si->si_code;
	addr = si->si_addr;
	trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	if (sig == SIGTRAP)
		return;
	if (sig == SIGILL && resume) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)sigt_after_ud2;
		uc->uc_mcontext.gregs[REG_RAX] = 42;
		return;
	}
	siglongjmp(env, 1);
}

static const char *code_name(int sig, int c)
{
	if (c == SI_KERNEL)
		return "SI_KERNEL";
	if (sig == SIGILL && c == ILL_ILLOPN)
		return "ILL_ILLOPN";
	if (sig == SIGBUS && c == BUS_ADRERR)
		return "BUS_ADRERR";
	if (sig == SIGSEGV && c == SEGV_MAPERR)
		return "SEGV_MAPERR";
	if (sig == SIGTRAP && c == TRAP_BRKPT)
		return "TRAP_BRKPT";
	return "other";
}

static volatile char sink;

static void privileged(const char *what, void (*fn)(void))
{
	caught = 0;
	if (sigsetjmp(env, 1) == 0)
		fn();
	printf("%s: signal %d, %s, si_addr %s, at the instruction %s, trap %d\n", what, signo,
	       code_name(signo, code), addr ? "not 0" : "0",
	       rip == (uintptr_t)fn ? "yes" : "no", trapno);
	char line[200];
	snprintf(line, sizeof line, "%s: SIGSEGV, SI_KERNEL, si_addr 0, trap 13", what);
	check(line, caught == 1 && signo == SIGSEGV && code == SI_KERNEL && addr == NULL &&
			    rip == (uintptr_t)fn && trapno == 13);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO;
	int sigs[] = {SIGILL, SIGTRAP, SIGBUS, SIGSEGV};
	for (int i = 0; i < 4; i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			die("sigaction");

	long ud2_at = (long)sigt_ud2 + 5; /* after the 5-byte mov */
	if (sigsetjmp(env, 1) == 0)
		sigt_ud2();
	printf("ud2: signal %d, %s, si_addr = ud2%+ld, RIP = ud2%+ld, trap %d\n", signo,
	       code_name(signo, code), (long)addr - ud2_at, (long)rip - ud2_at, trapno);
	check("ud2: SIGILL, ILL_ILLOPN at the instruction, trap 6",
	      caught == 1 && signo == SIGILL && code == ILL_ILLOPN && (long)addr == ud2_at &&
		      (long)rip == ud2_at && trapno == 6);
	resume = 1;
	caught = 0;
	int r = sigt_ud2();
	printf("ud2 with the handler moving RIP past it and setting RAX = 42: returned %d\n", r);
	check("the handler's changes to the ucontext took effect", caught == 1 && r == 42);

	caught = 0;
	r = sigt_int3();
	long after_int3 = (long)sigt_after_int3;
	printf("int3: signal %d, %s, RIP = after int3%+ld, trap %d, returned %d\n", signo,
	       code_name(signo, code), (long)rip - after_int3, trapno, r);
	check("int3: SIGTRAP, RIP after the instruction, trap 3, and returning resumes there",
	      caught == 1 && signo == SIGTRAP && (long)rip == after_int3 && trapno == 3 && r == 6);

	long page = sysconf(_SC_PAGESIZE);
	int fd = (int)syscall(SYS_memfd_create, "sig_faults", 0);
	if (fd < 0 || ftruncate(fd, 100) != 0)
		die("memfd");
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap");
	map[50] = 'x';
	check("the file's one page is usable, also past its 100 bytes", map[99] == 0 &&
									   map[page - 1] == 0);
	caught = 0;
	if (sigsetjmp(env, 1) == 0)
		sink = map[page + 8];
	printf("past the end of the file: signal %d, %s, si_addr = page 2%+ld\n", signo,
	       code_name(signo, code), (long)((char *)addr - (map + page)));
	check("a page wholly past the end of the file: SIGBUS, BUS_ADRERR at the address",
	      caught == 1 && signo == SIGBUS && code == BUS_ADRERR && addr == map + page + 8);
	if (ftruncate(fd, page + 16) != 0)
		die("ftruncate");
	sink = map[page + 8];
	check("readable once the file grows", sink == 0);

	privileged("hlt", sigt_hlt);
	privileged("cli", sigt_cli);
	return finish();
}
