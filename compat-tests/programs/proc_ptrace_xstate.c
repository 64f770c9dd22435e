/* proc_ptrace_xstate: the XSAVE register set (NT_X86_XSTATE) read and written with
 * PTRACE_GETREGSET/SETREGSET, as gdb writes registers back after an inferior function call or
 * `set var $xmm0...`: an xmm register changed at a stop is what the tracee then reads; a buffer
 * shorter than the XSAVE size is EFAULT; a compacted format, unknown components and MXCSR
 * bits the CPU refuses are EINVAL. No pid or address is printed. */
#define _GNU_SOURCE
#include <elf.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include "procutil.h"

static int wait_stop(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

static int setregset(pid_t pid, void *buf, size_t len)
{
	struct iovec iov = {buf, len};
	errno = 0;
	return ptrace(PTRACE_SETREGSET, pid, NT_X86_XSTATE, &iov) == 0 ? 0 : errno;
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	setvbuf(stdout, NULL, _IONBF, 0);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		uint64_t lo;
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		__asm__ volatile("int3; movq %%xmm0, %0" : "=r"(lo) : : "memory");
		printf("child: xmm0 low %#llx\n", (unsigned long long)lo);
		_exit(3);
	}
	int st = wait_stop(pid);
	checkf(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP, "child stopped at int3");
	static unsigned char buf[16384] __attribute__((aligned(64)));
	struct iovec iov = {buf, sizeof buf};
	checkf(ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov) == 0, "GETREGSET NT_X86_XSTATE");
	size_t size = iov.iov_len;
	checkf(size >= 576 && size < sizeof buf, "the XSAVE size");
	uint64_t xcr0;
	memcpy(&xcr0, buf + 464, 8);
	checkf((xcr0 & 3) == 3, "XCR0 in the software-reserved bytes has x87 and SSE");
	uint64_t pattern = 0x1122334455667788;
	memcpy(buf + 160, &pattern, 8);
	uint64_t bv;
	memcpy(&bv, buf + 512, 8);
	bv |= 2;
	memcpy(buf + 512, &bv, 8);
	checkf(setregset(pid, buf, size - 64) == EFAULT, "a short buffer: EFAULT");
	buf[512 + 8] = 1;
	checkf(setregset(pid, buf, size) == EINVAL, "a compacted format: EINVAL");
	buf[512 + 8] = 0;
	uint64_t bad = bv | (1ull << 62);
	memcpy(buf + 512, &bad, 8);
	checkf(setregset(pid, buf, size) == EINVAL, "an unknown component: EINVAL");
	memcpy(buf + 512, &bv, 8);
	uint32_t mxcsr, badmx = 0xffffffff;
	memcpy(&mxcsr, buf + 24, 4);
	memcpy(buf + 24, &badmx, 4);
	checkf(setregset(pid, buf, size) == EINVAL, "MXCSR bits the CPU refuses: EINVAL");
	memcpy(buf + 24, &mxcsr, 4);
	checkf(setregset(pid, buf, size) == 0, "SETREGSET with xmm0 changed");
	memset(buf, 0, sizeof buf);
	iov.iov_len = sizeof buf;
	ptrace(PTRACE_GETREGSET, pid, NT_X86_XSTATE, &iov);
	uint64_t got;
	memcpy(&got, buf + 160, 8);
	checkf(got == pattern, "GETREGSET reads it back");
	ptrace(PTRACE_CONT, pid, 0, 0);
	expect_status("child", pid, "exited 3");
	return finish();
}
