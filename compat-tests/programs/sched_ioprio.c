/* sched_ioprio: ioprio_set and ioprio_get for the calling process: the classes and levels
 * kept and read back, what fork inherits, and the errors (bad class, level with no class,
 * unknown `which`, no such process). The realtime class needs CAP_SYS_NICE, which only the
 * host's root has, so it is left out. */
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"

#define PRIO(class, data) ((class) << 13 | (data))

static void show(const char *what, long r)
{
	if (r < 0)
		printf("%s = -1 %s\n", what, errname(errno));
	else
		printf("%s = %ld (class %ld, data %ld)\n", what, r, r >> 13, r & 0x1fff);
	fflush(stdout);
}

#define CALL(expr)                 \
	do {                       \
		errno = 0;         \
		show(#expr, expr); \
	} while (0)

static long get(int which, int who)
{
	return syscall(SYS_ioprio_get, which, who);
}

static long set(int which, int who, int prio)
{
	return syscall(SYS_ioprio_set, which, who, prio);
}

int main(void)
{
	CALL(get(1, 0));
	CALL(get(1, getpid()));
	CALL(set(1, 0, PRIO(2, 5)));
	CALL(get(1, 0));
	CALL(set(1, getpid(), PRIO(3, 0)));
	CALL(get(1, 0));
	CALL(set(1, 0, PRIO(2, 7)));
	pid_t pid = fork();
	if (pid == 0) {
		CALL(get(1, 0));
		CALL(set(1, 0, PRIO(2, 1)));
		CALL(get(1, 0));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	CALL(get(1, 0));
	CALL(set(1, 0, PRIO(0, 3)));
	CALL(set(1, 0, PRIO(4, 0)));
	CALL(set(1, 0, -1));
	CALL(set(9, 0, PRIO(2, 0)));
	CALL(get(9, 0));
	CALL(get(1, -5));
	CALL(get(1, 999999));
	CALL(set(1, 999999, PRIO(2, 0)));
	CALL(set(1, 0, PRIO(0, 0)));
	CALL(get(1, 0));
	return 0;
}
