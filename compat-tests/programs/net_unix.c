/* net_unix: Unix sockets: socketpairs of each type, filesystem and abstract names, autobind,
 * listen/accept, shutdown and the end of a stream, EPIPE and SIGPIPE, SCM_RIGHTS (also to a
 * forked child), SCM_CREDENTIALS, SO_PEERCRED, readiness, and the errors of misuse. argv[1] is
 * a scratch directory for the filesystem names. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "thrutil.h"

static socklen_t path_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof a->sun_path - 1);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t abstract_addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int send_fd(int sock, int fd, const char *byte)
{
	char c[CMSG_SPACE(sizeof(int))];
	memset(c, 0, sizeof c);
	struct iovec iov = {(void *)byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c,
			   .msg_controllen = sizeof c};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof fd);
	return sendmsg(sock, &m, 0);
}

/* Receives one byte and the fd with it (-1 if none); flags for recvmsg. */
static int recv_fd(int sock, char *byte, int flags)
{
	char c[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c,
			   .msg_controllen = sizeof c};
	if (recvmsg(sock, &m, flags) != 1)
		return -2;
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS ||
	    h->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(h), sizeof fd);
	return fd;
}

static int got_sigpipe;
static void on_pipe(int sig)
{
	(void)sig;
	got_sigpipe++;
}

static void pairs(void)
{
	int sv[2];
	expect_ret("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char buf[64];
	write(sv[0], "abc", 3);
	write(sv[0], "def", 3);
	expect_ret("a stream merges writes", read(sv[1], buf, sizeof buf), 6);
	struct pollfd pf = {.fd = sv[1], .events = POLLIN | POLLOUT | POLLRDHUP};
	poll(&pf, 1, 0);
	expect_ret("poll: writable only", pf.revents, POLLOUT);
	shutdown(sv[0], SHUT_WR);
	poll(&pf, 1, 0);
	expect_ret("poll after the peer's SHUT_WR", pf.revents, POLLIN | POLLOUT | POLLRDHUP);
	expect_ret("read at the end", read(sv[1], buf, sizeof buf), 0);
	expect_errno("write after SHUT_WR", send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	expect_ret("the other way works", write(sv[1], "ok", 2), 2);
	expect_ret("and is read", read(sv[0], buf, sizeof buf), 2);
	close(sv[0]);
	pf.revents = 0;
	poll(&pf, 1, 0);
	expect_ret("poll after the peer closed", pf.revents,
		   POLLIN | POLLOUT | POLLRDHUP | POLLHUP);
	signal(SIGPIPE, on_pipe);
	expect_errno("write to a closed peer", write(sv[1], "x", 1), EPIPE);
	expect_ret("SIGPIPE", got_sigpipe, 1);
	expect_errno("MSG_NOSIGNAL", send(sv[1], "x", 1, MSG_NOSIGNAL), EPIPE);
	expect_ret("no second SIGPIPE", got_sigpipe, 1);
	signal(SIGPIPE, SIG_DFL);
	close(sv[1]);

	expect_ret("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	send(sv[0], "one", 3, 0);
	send(sv[0], "three", 5, 0);
	expect_ret("datagrams keep their boundaries", recv(sv[1], buf, sizeof buf, 0), 3);
	expect_ret("MSG_TRUNC gives the real length", recv(sv[1], buf, 2, MSG_TRUNC), 5);
	expect_errno("empty, MSG_DONTWAIT", recv(sv[1], buf, 1, MSG_DONTWAIT), EAGAIN);
	close(sv[0]);
	close(sv[1]);

	expect_ret("socketpair seqpacket", socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	send(sv[0], "rec1", 4, 0);
	send(sv[0], "record2", 7, 0);
	struct iovec iov = {buf, 4};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	expect_ret("seqpacket record", recvmsg(sv[1], &m, 0), 4);
	check("no MSG_TRUNC", !(m.msg_flags & MSG_TRUNC));
	expect_ret("seqpacket truncated", recvmsg(sv[1], &m, 0), 4);
	check("MSG_TRUNC", m.msg_flags & MSG_TRUNC);
	close(sv[0]);
	expect_ret("seqpacket end", recv(sv[1], buf, sizeof buf, 0), 0);
	close(sv[1]);

	expect_ret("SOCK_NONBLOCK|SOCK_CLOEXEC pair",
		   socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	check("flags", (fcntl(sv[0], F_GETFL) & O_NONBLOCK) && (fcntl(sv[1], F_GETFD) & FD_CLOEXEC));
	expect_errno("non-blocking read", read(sv[0], buf, 1), EAGAIN);
	close(sv[0]);
	close(sv[1]);
	expect_errno("socketpair protocol 5", socketpair(AF_UNIX, SOCK_STREAM, 5, sv),
		     EPROTONOSUPPORT);
}

static void names(const char *dir)
{
	char path[256];
	snprintf(path, sizeof path, "%s/sock", dir);
	struct sockaddr_un a, got;
	socklen_t alen = path_addr(&a, path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	int sv[2];
	expect_errno("listen unbound", listen(l, 4), EINVAL);
	expect_ret("bind a path", bind(l, (struct sockaddr *)&a, alen), 0);
	struct stat st;
	check("bind made a socket file", stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	socklen_t glen = sizeof got;
	getsockname(l, (struct sockaddr *)&got, &glen);
	check("getsockname gives the path", glen == alen && strcmp(got.sun_path, path) == 0);
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	expect_errno("bind an existing path", bind(l2, (struct sockaddr *)&a, alen), EADDRINUSE);
	expect_errno("bind its own path again", bind(l, (struct sockaddr *)&a, alen), EADDRINUSE);
	struct sockaddr_un a2;
	char path2[256];
	snprintf(path2, sizeof path2, "%s/second", dir);
	socklen_t alen2 = path_addr(&a2, path2);
	expect_errno("bind a second name", bind(l, (struct sockaddr *)&a2, alen2), EINVAL);
	check("... leaves no file", stat(path2, &st) == -1 && errno == ENOENT);
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	expect_errno("connect before listen", connect(c, (struct sockaddr *)&a, alen),
		     ECONNREFUSED);
	expect_ret("listen", listen(l, 4), 0);
	expect_ret("connect", connect(c, (struct sockaddr *)&a, alen), 0);
	expect_errno("connect again", connect(c, (struct sockaddr *)&a, alen), EISCONN);
	int d = socket(AF_UNIX, SOCK_DGRAM, 0);
	expect_errno("a datagram socket connects to a stream one",
		     connect(d, (struct sockaddr *)&a, alen), EPROTOTYPE);
	glen = sizeof got;
	int s = accept(l, (struct sockaddr *)&got, &glen);
	check("accept: the client is unnamed", s >= 0 && glen == sizeof(sa_family_t));
	glen = sizeof got;
	getpeername(c, (struct sockaddr *)&got, &glen);
	check("the client's peer is the path", glen == alen && strcmp(got.sun_path, path) == 0);
	glen = sizeof got;
	getsockname(s, (struct sockaddr *)&got, &glen);
	check("the accepted socket has the listener's name", glen == alen);
	write(c, "hi", 2);
	char buf[8];
	expect_ret("data through the path", read(s, buf, sizeof buf), 2);
	struct ucred cr;
	socklen_t crlen = sizeof cr;
	getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crlen);
	check("SO_PEERCRED: the client", crlen == sizeof cr && cr.pid == getpid() &&
						 cr.uid == getuid() && cr.gid == getgid());
	expect_errno("sendto on a connected stream", sendto(c, "x", 1, 0, (struct sockaddr *)&a,
							   alen), EISCONN);
	expect_errno("accept on a connected socket", accept(c, NULL, NULL), EINVAL);
	close(s);
	close(c);
	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	expect_errno("connect after the listener closed", connect(c, (struct sockaddr *)&a, alen),
		     ECONNREFUSED);
	snprintf(path, sizeof path, "%s/none", dir);
	alen = path_addr(&a, path);
	expect_errno("connect to a missing path", connect(c, (struct sockaddr *)&a, alen), ENOENT);
	snprintf(path, sizeof path, "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	alen = path_addr(&a, path);
	expect_errno("connect to a regular file", connect(c, (struct sockaddr *)&a, alen),
		     ECONNREFUSED);
	char ubuf[4];
	expect_errno("read on an unconnected stream socket", read(c, ubuf, 1), EINVAL);
	expect_errno("send on an unconnected stream socket", send(c, "x", 1, 0), ENOTCONN);
	struct pollfd pf = {.fd = c, .events = POLLIN | POLLOUT};
	poll(&pf, 1, 0);
	expect_ret("poll on an unconnected stream socket", pf.revents, POLLOUT | POLLHUP);
	close(c);

	/* Abstract names, and the autobind of an empty address. */
	l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	alen = abstract_addr(&a, "coracle-compat-abstract");
	expect_ret("bind an abstract name", bind(l, (struct sockaddr *)&a, alen), 0);
	listen(l, 1);
	l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	expect_errno("bind it again", bind(l2, (struct sockaddr *)&a, alen), EADDRINUSE);
	glen = sizeof got;
	getsockname(l, (struct sockaddr *)&got, &glen);
	check("getsockname: the abstract name", glen == alen && got.sun_path[0] == 0 &&
							memcmp(got.sun_path + 1, "coracle-compat-abstract", 23) == 0);
	c = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un auto_a = {.sun_family = AF_UNIX};
	expect_ret("autobind", bind(c, (struct sockaddr *)&auto_a, sizeof(sa_family_t)), 0);
	glen = sizeof got;
	getsockname(c, (struct sockaddr *)&got, &glen);
	check("autobind: five hex digits", glen == sizeof(sa_family_t) + 6 && got.sun_path[0] == 0);
	expect_ret("connect to the abstract name", connect(c, (struct sockaddr *)&a, alen), 0);
	s = accept(l, NULL, NULL);
	send(c, "abs", 3, 0);
	expect_ret("a record through it", recv(s, buf, sizeof buf, 0), 3);
	close(s);
	close(c);
	close(l);
	close(l2);
	/* Once closed, the name is free again. */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	expect_ret("the name is free once closed", bind(l, (struct sockaddr *)&a, alen), 0);
	close(l);

	/* Datagrams to a bound name, and their sender's name. */
	snprintf(path, sizeof path, "%s/dgram", dir);
	alen = path_addr(&a, path);
	d = socket(AF_UNIX, SOCK_DGRAM, 0);
	bind(d, (struct sockaddr *)&a, alen);
	int e = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un ea;
	socklen_t ealen = abstract_addr(&ea, "coracle-compat-sender");
	bind(e, (struct sockaddr *)&ea, ealen);
	expect_ret("sendto a path", sendto(e, "dg", 2, 0, (struct sockaddr *)&a, alen), 2);
	glen = sizeof got;
	expect_ret("recvfrom", recvfrom(d, buf, sizeof buf, 0, (struct sockaddr *)&got, &glen), 2);
	check("the sender's name", glen == ealen && memcmp(got.sun_path + 1, "coracle-compat-sender",
							    21) == 0);
	expect_errno("send unconnected without an address", send(e, "x", 1, 0), ENOTCONN);
	close(d);
	expect_errno("sendto a closed socket's path", sendto(e, "x", 1, 0, (struct sockaddr *)&a, alen),
		     ECONNREFUSED);
	close(e);
	(void)sv;
}

static void rights(void)
{
	int sv[2], p[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	expect_ret("sendmsg with SCM_RIGHTS", send_fd(sv[0], p[1], "F"), 1);
	close(p[1]);
	char byte = 0;
	int fd = recv_fd(sv[1], &byte, MSG_CMSG_CLOEXEC);
	check("the fd arrives (close-on-exec)", fd >= 0 && byte == 'F' &&
						       (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	write(fd, "via", 3);
	close(fd);
	char buf[8];
	expect_ret("the pipe's reader sees the passed end's write", read(p[0], buf, sizeof buf), 3);
	expect_ret("... and the end once it is closed", read(p[0], buf, sizeof buf), 0);
	close(p[0]);

	/* To a forked child: it gets a pipe end, writes through it, the parent reads. */
	pipe(p);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		close(p[0]);
		close(p[1]);
		char b;
		int f = recv_fd(sv[1], &b, 0);
		if (f < 0)
			_exit(2);
		write(f, "child", 5);
		_exit(0);
	}
	close(sv[1]);
	send_fd(sv[0], p[1], "C");
	close(p[1]);
	int status;
	waitpid(pid, &status, 0);
	check("the child used the fd", WIFEXITED(status) && WEXITSTATUS(status) == 0);
	expect_ret("the parent reads what it wrote", read(p[0], buf, sizeof buf), 5);
	close(p[0]);
	close(sv[0]);

	/* A control buffer too small for the fds: MSG_CTRUNC. */
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	send_fd(sv[0], 0, "T");
	struct iovec iov = {buf, 1};
	char c[CMSG_SPACE(0)];
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c,
			   .msg_controllen = sizeof(struct cmsghdr)};
	expect_ret("recvmsg with no room for the fd", recvmsg(sv[1], &m, 0), 1);
	check("MSG_CTRUNC", (m.msg_flags & MSG_CTRUNC) && m.msg_controllen == 0);
	expect_errno("SCM_RIGHTS with a bad fd", send_fd(sv[0], 999, "B"), EBADF);
	close(sv[0]);
	close(sv[1]);
}

static void credentials(void)
{
	int sv[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	struct ucred cr;
	socklen_t len = sizeof cr;
	getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &len);
	check("SO_PEERCRED on a pair: this process", cr.pid == getpid() && cr.uid == getuid());
	int on = 1;
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
	int v = 0;
	len = sizeof v;
	getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &len);
	expect_ret("SO_PASSCRED", v, 1);
	pid_t pid = fork();
	if (pid == 0) {
		send(sv[0], "c", 1, 0);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	char byte;
	char ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			   .msg_controllen = sizeof ctl};
	expect_ret("recvmsg with SO_PASSCRED", recvmsg(sv[1], &m, 0), 1);
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	int ok = h && h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_CREDENTIALS &&
		 h->cmsg_len == CMSG_LEN(sizeof(struct ucred));
	if (ok)
		memcpy(&cr, CMSG_DATA(h), sizeof cr);
	check("SCM_CREDENTIALS: the child's pid", ok && cr.pid == pid && cr.uid == getuid() &&
							 cr.gid == getgid());
	close(sv[0]);
	close(sv[1]);
	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	len = sizeof cr;
	getsockopt(u, SOL_SOCKET, SO_PEERCRED, &cr, &len);
	check("SO_PEERCRED unconnected: nobody", cr.pid == 0 && cr.uid == (uid_t)-1 &&
							 cr.gid == (gid_t)-1);
	v = -1;
	len = sizeof v;
	getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &len);
	expect_ret("SO_TYPE", v, SOCK_STREAM);
	getsockopt(u, SOL_SOCKET, SO_DOMAIN, &v, &len);
	expect_ret("SO_DOMAIN", v, AF_UNIX);
	close(u);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: net_unix SCRATCH_DIR");
	pairs();
	names(argv[1]);
	rights();
	credentials();
	return finish();
}
