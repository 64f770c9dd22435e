/* sig_basic: signals in one thread: rt_sigaction with SA_SIGINFO (si_code, si_pid, si_uid,
 * si_value for raise, kill and sigqueue), masks and pending sets, standard signals merging and
 * real-time ones queueing in order, the delivery order of several pending signals, sa_mask,
 * SA_NODEFER, SA_RESETHAND, SA_RESTART against EINTR, sigsuspend, sigtimedwait, SIG_IGN, the
 * argument errors, and registers and SSE state kept across a handler. argv[1] names a last
 * step that kills the program with a default action (TERM, USR1, ABRT, KILL, QUIT, PENDING,
 * SEGV); the harness compares the exit status, 128 + the signal. */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/time.h>
#include <ucontext.h>
#include "thrutil.h"

/* What handlers saw, in order. */
#define LOG_MAX 64
static volatile int log_sig[LOG_MAX], log_code[LOG_MAX], log_value[LOG_MAX];
static volatile long log_pid[LOG_MAX], log_uid[LOG_MAX];
static volatile int nlog;

static void on_info(int sig, siginfo_t *si, void *context)
{
	(void)context;
	int i = nlog;
	if (i >= LOG_MAX)
		return;
	log_sig[i] = sig;
	log_code[i] = si->si_code;
	log_pid[i] = si->si_pid;
	log_uid[i] = si->si_uid;
	log_value[i] = si->si_value.sival_int;
	nlog = i + 1;
}

static void install(int sig, void (*fn)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	if (mask)
		sa.sa_mask = *mask;
	if (sigaction(sig, &sa, NULL) != 0)
		die("sigaction");
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	if (sigaction(sig, &sa, NULL) != 0)
		die("sigaction");
}

static void block(int sig, int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(how, &set, NULL);
}

static int is_pending(int sig)
{
	sigset_t set;
	sigpending(&set);
	return sigismember(&set, sig);
}

static void senders(void)
{
	install(SIGUSR1, on_info, 0, NULL);
	install(SIGUSR2, on_info, 0, NULL);
	nlog = 0;
	raise(SIGUSR1);
	kill(getpid(), SIGUSR2);
	union sigval v = {.sival_int = 42};
	sigqueue(getpid(), SIGUSR1, v);
	for (int i = 0; i < nlog; i++)
		printf("delivery %d: %s, %s, from this process: %s, uid: %s, value %d\n", i,
		       sig_name(log_sig[i]), sender_code_name(log_code[i]),
		       log_pid[i] == getpid() ? "yes" : "no", log_uid[i] == getuid() ? "ours" : "other",
		       log_code[i] == SI_QUEUE ? log_value[i] : 0);
	check("raise: SI_TKILL; kill: SI_USER; sigqueue: SI_QUEUE with the value",
	      nlog == 3 && log_code[0] == SI_TKILL && log_code[1] == SI_USER &&
		      log_code[2] == SI_QUEUE && log_value[2] == 42 && log_pid[0] == getpid() &&
		      log_pid[1] == getpid() && log_pid[2] == getpid());
}

static void merging_and_queueing(void)
{
	int rt = SIGRTMIN + 2;
	install(rt, on_info, 0, NULL);
	block(SIGUSR1, SIG_BLOCK);
	nlog = 0;
	raise(SIGUSR1);
	raise(SIGUSR1);
	check("a blocked USR1 is pending and not delivered", is_pending(SIGUSR1) && nlog == 0);
	block(SIGUSR1, SIG_UNBLOCK);
	printf("USR1 raised twice while blocked: delivered %d time(s)\n", nlog);
	check("standard signals merge", nlog == 1 && !is_pending(SIGUSR1));

	block(rt, SIG_BLOCK);
	nlog = 0;
	for (int i = 1; i <= 3; i++) {
		union sigval v = {.sival_int = i * 10};
		sigqueue(getpid(), rt, v);
	}
	block(rt, SIG_UNBLOCK);
	printf("RTMIN+2 queued 3 times while blocked: delivered %d time(s), values", nlog);
	for (int i = 0; i < nlog; i++)
		printf(" %d", log_value[i]);
	printf("\n");
	check("real-time signals queue, in order",
	      nlog == 3 && log_value[0] == 10 && log_value[1] == 20 && log_value[2] == 30);
}

/* Each handler blocks the other three (sa_mask), so they run one after another in the order
 * the kernel picks them: the lowest-numbered first. (Without the mask Linux would set up all
 * four frames at once, each on top of the last, and the last set up would run first.) */
static void delivery_order(void)
{
	int sigs[] = {SIGUSR2, SIGRTMIN + 3, SIGUSR1, SIGRTMIN + 2};
	sigset_t all, old;
	sigemptyset(&all);
	for (int i = 0; i < 4; i++)
		sigaddset(&all, sigs[i]);
	for (int i = 0; i < 4; i++)
		install(sigs[i], on_info, 0, &all);
	sigprocmask(SIG_BLOCK, &all, &old);
	nlog = 0;
	for (int i = 0; i < 4; i++)
		raise(sigs[i]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("raised USR2, RTMIN+3, USR1, RTMIN+2 while blocked; handled:");
	for (int i = 0; i < nlog; i++)
		printf(" %s", sig_name(log_sig[i]));
	printf("\n");
	check("lowest number first", nlog == 4 && log_sig[0] == SIGUSR1 && log_sig[1] == SIGUSR2 &&
					     log_sig[2] == SIGRTMIN + 2 &&
					     log_sig[3] == SIGRTMIN + 3);
}

/* Event log for the handler-flag tests: small integers. */
static volatile int events[32], nevents, depth, max_depth;

static void event(int e)
{
	if (nevents < 32)
		events[nevents++] = e;
}

static void masked_outer(int sig)
{
	(void)sig;
	event(1);
	raise(SIGUSR2); /* in sa_mask: waits until this handler returns */
	event(2);
}

static void masked_inner(int sig)
{
	(void)sig;
	event(3);
}

static void nested(int sig)
{
	depth++;
	if (depth > max_depth)
		max_depth = depth;
	event(depth);
	if (nevents == 1)
		raise(sig);
	depth--;
}

static void print_events(const char *what)
{
	printf("%s:", what);
	for (int i = 0; i < nevents; i++)
		printf(" %d", events[i]);
	printf("\n");
}

static void handler_flags(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = masked_outer;
	sa.sa_mask = mask;
	sigaction(SIGUSR1, &sa, NULL);
	set_handler(SIGUSR2, masked_inner, 0);
	nevents = 0;
	raise(SIGUSR1);
	print_events("sa_mask {USR2}, the USR1 handler raises USR2; events");
	check("USR2 waited for the USR1 handler to return",
	      nevents == 3 && events[0] == 1 && events[1] == 2 && events[2] == 3);

	set_handler(SIGUSR1, nested, 0);
	nevents = depth = max_depth = 0;
	raise(SIGUSR1);
	print_events("without SA_NODEFER, the handler raises its own signal; depths");
	check("the second run waited for the first (depths 1 1)", nevents == 2 && max_depth == 1);
	set_handler(SIGUSR1, nested, SA_NODEFER);
	nevents = depth = max_depth = 0;
	raise(SIGUSR1);
	print_events("with SA_NODEFER; depths");
	check("the second run nested in the first (depths 1 2)", nevents == 2 && max_depth == 2);

	set_handler(SIGUSR2, masked_inner, SA_RESETHAND);
	nevents = 0;
	raise(SIGUSR2);
	struct sigaction now;
	sigaction(SIGUSR2, NULL, &now);
	check("SA_RESETHAND: the handler ran once, then the action is SIG_DFL",
	      nevents == 1 && now.sa_handler == SIG_DFL);

	set_handler(SIGUSR2, masked_inner, SA_RESTART | SA_NODEFER);
	sigaction(SIGUSR2, NULL, &now);
	check("sigaction reads back SA_RESTART and SA_NODEFER",
	      (now.sa_flags & (SA_RESTART | SA_NODEFER)) == (SA_RESTART | SA_NODEFER) &&
		      now.sa_handler == masked_inner);
}

/* SIGALRM from a one-shot ITIMER_REAL interrupts a blocking call. */
static int pipe_fds[2];
static volatile int alarms, feed_pipe;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
	if (feed_pipe)
		write(pipe_fds[1], "r", 1);
}

static void alarm_in(int ms)
{
	struct itimerval it = {{0, 0}, {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

/* SIGALRM every `ms` (0: stop). For "a signal interrupts this blocking call": on a busy
 * machine the first one can come before the call blocks (a single alarm would then leave it
 * blocked for good); the next one interrupts it. */
static void alarm_every(int ms)
{
	struct timeval t = {ms / 1000, (ms % 1000) * 1000};
	struct itimerval it = {t, t};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void restart(void)
{
	if (pipe(pipe_fds) != 0)
		die("pipe");
	char c = 0;
	set_handler(SIGALRM, on_alarm, 0);
	alarms = feed_pipe = 0;
	alarm_every(20);
	errno = 0;
	expect_errno("read from an empty pipe, SIGALRM without SA_RESTART",
		     read(pipe_fds[0], &c, 1), EINTR);
	alarm_every(0);
	check("the handler ran", alarms >= 1);

	set_handler(SIGALRM, on_alarm, SA_RESTART);
	alarms = 0;
	feed_pipe = 1;
	alarm_in(20);
	long n = read(pipe_fds[0], &c, 1);
	printf("with SA_RESTART (the handler writes a byte): read returned %ld, '%c'\n", n,
	       n == 1 ? c : '?');
	check("the read was restarted and got the handler's byte", n == 1 && c == 'r' &&
								       alarms == 1);
	feed_pipe = 0;

	alarms = 0;
	alarm_every(20);
	struct timespec req = {5, 0}, rem = {0, 0};
	errno = 0;
	expect_errno("nanosleep(5 s) interrupted by SIGALRM, even with SA_RESTART",
		     nanosleep(&req, &rem), EINTR);
	alarm_every(0);
	check("the remaining time is more than 0 and less than 5 s",
	      ts_ns(rem) > 0 && ts_ns(rem) < 5000000000LL);
}

static void errors(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = masked_inner;
	errno = 0;
	expect_errno("sigaction(SIGKILL)", sigaction(SIGKILL, &sa, NULL), EINVAL);
	errno = 0;
	expect_errno("sigaction(SIGSTOP)", sigaction(SIGSTOP, &sa, NULL), EINVAL);
	errno = 0;
	expect_errno("rt_sigaction(0)", syscall(SYS_rt_sigaction, 0, NULL, NULL, 8), EINVAL);
	errno = 0;
	expect_errno("rt_sigaction(65)", syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL);
	errno = 0;
	expect_errno("rt_sigaction with sigsetsize 4", syscall(SYS_rt_sigaction, SIGUSR1, NULL,
								 NULL, 4),
		     EINVAL);
	errno = 0;
	expect_errno("rt_sigprocmask with how = 7", syscall(SYS_rt_sigprocmask, 7, &sa.sa_mask,
							     NULL, 8),
		     EINVAL);
	errno = 0;
	expect_errno("kill(getpid(), 65)", kill(getpid(), 65), EINVAL);
	expect_ret("kill(getpid(), 0)", kill(getpid(), 0), 0);
	errno = 0;
	expect_errno("kill(a pid that does not exist, 0)", kill(0x3ffffff0, 0), ESRCH);

	sigset_t set, now;
	sigemptyset(&set);
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigprocmask(SIG_SETMASK, NULL, &now);
	check("blocking KILL and STOP is silently ignored",
	      !sigismember(&now, SIGKILL) && !sigismember(&now, SIGSTOP) &&
		      sigismember(&now, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void waiting(void)
{
	install(SIGUSR1, on_info, 0, NULL);
	block(SIGUSR1, SIG_BLOCK);
	raise(SIGUSR1);
	nlog = 0;
	sigset_t empty, now;
	sigemptyset(&empty);
	errno = 0;
	expect_errno("sigsuspend(empty mask) with USR1 pending", sigsuspend(&empty), EINTR);
	sigprocmask(SIG_SETMASK, NULL, &now);
	check("the handler ran, and the old mask is back", nlog == 1 && sigismember(&now, SIGUSR1));

	sigset_t want;
	sigemptyset(&want);
	sigaddset(&want, SIGUSR2);
	block(SIGUSR2, SIG_BLOCK);
	raise(SIGUSR2);
	siginfo_t si;
	struct timespec limit = {LONG_WAIT_S, 0};
	memset(&si, 0, sizeof si);
	/* Raw: glibc's sigtimedwait reports SI_TKILL as SI_USER. */
	int r = (int)syscall(SYS_rt_sigtimedwait, &want, &si, &limit, 8);
	printf("sigtimedwait with USR2 pending: %s, %s\n", r > 0 ? sig_name(r) : errname(errno),
	       sender_code_name(si.si_code));
	check("it returned USR2 with SI_TKILL", r == SIGUSR2 && si.si_code == SI_TKILL);
	check("and USR2 is no longer pending", !is_pending(SIGUSR2));
	struct timespec short_wait = {0, 30 * 1000000};
	int64_t before = mono_ns();
	errno = 0;
	expect_errno("sigtimedwait(30 ms) with nothing pending",
		     sigtimedwait(&want, &si, &short_wait), EAGAIN);
	check("it waited at least 30 ms", mono_ns() - before >= 30 * 1000000);
	struct timespec zero = {0, 0};
	errno = 0;
	expect_errno("sigtimedwait(0) with nothing pending", sigtimedwait(&want, &si, &zero),
		     EAGAIN);
	union sigval v = {.sival_int = 9};
	sigqueue(getpid(), SIGUSR2, v);
	memset(&si, 0, sizeof si);
	r = (int)syscall(SYS_rt_sigtimedwait, &want, &si, NULL, 8);
	check("rt_sigtimedwait without a timeout returns a queued USR2 with its value",
	      r == SIGUSR2 && si.si_code == SI_QUEUE && si.si_value.sival_int == 9 &&
		      si.si_pid == getpid());
	block(SIGUSR2, SIG_UNBLOCK);
	block(SIGUSR1, SIG_UNBLOCK);
}

static void ignoring(void)
{
	set_handler(SIGUSR1, SIG_IGN, 0);
	raise(SIGUSR1);
	check("an ignored USR1 does nothing and is not left pending", !is_pending(SIGUSR1));
	install(SIGUSR2, on_info, 0, NULL);
	block(SIGUSR2, SIG_BLOCK);
	raise(SIGUSR2);
	check("a blocked USR2 is pending", is_pending(SIGUSR2));
	set_handler(SIGUSR2, SIG_IGN, 0);
	check("setting SIG_IGN discards it", !is_pending(SIGUSR2));
	block(SIGUSR2, SIG_UNBLOCK);
	int quiet[] = {SIGCHLD, SIGURG, SIGWINCH, SIGCONT};
	for (int i = 0; i < 4; i++) {
		signal(quiet[i], SIG_DFL);
		raise(quiet[i]);
	}
	check("CHLD, URG, WINCH and CONT with SIG_DFL are ignored", 1);
	struct sigaction old;
	sigaction(SIGUSR1, NULL, &old);
	check("sigaction reads back SIG_IGN", old.sa_handler == SIG_IGN);
	signal(SIGUSR1, SIG_DFL);
}

/* Registers and SSE state across a handler that clobbers them. */
static volatile uint32_t seen_xmm0[4], seen_xmm15[4];
static volatile int fp_handled;

static void clobber(int sig, siginfo_t *si, void *context)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = context;
	if (uc->uc_mcontext.fpregs) {
		for (int i = 0; i < 4; i++) {
			seen_xmm0[i] = uc->uc_mcontext.fpregs->_xmm[0].element[i];
			seen_xmm15[i] = uc->uc_mcontext.fpregs->_xmm[15].element[i];
		}
	}
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
			 "pcmpeqd %%xmm7, %%xmm7\n\t"
			 "pcmpeqd %%xmm15, %%xmm15\n\t"
			 "mov $-1, %%r8\n\t"
			 "mov $-1, %%r9\n\t"
			 "mov $-1, %%r10\n\t"
			 "mov $-1, %%rdx\n\t" ::
				 : "xmm0", "xmm7", "xmm15", "r8", "r9", "r10", "rdx");
	fp_handled = 1;
}

static void registers(void)
{
	install(SIGUSR1, clobber, 0, NULL);
	static const uint32_t pattern[4] = {0x11223344, 0x55667788, 0x99aabbcc, 0xddeeff00};
	static const uint32_t pattern15[4] = {0xcafef00d, 0x0badf00d, 0x12345678, 0x87654321};
	uint32_t out0[4], out7[4], out15[4];
	long r8, r9, r10, rdx;
	__asm__ volatile("movdqu %[p], %%xmm0\n\t"
			 "movdqu %[p], %%xmm7\n\t"
			 "movdqu %[q], %%xmm15\n\t"
			 "mov $0x1111, %%r8\n\t"
			 "mov $0x2222, %%r9\n\t"
			 "mov $0x3333, %%r10\n\t"
			 "mov $0x4444, %%rdx\n\t"
			 "syscall\n\t" /* kill(getpid(), SIGUSR1): the handler runs on the way back */
			 "movdqu %%xmm0, %[o0]\n\t"
			 "movdqu %%xmm7, %[o7]\n\t"
			 "movdqu %%xmm15, %[o15]\n\t"
			 "mov %%r8, %[r8]\n\t"
			 "mov %%r9, %[r9]\n\t"
			 "mov %%r10, %[r10]\n\t"
			 "mov %%rdx, %[rdx]\n\t"
			 : [o0] "=m"(out0), [o7] "=m"(out7), [o15] "=m"(out15), [r8] "=m"(r8),
			   [r9] "=m"(r9), [r10] "=m"(r10), [rdx] "=m"(rdx)
			 : [p] "m"(pattern), [q] "m"(pattern15), "a"((long)SYS_kill), "D"((long)getpid()),
			   "S"((long)SIGUSR1)
			 : "rcx", "r11", "r8", "r9", "r10", "rdx", "xmm0", "xmm7", "xmm15", "memory");
	check("the handler ran", fp_handled);
	check("xmm0, xmm7 and xmm15 are intact after it",
	      memcmp(out0, pattern, 16) == 0 && memcmp(out7, pattern, 16) == 0 &&
		      memcmp(out15, pattern15, 16) == 0);
	check("rdx, r8, r9 and r10 are intact after it",
	      r8 == 0x1111 && r9 == 0x2222 && r10 == 0x3333 && rdx == 0x4444);
	check("the handler's ucontext held the interrupted xmm0 and xmm15",
	      memcmp((const void *)seen_xmm0, pattern, 16) == 0 &&
		      memcmp((const void *)seen_xmm15, pattern15, 16) == 0);
	signal(SIGUSR1, SIG_DFL);
}

static void last_step(const char *how)
{
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	printf("last step: %s\n", how);
	finish();
	fflush(stdout);
	if (strcmp(how, "TERM") == 0) {
		raise(SIGTERM);
	} else if (strcmp(how, "USR1") == 0) {
		raise(SIGUSR1);
	} else if (strcmp(how, "ABRT") == 0) {
		abort();
	} else if (strcmp(how, "KILL") == 0) {
		kill(getpid(), SIGKILL);
	} else if (strcmp(how, "QUIT") == 0) {
		raise(SIGQUIT);
	} else if (strcmp(how, "PENDING") == 0) {
		/* Pending while blocked; kills at the moment it is unblocked. */
		block(SIGTERM, SIG_BLOCK);
		raise(SIGTERM);
		write(1, "TERM pending while blocked: still alive\n", 40);
		block(SIGTERM, SIG_UNBLOCK);
	} else if (strcmp(how, "SEGV") == 0) {
		/* A fault while SIGSEGV is blocked kills even though a handler is installed. */
		set_handler(SIGSEGV, masked_inner, 0);
		block(SIGSEGV, SIG_BLOCK);
		volatile int *volatile bad = (volatile int *)16;
		*bad = 1;
	}
	write(1, "survived\n", 9);
	exit(1);
}

int main(int argc, char **argv)
{
	senders();
	merging_and_queueing();
	delivery_order();
	handler_flags();
	restart();
	errors();
	waiting();
	ignoring();
	registers();
	if (argc > 1)
		last_step(argv[1]);
	return finish();
}
