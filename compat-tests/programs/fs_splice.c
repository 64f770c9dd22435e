/* fs_splice: splice, tee and vmsplice between pipes and tmpfs files: what moves, offsets,
 * blocking until a writer comes (LTP splice02 hung on a missing splice), SPLICE_F_NONBLOCK,
 * end of file, and the errors of each call. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "fsutil.h"

#define F_NONBLOCK 2

static long sp(int in, loff_t *oin, int out, loff_t *oout, size_t len, unsigned flags)
{
	return syscall(SYS_splice, in, oin, out, oout, len, flags);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_splice");
	char buf[256];
	int p[2], q[2];
	CHECK(pipe(p));
	CHECK(pipe(q));
	int f = open("data", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(f, "hello, splice world", 19));

	/* File to pipe at an offset: the file's own offset stays. */
	loff_t off = 7;
	CHECK(sp(f, &off, p[1], NULL, 6, 0));
	printf("off: %lld, file offset: %lld\n", (long long)off, (long long)lseek(f, 0, SEEK_CUR));
	/* Pipe to pipe, then tee (the input keeps its data), then pipe to file. */
	CHECK(sp(p[0], NULL, q[1], NULL, 100, 0));
	CHECK(syscall(SYS_tee, q[0], p[1], 100, 0));
	CHECK(read(q[0], buf, sizeof buf));
	print_bytes("q after tee", buf, 6);
	int g = open("out", O_RDWR | O_CREAT | O_TRUNC, 0644);
	off = 3;
	CHECK(sp(p[0], NULL, g, &off, 4, 0));
	CHECK(sp(p[0], NULL, g, NULL, 100, 0));
	show_file("out");

	/* vmsplice both ways. */
	struct iovec iov[2] = {{"vm", 2}, {"splice", 6}};
	CHECK(syscall(SYS_vmsplice, p[1], iov, 2, 0));
	char a[3] = {0}, b[6] = {0};
	struct iovec back[2] = {{a, 3}, {b, 5}};
	CHECK(syscall(SYS_vmsplice, p[0], back, 2, 0));
	printf("vmsplice read: %.3s|%.5s\n", a, b);

	/* Empty pipe: SPLICE_F_NONBLOCK says EAGAIN; no writer left: 0. */
	CHECK(sp(p[0], NULL, g, NULL, 10, F_NONBLOCK));
	CHECK(syscall(SYS_tee, p[0], q[1], 10, F_NONBLOCK));

	/* Errors. */
	CHECK(sp(f, NULL, g, NULL, 10, 0));
	CHECK(sp(p[0], &off, g, NULL, 10, 0));
	CHECK(sp(f, NULL, p[1], &off, 10, 0));
	CHECK(sp(p[0], NULL, p[1], NULL, 10, 0));
	CHECK(sp(p[1], NULL, g, NULL, 10, 0));
	CHECK(sp(p[0], NULL, g, NULL, 10, 0x100));
	CHECK(sp(99, NULL, g, NULL, 10, 0));
	CHECK(sp(f, NULL, p[1], NULL, 0, 0));
	CHECK(syscall(SYS_tee, f, q[1], 10, 0));
	CHECK(syscall(SYS_tee, p[0], p[1], 10, 0));
	CHECK(syscall(SYS_vmsplice, f, iov, 1, 0));
	int app = open("out", O_WRONLY | O_APPEND);
	CHECK(write(p[1], "x", 1));
	CHECK(sp(p[0], NULL, app, NULL, 1, 0));

	/* splice02's shape: a blocking splice from a pipe until a writer child has written
	 * and gone. */
	int r[2];
	CHECK(pipe(r));
	pid_t pid = fork();
	if (pid == 0) {
		close(r[0]);
		usleep(100000);
		for (int i = 0; i < 20; i++)
			write(r[1], "0123456789abcdef", 16);
		_exit(0);
	}
	close(r[1]);
	int h = open("spliced", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	long total = 0, n, calls = 0;
	while ((n = sp(r[0], NULL, h, NULL, 64 * 1024, 0)) > 0) {
		total += n;
		calls++;
	}
	printf("spliced: %ld bytes, last %ld\n", total, n);
	waitpid(pid, NULL, 0);
	struct stat st;
	CHECK(stat("spliced", &st) == 0 ? st.st_size : -1);

	/* A full output pipe with SPLICE_F_NONBLOCK: EAGAIN; a closed reader: EPIPE. */
	int w[2];
	CHECK(pipe(w));
	fcntl(w[1], F_SETFL, O_NONBLOCK);
	while (write(w[1], buf, sizeof buf) > 0)
		;
	CHECK(sp(f, NULL, w[1], NULL, 10, F_NONBLOCK));
	signal(SIGPIPE, SIG_IGN);
	close(w[0]);
	CHECK(sp(f, NULL, w[1], NULL, 10, 0));
	fs_end();
	return 0;
}
