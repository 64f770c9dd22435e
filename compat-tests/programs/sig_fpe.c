/* sig_fpe: SIGFPE from integer division by zero and INT_MIN / -1 (FPE_INTDIV, si_addr at the
 * idiv), resumed by siglongjmp or by moving RIP in the ucontext; from an SSE division by zero
 * with the exception unmasked in MXCSR (FPE_FLTDIV). With "default" as argv[1], a last
 * division by zero without a handler kills the program (status 136). */
#define _GNU_SOURCE
#include <limits.h>
#include <setjmp.h>
#include <sys/resource.h>
#include <ucontext.h>
#include "thrutil.h"

/* int sigt_div(int a, int b): a / b, with the idiv at a known address. */
__asm__(".text\n"
	".globl sigt_div\n"
	".type sigt_div, @function\n"
	"sigt_div:\n"
	"	mov %edi, %eax\n"
	"	cltd\n"
	".globl sigt_idiv\n"
	"sigt_idiv:\n"
	"	idivl %esi\n"
	".globl sigt_after_idiv\n"
	"sigt_after_idiv:\n"
	"	ret\n"
	/* double sigt_fdiv(double a, double b) */
	".globl sigt_fdiv\n"
	".type sigt_fdiv, @function\n"
	"sigt_fdiv:\n"
	".globl sigt_divsd\n"
	"sigt_divsd:\n"
	"	divsd %xmm1, %xmm0\n"
	"	ret\n");
int sigt_div(int a, int b);
void sigt_idiv(void);
void sigt_after_idiv(void);
double sigt_fdiv(double a, double b);
void sigt_divsd(void);

static sigjmp_buf env;
static volatile int caught, signo, code, trapno, resume;
static void *volatile addr;

static void on_fpe(int sig, siginfo_t *si, void *context)
{
	ucontext_t *uc = context;
	if (++caught > 3)
		_exit(3); /* faulting again and again: stop rather than loop */
	signo = sig;
	code = si->si_code;
	addr = si->si_addr;
	trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
	if (resume) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)sigt_after_idiv;
		uc->uc_mcontext.gregs[REG_RAX] = -7;
		return;
	}
	siglongjmp(env, 1);
}

static const char *code_name(int c)
{
	switch (c) {
	case FPE_INTDIV: return "FPE_INTDIV";
	case FPE_INTOVF: return "FPE_INTOVF";
	case FPE_FLTDIV: return "FPE_FLTDIV";
	case FPE_FLTINV: return "FPE_FLTINV";
	default: return "other";
	}
}

static void divide(const char *what, int a, int b)
{
	caught = 0;
	volatile int result = 0;
	if (sigsetjmp(env, 1) == 0)
		result = sigt_div(a, b);
	printf("%s: signal %d, %s, si_addr at the idiv: %s, trap %d\n", what, signo,
	       code_name(code), addr == (void *)sigt_idiv ? "yes" : "no", trapno);
	char line[200];
	snprintf(line, sizeof line, "%s: SIGFPE, FPE_INTDIV, at the idiv, trap 0", what);
	check(line, caught == 1 && signo == SIGFPE && code == FPE_INTDIV &&
			    addr == (void *)sigt_idiv && trapno == 0 && result == 0);
}

static unsigned get_mxcsr(void)
{
	unsigned m;
	__asm__ volatile("stmxcsr %0" : "=m"(m));
	return m;
}

static void set_mxcsr(unsigned m)
{
	__asm__ volatile("ldmxcsr %0" : : "m"(m));
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_fpe;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGFPE, &sa, NULL) != 0)
		die("sigaction");
	expect_ret("sigt_div(84, 2)", sigt_div(84, 2), 42);
	divide("7 / 0", 7, 0);
	divide("INT_MIN / -1", INT_MIN, -1);
	divide("7 / 0 again", 7, 0);

	resume = 1;
	caught = 0;
	int r = sigt_div(9, 0);
	printf("9 / 0 with the handler moving RIP past the idiv and setting EAX = -7: %d\n", r);
	check("the handler's ucontext changes took effect", caught == 1 && r == -7);
	resume = 0;

	/* SSE: masked (the default), 1.0 / 0.0 is infinity; unmasked, it traps. */
	unsigned mxcsr = get_mxcsr();
	printf("MXCSR masks all exceptions: %s\n", (mxcsr & 0x1f80) == 0x1f80 ? "yes" : "no");
	double inf = sigt_fdiv(1.0, 0.0);
	check("1.0 / 0.0 with exceptions masked is +inf", inf > 1e308 && inf == inf * 2);
	set_mxcsr((mxcsr & ~0x3fu) & ~(1u << 9)); /* clear the flags, unmask divide-by-zero */
	caught = 0;
	volatile double d = 0;
	if (sigsetjmp(env, 1) == 0)
		d = sigt_fdiv(1.0, 0.0);
	set_mxcsr(mxcsr);
	printf("1.0 / 0.0 unmasked: signal %d, %s, si_addr at the divsd: %s, trap %d\n", signo,
	       code_name(code), addr == (void *)sigt_divsd ? "yes" : "no", trapno);
	check("SIGFPE, FPE_FLTDIV, at the divsd, trap 19",
	      caught == 1 && signo == SIGFPE && code == FPE_FLTDIV && addr == (void *)sigt_divsd &&
		      trapno == 19 && d == 0);

	if (argc > 1 && strcmp(argv[1], "default") == 0) {
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		signal(SIGFPE, SIG_DFL);
		printf("a last 1 / 0 without a handler: the program dies of SIGFPE\n");
		finish();
		fflush(stdout);
		sigt_div(1, 0);
		printf("survived\n");
		return 1;
	}
	return finish();
}
