/* net_udp: UDP over loopback: datagram boundaries, senders' addresses, truncation (MSG_TRUNC
 * both ways), connected sockets (default destination, filtering, AF_UNSPEC), FIONREAD, poll,
 * sendmmsg/recvmmsg, IPv6, and the errors (EDESTADDRREQ, EMSGSIZE, EAGAIN, EADDRINUSE). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include "netutil.h"

static int bound(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = lo_addr(0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a))
		die("bound");
	return fd;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int a = bound(), b = bound();
	struct sockaddr_in to = lo_addr(port_of(b));
	int v = -1;
	socklen_t len = sizeof v;
	getsockopt(a, SOL_SOCKET, SO_TYPE, &v, &len);
	expect_ret("SO_TYPE", v, SOCK_DGRAM);
	getsockopt(a, SOL_SOCKET, SO_PROTOCOL, &v, &len);
	expect_ret("SO_PROTOCOL", v, IPPROTO_UDP);
	struct pollfd pf = {.fd = b, .events = POLLIN | POLLOUT};
	poll(&pf, 1, 0);
	expect_ret("poll before any datagram", pf.revents, POLLOUT);

	expect_ret("sendto 5", sendto(a, "hello", 5, 0, (struct sockaddr *)&to, sizeof to), 5);
	expect_ret("sendto 11", sendto(a, "second line", 11, 0, (struct sockaddr *)&to, sizeof to),
		   11);
	expect_ret("sendto 0", sendto(a, "", 0, 0, (struct sockaddr *)&to, sizeof to), 0);
	pf.revents = 0;
	poll(&pf, 1, LONG_WAIT_S * 1000);
	expect_ret("poll with datagrams", pf.revents, POLLIN | POLLOUT);
	int n = -1;
	ioctl(b, FIONREAD, &n);
	expect_ret("FIONREAD is the first datagram's size", n, 5);
	char buf[64];
	struct sockaddr_in from;
	socklen_t flen = sizeof from;
	expect_ret("recvfrom", recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen), 5);
	check("the sender's address", flen == sizeof from && from.sin_family == AF_INET &&
					      from.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
					      ntohs(from.sin_port) == port_of(a));
	expect_ret("recv MSG_PEEK", recv(b, buf, 4, MSG_PEEK), 4);
	expect_ret("recv MSG_TRUNC gives the full length", recv(b, buf, 4, MSG_PEEK | MSG_TRUNC),
		   11);
	struct iovec iov = {buf, 6};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	expect_ret("recvmsg into 6 bytes", recvmsg(b, &m, 0), 6);
	check("recvmsg: MSG_TRUNC set, the rest dropped",
	      (m.msg_flags & MSG_TRUNC) && memcmp(buf, "second", 6) == 0);
	expect_ret("the empty datagram", recv(b, buf, sizeof buf, 0), 0);
	expect_errno("nothing left", recv(b, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

	expect_errno("send without a destination", send(a, "x", 1, 0), EDESTADDRREQ);
	expect_errno("getpeername unconnected", getpeername(a, (struct sockaddr *)&from, &flen),
		     ENOTCONN);
	static char huge[70000];
	expect_errno("a datagram over 65507 bytes",
		     sendto(a, huge, sizeof huge, 0, (struct sockaddr *)&to, sizeof to), EMSGSIZE);
	expect_ret("a 65507-byte datagram",
		   sendto(a, huge, 65507, 0, (struct sockaddr *)&to, sizeof to), 65507);
	expect_ret("arrives whole", recv(b, huge, sizeof huge, 0), 65507);

	/* sendmmsg and recvmmsg. */
	struct mmsghdr msgs[3];
	struct iovec iovs[3];
	char *words[3] = {"one", "three", "five5"};
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < 3; i++) {
		iovs[i].iov_base = words[i];
		iovs[i].iov_len = strlen(words[i]);
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &to;
		msgs[i].msg_hdr.msg_namelen = sizeof to;
	}
	expect_ret("sendmmsg", sendmmsg(a, msgs, 3, 0), 3);
	check("sendmmsg lengths", msgs[0].msg_len == 3 && msgs[1].msg_len == 5 &&
					  msgs[2].msg_len == 5);
	char rb[3][16];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < 3; i++) {
		iovs[i].iov_base = rb[i];
		iovs[i].iov_len = sizeof rb[i];
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	/* Wait for all three before taking them at once. */
	while (ioctl(b, FIONREAD, &n), n == 0)
		usleep(1000);
	usleep(100000);
	expect_ret("recvmmsg", recvmmsg(b, msgs, 3, MSG_WAITFORONE, NULL), 3);
	check("recvmmsg contents", msgs[0].msg_len == 3 && memcmp(rb[1], "three", 5) == 0 &&
					   msgs[2].msg_len == 5);

	/* Connected: the default destination, and only the peer's datagrams arrive. */
	int c = bound();
	struct sockaddr_in to_a = lo_addr(port_of(a));
	expect_ret("connect", connect(b, (struct sockaddr *)&to_a, sizeof to_a), 0);
	struct sockaddr_in peer;
	socklen_t plen = sizeof peer;
	getpeername(b, (struct sockaddr *)&peer, &plen);
	check("getpeername", ntohs(peer.sin_port) == port_of(a));
	sendto(c, "noise", 5, 0, (struct sockaddr *)&to, sizeof to);
	sendto(a, "peer", 4, 0, (struct sockaddr *)&to, sizeof to);
	n = recv(b, buf, sizeof buf, 0);
	check("only the peer's datagram", n == 4 && memcmp(buf, "peer", 4) == 0);
	expect_ret("send to the peer", send(b, "back", 4, 0), 4);
	expect_ret("the peer gets it", recv(a, buf, sizeof buf, 0), 4);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	expect_ret("connect AF_UNSPEC", connect(b, &unspec, sizeof unspec), 0);
	expect_errno("no peer any more", getpeername(b, (struct sockaddr *)&peer, &plen), ENOTCONN);
	/* b's port was picked by bind (port 0): disconnecting gives it back (udp_disconnect). */
	expect_ret("the picked port is given back", port_of(b), 0);

	/* Ports. */
	int d = socket(AF_INET, SOCK_DGRAM, 0);
	expect_errno("bind a port in use", bind(d, (struct sockaddr *)&to_a, sizeof to_a), EADDRINUSE);
	int on = 1;
	setsockopt(d, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	expect_errno("... SO_REUSEADDR on one side only",
		     bind(d, (struct sockaddr *)&to_a, sizeof to_a), EADDRINUSE);
	/* An unbound socket gets a port at its first send. */
	int e = socket(AF_INET, SOCK_DGRAM, 0);
	expect_ret("unbound: port 0", port_of(e), 0);
	sendto(e, "x", 1, 0, (struct sockaddr *)&to_a, sizeof to_a);
	check("bound by the first send", port_of(e) != 0);
	recv(a, buf, sizeof buf, 0);

	/* IPv6. */
	int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	expect_ret("bind [::1]:0", bind(s6, (struct sockaddr *)&a6, sizeof a6), 0);
	socklen_t l6 = sizeof a6;
	getsockname(s6, (struct sockaddr *)&a6, &l6);
	int c6 = socket(AF_INET6, SOCK_DGRAM, 0);
	expect_ret("sendto [::1]", sendto(c6, "six", 3, 0, (struct sockaddr *)&a6, sizeof a6), 3);
	struct sockaddr_in6 f6;
	l6 = sizeof f6;
	n = recvfrom(s6, buf, sizeof buf, 0, (struct sockaddr *)&f6, &l6);
	check("recvfrom over ::1", n == 3 && l6 == sizeof f6 && IN6_IS_ADDR_LOOPBACK(&f6.sin6_addr));
	return finish();
}
