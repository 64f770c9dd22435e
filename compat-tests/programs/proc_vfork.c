/* proc_vfork: vfork and posix_spawn. A vfork child shares the parent's memory (its writes are
 * seen) and the parent stays suspended until the child calls _exit or execve: a child that
 * dawdles before _exit still finishes first, and after an exec the parent runs again while the
 * new program is still running. posix_spawn and posix_spawnp (both libcs build them on
 * CLONE_VM|CLONE_VFORK) with file actions (open, dup2, close), a signal mask, default signal
 * actions, a process group, and the errors they report (ENOENT, EACCES, a failing file
 * action). */
#define _GNU_SOURCE
#include <spawn.h>
#include "procutil.h"

extern char **environ;

/* Helper modes. */
static int child_mode(char **argv)
{
	if (strcmp(argv[2], "wait-stdin") == 0) {
		char c;
		while (read(0, &c, 1) > 0)
			;
		return 0;
	}
	if (strcmp(argv[2], "report") == 0) {
		/* What posix_spawn set up: fds 0..5, the mask, USR1's action, the group. */
		char fds[8] = {0};
		for (int fd = 0; fd < 6; fd++)
			fds[fd] = fcntl(fd, F_GETFD) == -1 ? '-' : 'o';
		sigset_t mask;
		sigprocmask(SIG_BLOCK, NULL, &mask);
		struct sigaction sa;
		sigaction(SIGUSR1, NULL, &sa);
		char line[64] = {0};
		ssize_t n = read(0, line, sizeof line - 1);
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = 0;
		printf("  fds 0..5: %s\n", fds);
		printf("  stdin from the opened file: %s\n", n > 0 ? line : "(nothing)");
		printf("  USR2 blocked: %s, USR1 action: %s\n",
		       sigismember(&mask, SIGUSR2) ? "yes" : "no",
		       sa.sa_handler == SIG_DFL ? "default" : "not default");
		printf("  own process group: %s\n", getpgrp() == getpid() ? "yes" : "no");
		return 0;
	}
	return 125;
}

static volatile int shared_counter;

static void vfork_rules(void)
{
	volatile int local = 1;
	int64_t before = mono_ns();
	pid_t pid = vfork();
	if (pid == 0) {
		/* Still the parent's memory: these writes are seen there. */
		local = 2;
		shared_counter = 42;
		sleep_ms(100);
		_exit(3);
	}
	int64_t waited = mono_ns() - before;
	checkf(local == 2 && shared_counter == 42, "the vfork child's writes are seen by the parent");
	check("the parent was suspended until the child's _exit", waited >= 90 * 1000000LL);
	int status;
	siginfo_t si;
	memset(&si, 0, sizeof si);
	check("and the child is already a zombie",
	      waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid);
	expect_status("vfork child", pid, "exited 3");

	/* After execve the parent runs on: the new program waits for its stdin to close. */
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) /* the exec'd program must not hold the write end */
		die("pipe2");
	char *argv[] = {(char *)self_path, "--child", "wait-stdin", NULL};
	pid = vfork();
	if (pid == 0) {
		dup2(p[0], 0);
		execv(self_path, argv);
		_exit(127);
	}
	close(p[0]);
	expect_ret("the parent runs while the exec'd program still does",
		   waitpid(pid, &status, WNOHANG), 0);
	close(p[1]);
	expect_status("the exec'd vfork child", pid, "exited 0");

	/* A failed exec in the vfork child: it reports through shared memory and _exits. */
	volatile int exec_errno = 0;
	pid = vfork();
	if (pid == 0) {
		execv("/no/such/program", argv);
		exec_errno = errno;
		_exit(127);
	}
	checkf(exec_errno == ENOENT, "a failed exec in the child, errno seen by the parent: %s",
	       errname(exec_errno));
	expect_status("that child", pid, "exited 127");
	check("getpid is the parent's own again", getpid() != pid);
}

static void spawn_report(const char *what, posix_spawn_file_actions_t *fa,
			 posix_spawnattr_t *attr)
{
	char *argv[] = {(char *)self_path, "--child", "report", NULL};
	pid_t pid;
	printf("%s:\n", what);
	fflush(stdout);
	int rc = posix_spawn(&pid, self_path, fa, attr, argv, environ);
	/* The child prints: reap it before printing here. */
	int status = rc == 0 ? reap(pid) : -1;
	expect_rc("posix_spawn", rc, 0);
	checkf(status == 0, "%s: %s", what, status < 0 ? "not run" : status_str(status));
}

static void spawning(void)
{
	/* stdin: a pipe holding one line. */
	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	write(p[1], "line for stdin\n", 15);
	close(p[1]);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 0);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addopen(&fa, 4, "/", O_RDONLY | O_DIRECTORY, 0);
	posix_spawn_file_actions_adddup2(&fa, 4, 5);
	posix_spawn_file_actions_addclose(&fa, 4);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t mask, def;
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigemptyset(&def);
	sigaddset(&def, SIGUSR1);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	signal(SIGUSR1, SIG_IGN);
	spawn_report("posix_spawn with file actions and attributes", &fa, &attr);
	signal(SIGUSR1, SIG_DFL);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(p[0]);

	pid_t pid;
	char *argv[] = {"true", NULL};
	expect_rc("posix_spawn(missing program)",
		  posix_spawn(&pid, "/no/such/program", NULL, NULL, argv, environ), ENOENT);
	expect_rc("posix_spawn(a directory)", posix_spawn(&pid, "/", NULL, NULL, argv, environ),
		  EACCES);
	expect_rc("posix_spawnp(a name in no PATH directory)",
		  posix_spawnp(&pid, "no-such-program-here", NULL, NULL, argv, environ), ENOENT);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 3, "/no/such/file", O_RDONLY, 0);
	char *rargv[] = {(char *)self_path, "--child", "report", NULL};
	expect_rc("posix_spawn with a failing open action",
		  posix_spawn(&pid, self_path, &fa, NULL, rargv, environ), ENOENT);
	posix_spawn_file_actions_destroy(&fa);
	int status;
	expect_errno("no child was left behind", waitpid(-1, &status, WNOHANG), ECHILD);
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_mode(argv);
	vfork_rules();
	spawning();
	return finish();
}
