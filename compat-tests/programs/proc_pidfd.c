/* proc_pidfd: pidfd_open, poll on a pidfd (readable once the process exits, before it is
 * reaped), pidfd_send_signal (with and without siginfo, to a process that is gone: ESRCH),
 * PIDFD_NONBLOCK with waitid(P_PIDFD) (EAGAIN while it runs), clone3 with CLONE_PIDFD, and the
 * errors (EINVAL for unknown flags, ESRCH for no such process, EBADF). */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/syscall.h>
#include "procutil.h"

#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

struct clone_args_ {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
		set_tid, set_tid_size, cgroup;
};

static int pidfd_open_(pid_t pid, unsigned flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int pidfd_send_signal_(int fd, int sig, siginfo_t *si, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, si, flags);
}

static void basics(void)
{
	struct event go = event_new();
	pid_t pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		event_wait(go);
		_exit(8);
	}
	close(go.r);
	int fd = pidfd_open_(pid, 0);
	check("pidfd_open(child)", fd >= 0);
	check("a pidfd is close-on-exec", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	struct pollfd p = {fd, POLLIN, 0};
	expect_ret("poll: not readable while it runs", poll(&p, 1, 50), 0);
	event_set(go);
	close(go.w);
	p.revents = 0;
	int r = poll(&p, 1, LONG_WAIT_S * 1000);
	checkf(r == 1 && (p.revents & POLLIN), "poll: readable once it exited");
	siginfo_t si;
	memset(&si, 0, sizeof si);
	check("still a zombie: waitid(P_PIDFD, WNOWAIT) sees it",
	      waitid(P_PIDFD, fd, &si, WEXITED | WNOWAIT) == 0 && si.si_pid == pid &&
		      si.si_status == 8);
	expect_ret("pidfd_send_signal to a zombie (allowed, as kill is)",
		   pidfd_send_signal_(fd, SIGTERM, NULL, 0), 0);
	expect_status("reaped", pid, "exited 8");
	expect_errno("pidfd_send_signal after it was reaped", pidfd_send_signal_(fd, 0, NULL, 0),
		     ESRCH);
	close(fd);

	pid = fork_or_die();
	if (pid == 0) {
		for (;;)
			pause();
	}
	fd = pidfd_open_(pid, 0);
	expect_ret("pidfd_send_signal(0) checks it exists", pidfd_send_signal_(fd, 0, NULL, 0), 0);
	expect_errno("pidfd_send_signal(unknown flags)", pidfd_send_signal_(fd, SIGTERM, NULL, 0x100),
		     EINVAL);
	expect_ret("pidfd_send_signal(TERM)", pidfd_send_signal_(fd, SIGTERM, NULL, 0), 0);
	expect_status("the child", pid, "killed by TERM");
	close(fd);

	/* PIDFD_NONBLOCK. */
	struct event go2 = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		close(go2.w);
		event_wait(go2);
		_exit(9);
	}
	close(go2.r);
	fd = pidfd_open_(pid, PIDFD_NONBLOCK);
	check("pidfd_open(PIDFD_NONBLOCK)", fd >= 0);
	expect_errno("waitid(P_PIDFD) on a non-blocking pidfd of a running child",
		     waitid(P_PIDFD, fd, &si, WEXITED), EAGAIN);
	event_set(go2);
	close(go2.w);
	p.fd = fd;
	p.revents = 0;
	poll(&p, 1, LONG_WAIT_S * 1000);
	memset(&si, 0, sizeof si);
	r = waitid(P_PIDFD, fd, &si, WEXITED);
	check("then it reaps the child", r == 0 && si.si_pid == pid && si.si_status == 9);
	close(fd);

	expect_errno("pidfd_open(unknown flags)", pidfd_open_(getpid(), 1), EINVAL);
	expect_errno("pidfd_open(no such process)", pidfd_open_(999999, 0), ESRCH);
	expect_errno("pidfd_open(-1)", pidfd_open_(-1, 0), EINVAL);
	expect_errno("pidfd_send_signal(not a pidfd)", pidfd_send_signal_(0, 0, NULL, 0), EBADF);
	int self = pidfd_open_(getpid(), 0);
	check("pidfd_open(self)", self >= 0);
	struct pollfd ps = {self, POLLIN, 0};
	expect_ret("poll on our own pidfd: not readable", poll(&ps, 1, 0), 0);
	close(self);
}

static void with_clone3(void)
{
	int pidfd = -1;
	struct clone_args_ args;
	memset(&args, 0, sizeof args);
	args.flags = CLONE_PIDFD;
	args.pidfd = (uintptr_t)&pidfd;
	args.exit_signal = SIGCHLD;
	fflush(stdout);
	long pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0)
		_exit(12);
	check("clone3(CLONE_PIDFD) made a child and a pidfd", pid > 0 && pidfd >= 0);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int r = waitid(P_PIDFD, pidfd, &si, WEXITED);
	check("waitid on that pidfd", r == 0 && si.si_pid == pid && si.si_status == 12);
	close(pidfd);
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	basics();
	with_clone3();
	return finish();
}
