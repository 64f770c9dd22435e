/* checkcall.h: CHECK(expr) prints `expr = result`, or `expr = -1 ERRNAME` for a failed call,
 * the line format the IPC programs compare with the host. Include after errname.h. */
#include <errno.h>
#include <stdio.h>

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s = -1 %s\n", what, errname(errno));
	else
		printf("%s = %ld\n", what, r);
	fflush(stdout);
}

#define CHECK(expr)                        \
	do {                               \
		errno = 0;                 \
		show(#expr, (long)(expr)); \
	} while (0)
