/* fs_fds: the descriptor table: dup/dup2/dup3 and shared offsets, FD_CLOEXEC, fcntl status
 * flags, RLIMIT_NOFILE and EMFILE, close_range, ioctl FIOCLEX/FIONREAD, POSIX and OFD record
 * locks, and flock. */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include "fsutil.h"

static void fd_flags(int fd)
{
	errno = 0;
	int r = fcntl(fd, F_GETFD);
	if (r < 0)
		printf("F_GETFD(%d) = -1 %s\n", fd, errname(errno));
	else
		printf("F_GETFD(%d) = %d\n", fd, r);
	fflush(stdout);
}

static void status_flags(int fd)
{
	errno = 0;
	int r = fcntl(fd, F_GETFL);
	if (r < 0)
		printf("F_GETFL(%d) = -1 %s\n", fd, errname(errno));
	else
		printf("F_GETFL(%d) = 0%o\n", fd, (unsigned)r);
	fflush(stdout);
}

static const char *lock_type(int t)
{
	return t == F_RDLCK ? "F_RDLCK" : t == F_WRLCK ? "F_WRLCK" : t == F_UNLCK ? "F_UNLCK" : "?";
}

/* F_GETLK or F_OFD_GETLK for a write lock on [start, start+len) through `fd`. */
static void probe(const char *label, int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	errno = 0;
	int r = fcntl(fd, cmd, &fl);
	if (r < 0) {
		printf("%s = -1 %s\n", label, errname(errno));
	} else {
		printf("%s = %d: %s", label, r, lock_type(fl.l_type));
		if (fl.l_type != F_UNLCK)
			printf(" start=%lld len=%lld pid=%s", (long long)fl.l_start,
			       (long long)fl.l_len,
			       fl.l_pid == -1 ? "-1" : fl.l_pid == getpid() ? "getpid()" : "other");
		printf("\n");
	}
	fflush(stdout);
}

static long lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
	return fcntl(fd, cmd, &fl);
}

static void duplication(void)
{
	int a, b, c, d;
	char buf[16];
	CHECK(put_file("f", "0123456789"));
	CHECK(a = open("f", O_RDWR));
	CHECK(b = dup(a));
	CHECK(read(a, buf, 3));
	CHECK(lseek(b, 0, SEEK_CUR));
	CHECK(c = open("f", O_RDONLY));
	CHECK(lseek(c, 0, SEEK_CUR));
	CHECK(read(b, buf, 2));
	CHECK(lseek(a, 0, SEEK_CUR));
	CHECK(close(a));
	CHECK(read(b, buf, 1));
	print_bytes("read through the dup after closing the original", buf, 1);
	CHECK(dup(9999));
	CHECK(dup(-1));
	CHECK(dup2(b, b));
	CHECK(dup2(9999, 9999));
	CHECK(dup2(b, 20));
	CHECK(lseek(20, 0, SEEK_CUR));
	CHECK(dup2(c, 20));
	CHECK(lseek(20, 0, SEEK_CUR));
	CHECK(dup2(b, -1));
	/* Raw dup3: musl's wrapper falls back to dup2 without O_CLOEXEC. */
	CHECK(syscall(SYS_dup3, b, b, 0));
	CHECK(syscall(SYS_dup3, b, 21, O_CLOEXEC));
	fd_flags(21);
	CHECK(syscall(SYS_dup3, b, 21, 0));
	fd_flags(21);
	CHECK(syscall(SYS_dup3, b, 22, O_NONBLOCK));
	CHECK(syscall(SYS_dup3, 9999, 22, 0));
	CHECK(fcntl(b, F_DUPFD, 30));
	CHECK(fcntl(b, F_DUPFD, 30));
	CHECK(fcntl(b, F_DUPFD, 0));
	CHECK(d = fcntl(b, F_DUPFD_CLOEXEC, 40));
	fd_flags(d);
	CHECK(fcntl(b, F_DUPFD, -1));
	CHECK(close(20));
	CHECK(close(21));
	CHECK(close(30));
	CHECK(close(31));
	CHECK(close(d));
	CHECK(close(b));
	CHECK(close(c));
	CHECK(close(3));
}

static void flags(void)
{
	int fd, fd2;
	CHECK(fd = open("f", O_RDONLY | O_CLOEXEC));
	fd_flags(fd);
	CHECK(fd2 = dup(fd));
	fd_flags(fd2);
	CHECK(fcntl(fd2, F_SETFD, FD_CLOEXEC));
	fd_flags(fd2);
	CHECK(fcntl(fd2, F_SETFD, 0));
	fd_flags(fd2);
	CHECK(ioctl(fd2, FIOCLEX));
	fd_flags(fd2);
	CHECK(ioctl(fd2, FIONCLEX));
	fd_flags(fd2);
	fd_flags(9999);
	status_flags(fd);
	CHECK(close(fd));
	CHECK(close(fd2));

	CHECK(fd = open("f", O_WRONLY | O_APPEND));
	status_flags(fd);
	CHECK(close(fd));
	CHECK(fd = open("f", O_RDWR | O_NONBLOCK | O_SYNC));
	status_flags(fd);
	CHECK(fd2 = dup(fd));
	CHECK(fcntl(fd, F_SETFL, O_APPEND));
	status_flags(fd);
	status_flags(fd2);
	CHECK(fcntl(fd, F_SETFL, O_WRONLY | O_NONBLOCK | O_CREAT | O_TRUNC | O_EXCL));
	status_flags(fd);
	CHECK(close(fd));
	CHECK(close(fd2));
	CHECK(fd = open("f", O_PATH));
	status_flags(fd);
	CHECK(fd2 = dup(fd));
	CHECK(syscall(SYS_fchmod, fd, 0644));
	CHECK(syscall(SYS_fchown, fd, 0, 0));
	CHECK(flock(fd, LOCK_EX));
	CHECK(fstat(fd, &(struct stat){0}));
	CHECK(ioctl(fd, FIONREAD, &(int){0}));
	CHECK(close(fd2));
	CHECK(close(fd));
	CHECK(fcntl(0, 12345));
	CHECK(fcntl(9999, F_GETFL));
	CHECK(fcntl(-1, F_SETFL, 0));

	int n = -1;
	CHECK(fd = open("f", O_RDONLY));
	CHECK(ioctl(fd, FIONREAD, &n));
	printf("FIONREAD at 0: %d\n", n);
	CHECK(lseek(fd, 4, SEEK_SET));
	CHECK(ioctl(fd, FIONREAD, &n));
	printf("FIONREAD at 4: %d\n", n);
	CHECK(lseek(fd, 40, SEEK_SET));
	CHECK(ioctl(fd, FIONREAD, &n));
	printf("FIONREAD past the end: %d\n", n);
	CHECK(ioctl(fd, 0x12345678, &n));
	CHECK(ioctl(fd, FIONREAD, BAD_PTR));
	CHECK(ioctl(9999, FIONREAD, &n));
	CHECK(close(fd));
	CHECK(fd = open(".", O_RDONLY | O_DIRECTORY));
	CHECK(ioctl(fd, FIONREAD, &n));
	CHECK(close(fd));
}

static void limits(void)
{
	/* Only the soft limit is set: raising the hard one back would need CAP_SYS_RESOURCE. */
	struct rlimit rl, saved;
	CHECK(getrlimit(RLIMIT_NOFILE, &saved));
	rl = saved;
	rl.rlim_cur = 64;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl));
	CHECK(getrlimit(RLIMIT_NOFILE, &rl));
	printf("RLIMIT_NOFILE soft limit = %ld\n", (long)rl.rlim_cur);
	int opened = 0, last = -1, fd;
	while ((fd = open("f", O_RDONLY)) >= 0) {
		opened++;
		last = fd;
	}
	printf("opened %d more files, the last as fd %d, then %s\n", opened, last, errname(errno));
	CHECK(dup(0));
	CHECK(fcntl(0, F_DUPFD, 10));
	CHECK(dup2(0, 64));
	CHECK(fcntl(0, F_DUPFD, 64));
	CHECK(close(40));
	CHECK(dup(0));
	CHECK(dup2(0, 63));
	CHECK(close(63));
	CHECK(syscall(SYS_close_range, 10u, 5u, 0));
	CHECK(syscall(SYS_close_range, 10u, 20u, 0x80));
	CHECK(syscall(SYS_close_range, 10u, 20u, COMPAT_CLOSE_RANGE_CLOEXEC));
	fd_flags(10);
	fd_flags(20);
	fd_flags(21);
	CHECK(syscall(SYS_close_range, 3u, ~0u, 0));
	CHECK(fcntl(3, F_GETFD));
	CHECK(fcntl(63, F_GETFD));
	CHECK(syscall(SYS_close_range, 100u, 200u, 0));
	CHECK(fd = open("f", O_RDONLY));
	CHECK(close(fd));
	CHECK(setrlimit(RLIMIT_NOFILE, &saved));
}

static void record_locks(void)
{
	int a, b, c, ro;
	CHECK(a = open("f", O_RDWR));
	CHECK(b = open("f", O_RDWR));
	CHECK(ro = open("f", O_RDONLY));
	/* POSIX locks belong to the process: its own never conflict. */
	CHECK(lock(a, F_SETLK, F_WRLCK, 0, 5));
	probe("F_GETLK through another fd", b, F_GETLK, F_WRLCK, 0, 10);
	CHECK(lock(b, F_SETLK, F_WRLCK, 2, 2));
	CHECK(lock(ro, F_SETLK, F_WRLCK, 0, 1));
	CHECK(lock(ro, F_SETLK, F_RDLCK, 0, 1));
	CHECK(lock(a, F_SETLK, 42, 0, 1));
	CHECK(lock(a, F_SETLK, F_WRLCK, -5, 1));
	CHECK(lock(9999, F_SETLK, F_WRLCK, 0, 1));
	CHECK(fcntl(a, F_SETLK, BAD_PTR));
	/* OFD locks belong to the open file description: they conflict with the process's POSIX
	 * locks and with each other. */
	probe("F_OFD_GETLK vs the POSIX lock", b, F_OFD_GETLK, F_WRLCK, 0, 10);
	CHECK(lock(b, F_OFD_SETLK, F_WRLCK, 0, 1));
	CHECK(lock(b, F_OFD_SETLK, F_WRLCK, 20, 0));
	probe("F_OFD_GETLK from a", a, F_OFD_GETLK, F_RDLCK, 100, 1);
	probe("F_GETLK from a", a, F_GETLK, F_RDLCK, 100, 1);
	CHECK(lock(a, F_OFD_SETLK, F_RDLCK, 30, 1));
	CHECK(lock(ro, F_OFD_SETLK, F_RDLCK, 5, 5));
	probe("F_OFD_GETLK from b over ro's read lock", b, F_OFD_GETLK, F_WRLCK, 0, 20);
	struct flock bad = {
		.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
	CHECK(fcntl(a, F_OFD_SETLK, &bad));
	CHECK(lock(b, F_OFD_SETLK, F_UNLCK, 0, 0));
	probe("after b unlocked", a, F_OFD_GETLK, F_WRLCK, 0, 0);
	/* Closing any fd of the file drops the process's POSIX locks on it. */
	CHECK(c = open("f", O_RDONLY));
	CHECK(close(c));
	probe("POSIX lock after closing another fd", b, F_OFD_GETLK, F_WRLCK, 0, 5);
	CHECK(lock(ro, F_OFD_SETLK, F_UNLCK, 0, 0));
	probe("everything unlocked", b, F_OFD_GETLK, F_WRLCK, 0, 0);
	CHECK(close(a));
	CHECK(close(b));
	CHECK(close(ro));
}

static void flocks(void)
{
	int a, b, a2;
	CHECK(a = open("f", O_RDONLY));
	CHECK(b = open("f", O_RDONLY));
	CHECK(flock(a, LOCK_EX));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	CHECK(flock(b, LOCK_SH | LOCK_NB));
	CHECK(a2 = dup(a));
	CHECK(flock(a2, LOCK_UN));
	CHECK(flock(b, LOCK_SH | LOCK_NB));
	CHECK(flock(a, LOCK_SH | LOCK_NB));
	CHECK(flock(a, LOCK_EX | LOCK_NB));
	CHECK(flock(b, LOCK_UN));
	CHECK(flock(a, LOCK_EX | LOCK_NB));
	/* flock and POSIX locks are independent. */
	CHECK(lock(b, F_SETLK, F_RDLCK, 0, 0));
	CHECK(flock(b, 0));
	CHECK(flock(b, LOCK_SH | LOCK_EX));
	CHECK(flock(9999, LOCK_SH));
	CHECK(close(a));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	CHECK(close(a2));
	CHECK(flock(b, LOCK_EX | LOCK_NB));
	CHECK(close(b));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_fds");
	duplication();
	flags();
	limits();
	record_locks();
	flocks();
	return fs_end();
}
