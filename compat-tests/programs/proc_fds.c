/* proc_fds: file descriptors across fork and exec, in the scratch directory argv[1]. Inherited
 * descriptors share the open file: its offset, O_APPEND and O_NONBLOCK; FD_CLOEXEC belongs to
 * the descriptor; closing in the child leaves the parent's open. Pipes between processes: end
 * of file only once every writer (the child's copy too) is closed, SIGPIPE for a child writing
 * to a pipe without readers, EPIPE when it ignores SIGPIPE; dup2 redirecting a child's stdout
 * into a pipe across exec; which descriptors survive exec (O_CLOEXEC, pipe2, dup3,
 * F_DUPFD_CLOEXEC, FD_CLOEXEC set and cleared). Locks: flock belongs to the open file, so a
 * child holds the parent's lock through an inherited descriptor and not through its own open;
 * fcntl record locks belong to the process: not inherited, and F_GETLK names the owner. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "procutil.h"

static char path_buf[4096];
static const char *dir;

static const char *in_dir(const char *name)
{
	snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
	return path_buf;
}

/* Helper modes. */
static int child_mode(char **argv)
{
	if (strcmp(argv[2], "open-fds") == 0) {
		/* Which of descriptors 3..19 are open, as a string of 0/1. */
		char s[32] = {0};
		for (int fd = 3; fd < 20; fd++)
			s[fd - 3] = fcntl(fd, F_GETFD) == -1 ? '0' : '1';
		printf("%s\n", s);
		return 0;
	}
	if (strcmp(argv[2], "echo") == 0) {
		printf("%s\n", argv[3]);
		fprintf(stderr, "to stderr\n");
		return 0;
	}
	return 125;
}

static void shared_files(void)
{
	int fd = open(in_dir("shared"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("open");
	write(fd, "parent1 ", 8);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		write(fd, "child ", 6);
		close(fd);
		_exit(0);
	}
	reap(pid);
	expect_ret("the child's write moved the shared offset", lseek(fd, 0, SEEK_CUR), 14);
	write(fd, "parent2", 7);
	char buf[64] = {0};
	pread(fd, buf, sizeof buf - 1, 0);
	printf("file: %s\n", buf);
	check("the child's close left the parent's descriptor open", fcntl(fd, F_GETFD) == 0);

	/* Status flags are shared; FD_CLOEXEC is not. */
	struct event done = event_new(), go = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		event_set(done);
		event_wait(go);
		_exit(fcntl(fd, F_GETFD) == FD_CLOEXEC ? 0 : 1);
	}
	event_wait(done);
	check("O_APPEND set in the child is seen by the parent",
	      (fcntl(fd, F_GETFL) & O_APPEND) != 0);
	check("FD_CLOEXEC set in the child is not", fcntl(fd, F_GETFD) == 0);
	event_set(go);
	expect_status("the child keeps its FD_CLOEXEC", pid, "exited 0");
	lseek(fd, 0, SEEK_SET);
	write(fd, "!", 1);
	expect_ret("O_APPEND now applies to the parent's writes", lseek(fd, 0, SEEK_CUR), 22);
	event_close(done);
	event_close(go);
	close(fd);
}

static void pipes(void)
{
	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	struct event go = event_new();
	pid_t pid = fork_or_die();
	if (pid == 0) {
		close(p[0]);
		write(p[1], "hello", 5);
		event_wait(go);
		_exit(0);
	}
	close(p[1]);
	char buf[16] = {0};
	expect_ret("read what the child wrote", read(p[0], buf, sizeof buf), 5);
	struct pollfd pfd = {p[0], POLLIN, 0};
	expect_ret("no end of file while the child holds the write end", poll(&pfd, 1, 100), 0);
	event_set(go);
	reap(pid);
	expect_ret("end of file once the last writer is gone", read(p[0], buf, sizeof buf), 0);
	close(p[0]);
	event_close(go);

	/* A writer whose readers are gone: SIGPIPE, or EPIPE when it is ignored. */
	if (pipe(p) != 0)
		die("pipe");
	close(p[0]);
	pid = fork_or_die();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(p[1], "x", 1);
		_exit(0);
	}
	expect_status("a child writing to a pipe without readers", pid, "killed by PIPE");
	pid = fork_or_die();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		ssize_t r = write(p[1], "x", 1);
		_exit(r == -1 && errno == EPIPE ? 0 : 1);
	}
	expect_status("the same with SIGPIPE ignored: EPIPE", pid, "exited 0");
	close(p[1]);

	/* A pipeline of two processes: child 1's stdout into child 2's stdin. */
	if (pipe(p) != 0)
		die("pipe");
	int out[2];
	if (pipe(out) != 0)
		die("pipe");
	pid_t writer = fork_or_die();
	if (writer == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		close(out[0]);
		close(out[1]);
		for (int i = 0; i < 1000; i++)
			printf("line %d\n", i);
		exit(0);
	}
	pid_t counter = fork_or_die();
	if (counter == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		close(out[0]);
		long lines = 0, n;
		char b[4096];
		while ((n = read(0, b, sizeof b)) > 0)
			for (long i = 0; i < n; i++)
				lines += b[i] == '\n';
		dprintf(out[1], "%ld", lines);
		_exit(0);
	}
	close(p[0]);
	close(p[1]);
	close(out[1]);
	memset(buf, 0, sizeof buf);
	read(out[0], buf, sizeof buf - 1);
	close(out[0]);
	printf("lines through a two-process pipeline: %s\n", buf);
	reap(writer);
	reap(counter);

	/* dup2 across exec: the helper's stdout and stderr go into pipes. */
	int o[2], e[2];
	if (pipe(o) != 0 || pipe(e) != 0)
		die("pipe");
	pid = fork_or_die();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		close(o[0]);
		close(o[1]);
		close(e[0]);
		close(e[1]);
		exec_self("echo", "through dup2", NULL);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	char got[64] = {0}, err[64] = {0};
	read(o[0], got, sizeof got - 1);
	read(e[0], err, sizeof err - 1);
	printf("the exec'd child's stdout: %s", got);
	printf("its stderr: %s", err);
	expect_status("the echo helper", pid, "exited 0");
	close(o[0]);
	close(e[0]);
}

static void cloexec(void)
{
	/* Descriptors 3.. are set up so that the odd ones are close-on-exec. */
	int p[2], q[2];
	for (int fd = 3; fd < 64; fd++) /* whatever the program was started with */
		close(fd);
	close(open(in_dir("cloexec"), O_RDWR | O_CREAT, 0644));
	int base = open(in_dir("cloexec"), O_RDONLY);		/* 3: kept */
	int c1 = open(in_dir("cloexec"), O_RDONLY | O_CLOEXEC); /* 4: closed */
	if (base != 3 || c1 != 4 || pipe(p) != 0 || pipe2(q, O_CLOEXEC) != 0)
		die("setting up descriptors 3..8 (are 0..2 open?)"); /* 5, 6 kept; 7, 8 closed */
	int d1 = dup3(base, 9, O_CLOEXEC);		       /* 9: closed */
	int d2 = fcntl(base, F_DUPFD_CLOEXEC, 10);	       /* 10: closed */
	int d3 = fcntl(base, F_DUPFD, 11);		       /* 11: kept */
	int d4 = dup(base);				       /* 12: FD_CLOEXEC set, closed */
	fcntl(d4, F_SETFD, FD_CLOEXEC);
	int d5 = fcntl(base, F_DUPFD_CLOEXEC, 13); /* 13: FD_CLOEXEC cleared, kept */
	fcntl(d5, F_SETFD, 0);
	int d6 = dup2(c1, 14); /* 14: dup2 of a close-on-exec descriptor is kept */
	if (d1 != 9 || d2 != 10 || d3 != 11 || d4 != 12 || d5 != 13 || d6 != 14)
		die("dup");
	int o[2];
	if (pipe2(o, O_CLOEXEC) != 0) /* 15, 16: closed */
		die("pipe2");
	pid_t pid = fork_or_die();
	if (pid == 0) {
		dup2(o[1], 1); /* dup2 clears FD_CLOEXEC on the new descriptor */
		exec_self("open-fds", NULL, NULL);
		_exit(127);
	}
	close(o[1]);
	char got[64] = {0};
	read(o[0], got, sizeof got - 1);
	printf("descriptors 3..19 open after exec: %s", got);
	check("as expected", strcmp(got, "10110000101100000\n") == 0);
	reap(pid);
	for (int fd = 3; fd <= 16; fd++)
		close(fd);
}

static void locks(void)
{
	const char *path = in_dir("locked");
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		die("open");
	expect_ret("flock(LOCK_EX)", flock(fd, LOCK_EX), 0);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int own = open(path, O_RDWR);
		int ok = flock(own, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK;
		ok &= flock(fd, LOCK_EX | LOCK_NB) == 0; /* the same open file: already held */
		_exit(ok ? 0 : 1);
	}
	expect_status("child: its own open is refused, the inherited descriptor holds the lock",
		      pid, "exited 0");
	pid = fork_or_die();
	if (pid == 0)
		_exit(flock(fd, LOCK_UN) == 0 ? 0 : 1);
	expect_status("child unlocks through the inherited descriptor", pid, "exited 0");
	int other = open(path, O_RDWR);
	expect_ret("now another open file can lock it", flock(other, LOCK_EX | LOCK_NB), 0);
	close(other);

	/* fcntl record locks: held by the process, not inherited. */
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	expect_ret("F_SETLK write lock on bytes 0..9", fcntl(fd, F_SETLK, &fl), 0);
	pid_t me = getpid();
	pid = fork_or_die();
	if (pid == 0) {
		struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
		int ok = fcntl(fd, F_GETLK, &q) == 0 && q.l_type == F_WRLCK && q.l_pid == me &&
			 q.l_start == 0 && q.l_len == 10;
		struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
		ok &= fcntl(fd, F_SETLK, &w) == -1 && (errno == EAGAIN || errno == EACCES);
		w.l_start = 10;
		ok &= fcntl(fd, F_SETLK, &w) == 0;
		_exit(ok ? 0 : 1);
	}
	expect_status("child: F_GETLK names the parent, its F_SETLK on locked bytes fails", pid,
		      "exited 0");
	/* The lock goes with the process: a child's exit released its lock on byte 10, and
	 * closing any descriptor of the file in the parent releases the parent's. */
	other = open(path, O_RDWR);
	close(other);
	pid = fork_or_die();
	if (pid == 0) {
		struct flock w = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 11};
		_exit(fcntl(fd, F_SETLK, &w) == 0 ? 0 : 1);
	}
	expect_status("after the parent closed another descriptor of the file, bytes 0..10 are "
		      "free",
		      pid, "exited 0");
	close(fd);
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_mode(argv);
	if (argc < 2) {
		printf("usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	signal(SIGPIPE, SIG_IGN);
	cloexec();
	shared_files();
	pipes();
	locks();
	return finish();
}
