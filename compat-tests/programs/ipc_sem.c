/* ipc_sem: System V semaphores: semget's keys and sizes, SETVAL/GETVAL/SETALL/GETALL, semop
 * applying all operations or none, IPC_NOWAIT, ERANGE, EFBIG, E2BIG, a waiter woken by an
 * increase (seen in GETNCNT first), by IPC_RMID (EIDRM) and by a signal (EINTR),
 * semtimedop's timeout, SEM_UNDO undone when a process ends, IPC_STAT and IPC_SET. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "errname.h"
#include "checkcall.h"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int op(int id, unsigned short num, short delta, short flags)
{
	struct sembuf b = {num, delta, flags};
	return semop(id, &b, 1);
}

static void handler(int sig)
{
	(void)sig;
}

static void vals(int id)
{
	unsigned short a[3];
	union semun u = {.array = a};
	semctl(id, 0, GETALL, u);
	printf("values: %u %u %u\n", a[0], a[1], a[2]);
	fflush(stdout);
}

/* A child waiting to take one from semaphore 1, then `wake`; how the child's semop ended. */
static void waiter(const char *what, int id, int how)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
		int r = op(id, 1, -1, 0);
		_exit(r == 0 ? 0 : errno == EIDRM ? 43 : errno == EINTR ? 4 : 99);
	}
	int n = 0;
	for (int i = 0; i < 1000 && n == 0; i++) {
		n = semctl(id, 1, GETNCNT);
		usleep(2000);
	}
	printf("%s: GETNCNT %d\n", what, n);
	if (how == 0)
		op(id, 1, 1, 0);
	else if (how == 1)
		semctl(id, 0, IPC_RMID);
	else
		kill(pid, SIGUSR1);
	int status;
	waitpid(pid, &status, 0);
	int code = WEXITSTATUS(status);
	printf("%s: the waiter %s\n", what,
	       code == 0 ? "went on" : code == 43 ? "saw EIDRM" : code == 4 ? "saw EINTR" : "??");
}

int main(void)
{
	struct sigaction sa = {.sa_handler = handler};
	sigaction(SIGUSR1, &sa, NULL);
	key_t key = 0x3e000000 + getpid();
	CHECK(semget(key, 3, 0600));
	int id = semget(key, 3, IPC_CREAT | 0600);
	printf("made: %s\n", id >= 0 ? "yes" : errname(errno));
	CHECK(semget(key, 3, IPC_CREAT | IPC_EXCL | 0600));
	CHECK(semget(key, 2, 0) == id);
	CHECK(semget(key, 4, 0));
	CHECK(semget(IPC_PRIVATE, 0, 0600));
	CHECK(semget(IPC_PRIVATE, 32001, 0600));

	union semun u = {.val = 5};
	CHECK(semctl(id, 0, SETVAL, u));
	CHECK(semctl(id, 0, GETVAL));
	u.val = 32768;
	CHECK(semctl(id, 0, SETVAL, u));
	u.val = -1;
	CHECK(semctl(id, 0, SETVAL, u));
	CHECK(semctl(id, 3, GETVAL));
	unsigned short all[3] = {1, 2, 3};
	u.array = all;
	CHECK(semctl(id, 0, SETALL, u));
	vals(id);
	CHECK(semctl(id, 2, GETPID) == getpid());

	/* All or none: the second operation would block, so the first does not happen. */
	struct sembuf two[2] = {{0, 1, 0}, {1, -5, IPC_NOWAIT}};
	CHECK(semop(id, two, 2));
	vals(id);
	struct sembuf ok[2] = {{0, 1, 0}, {1, -2, 0}};
	CHECK(semop(id, ok, 2));
	vals(id);
	CHECK(op(id, 1, 0, 0));
	CHECK(op(id, 2, 0, IPC_NOWAIT));
	CHECK(op(id, 2, 32767, 0));
	CHECK(op(id, 3, 1, 0));
	CHECK(semop(id, ok, 0));
	static struct sembuf many[501];
	CHECK(semop(id, many, 501));
	CHECK(op(-1, 0, 1, 0));

	/* semtimedop: gives up after its timeout. */
	struct timespec ts = {0, 50000000};
	struct sembuf take = {1, -1, 0};
	CHECK(semtimedop(id, &take, 1, &ts));

	/* SEM_UNDO: a child's change is undone when it ends. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		op(id, 0, 3, SEM_UNDO);
		op(id, 2, -1, SEM_UNDO);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("after a SEM_UNDO child: ");
	vals(id);

	waiter("increase", id, 0);
	waiter("signal", id, 2);
	vals(id);

	struct semid_ds ds;
	u.buf = &ds;
	CHECK(semctl(id, 0, IPC_STAT, u));
	printf("nsems %lu, mode %o\n", (unsigned long)ds.sem_nsems, ds.sem_perm.mode & 0777);
	ds.sem_perm.mode = 0640;
	CHECK(semctl(id, 0, IPC_SET, u));
	CHECK(semctl(id, 0, IPC_STAT, u));
	printf("mode %o\n", ds.sem_perm.mode & 0777);
	CHECK(semctl(id, 0, 99));

	waiter("IPC_RMID", id, 1);
	CHECK(semctl(id, 0, GETVAL));
	CHECK(semctl(id, 0, IPC_RMID));
	return 0;
}
