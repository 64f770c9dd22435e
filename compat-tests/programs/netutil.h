/* netutil.h - what the network programs (net_*) share on top of thrutil.h: loopback addresses,
 * the port a socket is bound to and integer socket options. */
#ifndef COMPAT_NETUTIL_H
#define COMPAT_NETUTIL_H

#include <arpa/inet.h>
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

#endif
