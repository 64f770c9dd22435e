/* lim_fsize: RLIMIT_FSIZE as Linux enforces it on a regular file: a write crossing the limit
 * is cut short, one at or past it raises SIGXFSZ and fails with EFBIG, as does growing the
 * file with ftruncate or truncate; shrinking is allowed, pipes are not bound; with the
 * signal's default action the writer dies of SIGXFSZ. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "fsutil.h"

static volatile sig_atomic_t caught;

static void on_xfsz(int sig)
{
	(void)sig;
	caught++;
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "lim_fsize");
	static char buf[8192];
	memset(buf, 'f', sizeof buf);
	struct rlimit rl = {10000, 10000};
	CHECK(setrlimit(RLIMIT_FSIZE, &rl));
	CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur == 10000);
	signal(SIGXFSZ, on_xfsz);
	int fd = open("f", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(write(fd, buf, 8192));
	CHECK(write(fd, buf, 8192));
	printf("caught: %d\n", (int)caught);
	CHECK(write(fd, buf, 1));
	printf("caught: %d\n", (int)caught);
	CHECK(pwrite(fd, buf, 100, 9950));
	CHECK(pwrite(fd, buf, 100, 20000));
	CHECK(write(fd, buf, 0));
	CHECK(ftruncate(fd, 20000));
	CHECK(ftruncate(fd, 5000));
	CHECK(ftruncate(fd, 10000));
	CHECK(truncate("f", 10001));
	printf("caught: %d\n", (int)caught);
	struct stat st;
	fstat(fd, &st);
	printf("size: %lld\n", (long long)st.st_size);
	int p[2];
	CHECK(pipe(p));
	for (int i = 0; i < 2; i++)
		CHECK(write(p[1], buf, 8192));
	close(p[0]);
	close(p[1]);
	close(fd);
	/* The default action: the writer dies of the signal. */
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit core = {0, 0};
		setrlimit(RLIMIT_CORE, &core);
		signal(SIGXFSZ, SIG_DFL);
		int f = open("f", O_WRONLY | O_APPEND);
		write(f, buf, 10);
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("child: signaled=%d sig=%d\n", WIFSIGNALED(status), WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	fs_end();
	return 0;
}
