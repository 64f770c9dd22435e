/* proc_loop: many processes one after another: 1000 fork + _exit + waitpid, then 1000 fork +
 * execve (of this program, which exits at once) + waitpid, each with its status checked. Free
 * memory (sysinfo) is compared before and after the exec loop: a kernel that leaks a page per
 * process loses 4 MiB. The comparison is made only when the program is PID 1, as in Coracle;
 * on the host other processes change free memory all the time, so there it is not checked
 * (and the line reads the same). */
#define _GNU_SOURCE
#include <sys/sysinfo.h>
#include "procutil.h"

#define CYCLES 1000
/* Allowed loss of free memory over the exec loop. */
#define SLACK (1 << 20)

static long long free_bytes(void)
{
	struct sysinfo si;
	if (sysinfo(&si) != 0)
		return -1;
	return (long long)si.freeram * si.mem_unit;
}

static int exec_cycles(int n)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return n - i + bad;
		if (pid == 0) {
			char code[8];
			snprintf(code, sizeof code, "%d", i % 100);
			exec_self("exit", code, NULL);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != i % 100)
			bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 3 && strcmp(argv[1], "--child") == 0 && strcmp(argv[2], "exit") == 0)
		return atoi(argv[3]);
	fflush(stdout);
	int bad = 0;
	for (int i = 0; i < CYCLES; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			bad++;
			break;
		}
		if (pid == 0)
			_exit(i & 0xff);
		int status;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != (i & 0xff))
			bad++;
	}
	checkf(bad == 0, "%d fork + _exit + waitpid, every status right", CYCLES);
	expect_errno("no child left", waitpid(-1, NULL, WNOHANG), ECHILD);

	/* A few cycles first, so that whatever the kernel caches on first use is there. */
	bad = exec_cycles(20);
	long long before = free_bytes();
	bad += exec_cycles(CYCLES);
	long long after = free_bytes();
	checkf(bad == 0, "%d fork + execve + waitpid, every status right", CYCLES);
	int leak_checked = getpid() == 1;
	checkf(!leak_checked || (before > 0 && after > 0 && before - after <= SLACK),
	       "free memory after the exec loop within 1 MiB of before");
	if (leak_checked && before - after > SLACK)
		printf("free memory: %lld KiB before, %lld KiB after\n", before >> 10, after >> 10);
	return finish();
}
