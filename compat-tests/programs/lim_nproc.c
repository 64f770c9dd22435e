/* lim_nproc: RLIMIT_NPROC on fork and on thread creation. Root is exempt whatever the limit;
 * a user (uid 54399, in a child) counts its tasks, threads included, and fork or
 * pthread_create fail with EAGAIN once the count reaches the soft limit; reaping a child gives
 * its slot back. Runs as root with Docker's capabilities. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include "credutil.h"
#include "checkcall.h"

static void *idle(void *arg)
{
	pause();
	return arg;
}

/* Forks up to `n` children that wait; prints how many were made and why it stopped. */
static int fork_many(const char *who, int n, pid_t *kids)
{
	int made = 0;
	for (; made < n; made++) {
		pid_t pid = fork();
		if (pid == 0) {
			pause();
			_exit(0);
		}
		if (pid < 0) {
			printf("%s: fork %d: %s\n", who, made + 1, errname(errno));
			break;
		}
		kids[made] = pid;
	}
	printf("%s: %d children\n", who, made);
	return made;
}

static void reap(pid_t *kids, int n)
{
	for (int i = 0; i < n; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}

static void limited(const char *who)
{
	pid_t kids[8];
	struct rlimit r = {3, 3};
	CHECK(setrlimit(RLIMIT_NPROC, &r));
	int n = fork_many(who, 5, kids);
	pthread_t t;
	int e = pthread_create(&t, NULL, idle, NULL);
	printf("%s: a thread at the limit: %s\n", who, e ? errname(e) : "made");
	if (n > 0) {
		reap(kids, 1);
		e = pthread_create(&t, NULL, idle, NULL);
		printf("%s: a thread after reaping one child: %s\n", who, e ? errname(e) : "made");
		e = pthread_create(&t, NULL, idle, NULL);
		printf("%s: another thread: %s\n", who, e ? errname(e) : "made");
		reap(kids + 1, n - 1);
	}
	r.rlim_cur = 0;
	CHECK(setrlimit(RLIMIT_NPROC, &r));
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	printf("%s: fork with a limit of 0: %s\n", who, pid < 0 ? errname(errno) : "made");
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int main(void)
{
	cred_start();
	pid_t pid = fork();
	if (pid == 0) {
		limited("root");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	pid = fork();
	if (pid == 0) {
		CHECK(setuid(54399));
		limited("user 54399");
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	return 0;
}
