/* proc_pgrp: process groups and sessions. getpgid/getsid, setpgid by a child and by its parent,
 * setpgid's errors (ESRCH for a non-child, EACCES after the child's exec, EPERM across
 * sessions and for a session leader, EINVAL), setsid (a new session and group, EPERM for a
 * group leader), and signals to groups: kill(-pgid) and killpg reach every member and only
 * them, kill(0) reaches the sender's own group, ESRCH for an empty group. What the program
 * itself leads differs (PID 1 in Coracle), so only its children are checked. */
#define _GNU_SOURCE
#include "procutil.h"

/* Helper mode "--child wait-stdin": waits until its stdin closes. */
static int child_mode(char **argv)
{
	if (strcmp(argv[2], "wait-stdin") == 0) {
		char c;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	return 125;
}

static void ids(void)
{
	check("getpgid(0) == getpgrp()", getpgid(0) == getpgrp());
	check("getsid(0) == getsid(getpid())", getsid(0) == getsid(getpid()));
	expect_errno("getpgid(no such process)", getpgid(999999), ESRCH);
	expect_errno("getsid(no such process)", getsid(999999), ESRCH);
	expect_errno("setpgid(-1, 0)", setpgid(-1, 0), EINVAL);
	expect_errno("setpgid(0, -1)", setpgid(0, -1), EINVAL);
	expect_errno("setpgid(no such process, 0)", setpgid(999999, 0), ESRCH);

	pid_t me = getpid(), group = getpgrp(), session = getsid(0);
	struct event go = event_new(), checked = event_new();
	pid_t pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		int ok = getppid() == me && getpgrp() == group && getsid(0) == session;
		event_set(checked);
		ok = ok && setpgid(0, 0) == 0 && getpgrp() == getpid() && getsid(0) == session;
		/* A group leader cannot start a session. */
		ok = ok && setsid() == -1 && errno == EPERM;
		event_wait(go);
		_exit(ok ? 0 : 1);
	}
	close(go.r);
	event_wait(checked);
	event_close(checked);
	/* The parent sets the child's group too (either may come first). */
	setpgid(pid, pid);
	check("parent and child agree on the child's new group", getpgid(pid) == pid);
	check("the child's session is ours", getsid(pid) == session);
	event_set(go);
	close(go.w);
	expect_status("child: inherited group and session, setpgid(0, 0), setsid EPERM", pid,
		      "exited 0");

	/* setsid in a child that is not a group leader. */
	go = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		close(go.w);
		pid_t sid = setsid();
		int ok = sid == getpid() && getsid(0) == getpid() && getpgrp() == getpid();
		/* A session leader cannot change its group. */
		ok = ok && setpgid(0, group) == -1 && errno == EPERM;
		ok = ok && setpgid(0, 0) == -1 && errno == EPERM;
		event_wait(go);
		_exit(ok ? 0 : 1);
	}
	close(go.r);
	/* Wait until it has its own session, then try to move it: a child in another session. */
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (getsid(pid) != pid && mono_ns() < until)
		sched_yield();
	check("the child leads a new session", getsid(pid) == pid && getpgid(pid) == pid);
	expect_errno("setpgid(child in another session, ...)", setpgid(pid, pid), EPERM);
	event_set(go);
	close(go.w);
	expect_status("child: setsid, then setpgid EPERM", pid, "exited 0");

	/* Joining a group of another session is not allowed. */
	go = event_new();
	pid_t other = fork_or_die();
	if (other == 0) {
		close(go.w);
		setsid();
		event_wait(go);
		_exit(0);
	}
	while (getsid(other) != other && mono_ns() < until)
		sched_yield();
	pid = fork_or_die();
	if (pid == 0) {
		int r = setpgid(0, other);
		_exit(r == -1 && errno == EPERM ? 0 : 1);
	}
	expect_status("setpgid into a group of another session: EPERM", pid, "exited 0");
	pid = fork_or_die();
	if (pid == 0) {
		int r = setpgid(0, 999999);
		_exit(r == -1 && errno == EPERM ? 0 : 1);
	}
	expect_status("setpgid into a group that does not exist: EPERM", pid, "exited 0");
	event_set(go);
	event_close(go);
	reap(other);

	/* After the child's exec its parent may no longer change its group. */
	int fds[2];
	if (pipe(fds) != 0)
		die("pipe");
	pid = fork_or_die();
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		exec_self("wait-stdin", NULL, NULL);
		_exit(127);
	}
	close(fds[0]);
	/* The parent cannot see when the exec happens: until then setpgid succeeds (and is
	 * undone), afterwards it must fail with EACCES. */
	int r;
	until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while ((r = setpgid(pid, pid)) == 0 && mono_ns() < until) {
		setpgid(pid, getpgrp());
		sleep_ms(5);
	}
	check("setpgid(child after exec) fails with EACCES", r == -1 && errno == EACCES);
	close(fds[1]);
	expect_status("the exec'd child", pid, "exited 0");
}

static int pipe_w;
static void on_sig(int sig)
{
	char c = (char)sig;
	write(pipe_w, &c, 1);
}

/* A member of group `pgid` (0: its own new group) that reports each USR1/USR2 it gets as
 * a byte on `report` and exits when `go` is closed. */
static pid_t member(pid_t pgid, int report, struct event ready, struct event go)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		pipe_w = report;
		signal(SIGUSR1, on_sig);
		signal(SIGUSR2, on_sig);
		setpgid(0, pgid);
		close(go.w);
		event_set(ready);
		event_wait(go);
		_exit(0);
	}
	setpgid(pid, pgid ? pgid : pid);
	return pid;
}

static int count_bytes(int fd, int want)
{
	/* Each member writes one byte per signal; read until `want` came or 2 s of silence. */
	int n = 0;
	char buf[64];
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (n < want && mono_ns() < until) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r > 0)
			n += r;
		else
			sleep_ms(2);
	}
	/* Anything beyond `want` would be a signal that reached a non-member. */
	sleep_ms(50);
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		n += r;
	return n;
}

static void group_signals(void)
{
	int rep[2];
	if (pipe2(rep, O_NONBLOCK) != 0)
		die("pipe2");
	struct event ready = event_new(), go = event_new();
	pid_t a = member(0, rep[1], ready, go);
	pid_t b = member(a, rep[1], ready, go);
	pid_t c = member(a, rep[1], ready, go);
	pid_t outsider = member(0, rep[1], ready, go);
	for (int i = 0; i < 4; i++)
		event_wait(ready);
	check("members share the leader's group", getpgid(b) == a && getpgid(c) == a);
	expect_ret("kill(-pgid, USR1)", kill(-a, SIGUSR1), 0);
	checkf(count_bytes(rep[0], 3) == 3, "three members got it, the outsider not");
	expect_ret("killpg(pgid, USR2)", killpg(a, SIGUSR2), 0);
	checkf(count_bytes(rep[0], 3) == 3, "three again");
	expect_errno("kill(-pgid of no group)", kill(-999999, SIGUSR1), ESRCH);
	expect_errno("killpg(no group)", killpg(999999, SIGUSR1), ESRCH);
	expect_ret("kill(-pgid, 0) checks that the group exists", kill(-a, 0), 0);
	/* kill(0) from a member reaches its own group only. */
	pid_t sender = fork_or_die();
	if (sender == 0) {
		setpgid(0, a);
		signal(SIGUSR1, SIG_IGN);
		_exit(kill(0, SIGUSR1) == 0 ? 0 : 1);
	}
	setpgid(sender, a);
	expect_status("a member's kill(0, USR1)", sender, "exited 0");
	checkf(count_bytes(rep[0], 3) == 3, "reached the three other members only");
	event_set(go);
	close(go.w);
	expect_status("leader", a, "exited 0");
	expect_status("member b", b, "exited 0");
	expect_status("member c", c, "exited 0");
	expect_status("outsider", outsider, "exited 0");
	close(go.r);
	event_close(ready);
	/* A group whose members are all gone no longer exists. */
	expect_errno("kill(-pgid) after the group died", kill(-a, 0), ESRCH);
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_mode(argv);
	ids();
	group_signals();
	return finish();
}
