/* fs_memfd: memfd_create: flags and name rules, the /proc/self/fd link, size and content,
 * shared mappings, reopening through /proc, and file seals (F_ADD_SEALS / F_GET_SEALS). */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "fsutil.h"

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#define MFD_CLOEXEC_ 0x1U
#define MFD_ALLOW_SEALING_ 0x2U
#define MFD_NOEXEC_SEAL_ 0x8U

static long memfd(const char *name, unsigned flags)
{
	return syscall(SYS_memfd_create, name, flags);
}

static void describe(int fd)
{
	char path[64], link[256];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	long n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	struct stat st;
	fstat(fd, &st);
	printf("memfd: link=%s %s nlink=%lu size=%lld blocks=%lld F_GETFD=%d F_GETFL=0%o\n", link,
	       mode_string(st.st_mode), (unsigned long)st.st_nlink, (long long)st.st_size,
	       (long long)st.st_blocks, fcntl(fd, F_GETFD), (unsigned)fcntl(fd, F_GETFL));
	fflush(stdout);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_memfd");
	char buf[64];
	int fd;
	CHECK(fd = memfd("plain", 0));
	describe(fd);
	CHECK(write(fd, "hello memfd", 11));
	CHECK(pread(fd, buf, sizeof buf, 6));
	print_bytes("pread(6)", buf, 5);
	CHECK(ftruncate(fd, 8192));
	describe(fd);
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int again;
	CHECK(again = open(path, O_RDWR));
	CHECK(read(again, buf, 5));
	print_bytes("read through /proc/self/fd", buf, 5);
	CHECK(close(again));
	CHECK(close(fd));

	CHECK(fd = memfd("sealed", MFD_CLOEXEC_ | MFD_ALLOW_SEALING_));
	describe(fd);
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(write(fd, "0123456789", 10));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK));
	CHECK(ftruncate(fd, 5));
	CHECK(ftruncate(fd, 20));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(ftruncate(fd, 30));
	CHECK(pwrite(fd, "x", 1, 25));
	CHECK(pwrite(fd, "AB", 2, 0));
	/* A writable shared mapping is the file: its stores are what read(2) returns, and
	 * F_SEAL_WRITE waits (EBUSY) until no such mapping is left. */
	char *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	yes("writable shared mapping", w != MAP_FAILED);
	if (w != MAP_FAILED) {
		yes("it shows the file", w[0] == 'A' && w[25] == 'x');
		memcpy(w + 2, "cd", 2);
		CHECK(pread(fd, buf, 4, 0));
		print_bytes("read after a store through the mapping", buf, 4);
		CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
		CHECK(munmap(w, 4096));
	}
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	CHECK(write(fd, "x", 1));
	CHECK(pwrite(fd, "x", 1, 0));
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	char *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	yes("read-only private mapping still works", m != MAP_FAILED && m[0] == 'A');
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL));
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW));
	CHECK(fcntl(fd, F_ADD_SEALS, 0x100000));
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(close(fd));

	CHECK(fd = memfd("noexec", MFD_NOEXEC_SEAL_));
	describe(fd);
	CHECK(fcntl(fd, F_GET_SEALS));
	CHECK(close(fd));

	char name[300];
	memset(name, 'm', 249);
	name[249] = 0;
	CHECK(fd = memfd(name, 0));
	CHECK(close(fd));
	name[249] = 'm';
	name[250] = 0;
	CHECK(memfd(name, 0));
	CHECK(memfd("bad flags", 0x80));
	CHECK(memfd(BAD_PTR, 0));
	CHECK(fd = memfd("", 0));
	describe(fd);
	CHECK(close(fd));
	CHECK(fd = memfd("with/slash", 0));
	CHECK(close(fd));
	return fs_end();
}
