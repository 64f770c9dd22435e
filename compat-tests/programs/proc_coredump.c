/* proc_coredump: the wait status of a child killed by a core-dumping signal: WCOREDUMP and
 * CLD_DUMPED once RLIMIT_CORE allows a core (LTP waitpid01), not with RLIMIT_CORE 0 nor for
 * a terminating signal. Coracle writes no core file; the host writes one into the scratch
 * directory, which is removed. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "fsutil.h"

static void child_dies(int sig, rlim_t core)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = {core, RLIM_INFINITY};
		setrlimit(RLIMIT_CORE, &rl);
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
		_exit(99);
	}
	siginfo_t info = {0};
	waitid(P_PID, pid, &info, WEXITED | WNOWAIT);
	int status = 0;
	waitpid(pid, &status, 0);
	printf("signal %d, RLIMIT_CORE %s: signaled %d, sig %d, core dump %d, si_code %s\n", sig,
	       core == 0 ? "0" : "unlimited", WIFSIGNALED(status), WTERMSIG(status),
	       WCOREDUMP(status) ? 1 : 0,
	       info.si_code == CLD_DUMPED ? "CLD_DUMPED" : info.si_code == CLD_KILLED ? "CLD_KILLED" : "?");
	unlink("core");
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "proc_coredump");
	int sigs[] = {SIGQUIT, SIGABRT, SIGSEGV, SIGTERM, SIGKILL};
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		child_dies(sigs[i], RLIM_INFINITY);
		child_dies(sigs[i], 0);
	}
	fs_end();
	return 0;
}
