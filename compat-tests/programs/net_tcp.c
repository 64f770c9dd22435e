/* net_tcp: TCP over loopback: an echo server with a thread per client and with a forked child,
 * a non-blocking connect and an epoll server (level and edge triggered, EPOLLRDHUP), shutdown
 * and the end of a stream, and Linux's errors for misuse (ECONNREFUSED, EADDRINUSE, ENOTCONN,
 * EPIPE with and without SIGPIPE, EISCONN, EINVAL). Ports are ephemeral; only whether they
 * match is printed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "netutil.h"

/* A listener on 127.0.0.1 at an ephemeral port. */
static int listener(int flags)
{
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	struct sockaddr_in a = lo_addr(0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16))
		die("listener");
	return fd;
}

static int connect_to(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a))
		die("connect");
	return fd;
}

/* Reads exactly n bytes (or to the end); returns what it got. */
static long read_all(int fd, char *buf, long n)
{
	long got = 0;
	while (got < n) {
		long r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += r;
	}
	return got;
}

static void echo(int fd)
{
	char buf[4096];
	long n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, n) != n)
			break;
	close(fd);
}

static void *echo_thread(void *arg)
{
	echo((int)(long)arg);
	return NULL;
}

/* A client sends `len` patterned bytes, half-closes and reads the echo back. */
static int round_trip(int port, long len)
{
	int fd = connect_to(port);
	char *out = malloc(len), *in = malloc(len);
	for (long i = 0; i < len; i++)
		out[i] = (char)(i * 31 + i / 7);
	long sent = 0;
	/* Interleave so that neither side's buffers must hold everything. */
	long got = 0;
	while (sent < len) {
		long chunk = len - sent < 8192 ? len - sent : 8192;
		long w = write(fd, out + sent, chunk);
		if (w <= 0)
			die("write");
		sent += w;
		long r = read(fd, in + got, len - got < 8192 ? len - got : 8192);
		if (r > 0)
			got += r;
	}
	shutdown(fd, SHUT_WR);
	got += read_all(fd, in + got, len - got);
	char extra;
	long end = read(fd, &extra, 1);
	int ok = got == len && memcmp(in, out, len) == 0 && end == 0;
	close(fd);
	free(out);
	free(in);
	return ok;
}

struct big_arg {
	int l, port;
};

static void *big_server(void *p)
{
	struct big_arg *a = p;
	echo(accept(a->l, NULL, NULL));
	return NULL;
}

static void threads_echo(void)
{
	int l = listener(0);
	int port = port_of(l);
	pthread_t t[3];
	int fds[3];
	for (int i = 0; i < 3; i++) {
		int c = connect_to(port);
		fds[i] = c;
	}
	/* Three connections wait in the backlog; accept them all, then serve each. */
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof peer;
		int s = accept(l, (struct sockaddr *)&peer, &len);
		checkf(s >= 0 && len == sizeof peer && peer.sin_family == AF_INET &&
			       peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
			       ntohs(peer.sin_port) == port_of(fds[i]),
		       "accept %d: the peer is the client's address", i);
		pthread_create(&t[i], NULL, echo_thread, (void *)(long)s);
	}
	for (int i = 0; i < 3; i++) {
		char msg[32], back[32];
		int n = snprintf(msg, sizeof msg, "hello %d", i);
		write(fds[i], msg, n);
		checkf(read_all(fds[i], back, n) == n && memcmp(msg, back, n) == 0,
		       "thread echo %d", i);
		close(fds[i]);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	/* A bigger stream through a server thread. */
	pthread_t big;
	struct big_arg arg = {.l = l, .port = port};
	pthread_create(&big, NULL, big_server, &arg);
	check("thread: 200000 bytes echoed", round_trip(port, 200000));
	pthread_join(big, NULL);
	close(l);
}

static void fork_echo(void)
{
	int l = listener(0);
	int port = port_of(l);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child serves one connection on the listener it inherited. */
		int s = accept(l, NULL, NULL);
		echo(s);
		_exit(0);
	}
	close(l);
	check("fork: 300000 bytes echoed by a forked server", round_trip(port, 300000));
	int status;
	waitpid(pid, &status, 0);
	check("fork: the server exits 0", WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void nonblocking_epoll(void)
{
	int l = listener(SOCK_NONBLOCK);
	int port = port_of(l);
	expect_errno("accept on an empty non-blocking listener", accept(l, NULL, NULL), EAGAIN);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = lo_addr(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	check("non-blocking connect: 0 or EINPROGRESS", r == 0 || errno == EINPROGRESS);
	struct pollfd pf = {.fd = c, .events = POLLOUT};
	check("poll: the connection becomes writable", poll(&pf, 1, LONG_WAIT_S * 1000) == 1 &&
							     (pf.revents & POLLOUT));
	int err = -1;
	socklen_t len = sizeof err;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
	expect_rc("SO_ERROR after connecting", err, 0);
	r = connect(c, (struct sockaddr *)&a, sizeof a);
	check("connect again: 0 or EISCONN", r == 0 || errno == EISCONN);
	expect_errno("connect a third time", connect(c, (struct sockaddr *)&a, sizeof a), EISCONN);

	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
	epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
	struct epoll_event out[4];
	int n = epoll_wait(ep, out, 4, LONG_WAIT_S * 1000);
	check("epoll: the listener is readable", n == 1 && out[0].data.fd == l);
	int s = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	check("accept4 gives a non-blocking close-on-exec socket",
	      s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) && (fcntl(s, F_GETFD) & FD_CLOEXEC));
	expect_errno("read on an empty non-blocking socket", read(s, &n, 1), EAGAIN);
	ev.events = EPOLLIN | EPOLLET | EPOLLRDHUP;
	ev.data.fd = s;
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	check("epoll: nothing yet", epoll_wait(ep, out, 4, 0) == 0);
	write(c, "abc", 3);
	n = epoll_wait(ep, out, 4, LONG_WAIT_S * 1000);
	check("epoll ET: data arrives", n == 1 && out[0].data.fd == s && out[0].events == EPOLLIN);
	check("epoll ET: reported once", epoll_wait(ep, out, 4, 0) == 0);
	int avail = -1;
	ioctl(s, FIONREAD, &avail);
	expect_ret("FIONREAD", avail, 3);
	char buf[16];
	expect_ret("recv MSG_PEEK", recv(s, buf, sizeof buf, MSG_PEEK), 3);
	expect_ret("recv", recv(s, buf, sizeof buf, 0), 3);
	write(c, "de", 2);
	n = epoll_wait(ep, out, 4, LONG_WAIT_S * 1000);
	check("epoll ET: more data is a new edge", n == 1 && out[0].events == EPOLLIN);
	expect_ret("recv the rest", recv(s, buf, sizeof buf, 0), 2);
	shutdown(c, SHUT_WR);
	n = epoll_wait(ep, out, 4, LONG_WAIT_S * 1000);
	check("epoll: EPOLLRDHUP after the peer's shutdown",
	      n == 1 && out[0].events == (EPOLLIN | EPOLLRDHUP));
	expect_ret("read at the end", read(s, buf, sizeof buf), 0);
	expect_ret("the other way still works", write(s, "xyz", 3), 3);
	expect_ret("the client reads it", read_all(c, buf, 3), 3);
	close(s);
	pf.fd = c;
	pf.events = POLLIN | POLLRDHUP;
	check("poll: the client sees the end", poll(&pf, 1, LONG_WAIT_S * 1000) == 1 &&
						       (pf.revents & POLLIN) && (pf.revents & POLLRDHUP));
	expect_ret("read at the end (client)", read(c, buf, sizeof buf), 0);
	close(c);
	close(ep);
	close(l);
}

static int got_sigpipe;
static void on_pipe(int sig)
{
	(void)sig;
	got_sigpipe++;
}

static void errors(void)
{
	/* A port nobody listens on: take one, then close it. */
	int t = listener(0);
	int dead = port_of(t);
	close(t);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(dead);
	expect_errno("connect to a closed port", connect(c, (struct sockaddr *)&a, sizeof a),
		     ECONNREFUSED);
	close(c);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	check("non-blocking connect to a closed port: EINPROGRESS or ECONNREFUSED",
	      r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
	if (errno == EINPROGRESS) {
		struct pollfd pf = {.fd = c, .events = POLLOUT};
		poll(&pf, 1, LONG_WAIT_S * 1000);
		check("poll: POLLERR", pf.revents & POLLERR);
		int err = 0;
		socklen_t len = sizeof err;
		getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
		expect_rc("SO_ERROR", err, ECONNREFUSED);
	} else {
		check("poll: POLLERR", 1);
		expect_rc("SO_ERROR", ECONNREFUSED, ECONNREFUSED);
	}
	int err = -1;
	socklen_t len = sizeof err;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
	expect_rc("SO_ERROR is cleared once read", err, 0);
	close(c);

	int l = listener(0);
	int port = port_of(l);
	int b = socket(AF_INET, SOCK_STREAM, 0);
	a = lo_addr(port);
	expect_errno("bind a port in use", bind(b, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	int on = 1;
	setsockopt(b, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	expect_errno("... with SO_REUSEADDR while it listens",
		     bind(b, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = htons(port)};
	expect_errno("bind 0.0.0.0 on that port", bind(b, (struct sockaddr *)&any, sizeof any),
		     EADDRINUSE);
	struct sockaddr_in zero = lo_addr(0);
	expect_ret("bind an ephemeral port", bind(b, (struct sockaddr *)&zero, sizeof zero), 0);
	expect_errno("bind twice", bind(b, (struct sockaddr *)&zero, sizeof zero), EINVAL);
	expect_errno("bind with a short address", bind(socket(AF_INET, SOCK_STREAM, 0),
						      (struct sockaddr *)&zero, 8), EINVAL);
	struct sockaddr_in6 six = {.sin6_family = AF_INET6};
	expect_errno("bind an AF_INET6 address to AF_INET",
		     bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&six, sizeof six),
		     EAFNOSUPPORT);
	struct sockaddr_in far = {.sin_family = AF_INET};
	far.sin_addr.s_addr = htonl(0xc0000201);
	expect_errno("bind a foreign address",
		     bind(socket(AF_INET, SOCK_STREAM, 0), (struct sockaddr *)&far, sizeof far),
		     EADDRNOTAVAIL);
	char buf[8];
	expect_errno("read on an unconnected socket", read(b, buf, 1), ENOTCONN);
	expect_errno("recv on an unconnected socket", recv(b, buf, 1, 0), ENOTCONN);
	expect_errno("getpeername unconnected", getpeername(b, (struct sockaddr *)&a, &len),
		     ENOTCONN);
	expect_errno("shutdown unconnected", shutdown(b, SHUT_RD), ENOTCONN);
	expect_errno("accept on a socket that does not listen", accept(b, NULL, NULL), EINVAL);
	expect_errno("send on an unconnected socket", send(b, "x", 1, MSG_NOSIGNAL), EPIPE);
	expect_errno("socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)",
		     socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	expect_errno("socket(12345, ...)", socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
	expect_errno("socket with unknown flags", socket(AF_INET, SOCK_STREAM | 0x100000, 0),
		     EINVAL);
	int sv[2];
	expect_errno("socketpair(AF_INET)", socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
	expect_errno("listen on a pipe", listen(0, 1) == -1 && errno == ENOTSOCK ? -1 : 0,
		     ENOTSOCK);
	expect_errno("shutdown(how=7)", shutdown(b, 7), EINVAL);

	/* EPIPE: the peer closed; the first write may still succeed (the peer then resets). */
	c = connect_to(port);
	int s = accept(l, NULL, NULL);
	shutdown(c, SHUT_WR);
	expect_errno("write after shutdown(SHUT_WR), MSG_NOSIGNAL", send(c, "x", 1, MSG_NOSIGNAL),
		     EPIPE);
	signal(SIGPIPE, on_pipe);
	expect_errno("write after shutdown(SHUT_WR)", write(c, "x", 1), EPIPE);
	expect_ret("SIGPIPE raised once", got_sigpipe, 1);
	signal(SIGPIPE, SIG_DFL);
	close(s);
	close(c);
	close(b);
	close(l);
}

static void options(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int v = -1;
	socklen_t len = sizeof v;
#define GET(level, name, want)                                                              \
	do {                                                                                \
		v = -1;                                                                     \
		len = sizeof v;                                                             \
		int r = getsockopt(fd, level, name, &v, &len);                              \
		checkf(r == 0 && v == (want) && len == sizeof v, "getsockopt " #name " = %d", v); \
	} while (0)
	GET(SOL_SOCKET, SO_TYPE, SOCK_STREAM);
	GET(SOL_SOCKET, SO_DOMAIN, AF_INET);
	GET(SOL_SOCKET, SO_PROTOCOL, IPPROTO_TCP);
	GET(SOL_SOCKET, SO_ERROR, 0);
	GET(SOL_SOCKET, SO_REUSEADDR, 0);
	GET(SOL_SOCKET, SO_KEEPALIVE, 0);
	GET(SOL_SOCKET, SO_ACCEPTCONN, 0);
	GET(IPPROTO_TCP, TCP_NODELAY, 0);
	GET(IPPROTO_TCP, TCP_KEEPIDLE, 7200);
	GET(IPPROTO_TCP, TCP_KEEPINTVL, 75);
	GET(IPPROTO_TCP, TCP_KEEPCNT, 9);
	int on = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	int idle = 30;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	GET(SOL_SOCKET, SO_REUSEADDR, 1);
	GET(SOL_SOCKET, SO_KEEPALIVE, 1);
	GET(IPPROTO_TCP, TCP_NODELAY, 1);
	GET(IPPROTO_TCP, TCP_KEEPIDLE, 30);
	int zero = 0;
	expect_errno("TCP_KEEPIDLE 0", setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &zero, sizeof zero),
		     EINVAL);
	expect_errno("SO_REUSEADDR with a short value",
		     setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, 2), EINVAL);
	expect_errno("an unknown SOL_SOCKET option", setsockopt(fd, SOL_SOCKET, 9999, &on, 4),
		     ENOPROTOOPT);
	expect_errno("getsockopt IPV6_V6ONLY on AF_INET",
		     getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, &len), EOPNOTSUPP);
	expect_errno("setsockopt IPV6_V6ONLY on AF_INET",
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on), ENOPROTOOPT);
	expect_errno("an unknown TCP option", getsockopt(fd, IPPROTO_TCP, 9999, &v, &len),
		     ENOPROTOOPT);
	int buf = 10000;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
	GET(SOL_SOCKET, SO_RCVBUF, 20000);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
	GET(SOL_SOCKET, SO_SNDBUF, 20000);
	struct linger lg = {1, 5}, lgot;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	len = sizeof lgot;
	getsockopt(fd, SOL_SOCKET, SO_LINGER, &lgot, &len);
	check("SO_LINGER round trip", lgot.l_onoff == 1 && lgot.l_linger == 5 && len == sizeof lgot);
	struct timeval tv = {2, 500000}, tgot;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	len = sizeof tgot;
	getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tgot, &len);
	check("SO_RCVTIMEO round trip", tgot.tv_sec == 2 && tgot.tv_usec == 500000);
	tv.tv_usec = 2000000;
	expect_errno("SO_SNDTIMEO with usec out of range",
		     setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), EDOM);
	char small[2] = {9, 9};
	len = 2;
	getsockopt(fd, SOL_SOCKET, SO_TYPE, small, &len);
	check("getsockopt cuts to the buffer", len == 2 && small[0] == SOCK_STREAM && small[1] == 0);
	close(fd);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	GET(IPPROTO_IPV6, IPV6_V6ONLY, 0);
	GET(SOL_SOCKET, SO_DOMAIN, AF_INET6);
	close(fd);
	/* A listener answers SO_ACCEPTCONN. */
	fd = listener(0);
	GET(SOL_SOCKET, SO_ACCEPTCONN, 1);
	close(fd);

	/* SO_RCVTIMEO: a read with nothing to read gives EAGAIN after the timeout. */
	int l = listener(0);
	int c = connect_to(port_of(l));
	int s = accept(l, NULL, NULL);
	struct timeval short_tv = {0, 200000};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &short_tv, sizeof short_tv);
	char b;
	expect_errno("read past SO_RCVTIMEO", read(s, &b, 1), EAGAIN);
	close(s);
	close(c);
	close(l);
}

static void ipv6(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4))
		die("ipv6 listener");
	socklen_t len = sizeof a;
	getsockname(l, (struct sockaddr *)&a, &len);
	int port = ntohs(a.sin6_port);
	/* An IPv4 client reaches the dual-stack listener, seen v4-mapped. */
	int c4 = connect_to(port);
	struct sockaddr_in6 peer;
	len = sizeof peer;
	int s4 = accept(l, (struct sockaddr *)&peer, &len);
	check("IPv4 client on a dual-stack listener: v4-mapped peer",
	      s4 >= 0 && len == sizeof peer && IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr) &&
		      ntohs(peer.sin6_port) == port_of(c4));
	int c6 = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 to = {.sin6_family = AF_INET6, .sin6_port = htons(port),
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	expect_ret("connect to [::1]", connect(c6, (struct sockaddr *)&to, sizeof to), 0);
	len = sizeof peer;
	int s6 = accept(l, (struct sockaddr *)&peer, &len);
	check("the IPv6 peer is ::1", s6 >= 0 && IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr));
	write(c6, "v6", 2);
	char buf[4];
	check("data over ::1", read_all(s6, buf, 2) == 2 && memcmp(buf, "v6", 2) == 0);
	close(s4);
	close(s6);
	close(c4);
	close(c6);
	close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	threads_echo();
	fork_echo();
	nonblocking_epoll();
	errors();
	options();
	ipv6();
	return finish();
}
