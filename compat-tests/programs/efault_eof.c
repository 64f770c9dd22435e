/* efault_eof: a buffer outside user space is EFAULT before anything is copied, even when nothing
 * would be (a read at end of file, a zero-length write): Linux checks the whole range first. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include "errname.h"

#define KERNEL ((void *)0xffff800000000000UL)
/* The last page of user space: a range from it of 16 EiB - 8 KiB ends past the top. */
#define LAST_PAGE ((void *)0x00007ffffffff000UL)
#define CROSSING 0x8000000000000000UL

static void report(const char *what, long ret)
{
	printf("%s = %ld%s%s\n", what, ret, ret < 0 ? " " : "", ret < 0 ? errname(errno) : "");
	errno = 0;
}

int main(void)
{
	int fd = memfd_create("efault_eof", 0);
	if (fd < 0) {
		perror("memfd_create");
		return 1;
	}
	errno = 0;
	/* An empty file: every read is at its end. */
	report("read(eof, kernel, 16)", syscall(SYS_read, fd, KERNEL, 16));
	report("read(eof, kernel, 0)", syscall(SYS_read, fd, KERNEL, 0));
	report("read(eof, crossing top)", syscall(SYS_read, fd, LAST_PAGE, CROSSING));
	report("read(eof, wrapping)", syscall(SYS_read, fd, (void *)~0UL, 2));
	report("read(eof, 16, 0)", syscall(SYS_read, fd, (void *)16, 0));
	report("pread(eof, kernel, 16)", syscall(SYS_pread64, fd, KERNEL, 16, 0));
	report("pread(eof, crossing top)", syscall(SYS_pread64, fd, LAST_PAGE, CROSSING, 0));
	struct iovec kv[2] = { { "", 0 }, { KERNEL, 16 } };
	report("readv(eof, kernel)", syscall(SYS_readv, fd, kv, 2));
	struct iovec zv[1] = { { KERNEL, 0 } };
	report("readv(eof, kernel, 0)", syscall(SYS_readv, fd, zv, 1));
	report("preadv(eof, kernel)", syscall(SYS_preadv, fd, kv, 2, 0, 0));
	report("write(kernel, 0)", syscall(SYS_write, fd, KERNEL, 0));
	report("write(kernel, 16)", syscall(SYS_write, fd, KERNEL, 16));
	report("write(crossing top)", syscall(SYS_write, fd, LAST_PAGE, CROSSING));
	report("pwrite(kernel, 0)", syscall(SYS_pwrite64, fd, KERNEL, 0, 0));
	report("writev(kernel)", syscall(SYS_writev, fd, kv, 2));
	report("writev(kernel, 0)", syscall(SYS_writev, fd, zv, 1));
	report("getrandom(kernel, 0)", syscall(SYS_getrandom, KERNEL, 0, 0));
	report("getrandom(crossing top)", syscall(SYS_getrandom, LAST_PAGE, 0x2000, 0));
	/* FUTEX_WAKE_OP's atomic update of a word that is not writable (unmapped; read-only). */
	static int word;
	static const int rodata_word = 0;
	int op = (4 << 28) | (1 << 12); /* XOR the word with 1, wake if it was == 0 */
	report("futex(WAKE_OP, at 16)", syscall(SYS_futex, &word, 5, 1, 1, (int *)16, op));
	report("futex(WAKE_OP, read-only)",
	       syscall(SYS_futex, &word, 5, 1, 1, (int *)&rodata_word, op));
	report("futex(WAKE_OP, kernel)", syscall(SYS_futex, &word, 5, 1, 1, KERNEL, op));
	/* The mode is checked before the buffer. */
	report("read(-1, kernel, 16)", syscall(SYS_read, -1, KERNEL, 16));
	int wo = open("/dev/null", O_WRONLY);
	report("read(write-only, kernel, 16)", syscall(SYS_read, wo, KERNEL, 16));
	report("write(1, kernel, 0)", syscall(SYS_write, 1, KERNEL, 0));
	/* Nothing was written: the file is still empty. */
	char buf[4];
	report("read(eof, buf, 4)", read(fd, buf, 4));
	return 0;
}
