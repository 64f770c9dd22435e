/* proc_ptrace_dr: hardware breakpoints through the debug registers in struct user, as gdb's
 * `watch`, `rwatch` and `hbreak` set them with PTRACE_POKEUSER: a write watchpoint and an
 * access watchpoint on a variable (the stop after the access, SIGTRAP with TRAP_HWBKPT, which
 * one fired in DR6 (and BS after a single step), which gdb then clears), an instruction breakpoint (the stop before the
 * instruction, and going on from it without stopping again), what PEEKUSER reads back, the
 * values DR7 refuses, and a child that never had any. No pid or address is printed. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include "procutil.h"

static volatile int watched;
static volatile int other;

static void __attribute__((noinline)) hw_target(void)
{
	__asm__ volatile("nop");
	other++;
}

#define DR(n) (offsetof(struct user, u_debugreg) + (n) * sizeof(long))
/* DR7: local enable of breakpoint n, its type (0 exec, 1 write, 3 read/write), its length. */
#define ENABLE(n) (1ul << (2 * (n)))
#define TYPE(n, t) ((unsigned long)(t) << (16 + 4 * (n)))
#define LEN(n, l) ((unsigned long)(l) << (18 + 4 * (n)))
#define LEN4 3

static int wait_stop(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

static long peekuser(pid_t pid, unsigned long off)
{
	errno = 0;
	long v = ptrace(PTRACE_PEEKUSER, pid, off, 0);
	if (errno)
		die("PEEKUSER");
	return v;
}

static int pokeuser(pid_t pid, unsigned long off, unsigned long v)
{
	errno = 0;
	return ptrace(PTRACE_POKEUSER, pid, off, v) == 0 ? 0 : errno;
}

static void expect_trap(const char *what, pid_t pid)
{
	int st = wait_stop(pid);
	checkf(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP, "%s: SIGTRAP stop", what);
	siginfo_t si;
	ptrace(PTRACE_GETSIGINFO, pid, 0, &si);
	printf("%s: si_code %d, DR6 status bits %#lx\n", what, si.si_code, peekuser(pid, DR(6)) & 0x400f);
}

static unsigned long rip_of(pid_t pid)
{
	struct user_regs_struct r;
	ptrace(PTRACE_GETREGS, pid, 0, &r);
	return r.rip;
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		watched = 1;
		other = watched + 1;
		hw_target();
		printf("child: went on after the instruction breakpoint, other %d\n", other);
		watched = 2;
		_exit(4);
	}
	checkf(WIFSTOPPED(wait_stop(pid)), "child stopped");
	for (int i = 0; i < 8; i++)
		printf("DR%d reads %ld\n", i, peekuser(pid, DR(i)));
	/* A single step shows BS in DR6 and TRAP_TRACE. */
	ptrace(PTRACE_SINGLESTEP, pid, 0, 0);
	expect_trap("single step", pid);
	checkf(pokeuser(pid, DR(4), 0) == EIO, "DR4 is not writable: EIO");
	checkf(pokeuser(pid, DR(0), (uintptr_t)&watched) == 0, "DR0 = &watched");
	checkf(pokeuser(pid, DR(7), ENABLE(0) | TYPE(0, 2) | LEN(0, LEN4)) == EINVAL,
	       "an I/O breakpoint: EINVAL");
	checkf(pokeuser(pid, DR(7), ENABLE(0) | TYPE(0, 0) | LEN(0, LEN4)) == EINVAL,
	       "an instruction breakpoint longer than a byte: EINVAL");
	unsigned long dr7 = ENABLE(0) | TYPE(0, 1) | LEN(0, LEN4);
	checkf(pokeuser(pid, DR(7), dr7) == 0, "DR7: a write watchpoint");
	checkf((unsigned long)peekuser(pid, DR(7)) == dr7, "DR7 reads back");
	checkf((unsigned long)peekuser(pid, DR(0)) == (uintptr_t)&watched, "DR0 reads back");
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_trap("write watchpoint", pid);
	long v = ptrace(PTRACE_PEEKDATA, pid, &watched, 0);
	printf("watched is %d at the stop\n", (int)v);
	checkf(pokeuser(pid, DR(6), 0) == 0 && peekuser(pid, DR(6)) == 0, "DR6 cleared");
	/* An access watchpoint: the read of `watched` for `other`. */
	dr7 = ENABLE(0) | TYPE(0, 3) | LEN(0, LEN4);
	checkf(pokeuser(pid, DR(7), dr7) == 0, "DR7: an access watchpoint");
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_trap("access watchpoint", pid);
	pokeuser(pid, DR(6), 0);
	checkf(pokeuser(pid, DR(1), (uintptr_t)hw_target) == 0, "DR1 = hw_target");
	dr7 = ENABLE(1) | TYPE(1, 0) | LEN(1, 0);
	checkf(pokeuser(pid, DR(7), dr7) == 0, "DR7: an instruction breakpoint only");
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_trap("instruction breakpoint", pid);
	checkf(rip_of(pid) == (uintptr_t)hw_target, "stopped before the instruction");
	pokeuser(pid, DR(6), 0);
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_status("child", pid, "exited 4");

	/* A new child starts with none. */
	pid = fork_or_die();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		watched = 3;
		_exit(5);
	}
	checkf(WIFSTOPPED(wait_stop(pid)), "second child stopped");
	checkf(peekuser(pid, DR(7)) == 0 && peekuser(pid, DR(0)) == 0, "no breakpoints in a new child");
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_status("second child", pid, "exited 5");
	return finish();
}
