/* net_keepalive: SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT: defaults,
 * ranges and errors, what an accepted socket inherits, and an idle connection probed every
 * second whose peer answers staying up with no error. (A peer that stops answering cannot
 * be made on loopback; the net crate's host tests cover it.) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include "netutil.h"

static int set_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof v);
}

static void options(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	expect_ret("SO_KEEPALIVE default", get_int(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
	expect_ret("TCP_KEEPIDLE default", get_int(fd, IPPROTO_TCP, TCP_KEEPIDLE), 7200);
	expect_ret("TCP_KEEPINTVL default", get_int(fd, IPPROTO_TCP, TCP_KEEPINTVL), 75);
	expect_ret("TCP_KEEPCNT default", get_int(fd, IPPROTO_TCP, TCP_KEEPCNT), 9);
	expect_errno("TCP_KEEPIDLE 0", set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
	expect_errno("TCP_KEEPIDLE 32768", set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 32768), EINVAL);
	expect_ret("TCP_KEEPIDLE 32767", set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 32767), 0);
	expect_errno("TCP_KEEPINTVL 0", set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 0), EINVAL);
	expect_errno("TCP_KEEPINTVL 32768", set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, 32768), EINVAL);
	expect_errno("TCP_KEEPCNT 0", set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 0), EINVAL);
	expect_errno("TCP_KEEPCNT 128", set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 128), EINVAL);
	expect_ret("TCP_KEEPCNT 127", set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, 127), 0);
	expect_errno("TCP_KEEPIDLE with a short value",
		     setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, "\1", 1), EINVAL);
	expect_ret("SO_KEEPALIVE 5 reads as 1",
		   (set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 5), get_int(fd, SOL_SOCKET, SO_KEEPALIVE)),
		   1);
	close(fd);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	expect_ret("SO_KEEPALIVE on a UDP socket", set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
	expect_errno("TCP_KEEPIDLE on a UDP socket", set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, 1),
		     ENOPROTOOPT);
	close(fd);
}

static void idle_connection(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = lo_addr(0);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4))
		die("listen");
	set_int(l, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_int(l, IPPROTO_TCP, TCP_KEEPIDLE, 1);
	set_int(l, IPPROTO_TCP, TCP_KEEPINTVL, 1);
	set_int(l, IPPROTO_TCP, TCP_KEEPCNT, 2);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	a = lo_addr(port_of(l));
	if (connect(c, (struct sockaddr *)&a, sizeof a))
		die("connect");
	int s = accept(l, NULL, NULL);
	check("the accepted socket inherits the keepalive settings",
	      get_int(s, SOL_SOCKET, SO_KEEPALIVE) == 1 && get_int(s, IPPROTO_TCP, TCP_KEEPIDLE) == 1 &&
		      get_int(s, IPPROTO_TCP, TCP_KEEPINTVL) == 1 &&
		      get_int(s, IPPROTO_TCP, TCP_KEEPCNT) == 2);
	set_int(c, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_int(c, IPPROTO_TCP, TCP_KEEPIDLE, 1);
	set_int(c, IPPROTO_TCP, TCP_KEEPINTVL, 1);
	set_int(c, IPPROTO_TCP, TCP_KEEPCNT, 2);
	/* Idle for longer than idle + intvl * cnt: the answered probes keep it up. */
	struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
	expect_ret("nothing happens on the idle connection", poll(p, 2, 4000), 0);
	expect_ret("SO_ERROR after the probes", get_int(c, SOL_SOCKET, SO_ERROR), 0);
	expect_ret("the connection still carries data", write(c, "ping", 4), 4);
	char buf[8];
	expect_ret("the peer reads it", read(s, buf, sizeof buf), 4);
	close(s);
	close(c);
	close(l);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	options();
	idle_connection();
	return finish();
}
