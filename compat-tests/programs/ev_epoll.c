/* ev_epoll: epoll in one thread: creation and epoll_ctl errors, level- and edge-triggered
 * reports, EPOLLONESHOT and its re-arming, the data round trip, the order of reports, hang-up
 * and error bits, interests going away with their file description, nested epolls (loops,
 * depth), EPOLLEXCLUSIVE's rules, an epoll fd in poll(2), timeouts, epoll_pwait/pwait2, and
 * eventfds, timerfds, /dev/random and stdout watched by epoll. */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include "fsutil.h"

#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1u << 28)
#endif
#define NR_epoll_pwait2 441

static int ctl(int ep, int op, int fd, unsigned events, uint64_t data)
{
	struct epoll_event e = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, op, fd, &e);
}

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
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

/* Reads what is there without blocking. */
static void drain(int fd)
{
	char buf[256];
	int flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	while (read(fd, buf, sizeof buf) > 0)
		;
	fcntl(fd, F_SETFL, flags);
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

static void ctl_errors(void)
{
	int ep = epoll_create1(0), other = epoll_create1(0);
	int p[2];
	pipe(p);
	CHECK(ctl(-1, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	CHECK(ctl(ep, EPOLL_CTL_ADD, 999, EPOLLIN, 0));
	CHECK(ctl(p[1], EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	CHECK(ctl(ep, EPOLL_CTL_ADD, ep, EPOLLIN, 0));
	int dupe = dup(ep);
	SHOW("add a dup of the epoll to itself", ctl(ep, EPOLL_CTL_ADD, dupe, EPOLLIN, 0));
	close(dupe);
	int f = open("file", O_RDWR | O_CREAT, 0644);
	SHOW("add a regular file", ctl(ep, EPOLL_CTL_ADD, f, EPOLLIN, 0));
	int d = open(".", O_RDONLY | O_DIRECTORY);
	SHOW("add a directory", ctl(ep, EPOLL_CTL_ADD, d, EPOLLIN, 0));
	int null = open("/dev/null", O_RDWR);
	SHOW("add /dev/null", ctl(ep, EPOLL_CTL_ADD, null, EPOLLIN, 0));
	int urandom = open("/dev/urandom", O_RDONLY);
	SHOW("add /dev/urandom", ctl(ep, EPOLL_CTL_ADD, urandom, EPOLLIN, 4));
	int random = open("/dev/random", O_RDONLY);
	SHOW("add /dev/random", ctl(ep, EPOLL_CTL_ADD, random, EPOLLIN | EPOLLOUT, 5));
	SHOW("mod before add", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0));
	SHOW("del before add", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	SHOW("add", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	SHOW("add again", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0));
	SHOW("unknown op", ctl(ep, 7, p[0], EPOLLIN, 0));
	SHOW("add with a bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], BAD_PTR));
	SHOW("del with a null event", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	SHOW("del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
	/* EPOLLEXCLUSIVE: only with ADD, only in/out/err/hup/et/wakeup, never on an epoll. */
	SHOW("exclusive|oneshot", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 0));
	SHOW("exclusive on an epoll", ctl(ep, EPOLL_CTL_ADD, other, EPOLLIN | EPOLLEXCLUSIVE, 0));
	SHOW("exclusive|et", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLEXCLUSIVE | EPOLLET, 0));
	SHOW("mod of an exclusive interest", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 0));
	SHOW("mod asking for exclusive", ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLEXCLUSIVE, 0));
	reports("random is readable", ep, 4, 0);
	close(f);
	close(d);
	close(null);
	close(urandom);
	close(random);
	close(p[0]);
	close(p[1]);
	close(ep);
	close(other);
}

static void wait_errors(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	struct epoll_event e[2];
	CHECK(epoll_wait(ep, e, 0, 0));
	CHECK(epoll_wait(ep, e, -1, 0));
	CHECK(epoll_wait(-1, e, 1, 0));
	SHOW("epoll_wait on a pipe", epoll_wait(p[0], e, 1, 0));
	SHOW("epoll_wait on a kernel address", epoll_wait(ep, (void *)0xffff800000000000UL, 1, 0));
	SHOW("epoll_wait, nothing ready, bad buffer", epoll_wait(ep, BAD_PTR, 1, 0));
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN | EPOLLET, 9);
	put(p[1], "x");
	SHOW("epoll_wait, event ready, bad buffer", epoll_wait(ep, BAD_PTR, 1, 0));
	reports("the edge is still there after the fault", ep, 2, 0);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void triggering(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 0xdeadbeef01234567ULL);
	ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 7);
	reports("level: only the write end", ep, 8, 0);
	put(p[1], "ab");
	reports("level: both", ep, 8, 0);
	reports("level: both again", ep, 8, 0);
	char c;
	read(p[0], &c, 1);
	reports("level: one byte left", ep, 8, 0);
	read(p[0], &c, 1);
	reports("level: drained", ep, 8, 0);

	epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL);
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLET, 1);
	reports("edge: nothing", ep, 8, 0);
	put(p[1], "abc");
	reports("edge: new data", ep, 8, 0);
	reports("edge: no new edge", ep, 8, 0);
	read(p[0], &c, 1);
	reports("edge: a partial read is no edge", ep, 8, 0);
	put(p[1], "d");
	reports("edge: more data is an edge", ep, 8, 0);
	drain(p[0]);

	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 5);
	put(p[1], "x");
	reports("oneshot: fires", ep, 8, 0);
	reports("oneshot: disabled", ep, 8, 0);
	put(p[1], "y");
	reports("oneshot: still disabled", ep, 8, 0);
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN | EPOLLONESHOT, 6);
	reports("oneshot: re-armed by mod", ep, 8, 0);
	reports("oneshot: disabled again", ep, 8, 0);
	drain(p[0]);
	close(p[0]);
	close(p[1]);
	close(ep);
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

static void hangups(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], 0, 1);
	ctl(ep, EPOLL_CTL_ADD, p[1], 0, 2);
	reports("no events asked: nothing", ep, 8, 0);
	put(p[1], "z");
	close(p[1]);
	reports("writer closed, data left", ep, 8, 0);
	ctl(ep, EPOLL_CTL_MOD, p[0], EPOLLIN, 1);
	reports("with EPOLLIN", ep, 8, 0);
	drain(p[0]);
	reports("drained", ep, 8, 0);
	close(p[0]);
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[1], EPOLLOUT, 3);
	close(p[0]);
	reports("reader closed", ep, 8, 0);
	close(p[1]);
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

static void nesting(void)
{
	int inner = epoll_create1(0), outer = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(inner, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
	SHOW("outer watches inner", ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 2));
	SHOW("inner watches outer (a loop)", ctl(inner, EPOLL_CTL_ADD, outer, EPOLLIN, 3));
	reports("outer, nothing", outer, 8, 0);
	struct pollfd pf = {.fd = inner, .events = POLLIN};
	SHOW("poll(inner)", poll(&pf, 1, 0));
	put(p[1], "x");
	reports("outer after a write", outer, 8, 0);
	pf.revents = 0;
	SHOW("poll(inner)", poll(&pf, 1, 0));
	printf("poll(inner) revents %#x\n", pf.revents);
	reports("inner", inner, 8, 0);
	close(inner);
	close(outer);

	/* Five epolls in a chain are allowed, a sixth is ELOOP. */
	int below = p[0], eps[6];
	for (int i = 0; i < 6; i++) {
		eps[i] = epoll_create1(0);
		printf("chain of %d: ", i + 1);
		fflush(stdout);
		SHOW("add", ctl(eps[i], EPOLL_CTL_ADD, below, EPOLLIN, 0));
		below = eps[i];
	}
	for (int i = 0; i < 6; i++)
		close(eps[i]);
	close(p[0]);
	close(p[1]);
}

static void timeouts(void)
{
	int ep = epoll_create1(0);
	struct epoll_event e;
	long long t0 = now_ms();
	SHOW("epoll_wait 30 ms", epoll_wait(ep, &e, 1, 30));
	yes("it took at least 30 ms", now_ms() - t0 >= 30);
	sigset_t none;
	sigemptyset(&none);
	t0 = now_ms();
	SHOW("epoll_pwait 20 ms", epoll_pwait(ep, &e, 1, 20, &none));
	yes("it took at least 20 ms", now_ms() - t0 >= 20);
	SHOW("epoll_pwait, bad sigsetsize", syscall(SYS_epoll_pwait, ep, &e, 1, 0, &none, 4));
	struct timespec ts = {0, 15000000};
	t0 = now_ms();
	SHOW("epoll_pwait2 15 ms", syscall(NR_epoll_pwait2, ep, &e, 1, &ts, NULL, 8));
	yes("it took at least 15 ms", now_ms() - t0 >= 15);
	ts.tv_nsec = 1000000000;
	SHOW("epoll_pwait2 bad timespec", syscall(NR_epoll_pwait2, ep, &e, 1, &ts, NULL, 8));
	close(ep);
}

static void other_files(void)
{
	int ep = epoll_create1(0);
	int efd = eventfd(0, EFD_NONBLOCK);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	ctl(ep, EPOLL_CTL_ADD, efd, EPOLLIN | EPOLLOUT | EPOLLET, 1);
	ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN, 2);
	reports("eventfd writable, timer idle", ep, 8, 0);
	reports("edge: nothing new", ep, 8, 0);
	uint64_t one = 1, got;
	write(efd, &one, 8);
	reports("eventfd written", ep, 8, 0);
	uint64_t zero = 0;
	write(efd, &zero, 8);
	reports("eventfd written with 0", ep, 8, 0);
	read(efd, &got, 8);
	reports("eventfd read: room is an edge for EPOLLOUT", ep, 8, 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, efd, NULL);
	struct itimerspec its = {{0, 0}, {0, 20000000}};
	long long t0 = now_ms();
	timerfd_settime(tfd, 0, &its, NULL);
	reports("timer: wait for it", ep, 8, 1000);
	yes("after at least 20 ms", now_ms() - t0 >= 20);
	got = 0;
	SHOW("read the timer", read(tfd, &got, 8));
	printf("timer expirations: %llu\n", (unsigned long long)got);
	reports("timer read", ep, 8, 0);

	/* stdout is a pipe the harness reads (a console in Coracle): writable. */
	SHOW("add stdout", ctl(ep, EPOLL_CTL_ADD, 1, EPOLLOUT, 4));
	reports("stdout", ep, 8, 0);
	close(efd);
	close(tfd);
	close(ep);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "ev_epoll");
	creation();
	ctl_errors();
	wait_errors();
	triggering();
	order();
	hangups();
	closing();
	nesting();
	timeouts();
	other_files();
	return fs_end();
}
