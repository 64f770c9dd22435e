/* aslr_check PROG: runs PROG (tests/dynamic/aslr.c) twice and prints, for each line, whether
 * the two runs put that part at the same address; then the same with personality
 * (ADDR_NO_RANDOMIZE) set, as `setarch -R` runs programs. Run on the host and in Coracle by
 * tools/tests/dynamic.rs: Linux's answers are the expected ones. */
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/wait.h>
#include <unistd.h>

static int run(const char *prog, char *out, size_t size)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < size && (r = read(fds[0], out + n, size - 1 - n)) > 0)
		n += r;
	out[n] = 0;
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void compare(const char *what, const char *prog)
{
	char a[1024], b[1024];
	if (run(prog, a, sizeof a) != 0 || run(prog, b, sizeof b) != 0) {
		printf("%s: %s failed\n", what, prog);
		return;
	}
	char *sa, *sb;
	char *la = strtok_r(a, "\n", &sa), *lb = strtok_r(b, "\n", &sb);
	for (; la && lb; la = strtok_r(NULL, "\n", &sa), lb = strtok_r(NULL, "\n", &sb)) {
		char name[32];
		sscanf(la, "%31s", name);
		printf("%s: %s %s\n", what, name, strcmp(la, lb) ? "moves" : "stays");
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	compare("default", argv[1]);
	personality(ADDR_NO_RANDOMIZE);
	compare("setarch -R", argv[1]);
	return 0;
}
