/* netutil.h - what the network programs (net_*) share on top of thrutil.h: loopback addresses,
 * the port a socket is bound to, integer socket options and filling a socket. */
#ifndef COMPAT_NETUTIL_H
#define COMPAT_NETUTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "thrutil.h"

/* 127.0.0.1:port. */
static __attribute__((unused)) struct sockaddr_in lo_addr(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* The local port of an IPv4 or IPv6 socket (sin_port and sin6_port share their place). */
static __attribute__((unused)) int port_of(int fd)
{
	struct sockaddr_in6 a;
	socklen_t len = sizeof a;
	if (getsockname(fd, (struct sockaddr *)&a, &len))
		die("getsockname");
	return ntohs(a.sin6_port);
}

/* An int-valued socket option, -1 when getsockopt fails or returns another size. */
static __attribute__((unused)) int get_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof v;
	if (getsockopt(fd, level, name, &v, &len) || len != sizeof v)
		return -1;
	return v;
}

/* Writes 1 KiB chunks to fd without blocking until no room came for quiet_ms (or 4 MiB went
 * in), then restores its flags; the bytes written. */
static __attribute__((unused)) long fill_socket(int fd, int quiet_ms)
{
	static char chunk[1024];
	long total = 0;
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		long w = write(fd, chunk, sizeof chunk);
		if (w > 0) {
			total += w;
			continue;
		}
		if (errno != EAGAIN)
			die("fill");
		/* Full for now; more room may come as the data moves to the receiver. */
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (poll(&p, 1, quiet_ms) == 0 || total > (1 << 22))
			break;
	}
	fcntl(fd, F_SETFL, fl);
	return total;
}

#endif
