/* ev_epoll: epoll over pipes, eventfd and timerfd: level- and edge-triggered readiness,
 * EPOLLONESHOT and re-arming, EPOLLEXCLUSIVE's rules, several ready fds and maxevents, hang-up
 * and error bits, closing a registered fd, epoll inside epoll, epoll_pwait's signal mask,
 * epoll_pwait2's timespec timeout, EINTR, and the argument errors. Fds are told apart by the
 * data word; lists of ready fds are sorted before they are printed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include "thrutil.h"

#ifndef EPOLLEXCLUSIVE
#define EPOLLEXCLUSIVE (1u << 28)
#endif

#define MS 1000000LL

static int ep;

static int add(int epfd, int fd, unsigned events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int fd, unsigned events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static const char *bits(unsigned e)
{
	static char buf[64];
	buf[0] = 0;
	if (e & EPOLLIN)
		strcat(buf, "IN|");
	if (e & EPOLLOUT)
		strcat(buf, "OUT|");
	if (e & EPOLLERR)
		strcat(buf, "ERR|");
	if (e & EPOLLHUP)
		strcat(buf, "HUP|");
	if (e & EPOLLPRI)
		strcat(buf, "PRI|");
	if (buf[0])
		buf[strlen(buf) - 1] = 0;
	else
		strcpy(buf, "none");
	return buf;
}

static int cmp_event(const void *a, const void *b)
{
	uint64_t x = ((const struct epoll_event *)a)->data.u64;
	uint64_t y = ((const struct epoll_event *)b)->data.u64;
	return (x > y) - (x < y);
}

/* epoll_wait(ep, timeout) printed as "what: N ready [data:bits ...]"; the count. */
static int show_wait(const char *what, int epfd, int max, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(epfd, evs, max, timeout_ms);
	printf("%s: ", what);
	if (n < 0) {
		printf("-1 %s\n", errname(errno));
		return n;
	}
	qsort(evs, (size_t)n, sizeof evs[0], cmp_event);
	printf("%d ready", n);
	for (int i = 0; i < n; i++)
		printf(" %llu:%s", (unsigned long long)evs[i].data.u64, bits(evs[i].events));
	printf("\n");
	return n;
}

static void drain(int fd)
{
	char buf[256];
	while (read(fd, buf, sizeof buf) > 0)
		;
}

static int pipe_fds[2], efd, tfd;

static void setup(void)
{
	ep = epoll_create1(EPOLL_CLOEXEC);
	check("epoll_create1(EPOLL_CLOEXEC)", ep >= 0);
	check("it is close-on-exec", fcntl(ep, F_GETFD) == FD_CLOEXEC);
	if (pipe2(pipe_fds, O_NONBLOCK) != 0)
		die("pipe2");
	efd = eventfd(0, EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (efd < 0 || tfd < 0)
		die("eventfd/timerfd");
	expect_ret("add pipe read end (data 1)", add(ep, pipe_fds[0], EPOLLIN, 1), 0);
	expect_ret("add eventfd (data 2)", add(ep, efd, EPOLLIN, 2), 0);
	expect_ret("add timerfd (data 3)", add(ep, tfd, EPOLLIN, 3), 0);
}

static void errors(void)
{
	errno = 0;
	expect_errno("epoll_create(0)", syscall(SYS_epoll_create, 0), EINVAL); /* musl maps it */
	errno = 0;
	expect_errno("epoll_create1(1)", epoll_create1(1), EINVAL);
	errno = 0;
	expect_errno("add the pipe again", add(ep, pipe_fds[0], EPOLLIN, 1), EEXIST);
	errno = 0;
	expect_errno("modify an fd not in the set", mod(pipe_fds[1], EPOLLOUT, 9), ENOENT);
	errno = 0;
	expect_errno("delete an fd not in the set",
		     epoll_ctl(ep, EPOLL_CTL_DEL, pipe_fds[1], NULL), ENOENT);
	errno = 0;
	expect_errno("add the epoll fd to itself", add(ep, ep, EPOLLIN, 9), EINVAL);
	int memfd = (int)syscall(SYS_memfd_create, "ev_epoll", 0);
	errno = 0;
	expect_errno("add a memfd (a regular file)", add(ep, memfd, EPOLLIN, 9), EPERM);
	close(memfd);
	errno = 0;
	expect_errno("add a closed fd", add(ep, 999, EPOLLIN, 9), EBADF);
	errno = 0;
	expect_errno("epoll_ctl on a pipe as the epoll fd", add(pipe_fds[1], efd, EPOLLIN, 9),
		     EINVAL);
	errno = 0;
	expect_errno("epoll_ctl op 99", epoll_ctl(ep, 99, efd, &(struct epoll_event){0}), EINVAL);
	struct epoll_event ev;
	errno = 0;
	expect_errno("epoll_wait with maxevents 0", epoll_wait(ep, &ev, 0, 0), EINVAL);
	errno = 0;
	expect_errno("epoll_wait on a pipe", epoll_wait(pipe_fds[0], &ev, 1, 0), EINVAL);
	eventfd_write(efd, 1);
	errno = 0;
	expect_errno("epoll_wait into an unmapped buffer, an event ready",
		     syscall(SYS_epoll_wait, ep, 16, 1, 0), EFAULT);
	eventfd_t v;
	eventfd_read(efd, &v);
}

static void level_triggered(void)
{
	check("nothing ready at first", show_wait("wait(0)", ep, 16, 0) == 0);
	write(pipe_fds[1], "a", 1);
	check("one byte in the pipe: the pipe is ready", show_wait("wait(0)", ep, 16, 0) == 1);
	check("level-triggered: still ready", show_wait("wait(0) again", ep, 16, 0) == 1);
	drain(pipe_fds[0]);
	check("drained: nothing ready", show_wait("wait(0)", ep, 16, 0) == 0);

	eventfd_write(efd, 3);
	check("eventfd with a count: ready", show_wait("wait(0)", ep, 16, 0) == 1);
	eventfd_t v;
	eventfd_read(efd, &v);
	struct itimerspec once = {{0, 0}, {0, 20 * MS}};
	int64_t before = mono_ns();
	timerfd_settime(tfd, 0, &once, NULL);
	check("timerfd (20 ms): a blocking wait returns it",
	      show_wait("wait(30 s)", ep, 16, LONG_WAIT_S * 1000) == 1);
	check("after at least 20 ms", mono_ns() - before >= 20 * MS);
	drain(tfd);

	write(pipe_fds[1], "b", 1);
	eventfd_write(efd, 1);
	check("pipe and eventfd ready together", show_wait("wait(0)", ep, 16, 0) == 2);
	struct epoll_event first, second;
	int n1 = epoll_wait(ep, &first, 1, 0), n2 = epoll_wait(ep, &second, 1, 0);
	check("two waits with maxevents 1 return one each, the two different fds",
	      n1 == 1 && n2 == 1 && first.data.u64 != second.data.u64);
	drain(pipe_fds[0]);
	eventfd_read(efd, &v);
}

static void edge_and_oneshot(void)
{
	expect_ret("modify the pipe to EPOLLIN|EPOLLET", mod(pipe_fds[0], EPOLLIN | EPOLLET, 1), 0);
	write(pipe_fds[1], "c", 1);
	check("edge-triggered: a write is one event", show_wait("wait(0)", ep, 16, 0) == 1);
	check("and not again while nothing new arrives", show_wait("wait(0) again", ep, 16, 0) == 0);
	write(pipe_fds[1], "d", 1);
	check("another write: another event", show_wait("wait(0)", ep, 16, 0) == 1);
	drain(pipe_fds[0]);

	expect_ret("modify the pipe to EPOLLIN|EPOLLONESHOT",
		   mod(pipe_fds[0], EPOLLIN | EPOLLONESHOT, 1), 0);
	write(pipe_fds[1], "e", 1);
	check("one-shot: reported once", show_wait("wait(0)", ep, 16, 0) == 1);
	check("then disabled though still readable", show_wait("wait(0) again", ep, 16, 0) == 0);
	mod(pipe_fds[0], EPOLLIN | EPOLLONESHOT, 1);
	check("re-armed with EPOLL_CTL_MOD: reported again", show_wait("wait(0)", ep, 16, 0) == 1);
	drain(pipe_fds[0]);
	mod(pipe_fds[0], EPOLLIN, 1);

	int other = eventfd(0, EFD_NONBLOCK);
	expect_ret("add an eventfd with EPOLLEXCLUSIVE", add(ep, other, EPOLLIN | EPOLLEXCLUSIVE, 4),
		   0);
	errno = 0;
	expect_errno("modify it (EPOLLEXCLUSIVE cannot be modified)",
		     mod(other, EPOLLIN | EPOLLEXCLUSIVE, 4), EINVAL);
	eventfd_write(other, 1);
	check("the exclusive one is reported like any other", show_wait("wait(0)", ep, 16, 0) == 1);
	expect_ret("delete it", epoll_ctl(ep, EPOLL_CTL_DEL, other, NULL), 0);
	int third = eventfd(0, 0);
	errno = 0;
	expect_errno("add with EPOLLEXCLUSIVE|EPOLLONESHOT",
		     add(ep, third, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT, 5), EINVAL);
	close(third);

	/* Closing the only descriptor of a registered file removes it from the set. */
	check("the other eventfd is not in the set any more", show_wait("wait(0)", ep, 16, 0) == 0);
	add(ep, other, EPOLLIN, 4);
	check("added back: reported", show_wait("wait(0)", ep, 16, 0) == 1);
	close(other);
	check("closed: gone from the set", show_wait("wait(0)", ep, 16, 0) == 0);
}

static void hangups(void)
{
	int p[2];
	if (pipe2(p, O_NONBLOCK) != 0)
		die("pipe2");
	int e2 = epoll_create1(0);
	add(e2, p[1], EPOLLOUT, 10);
	check("an empty pipe's write end: OUT", show_wait("write end", e2, 16, 0) == 1);
	close(p[0]);
	check("its read end closed: OUT|ERR", show_wait("write end, reader gone", e2, 16, 0) == 1);
	close(p[1]);
	close(e2);

	if (pipe2(p, O_NONBLOCK) != 0)
		die("pipe2");
	e2 = epoll_create1(0);
	add(e2, p[0], EPOLLIN, 11);
	write(p[1], "x", 1);
	close(p[1]);
	check("read end, data then the writer gone: IN|HUP",
	      show_wait("read end, data, writer gone", e2, 16, 0) == 1);
	drain(p[0]);
	check("drained: HUP", show_wait("read end, drained", e2, 16, 0) == 1);
	close(p[0]);
	close(e2);
}

static void nested(void)
{
	int outer = epoll_create1(0);
	expect_ret("add the epoll fd to another epoll", add(outer, ep, EPOLLIN, 20), 0);
	check("nothing ready inside: the outer has nothing",
	      show_wait("outer wait(0)", outer, 16, 0) == 0);
	write(pipe_fds[1], "n", 1);
	check("the pipe ready inside: the outer reports the inner",
	      show_wait("outer wait(0)", outer, 16, 0) == 1);
	drain(pipe_fds[0]);
	close(outer);
}

static volatile int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void waits_and_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 20000}};
	struct epoll_event ev;
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	expect_errno("epoll_wait(30 s) hit by SIGALRM (SA_RESTART does not restart it)",
		     epoll_wait(ep, &ev, 1, LONG_WAIT_S * 1000), EINTR);
	check("the handler ran", alarms == 1);

	sigset_t blocked, empty;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGALRM);
	sigemptyset(&empty);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	errno = 0;
	expect_errno("epoll_pwait(30 s) with SIGALRM blocked outside but not in its mask",
		     epoll_pwait(ep, &ev, 1, LONG_WAIT_S * 1000, &empty), EINTR);
	check("the handler ran inside it", alarms == 2);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	check("SIGALRM blocked again after it", sigismember(&now, SIGALRM));
	sigprocmask(SIG_UNBLOCK, &blocked, NULL);

	struct timespec t = {0, 20 * MS};
	int64_t before = mono_ns();
	expect_ret("epoll_pwait2(20 ms) with nothing ready",
		   syscall(SYS_epoll_pwait2, ep, &ev, 1, &t, NULL, 8), 0);
	check("it waited at least 20 ms", mono_ns() - before >= 20 * MS);
	eventfd_write(efd, 1);
	expect_ret("epoll_pwait2(no timeout) with the eventfd ready",
		   syscall(SYS_epoll_pwait2, ep, &ev, 1, NULL, NULL, 8), 1);
	check("it was the eventfd", ev.data.u64 == 2);
	struct timespec bad = {0, 1000000000};
	errno = 0;
	expect_errno("epoll_pwait2 with tv_nsec = 1e9",
		     syscall(SYS_epoll_pwait2, ep, &ev, 1, &bad, NULL, 8), EINVAL);
}

int main(void)
{
	setup();
	errors();
	level_triggered();
	edge_and_oneshot();
	hangups();
	nested();
	waits_and_signals();
	return finish();
}
