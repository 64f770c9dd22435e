/* fs_dev: the device files a container has: /dev/null, zero, full, random, urandom (modes,
 * device numbers, reads, writes, seeks, mmap), the /dev/fd and /dev/std* links, getrandom,
 * and device nodes made with mknod in a tmpfs directory. */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include "fsutil.h"

static void dev_stat(const char *path)
{
	struct stat st;
	errno = 0;
	if (stat(path, &st) != 0) {
		printf("stat(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	printf("%s: %s rdev=%u:%u size=%lld nlink=%lu uid=%u\n", path, mode_string(st.st_mode),
	       major(st.st_rdev), minor(st.st_rdev), (long long)st.st_size,
	       (unsigned long)st.st_nlink, (unsigned)st.st_uid);
	fflush(stdout);
}

static int all_zero(const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i])
			return 0;
	return 1;
}

static void null_zero_full(void)
{
	char buf[256];
	int fd;
	dev_stat("/dev/null");
	CHECK(fd = open("/dev/null", O_RDWR));
	CHECK(read(fd, buf, sizeof buf));
	CHECK(write(fd, buf, sizeof buf));
	CHECK(syscall(SYS_write, fd, BAD_PTR, 10));
	CHECK(lseek(fd, 100, SEEK_SET));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(pread(fd, buf, 10, 5));
	CHECK(pwrite(fd, buf, 10, 5));
	struct termios t;
	CHECK(ioctl(fd, TCGETS, &t));
	int n;
	CHECK(ioctl(fd, FIONREAD, &n));
	CHECK(fsync(fd));
	CHECK(ftruncate(fd, 0));
	CHECK(close(fd));
	CHECK(fd = open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644));
	CHECK(close(fd));
	dev_stat("/dev/null");
	CHECK(open("/dev/null", O_WRONLY | O_CREAT | O_EXCL, 0644));
	CHECK(open("/dev/null/", O_RDONLY));
	CHECK(open("/dev/null", O_RDONLY | O_DIRECTORY));

	dev_stat("/dev/zero");
	CHECK(fd = open("/dev/zero", O_RDWR));
	memset(buf, 'x', sizeof buf);
	CHECK(read(fd, buf, sizeof buf));
	yes("zeros", all_zero(buf, sizeof buf));
	CHECK(write(fd, "abc", 3));
	CHECK(lseek(fd, 12345, SEEK_SET));
	char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	yes("mmap(/dev/zero, MAP_PRIVATE)", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		yes("mapped zeros", all_zero(m, 8192));
		m[100] = 1;
		yes("writable", m[100] == 1);
		munmap(m, 8192);
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	yes("mmap(/dev/zero, MAP_SHARED)", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		m[0] = 7;
		yes("writable", m[0] == 7);
		munmap(m, 4096);
	}
	CHECK(close(fd));

	dev_stat("/dev/full");
	CHECK(fd = open("/dev/full", O_RDWR));
	CHECK(write(fd, "x", 1));
	CHECK(write(fd, "x", 0));
	memset(buf, 'x', sizeof buf);
	CHECK(read(fd, buf, sizeof buf));
	yes("zeros", all_zero(buf, sizeof buf));
	CHECK(lseek(fd, 0, SEEK_END));
	CHECK(close(fd));
}

static void randomness(void)
{
	char a[64], b[64];
	int fd;
	dev_stat("/dev/urandom");
	dev_stat("/dev/random");
	CHECK(fd = open("/dev/urandom", O_RDONLY));
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	CHECK(read(fd, a, sizeof a));
	CHECK(read(fd, b, sizeof b));
	yes("two reads differ", memcmp(a, b, sizeof a) != 0);
	yes("not all zero", !all_zero(a, sizeof a));
	static char big[1 << 20];
	CHECK(read(fd, big, sizeof big));
	int counts[256] = {0};
	for (size_t i = 0; i < sizeof big; i++)
		counts[(unsigned char)big[i]]++;
	int min = counts[0], max = counts[0];
	for (int i = 1; i < 256; i++) {
		min = counts[i] < min ? counts[i] : min;
		max = counts[i] > max ? counts[i] : max;
	}
	yes("1 MiB of it uses every byte value about evenly", min > 3500 && max < 4700);
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(close(fd));
	CHECK(fd = open("/dev/urandom", O_WRONLY));
	CHECK(write(fd, "entropy", 7));
	CHECK(close(fd));
	CHECK(fd = open("/dev/random", O_RDONLY | O_NONBLOCK));
	CHECK(read(fd, a, 16));
	CHECK(close(fd));
	CHECK(syscall(SYS_getrandom, a, 16, 0));
	CHECK(syscall(SYS_getrandom, a, 16, 1));
	CHECK(syscall(SYS_getrandom, a, 16, 2));
	CHECK(syscall(SYS_getrandom, a, 16, 0x40));
	CHECK(syscall(SYS_getrandom, BAD_PTR, 16, 0));
	CHECK(syscall(SYS_getrandom, a, 0, 0));
}

static void links_to_fds(void)
{
	char buf[64];
	const char *links[] = {"/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"};
	for (int i = 0; i < 4; i++) {
		errno = 0;
		long n = readlink(links[i], buf, sizeof buf);
		if (n < 0) {
			printf("readlink(%s) = -1 %s\n", links[i], errname(errno));
		} else {
			char label[64];
			snprintf(label, sizeof label, "readlink(%s)", links[i]);
			print_bytes(label, buf, n);
		}
	}
	int fd;
	CHECK(fd = open("/dev/stdout", O_WRONLY));
	CHECK(write(fd, "written to /dev/stdout\n", 23));
	CHECK(close(fd));
	CHECK(fd = open("/dev/fd/2", O_WRONLY));
	CHECK(write(fd, "written to /dev/fd/2\n", 21));
	CHECK(close(fd));
	CHECK(fd = open("/dev/stdin", O_RDONLY));
	CHECK(read(fd, buf, sizeof buf));
	CHECK(close(fd));
	CHECK(open("/dev/fd/9999", O_RDONLY));
}

static void nodes(void)
{
	int fd;
	char buf[16];
	CHECK(mknod("null2", S_IFCHR | 0666, makedev(1, 3)));
	CHECK(mknod("zero2", S_IFCHR | 0640, makedev(1, 5)));
	CHECK(mknod("sock", S_IFSOCK | 0600, 0));
	dev_stat("null2");
	dev_stat("zero2");
	dev_stat("sock");
	CHECK(fd = open("null2", O_RDWR));
	CHECK(write(fd, "gone", 4));
	CHECK(read(fd, buf, sizeof buf));
	CHECK(close(fd));
	CHECK(fd = open("zero2", O_RDONLY));
	memset(buf, 'x', sizeof buf);
	CHECK(read(fd, buf, sizeof buf));
	yes("zeros", all_zero(buf, sizeof buf));
	CHECK(close(fd));
	CHECK(open("sock", O_RDONLY));
	CHECK(mknod("null2", S_IFCHR | 0666, makedev(1, 3)));
	CHECK(rename("null2", "renamed-null"));
	dev_stat("renamed-null");
	CHECK(unlink("renamed-null"));
	CHECK(unlink("zero2"));
	CHECK(unlink("sock"));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_dev");
	null_zero_full();
	randomness();
	links_to_fds();
	nodes();
	return fs_end();
}
