/* proc_ptrace: ptrace(2) between this program and its children. PTRACE_TRACEME and the
 * SIGSTOP stop with its siginfo; PEEKDATA/POKEDATA of a variable; syscall stops under
 * PTRACE_SYSCALL with TRACESYSGOOD (orig_rax and -ENOSYS at entry, the result at exit, a
 * result changed with POKEUSER, a call cancelled with orig_rax -1); an int3 in the program and
 * one the tracer writes into the program's text with POKETEXT (then takes out, with rip moved
 * back by SETREGS); single steps; fork and exec events with GETEVENTMSG; ATTACH/DETACH and
 * SEIZE/INTERRUPT; the exit event; and the errors. No pid or address is printed. */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include "procutil.h"

static volatile long marker = 0x1122334455667788;

static long pt(long req, pid_t pid, unsigned long addr, unsigned long data)
{
	return syscall(SYS_ptrace, req, pid, addr, data);
}

static int wait_stop(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

static const char *stop_str(int status)
{
	static char buf[64];
	if (!WIFSTOPPED(status))
		return status_str(status);
	int sig = WSTOPSIG(status), event = status >> 16;
	if (sig == (SIGTRAP | 0x80))
		snprintf(buf, sizeof buf, "syscall stop");
	else if (event)
		snprintf(buf, sizeof buf, "stopped by %s, event %d", signame(sig), event);
	else
		snprintf(buf, sizeof buf, "stopped by %s", signame(sig));
	return buf;
}

static void expect_stop(const char *what, pid_t pid, const char *want)
{
	const char *got = stop_str(wait_stop(pid));
	checkf(strcmp(got, want) == 0, "%s: %s", what, got);
}

static void __attribute__((noinline)) target_fn(void)
{
	__asm__ volatile("nop");
	printf("child: target_fn ran\n");
	fflush(stdout);
}

static void basics(void)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		pt(PTRACE_TRACEME, 0, 0, 0);
		checkf(pt(PTRACE_TRACEME, 0, 0, 0) < 0 && errno == EPERM, "TRACEME twice: EPERM");
		raise(SIGSTOP);
		/* The tracer changed marker meanwhile. */
		printf("child: marker %#lx\n", marker);
		long r = syscall(SYS_getppid);
		printf("child: getppid gave %ld\n", r);
		r = syscall(SYS_write, 1, "not written\n", 12);
		printf("child: cancelled write gave %ld (%s)\n", r, r < 0 ? errname(errno) : "-");
		__asm__ volatile("int3");
		printf("child: after int3\n");
		fflush(stdout);
		target_fn();
		_exit(5);
	}
	expect_stop("TRACEME child raises SIGSTOP", pid, "stopped by STOP");
	siginfo_t si;
	checkf(pt(PTRACE_GETSIGINFO, pid, 0, (unsigned long)&si) == 0 && si.si_signo == SIGSTOP &&
		       si.si_code == SI_TKILL,
	       "GETSIGINFO: SIGSTOP from tkill");
	long word = 0;
	checkf(pt(PTRACE_PEEKDATA, pid, (unsigned long)&marker, (unsigned long)&word) == 0 &&
		       word == 0x1122334455667788,
	       "PEEKDATA reads the child's marker");
	checkf(pt(PTRACE_POKEDATA, pid, (unsigned long)&marker, 0xabcdef) == 0, "POKEDATA");
	checkf(pt(PTRACE_PEEKDATA, pid, 8, (unsigned long)&word) < 0 && errno == EIO,
	       "PEEKDATA of an unmapped address: EIO");
	checkf(pt(PTRACE_PEEKUSER, pid, 3, (unsigned long)&word) < 0 && errno == EIO,
	       "PEEKUSER misaligned: EIO");
	checkf(pt(PTRACE_SETOPTIONS, pid, 0, 0x80000000ul) < 0 && errno == EINVAL,
	       "SETOPTIONS with an unknown bit: EINVAL");
	checkf(pt(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD) == 0, "SETOPTIONS TRACESYSGOOD");
	/* Up to getppid's entry: the write of printf's line and fflush come first. */
	struct user_regs_struct regs;
	for (int i = 0; i < 20; i++) {
		pt(PTRACE_SYSCALL, pid, 0, 0);
		int st = wait_stop(pid);
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != (SIGTRAP | 0x80))
			die("not a syscall stop");
		pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
		if (regs.orig_rax == SYS_getppid)
			break;
	}
	checkf(regs.orig_rax == SYS_getppid && (long)regs.rax == -ENOSYS,
	       "entry stop: orig_rax getppid, rax -ENOSYS");
	long orig = 0;
	pt(PTRACE_PEEKUSER, pid, offsetof(struct user_regs_struct, orig_rax), (unsigned long)&orig);
	checkf(orig == SYS_getppid, "PEEKUSER orig_rax");
	pt(PTRACE_SYSCALL, pid, 0, 0);
	expect_stop("exit stop", pid, "syscall stop");
	pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
	checkf((long)regs.rax == getpid(), "exit stop: rax is the result");
	checkf(pt(PTRACE_POKEUSER, pid, offsetof(struct user_regs_struct, rax), 4242) == 0,
	       "POKEUSER rax");
	/* The write: cancelled at its entry. */
	for (int i = 0; i < 20; i++) {
		pt(PTRACE_SYSCALL, pid, 0, 0);
		wait_stop(pid);
		pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
		if (regs.orig_rax == SYS_write && regs.rdx == 12)
			break;
	}
	regs.orig_rax = -1;
	checkf(pt(PTRACE_SETREGS, pid, 0, (unsigned long)&regs) == 0, "SETREGS orig_rax -1");
	pt(PTRACE_SYSCALL, pid, 0, 0);
	expect_stop("exit stop of the cancelled call", pid, "syscall stop");
	/* On to the int3. */
	pt(PTRACE_CONT, pid, 0, 0);
	expect_stop("int3", pid, "stopped by TRAP");
	pt(PTRACE_GETSIGINFO, pid, 0, (unsigned long)&si);
	checkf(si.si_code == SI_KERNEL, "int3 siginfo: SI_KERNEL");
	pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
	pt(PTRACE_PEEKTEXT, pid, regs.rip - 1, (unsigned long)&word);
	checkf((word & 0xff) == 0xcc, "rip is just past the int3");
	/* A breakpoint written into target_fn's text (read-only, private). */
	unsigned long at = (unsigned long)&target_fn;
	long text = 0;
	pt(PTRACE_PEEKTEXT, pid, at, (unsigned long)&text);
	checkf(pt(PTRACE_POKETEXT, pid, at, (text & ~0xffl) | 0xcc) == 0, "POKETEXT an int3");
	checkf(*(volatile unsigned char *)at != 0xcc, "our own copy of the text is unchanged");
	/* Single steps from here. */
	for (int i = 0; i < 3; i++) {
		unsigned long before = regs.rip;
		pt(PTRACE_SINGLESTEP, pid, 0, 0);
		int st = wait_stop(pid);
		pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
		pt(PTRACE_GETSIGINFO, pid, 0, (unsigned long)&si);
		checkf(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP && regs.rip != before &&
			       !(regs.eflags & 0x100),
		       "single step %d: SIGTRAP, moved on, TF hidden", i + 1);
	}
	pt(PTRACE_CONT, pid, 0, 0);
	expect_stop("breakpoint in target_fn", pid, "stopped by TRAP");
	pt(PTRACE_GETREGS, pid, 0, (unsigned long)&regs);
	checkf(regs.rip == at + 1, "stopped just past the written int3");
	pt(PTRACE_POKETEXT, pid, at, text);
	regs.rip = at;
	pt(PTRACE_SETREGS, pid, 0, (unsigned long)&regs);
	pt(PTRACE_CONT, pid, 0, 0);
	expect_status("child ends", pid, "exited 5");
	checkf(pt(PTRACE_PEEKDATA, pid, 0, (unsigned long)&word) < 0 && errno == ESRCH,
	       "PEEKDATA after the end: ESRCH");
}

static void events(void)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		pt(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		pid_t g = fork();
		if (g == 0)
			_exit(7);
		int st;
		waitpid(g, &st, 0);
		printf("child: grandchild %s\n", status_str(st));
		fflush(stdout);
		exec_self("exit", "9", NULL);
		_exit(99);
	}
	expect_stop("events child stops", pid, "stopped by STOP");
	pt(PTRACE_SETOPTIONS, pid, 0,
	   PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT);
	pt(PTRACE_CONT, pid, 0, 0);
	expect_stop("fork event", pid, "stopped by TRAP, event 1");
	unsigned long msg = 0;
	pt(PTRACE_GETEVENTMSG, pid, 0, (unsigned long)&msg);
	pid_t g = (pid_t)msg;
	expect_stop("the new child starts stopped", g, "stopped by STOP");
	pt(PTRACE_CONT, g, 0, 0);
	expect_stop("grandchild exit event", g, "stopped by TRAP, event 6");
	pt(PTRACE_GETEVENTMSG, g, 0, (unsigned long)&msg);
	checkf(msg == 7 << 8, "exit event message: the wait status");
	pt(PTRACE_CONT, g, 0, 0);
	expect_stop("the tracer sees the grandchild end", g, "exited 7");
	/* Its end is pending for the child as SIGCHLD, which the tracer sees first and passes on. */
	pt(PTRACE_CONT, pid, 0, 0);
	expect_stop("the child's SIGCHLD", pid, "stopped by CHLD");
	pt(PTRACE_CONT, pid, 0, SIGCHLD);
	expect_stop("exec event", pid, "stopped by TRAP, event 4");
	pt(PTRACE_GETEVENTMSG, pid, 0, (unsigned long)&msg);
	checkf((pid_t)msg == pid, "exec event message: the tid");
	pt(PTRACE_CONT, pid, 0, 0);
	expect_stop("exit event", pid, "stopped by TRAP, event 6");
	pt(PTRACE_DETACH, pid, 0, 0);
	expect_status("events child ends", pid, "exited 9");
}

static void attach(void)
{
	int ready[2];
	if (pipe(ready) < 0)
		die("pipe");
	pid_t pid = fork_or_die();
	if (pid == 0) {
		close(ready[0]);
		write(ready[1], "r", 1);
		for (;;)
			pause();
	}
	char c;
	read(ready[0], &c, 1);
	checkf(pt(PTRACE_ATTACH, pid, 0, 0) == 0, "ATTACH");
	checkf(pt(PTRACE_ATTACH, pid, 0, 0) < 0 && errno == EPERM, "ATTACH again: EPERM");
	expect_stop("attached child", pid, "stopped by STOP");
	checkf(pt(PTRACE_DETACH, pid, 0, 0) == 0, "DETACH");
	checkf(pt(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) == 0, "SEIZE");
	checkf(pt(PTRACE_INTERRUPT, pid, 0, 0) == 0, "INTERRUPT");
	int st = wait_stop(pid);
	checkf(WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP, "INTERRUPT: PTRACE_EVENT_STOP");
	pt(PTRACE_KILL, pid, 0, 0);
	expect_status("killed", pid, "killed by KILL");
	checkf(pt(PTRACE_ATTACH, getpid(), 0, 0) < 0 && errno == EPERM, "ATTACH to itself: EPERM");
	checkf(pt(PTRACE_CONT, 999999, 0, 0) < 0 && errno == ESRCH, "CONT of no tracee: ESRCH");
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc >= 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "exit") == 0)
		return atoi(argv[3]);
	setvbuf(stdout, NULL, _IONBF, 0);
	basics();
	events();
	attach();
	return finish();
}
