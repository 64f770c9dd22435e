/* fs_inotify: inotify(7) on tmpfs. inotify_init1 flags, inotify_add_watch errors and masks
 * (IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, IN_DONT_FOLLOW, IN_ONESHOT, IN_EXCL_UNLINK), one
 * watch descriptor per inode, inotify_rm_watch and IN_IGNORED; the events of creating,
 * opening, reading, writing, closing, chmod, utimes, truncate, xattrs, links, renames (paired
 * cookies) and removals, heard by a directory and by the file itself; reads (EINVAL for a
 * buffer too small, names padded to 16 bytes), merging of identical events, FIONREAD,
 * poll/select/epoll readiness, IN_Q_OVERFLOW, the /proc/sys/fs/inotify files and EMFILE past
 * max_user_instances. Watch descriptors print as their name; cookies as "paired" or not. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include "fsutil.h"

static int ifd;
static int wd_dir, wd_file;
static uint32_t last_cookie;

static const char *wd_name(int wd)
{
	static char other[16];
	if (wd == wd_dir)
		return "D";
	if (wd == wd_file)
		return "F";
	if (wd == -1)
		return "-1";
	snprintf(other, sizeof other, "wd%d", wd);
	return other;
}

static void print_mask(uint32_t m)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
		{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
		{IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
		{IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"},
		{IN_MOVE_SELF, "MOVE_SELF"}, {IN_UNMOUNT, "UNMOUNT"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"},
		{IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"},
	};
	const char *sep = "";
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (m & names[i].bit) {
			printf("%s%s", sep, names[i].name);
			sep = "|";
			m &= ~names[i].bit;
		}
	if (m)
		printf("%s0x%x", sep, m);
}

/* Reads and prints every queued event; the number of events. */
static int drain(const char *label)
{
	char buf[8192] __attribute__((aligned(8)));
	int count = 0;
	printf("%s:\n", label);
	for (;;) {
		ssize_t n = read(ifd, buf, sizeof buf);
		if (n < 0) {
			if (errno != EAGAIN)
				printf("  read = -1 %s\n", errname(errno));
			break;
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			printf("  %s ", wd_name(e->wd));
			print_mask(e->mask);
			if (e->cookie) {
				printf(" cookie=%s", e->cookie == last_cookie ? "paired" : "new");
				last_cookie = e->cookie;
			}
			if (e->len)
				printf(" name=%s len=%u", e->name, e->len);
			printf("\n");
			p += sizeof *e + e->len;
			count++;
		}
	}
	fflush(stdout);
	return count;
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd >= 0)
		close(fd);
}

static void read_file(const char *path)
{
	char b[64];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	while (read(fd, b, sizeof b) > 0)
		;
	close(fd);
}

static int queued(void)
{
	int n = -1;
	if (ioctl(ifd, FIONREAD, &n) != 0)
		return -1;
	return n;
}

static void readiness(const char *when)
{
	struct pollfd p = {ifd, POLLIN | POLLOUT, 0};
	int r = poll(&p, 1, 0);
	printf("%s: poll = %d revents=0x%x", when, r, p.revents);
	fd_set rs;
	FD_ZERO(&rs);
	FD_SET(ifd, &rs);
	struct timeval tv = {0, 0};
	printf(" select = %d", select(ifd + 1, &rs, NULL, NULL, &tv));
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, ifd, &ev);
	int n = epoll_wait(ep, &out, 1, 0);
	printf(" epoll = %d events=0x%x\n", n, n > 0 ? out.events : 0);
	close(ep);
	fflush(stdout);
}

static void init_flags(void)
{
	CHECK(inotify_init1(IN_NONBLOCK << 1));
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	yes("init1 fd", fd >= 0);
	yes("IN_CLOEXEC sets FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	yes("IN_NONBLOCK sets O_NONBLOCK", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	char link[64], path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	printf("fd link: %s\n", link);
	char b[64];
	CHECK(read(fd, b, sizeof b));
	CHECK(write(fd, "x", 1));
	CHECK(lseek(fd, 0, SEEK_SET));
	close(fd);
	fd = inotify_init();
	yes("inotify_init: blocking", fd >= 0 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
	close(fd);
}

static void watch_errors(void)
{
	int notify = open("f", O_RDONLY);
	CHECK(inotify_add_watch(ifd, "f", 0));
	CHECK(inotify_add_watch(ifd, "f", 0x00010000));
	CHECK(inotify_add_watch(ifd, "f", IN_OPEN | IN_MASK_ADD | IN_MASK_CREATE));
	CHECK(inotify_add_watch(99, "f", IN_OPEN));
	CHECK(inotify_add_watch(notify, "f", IN_OPEN));
	CHECK(inotify_add_watch(ifd, "missing", IN_OPEN));
	CHECK(inotify_add_watch(ifd, "", IN_OPEN));
	CHECK(inotify_add_watch(ifd, BAD_PTR, IN_OPEN));
	CHECK(inotify_add_watch(ifd, "f", IN_OPEN | IN_ONLYDIR));
	CHECK(inotify_add_watch(ifd, "f/", IN_OPEN));
	CHECK(inotify_rm_watch(ifd, 12345));
	CHECK(inotify_rm_watch(notify, 1));
	CHECK(inotify_rm_watch(99, 1));
	close(notify);
}

static void descriptors(void)
{
	int a = inotify_add_watch(ifd, "f", IN_OPEN);
	int b = inotify_add_watch(ifd, "f", IN_CLOSE);
	int c = inotify_add_watch(ifd, "hard", IN_OPEN);
	int s = inotify_add_watch(ifd, "sym", IN_OPEN);
	int l = inotify_add_watch(ifd, "sym", IN_OPEN | IN_DONT_FOLLOW);
	yes("same inode, same wd", a == b && a == c && a == s);
	yes("IN_DONT_FOLLOW watches the link", l != a && l > 0);
	CHECK(inotify_add_watch(ifd, "f", IN_OPEN | IN_MASK_CREATE));
	/* The last call replaced the mask: IN_CLOSE only, then IN_OPEN added. */
	read_file("f");
	wd_file = a;
	drain("after the mask became IN_CLOSE, then IN_OPEN through the other names");
	CHECK(inotify_add_watch(ifd, "f", IN_OPEN | IN_MASK_ADD) == a);
	read_file("f");
	drain("after adding IN_OPEN");
	CHECK(inotify_rm_watch(ifd, a));
	CHECK(inotify_rm_watch(ifd, a));
	CHECK(inotify_rm_watch(ifd, l));
	drain("after rm_watch");
	int again = inotify_add_watch(ifd, "f", IN_OPEN);
	yes("a new watch gets a new wd", again > l);
	inotify_rm_watch(ifd, again);
	drain("after the last rm_watch");
	wd_file = 0;
}

static void file_events(void)
{
	wd_dir = inotify_add_watch(ifd, ".", IN_ALL_EVENTS);
	wd_file = inotify_add_watch(ifd, "f", IN_ALL_EVENTS);
	yes("watches added", wd_dir > 0 && wd_file > 0);

	int fd = open("new", O_WRONLY | O_CREAT | O_EXCL, 0644);
	CHECK(write(fd, "hello", 5));
	CHECK(write(fd, "", 0));
	CHECK(pwrite(fd, "!", 1, 5));
	close(fd);
	drain("create, write twice, close");

	read_file("f");
	drain("open, read, close the watched file");

	fd = open("f", O_RDWR);
	char b[4];
	CHECK(pread(fd, b, 2, 0));
	CHECK(write(fd, "x", 1));
	CHECK(ftruncate(fd, 1));
	CHECK(fchmod(fd, 0600));
	close(fd);
	drain("pread, write, ftruncate, fchmod on an fd");

	CHECK(chmod("f", 0644));
	CHECK(chown("f", -1, -1));
	CHECK(chown("f", getuid(), -1));
	CHECK(utimes("f", NULL));
	struct timespec only_atime[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, "f", only_atime, 0));
	struct timespec only_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
	CHECK(utimensat(AT_FDCWD, "f", only_mtime, 0));
	CHECK(truncate("f", 0));
	CHECK(setxattr("f", "user.k", "v", 1, 0));
	CHECK(removexattr("f", "user.k"));
	drain("chmod, chown, utimes, utimensat, truncate, xattrs by path");

	fd = open("f", O_WRONLY | O_TRUNC);
	close(fd);
	drain("open(O_TRUNC)");

	CHECK(link("f", "f2"));
	CHECK(unlink("f2"));
	CHECK(symlink("f", "sym2"));
	CHECK(mkdir("sub", 0755));
	touch("sub/inner");
	CHECK(rename("sub", "sub2"));
	CHECK(unlink("sub2/inner"));
	CHECK(rmdir("sub2"));
	CHECK(mkfifo("fifo2", 0644));
	CHECK(unlink("fifo2"));
	CHECK(unlink("sym2"));
	drain("link, symlink, mkdir, rename a directory, rmdir, mkfifo, unlinks");

	DIR *d = opendir(".");
	while (readdir(d))
		;
	closedir(d);
	drain("listing the watched directory");

	CHECK(rename("new", "renamed"));
	CHECK(rename("f", "f-moved"));
	drain("renames");
	touch("victim");
	drain("touch victim");
	CHECK(rename("renamed", "victim"));
	drain("rename over an existing name");

	CHECK(unlink("f-moved"));
	drain("unlink the watched file");
	CHECK(unlink("victim"));
	drain("unlink");
	wd_file = 0;
}

static void merging_and_reads(void)
{
	touch("m");
	wd_file = inotify_add_watch(ifd, "m", IN_MODIFY | IN_ACCESS);
	int fd = open("m", O_RDWR);
	char b[16];
	for (int i = 0; i < 3; i++)
		CHECK(pwrite(fd, "ab", 2, 0));
	CHECK(pread(fd, b, 2, 0));
	CHECK(pwrite(fd, "ab", 2, 0));
	CHECK(queued());
	drain("three writes, a read, a write");
	readiness("empty");

	CHECK(pwrite(fd, "ab", 2, 0));
	readiness("one event");
	CHECK(queued());
	CHECK(read(ifd, b, 0));
	CHECK(read(ifd, b, 15));
	CHECK(read(ifd, (char *)BAD_PTR, 64));
	CHECK(queued());
	drain("after the failed reads");

	/* Named events are 16 bytes of header and the name padded to 16. */
	touch("a-name-of-20-bytes!!");
	char big[256] __attribute__((aligned(8)));
	CHECK(queued());
	CHECK(read(ifd, big, 16 + 16));
	CHECK(read(ifd, big, 16 + 32));
	struct inotify_event *e = (struct inotify_event *)big;
	yes("name is NUL-padded", e->len == 32 && e->name[20] == 0 && e->name[31] == 0);
	unlink("a-name-of-20-bytes!!");
	drain("rest");

	/* Each read moves the whole queue that fits. */
	touch("n1");
	touch("n2");
	CHECK(queued());
	CHECK(read(ifd, big, 40));
	CHECK(read(ifd, big, sizeof big));
	close(fd);
	inotify_rm_watch(ifd, wd_file);
	unlink("n1");
	unlink("n2");
	unlink("m");
	drain("after the watch on m ends");
	wd_file = 0;
}

static void oneshot_and_excl_unlink(void)
{
	touch("o");
	wd_file = inotify_add_watch(ifd, "o", IN_OPEN | IN_ONESHOT);
	read_file("o");
	read_file("o");
	drain("IN_ONESHOT, two opens");
	CHECK(inotify_rm_watch(ifd, wd_file));

	inotify_rm_watch(ifd, wd_dir);
	drain("dir watch removed");
	wd_dir = inotify_add_watch(ifd, ".", IN_ACCESS | IN_EXCL_UNLINK);
	int fd = open("o", O_RDONLY);
	CHECK(put_file("o", "data"));
	char b[8];
	CHECK(read(fd, b, 2));
	CHECK(unlink("o"));
	CHECK(read(fd, b, 2));
	close(fd);
	drain("IN_EXCL_UNLINK: a read before and after unlink");
	inotify_rm_watch(ifd, wd_dir);
	drain("end");
	wd_file = 0;
}

static void overflow(void)
{
	char buf[8];
	long max = 0;
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (!f || fscanf(f, "%ld", &max) != 1)
		max = 0;
	if (f)
		fclose(f);
	touch("q");
	wd_file = inotify_add_watch(ifd, "q", IN_MODIFY | IN_ACCESS);
	int fd = open("q", O_RDWR);
	CHECK(pwrite(fd, "ab", 2, 0));
	for (long i = 0; i < max + 10; i++)
		if ((i & 1) ? pwrite(fd, "a", 1, 0) != 1 : pread(fd, buf, 1, 0) != 1)
			break;
	close(fd);
	yes("FIONREAD is max_queued_events + 1 headers", queued() == (max + 1) * 16);
	char big[4096] __attribute__((aligned(8)));
	long events = 0, overflows = 0, last_overflow = 0;
	for (;;) {
		ssize_t n = read(ifd, big, sizeof big);
		if (n <= 0)
			break;
		for (char *p = big; p < big + n; p += sizeof(struct inotify_event)) {
			struct inotify_event *e = (struct inotify_event *)p;
			events++;
			if (e->mask & IN_Q_OVERFLOW) {
				overflows++;
				last_overflow = e->wd == -1 && e->len == 0 && events == max + 1;
			}
		}
	}
	yes("queue held max_queued_events + 1", events == max + 1);
	yes("one IN_Q_OVERFLOW (wd -1), last", overflows == 1 && last_overflow);
	/* The queue takes events again once read. */
	fd = open("q", O_RDWR);
	CHECK(pwrite(fd, "a", 1, 0));
	close(fd);
	CHECK(inotify_rm_watch(ifd, wd_file));
	unlink("q");
	drain("after the overflow");
	wd_file = 0;
}

static void limits(void)
{
	static const char *files[] = {"max_queued_events", "max_user_instances", "max_user_watches"};
	long instances = 0;
	for (int i = 0; i < 3; i++) {
		char path[128];
		long v = -1;
		snprintf(path, sizeof path, "/proc/sys/fs/inotify/%s", files[i]);
		FILE *f = fopen(path, "r");
		int ok = f && fscanf(f, "%ld", &v) == 1 && v > 0;
		printf("%s: %s\n", files[i], ok ? "a positive number" : "missing");
		if (i == 1)
			instances = v;
		if (f)
			fclose(f);
	}
	int fds[1024], n = 0;
	errno = 0;
	while (n < 1024) {
		int fd = inotify_init1(IN_CLOEXEC);
		if (fd < 0)
			break;
		fds[n++] = fd;
	}
	printf("instances until failure: %s, at most max_user_instances: %s\n", errname(errno),
	       n <= instances ? "yes" : "no");
	while (n > 0)
		close(fds[--n]);
	int fd = inotify_init1(0);
	yes("closing them gives the slots back", fd >= 0);
	close(fd);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_inotify");
	CHECK(put_file("f", "data"));
	CHECK(link("f", "hard"));
	CHECK(symlink("f", "sym"));
	init_flags();
	ifd = inotify_init1(IN_NONBLOCK);
	watch_errors();
	descriptors();
	CHECK(unlink("hard"));
	CHECK(unlink("sym"));
	drain("nothing watched");
	file_events();
	merging_and_reads();
	oneshot_and_excl_unlink();
	overflow();
	close(ifd);
	limits();
	return fs_end();
}
