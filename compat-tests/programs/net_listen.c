/* net_listen: what listen's backlog admits and what happens beyond it (Linux drops the SYN, the
 * client retransmits and gets in once accept() makes room: no ECONNREFUSED), a v6-only [::]
 * listener beside a 0.0.0.0 one on the same port (each gets its family's clients, in either
 * bind order), and a closed UDP socket's unread datagrams (gone, not delivered to the next
 * socket on the port). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include "netutil.h"

/* A TCP listener on 127.0.0.1 with `backlog`; its port in *port. */
static int listener(int backlog, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog))
		die("listener");
	*port = port_of(fd);
	return fd;
}

/* A non-blocking connect to 127.0.0.1:port; the socket (errno of connect in *err, 0 if it
 * connected at once). */
static int start_connect(int port, int *err)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = lo_addr(port);
	*err = connect(fd, (struct sockaddr *)&a, sizeof a) ? errno : 0;
	return fd;
}

/* poll for `events` on fd for at most `ms`; the events seen. */
static int wait_ms(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	return poll(&p, 1, ms) == 1 ? p.revents : 0;
}

/* Whether a non-blocking connect finished (writable) within the wait, and its SO_ERROR. */
static int connected_ok(int fd, int ms)
{
	if (!(wait_ms(fd, POLLOUT, ms) & POLLOUT))
		return 0;
	int e = -1;
	socklen_t len = sizeof e;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
	return e == 0;
}

/* listen(backlog) admits backlog + 1 connections; the next one waits (its SYN is dropped) and
 * gets in once an accept makes room. */
static void backlog(int n)
{
	int port;
	int l = listener(n, &port);
	int c[8], err;
	for (int i = 0; i <= n; i++) {
		c[i] = start_connect(port, &err);
		checkf((err == 0 || err == EINPROGRESS) && connected_ok(c[i], LONG_WAIT_S * 1000),
		       "backlog %d: connection %d is admitted", n, i + 1);
	}
	int extra = start_connect(port, &err);
	expect_errno("the connection beyond the backlog", err ? -1 : 0, EINPROGRESS);
	check("it waits (its SYN is dropped, not refused)", wait_ms(extra, POLLOUT, 300) == 0);
	int s = accept(l, NULL, NULL);
	check("accept takes the first", s >= 0);
	checkf(connected_ok(extra, LONG_WAIT_S * 1000),
	       "backlog %d: the waiting one connects once there is room", n);
	int got = 0;
	for (int i = 0; i <= n; i++) {
		if (!(wait_ms(l, POLLIN, LONG_WAIT_S * 1000) & POLLIN))
			break;
		int a = accept(l, NULL, NULL);
		if (a < 0)
			break;
		got++;
		close(a);
	}
	checkf(got == n + 1, "backlog %d: the rest are accepted (%d)", n, got);
	close(s);
	close(extra);
	for (int i = 0; i <= n; i++)
		close(c[i]);
	close(l);
}

/* A listener of `family` on the wildcard address at `port` (0: any), v6-only for AF_INET6. */
static int wildcard_listener(int family, int port)
{
	int fd = socket(family, SOCK_STREAM, 0), on = 1;
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port),
					 .sin6_addr = in6addr_any};
		if (bind(fd, (struct sockaddr *)&a, sizeof a))
			return -1;
	} else {
		struct sockaddr_in a = lo_addr(port);
		a.sin_addr.s_addr = htonl(INADDR_ANY);
		if (bind(fd, (struct sockaddr *)&a, sizeof a))
			return -1;
	}
	if (listen(fd, 8))
		return -1;
	return fd;
}

/* Connects a client of `family` to the loopback address at `port`; 0 or the errno. */
static int connect_family(int family, int port, int *fd)
{
	*fd = socket(family, SOCK_STREAM, 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port),
					 .sin6_addr = in6addr_loopback};
		return connect(*fd, (struct sockaddr *)&a, sizeof a) ? errno : 0;
	}
	struct sockaddr_in a = lo_addr(port);
	return connect(*fd, (struct sockaddr *)&a, sizeof a) ? errno : 0;
}

/* A v6-only [::] listener and a 0.0.0.0 listener on one port: each family's clients reach
 * their own listener, whichever bound first. */
static void v6only_beside_v4(int v6_first)
{
	const char *order = v6_first ? "[::] first" : "0.0.0.0 first";
	int first = wildcard_listener(v6_first ? AF_INET6 : AF_INET, 0);
	if (first < 0)
		die("first listener");
	int port = port_of(first);
	int second = wildcard_listener(v6_first ? AF_INET : AF_INET6, port);
	checkf(second >= 0, "%s: both listen on the port", order);
	if (second < 0) {
		close(first);
		return;
	}
	int l6 = v6_first ? first : second, l4 = v6_first ? second : first;
	int ok4 = 0, ok6 = 0;
	for (int i = 0; i < 4; i++) {
		int c, s;
		if (connect_family(AF_INET, port, &c) == 0 && (s = accept(l4, NULL, NULL)) >= 0) {
			ok4++;
			close(s);
		}
		close(c);
		if (connect_family(AF_INET6, port, &c) == 0 && (s = accept(l6, NULL, NULL)) >= 0) {
			ok6++;
			close(s);
		}
		close(c);
	}
	checkf(ok4 == 4, "%s: IPv4 clients reach the 0.0.0.0 listener (%d of 4)", order, ok4);
	checkf(ok6 == 4, "%s: IPv6 clients reach the [::] listener (%d of 4)", order, ok6);
	check("nothing else waits on either", wait_ms(l4, POLLIN, 0) == 0 && wait_ms(l6, POLLIN, 0) == 0);
	close(l4);
	close(l6);
}

static int udp_bound(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo_addr(port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a))
		die("udp bind");
	return fd;
}

/* Datagrams a UDP socket had not read go with it. */
static void udp_close_drops(void)
{
	int a = udp_bound(0), tx = udp_bound(0);
	int port = port_of(a);
	struct sockaddr_in to = lo_addr(port);
	sendto(tx, "stale1", 6, 0, (struct sockaddr *)&to, sizeof to);
	sendto(tx, "stale2", 6, 0, (struct sockaddr *)&to, sizeof to);
	wait_ms(a, POLLIN, LONG_WAIT_S * 1000);
	close(a);
	int b = udp_bound(port);
	check("a new socket binds the port", port_of(b) == port);
	char buf[16];
	expect_errno("it has nothing queued", recv(b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	sendto(tx, "fresh", 5, 0, (struct sockaddr *)&to, sizeof to);
	wait_ms(b, POLLIN, LONG_WAIT_S * 1000);
	long n = recv(b, buf, sizeof buf, MSG_DONTWAIT);
	check("the first datagram it reads is the new one", n == 5 && !memcmp(buf, "fresh", 5));
	expect_errno("then nothing", recv(b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	close(b);
	close(tx);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	backlog(0);
	backlog(2);
	v6only_beside_v4(1);
	v6only_beside_v4(0);
	udp_close_drops();
	return finish();
}
