/* efault: system calls given bad user pointers fail with EFAULT instead of crashing. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "errname.h"

static void report(const char *what, long ret)
{
	printf("%s = %ld%s%s\n", what, ret, ret < 0 ? " " : "", ret < 0 ? errname(errno) : "");
}

int main(void)
{
	/* Raw syscalls: the libc wrappers' prototypes would let the compiler assume non-null. */
	errno = 0;
	report("write(1, 16, 5)", syscall(SYS_write, 1, (void *)16, 5));
	errno = 0;
	report("write(1, kernel address, 5)",
	       syscall(SYS_write, 1, (void *)0xffffffff81000000UL, 5));
	errno = 0;
	report("write(1, non-canonical, 5)",
	       syscall(SYS_write, 1, (void *)0x0000800000000000UL, 5));
	errno = 0;
	report("read(0, 16, 5)", syscall(SYS_read, 0, (void *)16, 5));
	errno = 0;
	report("open(16)", syscall(SYS_open, (void *)16, O_RDONLY));
	errno = 0;
	report("uname(16)", syscall(SYS_uname, (void *)16));
	errno = 0;
	report("uname(kernel address)", syscall(SYS_uname, (void *)0xffffffff80100000UL));
	errno = 0;
	report("write(-1, 16, 5)", syscall(SYS_write, -1, (void *)16, 5));
	errno = 0;
	report("write(1, valid, 0)", syscall(SYS_write, 1, "", 0));
	return 0;
}
