/* ev_threads: waits that another thread ends: a thread blocked in epoll_wait woken by a pipe
 * write, through a nested epoll, by a timerfd; blocking eventfd reads and overflowing writes;
 * poll(2) on an eventfd; FIFO opens that wait for the other end (and count as that end
 * meanwhile); several threads in epoll_wait on one epoll, each event taken once. */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include "fsutil.h"

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec t = {0, ms * 1000000L};
	nanosleep(&t, NULL);
}

static int ctl(int ep, int op, int fd, unsigned events, uint64_t data)
{
	struct epoll_event e = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, op, fd, &e);
}

/* ---- a thread in epoll_wait ---- */

struct waiter {
	int ep;
	int timeout;
	int n;
	int err;
	struct epoll_event ev[4];
	long long done_at;
};

static void *epoll_waiter(void *arg)
{
	struct waiter *w = arg;
	w->n = epoll_wait(w->ep, w->ev, 4, w->timeout);
	w->err = w->n < 0 ? errno : 0;
	w->done_at = now_ms();
	return NULL;
}

static void show_waiter(const char *what, struct waiter *w)
{
	printf("%s: %d", what, w->n);
	if (w->n < 0)
		printf(" %s", errname(w->err));
	for (int i = 0; i < w->n; i++)
		printf(" [%#x %llu]", w->ev[i].events, (unsigned long long)w->ev[i].data.u64);
	printf("\n");
	fflush(stdout);
}

static void pipe_wakes_epoll_wait(void)
{
	int ep = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN, 11);
	struct waiter w = {.ep = ep, .timeout = -1};
	pthread_t t;
	pthread_create(&t, NULL, epoll_waiter, &w);
	nap_ms(50);
	long long wrote_at = now_ms();
	write(p[1], "x", 1);
	pthread_join(t, NULL);
	show_waiter("blocked epoll_wait, then a pipe write", &w);
	yes("it returned after the write", w.done_at >= wrote_at);
	close(p[0]);
	close(p[1]);
	close(ep);
}

static void nested_wakes(void)
{
	int inner = epoll_create1(0), outer = epoll_create1(0);
	int p[2];
	pipe(p);
	ctl(inner, EPOLL_CTL_ADD, p[0], EPOLLIN, 1);
	ctl(outer, EPOLL_CTL_ADD, inner, EPOLLIN, 2);
	struct waiter w = {.ep = outer, .timeout = 5000};
	pthread_t t;
	pthread_create(&t, NULL, epoll_waiter, &w);
	nap_ms(30);
	write(p[1], "x", 1);
	pthread_join(t, NULL);
	show_waiter("outer epoll woken through the inner one", &w);
	close(p[0]);
	close(p[1]);
	close(inner);
	close(outer);
}

static void timer_wakes_epoll_wait(void)
{
	int ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	ctl(ep, EPOLL_CTL_ADD, tfd, EPOLLIN | EPOLLET, 3);
	struct itimerspec its = {{0, 0}, {0, 40000000}};
	long long armed_at = now_ms();
	timerfd_settime(tfd, 0, &its, NULL);
	struct waiter w = {.ep = ep, .timeout = 5000};
	pthread_t t;
	pthread_create(&t, NULL, epoll_waiter, &w);
	pthread_join(t, NULL);
	show_waiter("epoll_wait woken by a timerfd", &w);
	yes("not before the timer", w.done_at - armed_at >= 39);
	close(tfd);
	close(ep);
}

static void *eventfd_reader(void *arg)
{
	int fd = *(int *)arg;
	uint64_t v = 0;
	long r = read(fd, &v, 8);
	printf("reader thread: read = %ld, value %llu\n", r, (unsigned long long)v);
	fflush(stdout);
	return NULL;
}

static void *eventfd_writer(void *arg)
{
	int fd = *(int *)arg;
	uint64_t v = 5;
	long r = write(fd, &v, 8);
	printf("writer thread: write = %ld\n", r);
	fflush(stdout);
	return NULL;
}

static void eventfd_waits(void)
{
	int fd = eventfd(0, 0);
	pthread_t t;
	pthread_create(&t, NULL, eventfd_reader, &fd);
	nap_ms(30);
	uint64_t v = 42;
	printf("main: write 42\n");
	fflush(stdout);
	write(fd, &v, 8);
	pthread_join(t, NULL);

	v = UINT64_MAX - 3;
	write(fd, &v, 8);
	pthread_create(&t, NULL, eventfd_writer, &fd);
	nap_ms(30);
	printf("main: the writer is still blocked, reading\n");
	fflush(stdout);
	read(fd, &v, 8);
	pthread_join(t, NULL);
	read(fd, &v, 8);
	printf("main: then read %llu\n", (unsigned long long)v);
	close(fd);
}

static void *poller(void *arg)
{
	struct pollfd pf = {.fd = *(int *)arg, .events = POLLIN};
	int n = poll(&pf, 1, 5000);
	printf("poll thread: %d revents %#x\n", n, pf.revents);
	fflush(stdout);
	return NULL;
}

static void poll_on_eventfd(void)
{
	int fd = eventfd(0, EFD_SEMAPHORE);
	pthread_t t;
	pthread_create(&t, NULL, poller, &fd);
	nap_ms(30);
	uint64_t v = 1;
	write(fd, &v, 8);
	pthread_join(t, NULL);
	close(fd);
}

/* ---- FIFOs ---- */

static int fifo_fd;

static void *fifo_opener(void *arg)
{
	int flags = *(int *)arg;
	fifo_fd = open("fifo", flags);
	printf("opener thread: open(%s) %s\n", flags == O_RDONLY ? "O_RDONLY" : "O_WRONLY",
	       fifo_fd >= 0 ? "succeeded" : errname(errno));
	fflush(stdout);
	return NULL;
}

static void fifo_opens(void)
{
	CHECK(mkfifo("fifo", 0644));
	SHOW("open(O_WRONLY|O_NONBLOCK) without a reader", open("fifo", O_WRONLY | O_NONBLOCK));
	int r = open("fifo", O_RDONLY | O_NONBLOCK);
	yes("open(O_RDONLY|O_NONBLOCK) without a writer succeeds", r >= 0);
	close(r);

	/* A blocking reader waits, and counts as a reader meanwhile. */
	int flags = O_RDONLY;
	pthread_t t;
	pthread_create(&t, NULL, fifo_opener, &flags);
	nap_ms(50);
	printf("main: opening for writing, non-blocking\n");
	fflush(stdout);
	/* ENXIO until the opener thread is in its open (it may start late on a busy machine). */
	int w = -1;
	for (int tries = 0; w < 0 && tries < 500; tries++) {
		w = open("fifo", O_WRONLY | O_NONBLOCK);
		if (w < 0)
			nap_ms(10);
	}
	pthread_join(t, NULL);
	yes("the waiting reader let a non-blocking writer open", w >= 0);
	write(w, "hello", 5);
	char buf[8] = {0};
	SHOW("read what the writer wrote", read(fifo_fd, buf, sizeof buf));
	printf("read \"%s\"\n", buf);
	close(w);
	SHOW("read after the writer closed", read(fifo_fd, buf, sizeof buf));
	close(fifo_fd);

	/* A blocking writer waits for a reader. */
	flags = O_WRONLY;
	pthread_create(&t, NULL, fifo_opener, &flags);
	nap_ms(50);
	printf("main: opening for reading\n");
	fflush(stdout);
	r = open("fifo", O_RDONLY);
	pthread_join(t, NULL);
	yes("the reader's open succeeded", r >= 0);
	close(fifo_fd);
	close(r);
	CHECK(unlink("fifo"));
}

/* ---- several threads on one epoll: every event is taken once ---- */

static int shared_ep, shared_pipe[2];
static int taken[3];

static void *taker(void *arg)
{
	int id = *(int *)arg;
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(shared_ep, &ev, 1, 2000);
		if (n <= 0)
			break;
		char c;
		if (read(shared_pipe[0], &c, 1) == 1) {
			if (c == 'q')
				break;
			__atomic_add_fetch(&taken[id], 1, __ATOMIC_SEQ_CST);
		}
	}
	return NULL;
}

static void many_waiters(void)
{
	shared_ep = epoll_create1(0);
	pipe2(shared_pipe, O_NONBLOCK);
	ctl(shared_ep, EPOLL_CTL_ADD, shared_pipe[0], EPOLLIN, 0);
	pthread_t t[3];
	int ids[3] = {0, 1, 2};
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, taker, &ids[i]);
	for (int i = 0; i < 30; i++) {
		write(shared_pipe[1], "x", 1);
		if (i % 10 == 0)
			nap_ms(5);
	}
	/* Wait until all 30 are taken, then stop the takers. */
	for (int tries = 0; tries < 500; tries++) {
		if (taken[0] + taken[1] + taken[2] == 30)
			break;
		nap_ms(10);
	}
	write(shared_pipe[1], "qqq", 3);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	printf("three epoll_wait threads took %d bytes in all\n", taken[0] + taken[1] + taken[2]);
	close(shared_pipe[0]);
	close(shared_pipe[1]);
	close(shared_ep);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "ev_threads");
	pipe_wakes_epoll_wait();
	nested_wakes();
	timer_wakes_epoll_wait();
	eventfd_waits();
	poll_on_eventfd();
	fifo_opens();
	many_waiters();
	return fs_end();
}
