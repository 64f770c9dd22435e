/* net_close: what close does to a TCP connection: SO_LINGER with a time blocks close until
 * the data and FIN are acknowledged or the time runs out (then the connection goes on
 * without its socket and the peer still gets everything), on blocking and non-blocking
 * sockets alike, but not at exit; close of a connect still in progress sends nothing the listener sees. Times are
 * printed as relations only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "netutil.h"

static int listener(int backlog, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(0);
	int small = 4096;
	/* Small buffers: filling the window takes little data. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog))
		die("listener");
	*port = port_of(fd);
	return fd;
}

/* A client connected to `port`, and the accepted end in *server. */
static int connected(int l, int port, int *server)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	struct sockaddr_in a = lo_addr(port);
	if (connect(fd, (struct sockaddr *)&a, sizeof a))
		die("connect");
	*server = accept(l, NULL, NULL);
	if (*server < 0)
		die("accept");
	return fd;
}

static int wait_ms(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

/* Reads fd to its end; the bytes read, -errno on an error. */
static long drain(int fd)
{
	static char buf[8192];
	long n = 0, r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		n += r;
	return r < 0 ? -errno : n;
}

static void set_linger(int fd, int secs)
{
	struct linger lg = {1, secs};
	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg))
		die("SO_LINGER");
}

/* How long close(fd) took, in ms. */
static long timed_close(int fd)
{
	int64_t t0 = mono_ns();
	if (close(fd))
		die("close");
	return (long)((mono_ns() - t0) / 1000000);
}

/* The peer does not read: close waits out the linger time, then the data still arrives. */
static void linger_times_out(int nonblocking)
{
	const char *what = nonblocking ? "non-blocking" : "blocking";
	int port, s;
	int l = listener(4, &port);
	int c = connected(l, port, &s);
	long sent = fill_socket(c, 300);
	check("the peer's window is full", sent > 0);
	set_linger(c, 1);
	if (nonblocking)
		fcntl(c, F_SETFL, O_NONBLOCK);
	long ms = timed_close(c);
	/* inet_release does not look at O_NONBLOCK. */
	checkf(ms >= 900, "%s: close waits the linger time", what);
	checkf(ms < 30000, "%s: close returns", what);
	long got = drain(s);
	checkf(got == sent, "%s: the peer still reads all the data, then the end", what);
	close(s);
	close(l);
}

struct reader {
	int fd;
	long got;
};

static void *slow_reader(void *arg)
{
	struct reader *r = arg;
	struct timespec d = {0, 200 * 1000000};
	nanosleep(&d, NULL);
	r->got = drain(r->fd);
	return NULL;
}

/* A process that exits with the socket open does not linger (inet_release skips it for an
 * exiting task). */
static void exit_does_not_linger(void)
{
	int port, s;
	int l = listener(4, &port);
	int c = connected(l, port, &s);
	long sent = fill_socket(c, 300);
	set_linger(c, 5);
	int go[2];
	if (pipe(go))
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char b;
		close(go[1]);
		read(go[0], &b, 1);
		_exit(0);
	}
	/* The parent's close is not the last: the child's exit, once told, is. */
	close(go[0]);
	close(c);
	int64_t t0 = mono_ns();
	close(go[1]);
	int st;
	waitpid(pid, &st, 0);
	long ms = (long)((mono_ns() - t0) / 1000000);
	check("the exit of the last holder does not wait the linger time", ms < 4000);
	check("the peer still reads all the data, then the end", drain(s) == sent);
	close(s);
	close(l);
}

/* The peer reads: close returns once all is acknowledged, long before the linger time. */
static void linger_until_acked(void)
{
	int port, s;
	int l = listener(4, &port);
	int c = connected(l, port, &s);
	long sent = fill_socket(c, 300);
	set_linger(c, 30);
	struct reader r = {s, -1};
	pthread_t t;
	die_rc("pthread_create", pthread_create(&t, NULL, slow_reader, &r));
	long ms = timed_close(c);
	check("close with a reading peer returns before the linger time", ms < 20000);
	pthread_join(t, NULL);
	check("the reading peer got all the data, then the end", r.got == sent);
	close(s);
	close(l);
}

/* A connect still in progress (beyond a full backlog), closed: the listener never sees it. */
static void close_while_connecting(void)
{
	int port, s;
	int l = listener(0, &port);
	int first = connected(l, port, &s);
	close(s);
	int c0 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(port);
	if (connect(c0, (struct sockaddr *)&a, sizeof a))
		die("connect to fill the backlog");
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	expect_errno("a connect beyond the backlog",
		     connect(c, (struct sockaddr *)&a, sizeof a), EINPROGRESS);
	close(c);
	int s0 = accept(l, NULL, NULL);
	check("the connection that got in is accepted", s0 >= 0);
	check("the closed connect never reaches the listener", wait_ms(l, POLLIN, 1500) == 0);
	close(s0);
	close(c0);
	close(first);
	close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	linger_times_out(0);
	linger_times_out(1);
	linger_until_acked();
	exit_does_not_linger();
	close_while_connecting();
	return finish();
}
