/* fs_pipes: pipes and FIFOs in one process: pipe/pipe2 flags, capacity and F_GETPIPE_SZ /
 * F_SETPIPE_SZ, PIPE_BUF atomicity, O_NONBLOCK EAGAIN on empty and full pipes, FIONREAD, EOF,
 * EPIPE with SIGPIPE ignored, ESPIPE, and mknod/mkfifo FIFOs. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include "fsutil.h"

static int fionread(int fd)
{
	int n = -1;
	if (ioctl(fd, FIONREAD, &n) != 0)
		return -errno;
	return n;
}

/* Writes into a non-blocking pipe until EAGAIN; the bytes it took (printed when `exact`). */
static long fill(int fd, size_t chunk, int exact)
{
	static char buf[65536];
	long total = 0, n;
	memset(buf, 'p', sizeof buf);
	while ((n = write(fd, buf, chunk)) > 0)
		total += n;
	if (exact)
		printf("filled with %zu-byte writes: %ld bytes, then %s\n", chunk, total,
		       n < 0 ? errname(errno) : "0");
	fflush(stdout);
	return total;
}

static long drain_quietly(int fd)
{
	static char buf[65536];
	long total = 0, n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	return total;
}

static long drain(int fd)
{
	static char buf[65536];
	long total = 0, n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		total += n;
	printf("drained %ld bytes, then %s\n", total, n < 0 ? errname(errno) : "EOF");
	fflush(stdout);
	return total;
}

static void basics(void)
{
	int p[2];
	char buf[64];
	CHECK(pipe(p));
	printf("fds: %d %d\n", p[0], p[1]);
	struct stat st;
	CHECK(fstat(p[0], &st));
	printf("fstat(read end): %s size=%lld nlink=%lu\n", mode_string(st.st_mode),
	       (long long)st.st_size, (unsigned long)st.st_nlink);
	printf("F_GETFL: read end 0%o, write end 0%o\n", (unsigned)fcntl(p[0], F_GETFL),
	       (unsigned)fcntl(p[1], F_GETFL));
	CHECK(write(p[1], "hello", 5));
	printf("FIONREAD = %d\n", fionread(p[0]));
	CHECK(fstat(p[0], &st));
	printf("fstat size with 5 bytes queued: %lld\n", (long long)st.st_size);
	long n;
	SHOW("read(64)", n = read(p[0], buf, sizeof buf));
	print_bytes("read", buf, n);
	CHECK(read(p[1], buf, 1));
	CHECK(write(p[0], "x", 1));
	CHECK(lseek(p[0], 0, SEEK_CUR));
	CHECK(lseek(p[1], 0, SEEK_SET));
	CHECK(pread(p[0], buf, 1, 0));
	CHECK(pwrite(p[1], "x", 1, 0));
	CHECK(fsync(p[1]));
	CHECK(ftruncate(p[1], 0));
	CHECK(fallocate(p[1], 0, 0, 10));
	struct iovec iov[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
	CHECK(writev(p[1], iov, 3));
	char a[6], b[7];
	struct iovec r[2] = {{a, sizeof a}, {b, sizeof b}};
	CHECK(readv(p[0], r, 2));
	print_bytes("readv iov[0]", a, sizeof a);
	print_bytes("readv iov[1]", b, sizeof b);
	CHECK(close(p[1]));
	CHECK(read(p[0], buf, sizeof buf));
	CHECK(close(p[0]));
	CHECK(syscall(SYS_pipe, BAD_PTR));
	CHECK(pipe2(p, 0x1));
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	printf("pipe2 flags: F_GETFD %d %d, F_GETFL 0%o 0%o\n", fcntl(p[0], F_GETFD),
	       fcntl(p[1], F_GETFD), (unsigned)fcntl(p[0], F_GETFL),
	       (unsigned)fcntl(p[1], F_GETFL));
	CHECK(read(p[0], buf, sizeof buf));
	CHECK(close(p[0]));
	CHECK(close(p[1]));
}

static void capacity(void)
{
	/* Counts use whole pages: Linux fills a pipe page by page, and where smaller writes end
	 * up is its business. */
	int p[2];
	static char big[8192];
	char small[100];
	CHECK(pipe2(p, O_NONBLOCK));
	CHECK(fcntl(p[0], F_GETPIPE_SZ));
	CHECK(fcntl(p[1], F_GETPIPE_SZ));
	fill(p[1], 4096, 1);
	printf("FIONREAD = %d\n", fionread(p[0]));
	CHECK(write(p[1], "x", 1));
	/* A write of up to PIPE_BUF bytes is all or nothing. */
	CHECK(read(p[0], small, sizeof small));
	CHECK(write(p[1], big, PIPE_BUF));
	CHECK(read(p[0], big, 4096 - sizeof small));
	CHECK(write(p[1], big, PIPE_BUF));
	CHECK(write(p[1], "x", 1));
	drain(p[0]);
	/* An empty pipe with a writer: EAGAIN, not EOF. */
	CHECK(read(p[0], small, sizeof small));
	/* More than PIPE_BUF may be split. */
	fill(p[1], 4096, 1);
	CHECK(read(p[0], big, 4096));
	CHECK(write(p[1], big, 8192));
	drain(p[0]);
	long total = fill(p[1], 1000, 0);
	yes("1000-byte writes fill 60000 to 65536 bytes", total >= 60000 && total <= 65536);
	yes("drained all of it", drain_quietly(p[0]) == total);

	CHECK(fcntl(p[1], F_SETPIPE_SZ, 5000));
	CHECK(fcntl(p[0], F_GETPIPE_SZ));
	fill(p[1], 4096, 1);
	drain(p[0]);
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 0));
	CHECK(fcntl(p[1], F_GETPIPE_SZ));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 1 << 20));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, -1));
	CHECK(write(p[1], big, 4097));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096));
	CHECK(fcntl(p[1], F_GETPIPE_SZ));
	drain(p[0]);
	CHECK(write(p[1], big, 100));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096));
	CHECK(fcntl(p[1], F_SETPIPE_SZ, 65536));
	printf("FIONREAD = %d\n", fionread(p[0]));
	int fd = open(".", O_RDONLY);
	CHECK(fcntl(fd, F_GETPIPE_SZ));
	CHECK(close(fd));
	CHECK(close(p[0]));
	CHECK(close(p[1]));
}

static void broken(void)
{
	int p[2];
	CHECK(signal(SIGPIPE, SIG_IGN) == SIG_ERR);
	CHECK(pipe(p));
	CHECK(close(p[0]));
	CHECK(write(p[1], "x", 1));
	struct iovec iov = {"y", 1};
	CHECK(writev(p[1], &iov, 1));
	CHECK(close(p[1]));

	/* SIGPIPE with a handler, and blocked (pending), needs signal delivery (issue 4). */
}

static void fifos(void)
{
	char buf[32];
	int r, w;
	CHECK(mkfifo("fifo", 0644));
	show_stat("fifo");
	CHECK(mknodat(AT_FDCWD, "fifo2", S_IFIFO | 0600, 0));
	show_stat("fifo2");
	CHECK(mkfifo("fifo", 0644));
	/* Non-blocking opens: a reader needs no writer, a writer needs a reader. */
	CHECK(open("fifo", O_WRONLY | O_NONBLOCK));
	CHECK(r = open("fifo", O_RDONLY | O_NONBLOCK));
	CHECK(read(r, buf, sizeof buf));
	CHECK(w = open("fifo", O_WRONLY | O_NONBLOCK));
	CHECK(read(r, buf, sizeof buf));
	CHECK(write(w, "through the fifo", 16));
	printf("FIONREAD = %d\n", fionread(r));
	long n;
	SHOW("read", n = read(r, buf, sizeof buf));
	print_bytes("read", buf, n);
	CHECK(fcntl(w, F_GETPIPE_SZ));
	CHECK(close(w));
	CHECK(read(r, buf, sizeof buf));
	CHECK(close(r));
	/* O_RDWR on a FIFO opens at once (Linux). */
	CHECK(r = open("fifo", O_RDWR));
	CHECK(write(r, "self", 4));
	SHOW("read", n = read(r, buf, sizeof buf));
	print_bytes("read", buf, n);
	CHECK(lseek(r, 0, SEEK_SET));
	CHECK(close(r));
	struct stat st;
	CHECK(stat("fifo", &st));
	printf("fifo size after use: %lld\n", (long long)st.st_size);
	CHECK(truncate("fifo", 0));
	CHECK(unlink("fifo"));
	CHECK(unlink("fifo2"));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_pipes");
	basics();
	capacity();
	broken();
	fifos();
	return fs_end();
}
