/* launch: the static PID 1 of tools/tests/dynamic.rs, which runs dynamic programs through
 * execve (the host tool packs static programs only as the first one).
 * Usage: launch [-R] PROG [ARGS...]: with -R, personality(ADDR_NO_RANDOMIZE) first, as
 * `setarch -R` does; then PROG replaces it. A failed execve prints its errno's name and exits
 * 127 (ENOENT) or 126, as a shell does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i = 1;
	if (i < argc && strcmp(argv[i], "-R") == 0) {
		if (personality(ADDR_NO_RANDOMIZE) < 0) {
			perror("personality");
			return 125;
		}
		i++;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: launch [-R] PROG [ARGS...]\n");
		return 125;
	}
	execv(argv[i], argv + i);
	int e = errno;
	printf("execv: %s\n", e == ENOENT ? "ENOENT" : e == ELIBBAD ? "ELIBBAD"
	       : e == ENOEXEC ? "ENOEXEC" : e == EACCES ? "EACCES" : e == EIO ? "EIO" : "other");
	return e == ENOENT ? 127 : 126;
}
