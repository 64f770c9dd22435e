/* fs_advise: readahead, sync_file_range and posix_fadvise on every kind of descriptor (LTP's
 * readahead01 and sync_file_range01 walk the same list): which succeed, and the errno of the
 * others; then their argument checks on a regular file (offsets, lengths, flags), and that
 * readahead leaves the file offset alone. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include "fsutil.h"

static void on_fd(const char *what, int fd)
{
	if (fd < 0) {
		printf("%s: cannot open: %s\n", what, errname(errno));
		return;
	}
	errno = 0;
	long ra = readahead(fd, 0, 4096);
	int ra_err = errno;
	errno = 0;
	long sfr = sync_file_range(fd, 0, 1, SYNC_FILE_RANGE_WRITE);
	int sfr_err = errno;
	int adv = posix_fadvise(fd, 0, 4096, POSIX_FADV_WILLNEED);
	printf("%-16s readahead %s, sync_file_range %s, fadvise %s\n", what,
	       ra == 0 ? "ok" : errname(ra_err), sfr == 0 ? "ok" : errname(sfr_err),
	       adv == 0 ? "ok" : errname(adv));
	close(fd);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_advise");
	CHECK(put_file("file", "0123456789abcdef\n"));
	on_fd("file", open("file", O_RDWR));
	on_fd("file O_RDONLY", open("file", O_RDONLY));
	on_fd("file O_WRONLY", open("file", O_WRONLY));
	on_fd("O_PATH file", open("file", O_PATH));
	on_fd("directory", open(".", O_RDONLY | O_DIRECTORY));
	on_fd("/dev/zero", open("/dev/zero", O_RDONLY));
	on_fd("/dev/null", open("/dev/null", O_RDWR));
	on_fd("/proc/self/maps", open("/proc/self/maps", O_RDONLY));
	int p[2];
	CHECK(pipe(p));
	on_fd("pipe read end", p[0]);
	on_fd("pipe write end", p[1]);
	CHECK(mkfifo("fifo", 0644));
	on_fd("fifo", open("fifo", O_RDWR));
	on_fd("unix socket", socket(AF_UNIX, SOCK_STREAM, 0));
	on_fd("inet socket", socket(AF_INET, SOCK_STREAM, 0));
	on_fd("epoll", epoll_create1(0));
	on_fd("eventfd", eventfd(0, 0));
	sigset_t none;
	sigemptyset(&none);
	on_fd("signalfd", signalfd(-1, &none, 0));
	on_fd("timerfd", timerfd_create(CLOCK_REALTIME, 0));
	on_fd("memfd", (int)syscall(SYS_memfd_create, "m", 0));
	on_fd("bad fd", -1 + 0 * open("/dev/null", O_RDONLY) + 1000);

	int fd = open("file", O_RDWR);
	CHECK(lseek(fd, 5, SEEK_SET));
	CHECK(readahead(fd, 0, 1 << 20));
	CHECK(lseek(fd, 0, SEEK_CUR));
	CHECK(readahead(fd, -1, 4096));
	CHECK(readahead(fd, 1L << 40, 4096));
	CHECK(readahead(fd, 0, 0));
	CHECK(readahead(fd, 0, -1UL));
	CHECK(sync_file_range(fd, -1, 1, 0));
	CHECK(sync_file_range(fd, 0, -1, 0));
	CHECK(sync_file_range(fd, 0, 0, 0));
	CHECK(sync_file_range(fd, 0, 1, 8));
	CHECK(sync_file_range(fd, 0x7fffffffffffffffL, 1, 0));
	CHECK(sync_file_range(fd, 1, 0x7fffffffffffffffL, 0));
	CHECK(sync_file_range(-1, 0, 1, 8));
	CHECK(sync_file_range(fd, 0, 1, 7));
	printf("posix_fadvise(fd, -1, 1, WILLNEED) = %s\n", errname(posix_fadvise(fd, -1, 1, POSIX_FADV_WILLNEED)));
	printf("posix_fadvise(fd, 0, -1, WILLNEED) = %s\n", errname(posix_fadvise(fd, 0, -1, POSIX_FADV_WILLNEED)));
	printf("posix_fadvise(fd, 0, 1, 99) = %s\n", errname(posix_fadvise(fd, 0, 1, 99)));
	close(fd);
	return fs_end();
}
