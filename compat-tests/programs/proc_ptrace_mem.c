/* proc_ptrace_mem: what gdb reads of its inferior through /proc: /proc/PID/mem with pread and
 * pwrite (a variable, a forced write into read-only program text, an unmapped address: EIO, a
 * read across into an unmapped page: short), read and write at the file offset after lseek, the
 * file of a process that has since exec'd (reads give 0), and /proc/PID/auxv against
 * getauxval. No pid or address is printed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include "procutil.h"

static volatile long marker = 0x1122334455667788;

static void __attribute__((noinline)) text_fn(void)
{
	__asm__ volatile("nop; nop; nop; nop");
}

static int wait_stop(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

static int open_mem(pid_t pid, int flags)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/mem", pid);
	int fd = open(path, flags);
	if (fd < 0)
		die("open mem");
	return fd;
}

static void mem_of_child(void)
{
	/* Two pages, the second unmapped, so that a read can run into a hole. */
	char *area = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		die("mmap");
	munmap(area + 4096, 4096);
	memset(area, 'a', 4096);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		printf("child: marker %#lx, area starts %.4s\n", marker, area);
		printf("child: text byte now %#x\n", *(volatile unsigned char *)(uintptr_t)text_fn);
		exec_self("exit", "6", NULL);
		_exit(99);
	}
	checkf(WIFSTOPPED(wait_stop(pid)), "child stopped");
	int fd = open_mem(pid, O_RDWR);
	long v = 0;
	checkf(pread(fd, &v, sizeof v, (uintptr_t)&marker) == sizeof v && v == marker,
	       "pread of a variable");
	long nv = 0x0102030405060708;
	checkf(pwrite(fd, &nv, sizeof nv, (uintptr_t)&marker) == sizeof nv, "pwrite of a variable");
	checkf(pwrite(fd, "BBBB", 4, (uintptr_t)area) == 4, "pwrite of the area");
	unsigned char int3 = 0xcc, orig = 0;
	checkf(pread(fd, &orig, 1, (uintptr_t)text_fn) == 1, "pread of text");
	checkf(pwrite(fd, &int3, 1, (uintptr_t)text_fn) == 1, "forced pwrite into read-only text");
	unsigned char back = 0;
	checkf(pread(fd, &back, 1, (uintptr_t)text_fn) == 1 && back == 0xcc, "text reads back int3");
	checkf(*(volatile unsigned char *)(uintptr_t)text_fn == orig, "the tracer's own text is untouched");
	char buf[64];
	errno = 0;
	checkf(pread(fd, buf, 8, 8) < 0 && errno == EIO, "pread at an unmapped address: EIO");
	errno = 0;
	checkf(pwrite(fd, buf, 8, 8) < 0 && errno == EIO, "pwrite at an unmapped address: EIO");
	ssize_t n = pread(fd, buf, 16, (uintptr_t)area + 4096 - 6);
	printf("read across into a hole: %zd\n", n);
	checkf(lseek(fd, (uintptr_t)&marker, SEEK_SET) == (off_t)(uintptr_t)&marker, "lseek to the variable");
	v = 0;
	checkf(read(fd, &v, sizeof v) == sizeof v && v == nv, "read at the offset");
	checkf(lseek(fd, 0, SEEK_CUR) == (off_t)(uintptr_t)&marker + 8, "read moved the offset");
	checkf(lseek(fd, (uintptr_t)&marker, SEEK_SET) >= 0 && write(fd, &nv, 4) == 4, "write at the offset");
	ptrace(PTRACE_CONT, pid, 0, 0);
	int st = wait_stop(pid);
	checkf(WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP, "exec stops the tracee with SIGTRAP");
	n = pread(fd, &v, sizeof v, (uintptr_t)&marker);
	printf("pread after exec: %zd\n", n);
	close(fd);
	ptrace(PTRACE_DETACH, pid, 0, 0);
	expect_status("child", pid, "exited 6");
	munmap(area, 4096);
}

static void auxv_of_self(void)
{
	int fd = open("/proc/self/auxv", O_RDONLY);
	if (fd < 0)
		die("open auxv");
	unsigned long words[128];
	ssize_t n = read(fd, words, sizeof words);
	close(fd);
	checkf(n > 0 && n % 16 == 0, "auxv: whole pairs");
	int pairs = n / 16, nulls = 0, matched = 0;
	for (int i = 0; i < pairs; i++) {
		unsigned long key = words[2 * i], val = words[2 * i + 1];
		if (key == AT_NULL) {
			nulls++;
			checkf(i == pairs - 1, "AT_NULL ends auxv");
			continue;
		}
		/* glibc answers AT_HWCAP from its own CPU feature bits on x86_64. */
		if (key == AT_HWCAP || key == AT_HWCAP2 || getauxval(key) == val)
			matched++;
		else
			printf("auxv key %lu differs from getauxval\n", key);
	}
	checkf(nulls == 1, "one AT_NULL");
	checkf(matched == pairs - 1, "every pair is what getauxval says");
	checkf(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ");
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc >= 4 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "exit") == 0)
		return atoi(argv[3]);
	setvbuf(stdout, NULL, _IONBF, 0);
	mem_of_child();
	auxv_of_self();
	return finish();
}
