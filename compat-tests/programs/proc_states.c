/* proc_states: /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat show 'S' for a process or
 * thread asleep in the kernel, as LTP's TST_PROCESS_STATE_WAIT polls for before it wakes
 * the sleeper (fifteen LTP tests hung on a state that never left 'R': futex_wait02/03/07,
 * futex_wake02/03, futex_cmp_requeue01, epoll_wait08/11/12/16, wait401, signal01...). Each
 * sleeper is waited for ('S', 10 s at most), then woken the way those tests wake it, and
 * what its call returned is printed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "errname.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4

static int *shared;

static char state_of(const char *path)
{
	char buf[512];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return '?';
	long n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	char *paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : '!';
}

/* Polls the state file until it says 'S'; prints whether it did within 10 s. */
static void wait_sleeping(const char *what, const char *path)
{
	char c = '?';
	for (int i = 0; i < 10000; i++) {
		c = state_of(path);
		if (c == 'S')
			break;
		usleep(1000);
	}
	printf("%s: state %c\n", what, c);
	fflush(stdout);
}

static void wait_pid_sleeping(const char *what, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	wait_sleeping(what, path);
}

static long futex(int *addr, int op, int val, void *timeout, int *addr2, int val3)
{
	return syscall(SYS_futex, addr, op, val, timeout, addr2, val3);
}

static void handler(int sig)
{
	(void)sig;
}

static void child_result(const char *what, pid_t pid)
{
	int status = 0;
	waitpid(pid, &status, 0);
	printf("%s: child exit %d\n", what, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fflush(stdout);
}

/* A result code for the child's exit status: 0 success, else errno (kept below 100). */
static int code(long r)
{
	return r < 0 ? (errno == EINTR ? 4 : errno == EAGAIN ? 11 : 99) : 0;
}

static void *thread_waiter(void *arg)
{
	(void)arg;
	long r = futex(&shared[1], FUTEX_WAIT, 0, NULL, NULL, 0);
	return (void *)(long)(r == 0 ? 0 : errno);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = handler};
	sigaction(SIGUSR1, &sa, NULL);
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	/* The waiter in futex_wait on shared memory, woken by futex_wake (futex_wait02). */
	pid_t pid = fork();
	if (pid == 0)
		_exit(code(futex(&shared[0], FUTEX_WAIT, 0, NULL, NULL, 0)));
	wait_pid_sleeping("futex_wait", pid);
	long woke = 0;
	for (int i = 0; i < 100 && woke == 0; i++)
		woke = futex(&shared[0], FUTEX_WAKE, 1, NULL, NULL, 0);
	printf("futex_wake: %ld\n", woke);
	child_result("futex_wait", pid);

	/* Two waiters, one requeued (futex_cmp_requeue01). */
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0)
			_exit(code(futex(&shared[2], FUTEX_WAIT, 0, NULL, NULL, 0)));
		wait_pid_sleeping("requeue waiter", kids[i]);
	}
	printf("cmp_requeue: %ld\n", futex(&shared[2], FUTEX_CMP_REQUEUE, 1, (void *)1L, &shared[3], 0));
	printf("wake requeued: %ld\n", futex(&shared[3], FUTEX_WAKE, 1, NULL, NULL, 0));
	for (int i = 0; i < 2; i++)
		child_result("requeue waiter", kids[i]);

	/* A thread in futex_wait, seen in /proc/self/task/<tid>/stat (futex_wait03). */
	pthread_t t;
	pthread_create(&t, NULL, thread_waiter, NULL);
	char path[64] = "";
	/* The thread's tid: the entry of /proc/self/task that is not ours. */
	for (int i = 0; i < 1000 && !path[0]; i++) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && atoi(e->d_name) != getpid())
				snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
		if (d)
			closedir(d);
	}
	wait_sleeping("thread futex_wait", path);
	woke = 0;
	for (int i = 0; i < 100 && woke == 0; i++)
		woke = futex(&shared[1], FUTEX_WAKE, 1, NULL, NULL, 0);
	void *ret;
	pthread_join(t, &ret);
	printf("thread woken: %ld, returned %ld\n", woke, (long)ret);

	/* epoll_wait interrupted by a signal (epoll_wait08). */
	int ep = epoll_create1(0);
	pid = fork();
	if (pid == 0) {
		struct epoll_event ev;
		_exit(code(epoll_wait(ep, &ev, 1, -1)));
	}
	wait_pid_sleeping("epoll_wait", pid);
	kill(pid, SIGUSR1);
	child_result("epoll_wait", pid);

	/* pause until a signal (signal01's shape), and a parent in wait4 (wait401). */
	pid = fork();
	if (pid == 0) {
		pid_t parent = getppid();
		wait_pid_sleeping("parent in wait4", parent);
		pause();
		_exit(5);
	}
	pid_t grandchild = fork();
	if (grandchild == 0) {
		wait_pid_sleeping("pause", pid);
		kill(pid, SIGUSR1);
		_exit(0);
	}
	int status;
	printf("wait4: %s\n", wait4(pid, &status, 0, NULL) == pid ? "the child" : "??");
	printf("paused child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	waitpid(grandchild, &status, 0);

	/* A sleeper in nanosleep, and one reading an empty pipe. */
	int p[2];
	pipe(p);
	pid = fork();
	if (pid == 0) {
		char c;
		_exit(read(p[0], &c, 1) == 1 && c == 'x' ? 0 : 1);
	}
	wait_pid_sleeping("pipe read", pid);
	write(p[1], "x", 1);
	child_result("pipe read", pid);
	pid = fork();
	if (pid == 0) {
		struct timespec ts = {30, 0};
		_exit(code(nanosleep(&ts, NULL)));
	}
	wait_pid_sleeping("nanosleep", pid);
	kill(pid, SIGUSR1);
	child_result("nanosleep", pid);
	printf("self: state %c\n", state_of("/proc/self/stat"));
	return 0;
}
