/* ev_epoll_keys: what the other epoll programs leave out: the epoll fd's own facts, which
 * files can be watched (pipes and /dev/random yes; /dev/urandom, /dev/null, regular files and
 * directories no), the order of level-triggered reports (round robin), interests keyed by fd
 * and open file description (a dup keeps one alive, a new description at the same fd is a new
 * one), the nesting depth limit counted both ways, and an edge kept when it could not be
 * copied out. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/epoll.h>
#include "fsutil.h"


static int ctl(int ep, int op, int fd, unsigned events, uint64_t data)
{
	struct epoll_event e = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, op, fd, &e);
}

/* epoll_wait and the reports: "what: N [events data] ..." */
static void reports(const char *what, int ep, int max, int timeout)
{
	struct epoll_event evs[16];
	errno = 0;
	int n = epoll_wait(ep, evs, max, timeout);
	printf("%s:", what);
	if (n < 0)
		printf(" -1 %s", errname(errno));
	else
		printf(" %d", n);
	for (int i = 0; i < n; i++)
		printf(" [%#x %llu]", evs[i].events, (unsigned long long)evs[i].data.u64);
	printf("\n");
	fflush(stdout);
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		printf("write failed: %s\n", errname(errno));
}

static void creation(void)
{
	CHECK(epoll_create(0));
	CHECK(epoll_create(-1));
	CHECK(epoll_create1(1));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	yes("epoll_create1(EPOLL_CLOEXEC) sets FD_CLOEXEC", fcntl(ep, F_GETFD) == FD_CLOEXEC);
	struct stat st;
	fstat(ep, &st);
	printf("epoll fd: type bits %#o, mode %#o\n", (unsigned)(st.st_mode & S_IFMT),
	       (unsigned)(st.st_mode & 07777));
	char link[64], target[64] = {0};
	snprintf(link, sizeof link, "/proc/self/fd/%d", ep);
	readlink(link, target, sizeof target - 1);
	printf("epoll fd links to %s\n", target);
	close(ep);
}


static void watchable(void)
{
	int ep = epoll_create1(0);
	int f = open("file", O_RDWR | O_CREAT, 0644);
	SHOW("add a regular file", ctl(ep, EPOLL_CTL_ADD, f, EPOLLIN, 0));
	int d = open(".", O_RDONLY | O_DIRECTORY);
	SHOW("add a directory", ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, 0));
	const char *devs[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"};
	int dev[5];
	for (int i = 0; i < 5; i++) {
		int fd = dev[i] = open(devs[i], O_RDWR);
		printf("add %s: ", devs[i]);
		fflush(stdout);
		SHOW("", ctl(ep, EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT, 10 + i));
	}
	/* stdout is a pipe the harness reads (a console in Coracle). */
	SHOW("add stdout", ctl(ep, EPOLL_CTL_ADD, 1, EPOLLOUT, 1));
	reports("ready", ep, 8, 0);
	struct pollfd pf[2] = {{.fd = dev[4], .events = POLLIN | POLLOUT},
			       {.fd = dev[3], .events = POLLIN | POLLOUT}};
	poll(pf, 2, 0);
	printf("poll: /dev/random %#x, /dev/urandom %#x\n", pf[0].revents, pf[1].revents);
	close(ep);
	for (int fd = 3; fd < 16; fd++)
		close(fd);
}

static void order(void)
{
	int ep = epoll_create1(0);
	int a[2], b[2], c[2];
	pipe(a);
	pipe(b);
	pipe(c);
	ctl(ep, EPOLL_CTL_ADD, a[0], EPOLLIN, 1);
	ctl(ep, EPOLL_CTL_ADD, b[0], EPOLLIN, 2);
	ctl(ep, EPOLL_CTL_ADD, c[0], EPOLLIN, 3);
	put(b[1], "b");
	put(a[1], "a");
	put(c[1], "c");
	for (int i = 0; i < 5; i++)
		reports("one at a time", ep, 1, 0);
	reports("two at a time", ep, 2, 0);
	reports("two at a time", ep, 2, 0);
	close(a[0]), close(a[1]), close(b[0]), close(b[1]), close(c[0]), close(c[1]);
	close(ep);
}


static void closing(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
	int copy = dup(p[0]);
	put(p[1], "x");
	close(p[0]);
	reports("fd closed, description open", ep, 8, 0);
	SHOW("del by the closed fd", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	close(copy);
	reports("description closed", ep, 8, 0);
	int q[2];
	pipe(q);
	printf("new pipe reuses the fd: %s\n", q[0] == p[0] ? "yes" : "no");
	SHOW("add the new description", ctl(ep, EPOLL_CTL_ADD, q[0], EPOLLIN, 2));
	put(q[1], "y");
	reports("new description", ep, 8, 0);
	close(q[0]);
	close(q[1]);
	close(p[1]);
	close(ep);
}


static void depth(void)
{
	int p[2];
	pipe(p);
	/* Five epolls in a chain are allowed, a sixth is ELOOP. */
	int below = p[0], eps[6];
	for (int i = 0; i < 6; i++) {
		eps[i] = epoll_create1(0);
		printf("chain of %d: ", i + 1);
		fflush(stdout);
		SHOW("add", ctl(eps[i], EPOLL_CTL_ADD, below, EPOLLIN, 0));
		below = eps[i];
	}
	/* Counted upwards too: under a watched epoll, a chain of four is one too many. */
	int a = epoll_create1(0), b = epoll_create1(0);
	ctl(a, EPOLL_CTL_ADD, b, EPOLLIN, 0);
	SHOW("watched epoll takes a chain of 3", ctl(b, EPOLL_CTL_ADD, eps[2], EPOLLIN, 0));
	SHOW("watched epoll takes a chain of 4", ctl(b, EPOLL_CTL_ADD, eps[3], EPOLLIN, 0));
	SHOW("a loop", ctl(eps[0], EPOLL_CTL_ADD, eps[2], EPOLLIN, 0));
	for (int i = 0; i < 6; i++)
		close(eps[i]);
	close(a);
	close(b);
	close(p[0]);
	close(p[1]);
}

static void fault(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET | EPOLLONESHOT, 9);
	put(p[1], "x");
	SHOW("epoll_wait, event ready, bad buffer", epoll_wait(ep, BAD_PTR, 1, 0));
	reports("the edge is still there after the fault", ep, 2, 0);
	reports("and then gone", ep, 2, 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "ev_epoll_keys");
	creation();
	watchable();
	order();
	closing();
	depth();
	fault();
	return fs_end();
}
