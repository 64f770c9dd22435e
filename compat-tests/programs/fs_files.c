/* fs_files: regular files: open flags, the read/write/seek family, truncate, fallocate, a
 * sparse file at 1 GiB, O_TMPFILE, sendfile, copy_file_range and the sync calls. */
#define _GNU_SOURCE
#include <sys/sendfile.h>
#include <sys/uio.h>
#include "fsutil.h"

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef FALLOC_FL_ZERO_RANGE
#define FALLOC_FL_ZERO_RANGE 0x10
#endif
#define RWF_APPEND_ 0x10

static void show_size(const char *label, int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		printf("%s: fstat failed %s\n", label, errname(errno));
		return;
	}
	printf("%s: size=%lld blocks=%lld\n", label, (long long)st.st_size,
	       (long long)st.st_blocks);
	fflush(stdout);
}

static void opens(void)
{
	char buf[64];
	int fd;
	CHECK(open("missing", O_RDONLY));
	CHECK(fd = open("a", O_RDWR | O_CREAT, 0666));
	show_stat("a");
	CHECK(write(fd, "hello world\n", 12));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(lseek(fd, 0, SEEK_SET));
	long n;
	SHOW("read(5)", n = read(fd, buf, 5));
	print_bytes("read", buf, n);
	SHOW("read(64) to the end", n = read(fd, buf, sizeof buf));
	print_bytes("read", buf, n);
	CHECK(read(fd, buf, sizeof buf));
	CHECK(lseek(fd, 0, SEEK_END));
	CHECK(lseek(fd, -1, SEEK_SET));
	CHECK(lseek(fd, -13, SEEK_END));
	CHECK(lseek(fd, 0, 42));
	CHECK(lseek(fd, 100, SEEK_SET));
	CHECK(read(fd, buf, 10));
	CHECK(write(fd, "X", 1));
	show_size("after a write at 100", fd);
	CHECK(lseek(fd, 0, SEEK_DATA));
	CHECK(lseek(fd, 0, SEEK_HOLE));
	CHECK(lseek(fd, 200, SEEK_DATA));
	CHECK(write(fd, buf, 0));
	CHECK(close(fd));
	CHECK(close(fd));

	CHECK(fd = open("a", O_WRONLY));
	CHECK(read(fd, buf, 1));
	CHECK(close(fd));
	CHECK(fd = open("a", O_RDONLY));
	CHECK(write(fd, "x", 1));
	CHECK(ftruncate(fd, 0));
	CHECK(close(fd));

	CHECK(open("a", O_CREAT | O_EXCL | O_WRONLY, 0644));
	CHECK(fd = open("a", O_EXCL | O_RDONLY));
	CHECK(close(fd));
	CHECK(fd = open("b", O_CREAT | O_EXCL | O_WRONLY, 0640));
	show_stat("b");
	CHECK(close(fd));
	CHECK(fd = open("c", O_CREAT | O_WRONLY, 07777));
	show_stat("c");
	CHECK(close(fd));
	CHECK(open("a", O_RDONLY | O_DIRECTORY));
	CHECK(open("a/", O_RDONLY));
	CHECK(mkdir("d", 0755));
	CHECK(fd = open("d", O_RDONLY | O_DIRECTORY));
	CHECK(read(fd, buf, sizeof buf));
	CHECK(close(fd));
	CHECK(open("d", O_RDWR));
	CHECK(open("d", O_WRONLY));
	CHECK(open("d", O_RDONLY | O_CREAT, 0644));
	CHECK(open("new-dir-file", O_RDONLY | O_CREAT | O_DIRECTORY, 0644));
	yes("O_CREAT|O_DIRECTORY created nothing", access("new-dir-file", F_OK) != 0);
	CHECK(open("a", O_RDONLY | O_NOFOLLOW));
}

static void append_and_trunc(void)
{
	char buf[64];
	int fd;
	CHECK(put_file("ap", "0123456789"));
	CHECK(fd = open("ap", O_RDWR | O_APPEND));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(write(fd, "ab", 2));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(lseek(fd, 2, SEEK_SET));
	CHECK(write(fd, "cd", 2));
	CHECK(lseek(fd, 0, SEEK_CUR));
	/* pwrite on an O_APPEND file appends: a Linux bug documented in pwrite(2) BUGS. */
	CHECK(pwrite(fd, "EF", 2, 0));
	CHECK(pread(fd, buf, 4, 0));
	print_bytes("pread(4, 0)", buf, 4);
	CHECK(close(fd));
	show_file("ap");

	CHECK(fd = open("ap", O_WRONLY | O_TRUNC));
	show_size("after O_TRUNC", fd);
	CHECK(close(fd));
	CHECK(put_file("ap", "again"));
	/* O_RDONLY|O_TRUNC is unspecified by POSIX; Linux truncates. */
	CHECK(fd = open("ap", O_RDONLY | O_TRUNC));
	show_size("after O_RDONLY|O_TRUNC", fd);
	CHECK(close(fd));
}

static void positional(void)
{
	char buf[64] = {0};
	int fd;
	CHECK(fd = open("pos", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(write(fd, "abcdefghij", 10));
	CHECK(pwrite(fd, "XY", 2, 3));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(pread(fd, buf, 4, 2));
	print_bytes("pread(4, 2)", buf, 4);
	CHECK(pread(fd, buf, 4, 1000));
	CHECK(pread(fd, buf, 4, -1));
	CHECK(pwrite(fd, "x", 1, -5));
	CHECK(lseek(fd, 0, SEEK_CUR));

	struct iovec w[3] = {{"one ", 4}, {"", 0}, {"two\n", 4}};
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(writev(fd, w, 3));
	CHECK(lseek(fd, 0, SEEK_CUR));
	char a[3], b[5];
	struct iovec r[2] = {{a, sizeof a}, {b, sizeof b}};
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(readv(fd, r, 2));
	print_bytes("readv iov[0]", a, sizeof a);
	print_bytes("readv iov[1]", b, sizeof b);
	CHECK(writev(fd, w, 0));
	CHECK(syscall(SYS_writev, fd, w, -1));
	CHECK(syscall(SYS_writev, fd, w, 1025));
	struct iovec bad[1] = {{BAD_PTR, 4}};
	CHECK(writev(fd, bad, 1));
	CHECK(preadv(fd, r, 2, 4));
	print_bytes("preadv(4) iov[0]", a, sizeof a);
	CHECK(pwritev(fd, w, 3, 10));
	CHECK(lseek(fd, 0, SEEK_CUR));
	/* preadv2/pwritev2: offset -1 means the file offset, which then moves. */
	CHECK(lseek(fd, 0, SEEK_SET));
	CHECK(syscall(SYS_preadv2, fd, r, 1, -1L, 0L, 0));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(syscall(SYS_preadv2, fd, r, 1, 0L, 0L, 0));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(syscall(SYS_pwritev2, fd, w, 1, 0L, 0L, RWF_APPEND_));
	CHECK(syscall(SYS_preadv2, fd, r, 1, 0L, 0L, 0x80000000));
	CHECK(close(fd));
	show_file("pos");

	/* A bigger file read back in odd chunks. */
	static char big[100000], back[100000];
	for (int i = 0; i < (int)sizeof big; i++)
		big[i] = (char)(i * 31 + i / 1000);
	CHECK(fd = open("big", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(write(fd, big, sizeof big));
	CHECK(lseek(fd, 0, SEEK_SET));
	long got = 0, n;
	while ((n = read(fd, back + got, 7777)) > 0)
		got += n;
	printf("read back %ld bytes, equal: %s\n", got,
	       memcmp(big, back, sizeof big) ? "no" : "yes");
	show_size("big", fd);
	CHECK(close(fd));
}

static void truncation(void)
{
	int fd;
	CHECK(put_file("t", "truncate me"));
	CHECK(truncate("t", 3));
	show_file("t");
	CHECK(truncate("t", 6));
	show_file("t");
	CHECK(truncate("t", -1));
	CHECK(truncate("missing", 0));
	CHECK(truncate("d", 0));
	CHECK(truncate("t/", 0));
	CHECK(fd = open("t", O_RDWR));
	CHECK(ftruncate(fd, 1));
	CHECK(ftruncate(fd, -1));
	show_size("after ftruncate(1)", fd);
	CHECK(close(fd));
	show_file("t");
}

static void allocation(void)
{
	int fd;
	CHECK(fd = open("falloc", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(fallocate(fd, 0, 0, 8192));
	show_size("fallocate(0, 8192)", fd);
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	show_size("fallocate(KEEP_SIZE, 8192, 8192)", fd);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096));
	show_size("punched [0, 4096)", fd);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096));
	CHECK(fallocate(fd, 0, 0, 0));
	CHECK(fallocate(fd, 0, -1, 10));
	CHECK(fallocate(9999, 0, 0, 10));
	CHECK(close(fd));
	CHECK(fd = open("falloc", O_RDONLY));
	CHECK(fallocate(fd, 0, 0, 10));
	CHECK(close(fd));

	/* A sparse file: one byte run at 1 GiB takes one page. */
	char buf[16] = {1};
	CHECK(fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(pwrite(fd, "end", 3, 1L << 30));
	show_size("sparse", fd);
	CHECK(pread(fd, buf, 16, 512L << 20));
	yes("the hole reads as zeros", buf[0] == 0 && buf[15] == 0);
	CHECK(lseek(fd, 0, SEEK_DATA));
	CHECK(lseek(fd, 0, SEEK_HOLE));
	CHECK(lseek(fd, (1L << 30) + 1, SEEK_HOLE));
	CHECK(ftruncate(fd, 1L << 40));
	show_size("truncated up to 1 TiB", fd);
	CHECK(ftruncate(fd, 0));
	show_size("truncated to 0", fd);
	CHECK(close(fd));
}

static void o_tmpfile(void)
{
	char buf[16];
	int fd;
	CHECK(fd = open(".", O_TMPFILE | O_RDWR, 0600));
	CHECK(write(fd, "anon", 4));
	struct stat st;
	CHECK(fstat(fd, &st));
	printf("O_TMPFILE: %s nlink=%lu size=%lld\n", mode_string(st.st_mode),
	       (unsigned long)st.st_nlink, (long long)st.st_size);
	CHECK(linkat(fd, "", AT_FDCWD, "named", AT_EMPTY_PATH));
	show_stat("named");
	CHECK(close(fd));
	show_file("named");
	CHECK(fd = open(".", O_TMPFILE | O_RDWR | O_EXCL, 0600));
	CHECK(linkat(fd, "", AT_FDCWD, "never", AT_EMPTY_PATH));
	CHECK(pread(fd, buf, 4, 0));
	CHECK(close(fd));
	CHECK(open(".", O_TMPFILE | O_RDONLY, 0600));
	CHECK(open("a", O_TMPFILE | O_RDWR, 0600));
	CHECK(open("missing-dir", O_TMPFILE | O_RDWR, 0600));
}

static void transfers(void)
{
	char buf[64];
	int in, out;
	CHECK(put_file("src", "0123456789abcdef"));
	CHECK(in = open("src", O_RDONLY));
	CHECK(out = open("dst", O_RDWR | O_CREAT | O_TRUNC, 0644));
	off_t off = 4;
	CHECK(sendfile(out, in, &off, 6));
	printf("sendfile offset now %lld\n", (long long)off);
	CHECK(lseek(in, 0, SEEK_CUR));
	CHECK(sendfile(out, in, NULL, 3));
	CHECK(lseek(in, 0, SEEK_CUR));
	CHECK(sendfile(out, in, NULL, 100));
	CHECK(sendfile(out, in, NULL, 100));
	CHECK(sendfile(in, out, NULL, 1));
	CHECK(sendfile(9999, in, NULL, 1));
	show_file("dst");

	off_t off_in = 10, off_out = 0;
	CHECK(ftruncate(out, 0));
	CHECK(syscall(SYS_copy_file_range, in, &off_in, out, &off_out, 4L, 0));
	printf("copy_file_range offsets now %lld %lld\n", (long long)off_in, (long long)off_out);
	CHECK(lseek(in, 0, SEEK_SET));
	CHECK(lseek(out, 0, SEEK_END));
	CHECK(syscall(SYS_copy_file_range, in, NULL, out, NULL, 100L, 0));
	CHECK(lseek(in, 0, SEEK_CUR));
	CHECK(syscall(SYS_copy_file_range, in, NULL, out, NULL, 100L, 0));
	CHECK(syscall(SYS_copy_file_range, in, NULL, out, NULL, 4L, 1));
	off_in = 0;
	off_out = 2;
	CHECK(syscall(SYS_copy_file_range, out, &off_in, out, &off_out, 4L, 0));
	CHECK(pread(out, buf, sizeof buf, 0));
	show_file("dst");

	CHECK(fsync(out));
	CHECK(fdatasync(out));
	CHECK(syncfs(out));
	sync();
	printf("sync() returned\n");
	CHECK(fsync(9999));
	CHECK(close(in));
	CHECK(close(out));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_files");
	opens();
	append_and_trunc();
	positional();
	truncation();
	allocation();
	o_tmpfile();
	transfers();
	return fs_end();
}
