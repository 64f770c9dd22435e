/* lim_exhaust: a program that drives the kernel's own memory to its end must meet Linux's
 * errors and leave a healthy system (LTP open04, creat05 and fork09 once panicked Coracle's
 * kernel). It opens files until the per-process or system-wide file limit (EMFILE, ENFILE),
 * forks with the full fd table, creates 4 KiB files until the memory or the cap runs out
 * (ENOSPC, ENOMEM), and forks until fork fails (EAGAIN, ENOMEM) or the cap; after each, the
 * system still opens, creates and forks. Prints only which class of error stopped each step:
 * the limits differ between the host and Coracle, the errors must not. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "fsutil.h"

#define DATA_FILES 40000
#define CHILDREN 1500
#define EMPTY_FILES 400000

static int *fds;

static int one_of(int e, int a, int b)
{
	return e == a || e == b;
}

/* Opens, writes, reads back and removes one file; prints "LABEL: ok" or what failed. */
static void healthy(const char *label)
{
	int fd = open("probe", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, "x", 1) == 1 && lseek(fd, 0, SEEK_SET) == 0;
	char c = 0;
	ok = ok && read(fd, &c, 1) == 1 && c == 'x';
	if (fd >= 0)
		close(fd);
	unlink("probe");
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	int status = 0;
	ok = ok && pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	     WEXITSTATUS(status) == 7;
	printf("%s: %s\n", label, ok ? "ok" : "FAILED");
	fflush(stdout);
}

static void open_until_limit(void)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	long max = (long)rl.rlim_cur;
	fds = calloc((size_t)max + 1, sizeof *fds);
	long n = 0;
	int err = 0;
	char name[32];
	/* open04 and creat05's shape: every fd a new file, held open. */
	for (;;) {
		snprintf(name, sizeof name, "o%07ld", n);
		int fd = open(name, O_RDWR | O_CREAT, 0600);
		if (fd < 0) {
			err = errno;
			break;
		}
		fds[n++] = fd;
	}
	printf("open: stopped by %s\n",
	       one_of(err, EMFILE, ENFILE) ? "the file limit" : errname(err));
	errno = 0;
	int again = open(".", O_RDONLY);
	printf("open again: %s\n", again < 0 && one_of(errno, EMFILE, ENFILE) ? "refused" : "??");
	int p[2];
	printf("pipe: %s\n", pipe(p) < 0 && one_of(errno, EMFILE, ENFILE) ? "refused" : "??");
	/* fork09's shape: a child gets the whole table and may close and open again (a few
	 * files closed first, so the system-wide limit leaves it room too). */
	for (int i = 0; i < 8 && n > 0; i++)
		close(fds[--n]);
	pid_t pid = fork();
	if (pid == 0) {
		for (long i = 0; i < n; i++)
			close(fds[i]);
		int fd = open("o0000000", O_RDONLY);
		_exit(fd >= 0 ? 0 : 1);
	}
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	else
		status = errno == ENOMEM || errno == EAGAIN ? 0 : 1;
	printf("fork with a full table: %s\n", status == 0 ? "ok" : "FAILED");
	for (long i = 0; i < n + 8; i++) {
		if (i < n)
			close(fds[i]);
		snprintf(name, sizeof name, "o%07ld", i);
		unlink(name);
	}
	free(fds);
	healthy("after the file limit");
}

static void create_until_full(void)
{
	static char page[4096];
	memset(page, 'd', sizeof page);
	long n = 0;
	int err = 0;
	char name[32];
	for (; n < DATA_FILES; n++) {
		snprintf(name, sizeof name, "d%07ld", n);
		int fd = open(name, O_WRONLY | O_CREAT, 0600);
		if (fd < 0) {
			err = errno;
			break;
		}
		ssize_t w = write(fd, page, sizeof page);
		if (w != (ssize_t)sizeof page)
			err = w < 0 ? errno : ENOSPC;
		close(fd);
		if (err) {
			n++;
			break;
		}
	}
	printf("create with data: %s\n",
	       !err || one_of(err, ENOSPC, ENOMEM) ? "stopped by the cap or the memory" : errname(err));
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof name, "d%07ld", i);
		unlink(name);
	}
	healthy("after a full tmpfs");
	/* Empty files and directories cost only kernel objects: the kernel's heap runs low. */
	err = 0;
	for (n = 0; n < EMPTY_FILES; n++) {
		snprintf(name, sizeof name, "e%07ld", n);
		if ((n % 2 ? mkdir(name, 0700) : mknod(name, S_IFREG | 0600, 0)) != 0) {
			err = errno;
			break;
		}
	}
	printf("create empty: %s\n",
	       !err || one_of(err, ENOSPC, ENOMEM) ? "stopped by the cap or the memory" : errname(err));
	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof name, "e%07ld", i);
		if (i % 2 ? rmdir(name) : unlink(name))
			break;
	}
	healthy("after many inodes");
}

static void fork_until_refused(void)
{
	int p[2];
	if (pipe(p) != 0)
		return;
	long n = 0;
	int err = 0;
	for (; n < CHILDREN; n++) {
		pid_t pid = fork();
		if (pid < 0) {
			err = errno;
			break;
		}
		if (pid == 0) {
			char c;
			close(p[1]);
			read(p[0], &c, 1);
			_exit(0);
		}
	}
	printf("fork: %s\n",
	       !err || one_of(err, EAGAIN, ENOMEM) ? "stopped by the cap or the kernel" : errname(err));
	close(p[0]);
	close(p[1]);
	long reaped = 0;
	while (wait(NULL) > 0)
		reaped++;
	printf("reaped all: %s\n", reaped == n ? "yes" : "no");
	healthy("after many processes");
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "lim_exhaust");
	open_until_limit();
	create_until_full();
	fork_until_refused();
	fs_end();
	return 0;
}
