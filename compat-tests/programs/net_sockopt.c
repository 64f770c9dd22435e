/* net_sockopt: the socket options servers set and what they change, over loopback:
 * SO_RCVBUF/SO_SNDBUF (doubled, clamped, floored; a small buffer bounds what a sender can
 * queue), SO_LINGER (a zero time resets the peer; a time with the peer reading closes
 * cleanly), options an accepted socket inherits, IPV6_V6ONLY (get/set, bind conflicts, IPv4
 * clients refused), TCP_INFO and TCP_CONGESTION, with Linux's errors for misuse.
 * Values Linux derives from the machine (rmem_max, its default algorithm, MSS, RTT) are
 * printed as relations only. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include "netutil.h"

/* A TCP socket of `family`, with SO_RCVBUF set to `rcvbuf` first when not 0. */
static int tcp_socket(int family, int rcvbuf)
{
	int fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (rcvbuf && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf))
		die("SO_RCVBUF");
	return fd;
}

static int listen_lo(int fd)
{
	struct sockaddr_in a = lo_addr(0);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8))
		die("listen");
	return port_of(fd);
}

static int connect_lo(int fd, int port)
{
	struct sockaddr_in a = lo_addr(port);
	return connect(fd, (struct sockaddr *)&a, sizeof a);
}

/* Waits (up to LONG_WAIT_S) until fd has one of `events`; the events. */
static int wait_for(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	poll(&p, 1, LONG_WAIT_S * 1000);
	return p.revents;
}

static void buffers(void)
{
	int types[2] = {SOCK_STREAM, SOCK_DGRAM};
	for (int i = 0; i < 2; i++) {
		const char *t = i ? "udp" : "tcp";
		int fd = socket(AF_INET, types[i], 0);
		checkf(get_int(fd, SOL_SOCKET, SO_RCVBUF) > 0 && get_int(fd, SOL_SOCKET, SO_SNDBUF) > 0,
		       "%s: default buffers are positive", t);
		int v = 10000;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
		checkf(get_int(fd, SOL_SOCKET, SO_RCVBUF) == 20000 &&
			       get_int(fd, SOL_SOCKET, SO_SNDBUF) == 20000,
		       "%s: SO_RCVBUF and SO_SNDBUF report twice the value set", t);
		v = 1 << 28;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
		int got = get_int(fd, SOL_SOCKET, SO_RCVBUF);
		checkf(got >= 2 * 65536 && got < 2 * v, "%s: a huge SO_RCVBUF is clamped", t);
		v = 1 << 28;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
		got = get_int(fd, SOL_SOCKET, SO_SNDBUF);
		checkf(got >= 2 * 65536 && got < 2 * v, "%s: a huge SO_SNDBUF is clamped", t);
		v = 0;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
		int rmin = get_int(fd, SOL_SOCKET, SO_RCVBUF);
		int smin = get_int(fd, SOL_SOCKET, SO_SNDBUF);
		checkf(rmin > 0 && rmin < 20000 && smin > 0 && smin < 20000,
		       "%s: a zero size gives a small floor", t);
		checkf(rmin < smin, "%s: the receive floor is below the send floor", t);
		/* sock_setsockopt compares as unsigned: a negative size is a huge one. */
		v = -5;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
		checkf(get_int(fd, SOL_SOCKET, SO_RCVBUF) >= 2 * 65536 &&
			       get_int(fd, SOL_SOCKET, SO_SNDBUF) >= 2 * 65536,
		       "%s: a negative size is clamped as a huge one", t);
		expect_errno("SO_RCVBUF with a short value",
			     setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, 2), EINVAL);
		close(fd);
	}

	/* Small buffers on both sides bound what a sender queues while nobody reads. */
	int l = tcp_socket(AF_INET, 4096);
	int port = listen_lo(l);
	int c = tcp_socket(AF_INET, 0);
	int small = 4096;
	setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	if (connect_lo(c, port))
		die("connect");
	int s = accept(l, NULL, NULL);
	checkf(get_int(s, SOL_SOCKET, SO_RCVBUF) == 8192,
	       "the accepted socket inherits the listener's SO_RCVBUF");
	long total = fill_socket(c, 500);
	checkf(total >= 4096 && total < 65536, "4 KiB buffers hold a few KiB in flight");
	close(c);
	close(s);
	close(l);
}

static void linger(void)
{
	int l = tcp_socket(AF_INET, 0);
	int port = listen_lo(l);
	struct linger lg = {1, 0}, got;

	/* l_onoff with a zero time: close resets the connection. */
	int c = tcp_socket(AF_INET, 0);
	connect_lo(c, port);
	int s = accept(l, NULL, NULL);
	expect_ret("SO_LINGER {1, 0}", setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	write(c, "abc", 3);
	close(c);
	char buf[8];
	wait_for(s, POLLIN);
	/* The bytes sent before the reset may or may not be read first, as on Linux. */
	long r;
	while ((r = read(s, buf, sizeof buf)) > 0)
		;
	expect_errno("the peer reads after a linger-0 close", r, ECONNRESET);
	close(s);

	/* A linger time with a peer that reads: close returns and the peer sees the data, then
	 * the end of the stream. */
	c = tcp_socket(AF_INET, 0);
	connect_lo(c, port);
	s = accept(l, NULL, NULL);
	lg.l_linger = 2;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	write(c, "data", 4);
	expect_ret("close with SO_LINGER {1, 2}", close(c), 0);
	long n = 0;
	while ((r = read(s, buf + n, sizeof buf - n)) > 0)
		n += r;
	check("the peer reads the data then the end", n == 4 && r == 0 && !memcmp(buf, "data", 4));
	close(s);

	/* Misuse, and what getsockopt reports. */
	c = tcp_socket(AF_INET, 0);
	expect_errno("SO_LINGER with a short value",
		     setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg - 1), EINVAL);
	lg.l_onoff = 7;
	lg.l_linger = 5;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	socklen_t len = sizeof got;
	getsockopt(c, SOL_SOCKET, SO_LINGER, &got, &len);
	check("SO_LINGER on is reported as 1", len == sizeof got && got.l_onoff == 1 &&
						       got.l_linger == 5);
	/* Turning it off keeps the time set before. */
	lg.l_onoff = 0;
	lg.l_linger = 9;
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	getsockopt(c, SOL_SOCKET, SO_LINGER, &got, &len);
	check("SO_LINGER off keeps the earlier time", got.l_onoff == 0 && got.l_linger == 5);
	close(c);

	/* The accepted socket inherits SO_LINGER and SO_KEEPALIVE. */
	int on = 1;
	lg.l_onoff = 1;
	lg.l_linger = 0;
	setsockopt(l, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	setsockopt(l, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
	c = tcp_socket(AF_INET, 0);
	connect_lo(c, port);
	s = accept(l, NULL, NULL);
	len = sizeof got;
	getsockopt(s, SOL_SOCKET, SO_LINGER, &got, &len);
	check("SO_LINGER is inherited", got.l_onoff == 1 && got.l_linger == 0);
	expect_ret("SO_KEEPALIVE is inherited", get_int(s, SOL_SOCKET, SO_KEEPALIVE), 1);
	close(s);
	wait_for(c, POLLIN);
	expect_errno("the client reads after the inherited linger-0 close",
		     read(c, buf, sizeof buf), ECONNRESET);
	close(c);
	close(l);
}

static int bind6(int fd, const struct in6_addr *addr, int port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port),
				 .sin6_addr = *addr};
	return bind(fd, (struct sockaddr *)&a, sizeof a);
}

static void v6only(void)
{
	int on = 1, off = 0;
	int fd = tcp_socket(AF_INET6, 0);
	expect_ret("IPV6_V6ONLY defaults to 0", get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	expect_ret("IPV6_V6ONLY set", get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	expect_errno("IPV6_V6ONLY with a short value",
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, 2), EINVAL);
	if (bind6(fd, &in6addr_any, 0) || listen(fd, 4))
		die("v6only listener");
	int port = port_of(fd);
	expect_errno("IPV6_V6ONLY after bind",
		     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off), EINVAL);

	/* IPv4 on the same port is free, and an IPv4 client does not reach the v6 socket. */
	int c4 = tcp_socket(AF_INET, 0);
	expect_errno("an IPv4 client of a v6-only listener", connect_lo(c4, port), ECONNREFUSED);
	close(c4);
	int l4 = tcp_socket(AF_INET, 0);
	struct sockaddr_in a4 = lo_addr(port);
	a4.sin_addr.s_addr = htonl(INADDR_ANY);
	expect_ret("0.0.0.0 on the port of a v6-only [::]",
		   bind(l4, (struct sockaddr *)&a4, sizeof a4), 0);
	close(l4);
	close(fd);

	/* A dual-stack [::] holds the IPv4 port too. */
	fd = tcp_socket(AF_INET6, 0);
	if (bind6(fd, &in6addr_any, 0) || listen(fd, 4))
		die("dual-stack listener");
	port = port_of(fd);
	l4 = tcp_socket(AF_INET, 0);
	a4.sin_port = htons(port);
	expect_errno("0.0.0.0 on the port of a dual-stack [::]",
		     bind(l4, (struct sockaddr *)&a4, sizeof a4), EADDRINUSE);
	close(l4);
	close(fd);

	/* A v6-only socket cannot connect or send to a v4-mapped address. */
	fd = tcp_socket(AF_INET6, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	struct sockaddr_in6 mapped = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr);
	expect_errno("TCP connect to a v4-mapped address, v6-only",
		     connect(fd, (struct sockaddr *)&mapped, sizeof mapped), ENETUNREACH);
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	expect_ret("UDP IPV6_V6ONLY set", get_int(fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
	expect_errno("UDP sendto a v4-mapped address, v6-only",
		     sendto(fd, "x", 1, 0, (struct sockaddr *)&mapped, sizeof mapped), ENETUNREACH);
	close(fd);
}

/* struct tcp_info as Linux 5.5-6.1 define it: 232 bytes; the offsets of the fields read. */
enum { INFO_LEN = 232, OFF_RTO = 8, OFF_SND_MSS = 16, OFF_RCV_MSS = 20, OFF_PMTU = 60,
       OFF_RTT = 68, OFF_CWND = 80 };

static unsigned info_u32(const unsigned char *b, int off)
{
	unsigned v;
	memcpy(&v, b + off, 4);
	return v;
}

/* TCP_INFO into a buffer larger than any kernel's struct, cut to INFO_LEN. */
static int tcp_info_of(int fd, unsigned char *b)
{
	socklen_t len = INFO_LEN;
	memset(b, 0xee, INFO_LEN);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, b, &len))
		return -1;
	return len;
}

static void tcp_info_and_congestion(void)
{
	unsigned char b[INFO_LEN];
	int fd = tcp_socket(AF_INET, 0);
	expect_ret("TCP_INFO length", tcp_info_of(fd, b), INFO_LEN);
	expect_ret("TCP_INFO state of a new socket (TCP_CLOSE)", b[0], 7);
	socklen_t len = 8;
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, b, &len);
	expect_ret("TCP_INFO cut to the buffer", len, 8);
	int l = tcp_socket(AF_INET, 0);
	int port = listen_lo(l);
	tcp_info_of(l, b);
	expect_ret("TCP_INFO state of a listener (TCP_LISTEN)", b[0], 10);
	if (connect_lo(fd, port))
		die("connect");
	int s = accept(l, NULL, NULL);
	int fds[2] = {fd, s};
	for (int i = 0; i < 2; i++) {
		const char *who = i ? "server" : "client";
		tcp_info_of(fds[i], b);
		checkf(b[0] == 1, "%s: TCP_INFO state established", who);
		checkf(info_u32(b, OFF_RTO) >= 200000, "%s: rto at least TCP_RTO_MIN", who);
		checkf(info_u32(b, OFF_SND_MSS) > 0 && info_u32(b, OFF_RCV_MSS) > 0 &&
			       info_u32(b, OFF_SND_MSS) < info_u32(b, OFF_PMTU),
		       "%s: MSS positive and below the path MTU", who);
		checkf(info_u32(b, OFF_CWND) > 0, "%s: a congestion window", who);
	}
	tcp_info_of(fd, b);
	checkf(info_u32(b, OFF_RTT) > 0 && info_u32(b, OFF_RTT) < info_u32(b, OFF_RTO),
	       "client: rtt measured, below rto");
	shutdown(fd, SHUT_WR);
	char c;
	read(s, &c, 1);
	tcp_info_of(s, b);
	expect_ret("TCP_INFO state after the peer's FIN (TCP_CLOSE_WAIT)", b[0], 8);
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	len = INFO_LEN;
	expect_errno("TCP_INFO on a UDP socket", getsockopt(udp, IPPROTO_TCP, TCP_INFO, b, &len),
		     EOPNOTSUPP);
	close(udp);
	udp = socket(AF_INET6, SOCK_DGRAM, 0);
	len = INFO_LEN;
	expect_errno("TCP_INFO on a UDP6 socket", getsockopt(udp, IPPROTO_TCP, TCP_INFO, b, &len),
		     ENOPROTOOPT);
	close(udp);

	char name[32];
	len = sizeof name;
	memset(name, 'x', sizeof name);
	getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len);
	expect_ret("TCP_CONGESTION length", len, 16);
	checkf(!strcmp(name, "cubic") || !strcmp(name, "bbr") || !strcmp(name, "reno"),
	       "the default algorithm is a known one");
	expect_ret("TCP_CONGESTION reno", setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "reno", 4), 0);
	len = sizeof name;
	getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len);
	checkf(!strcmp(name, "reno"), "TCP_CONGESTION reads back %s", name);
	expect_ret("TCP_CONGESTION cubic with its NUL",
		   setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "cubic", 6), 0);
	len = 3;
	getsockopt(s, IPPROTO_TCP, TCP_CONGESTION, name, &len);
	checkf(len == 3 && !memcmp(name, "cub", 3), "TCP_CONGESTION cut to the buffer");
	expect_errno("TCP_CONGESTION of an unknown name",
		     setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "nosuchalgo", 10), ENOENT);
	expect_errno("TCP_CONGESTION empty",
		     setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, "", 0), EINVAL);
	expect_errno("setsockopt TCP_INFO", setsockopt(s, IPPROTO_TCP, TCP_INFO, b, 8),
		     ENOPROTOOPT);
	close(s);
	close(fd);
	close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	buffers();
	linger();
	v6only();
	tcp_info_and_congestion();
	return finish();
}
