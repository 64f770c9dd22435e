/* ipc_shm: System V shared memory: shmget's keys, sizes and flags; shmat at a chosen or a
 * free address, SHM_RDONLY (a store is SIGSEGV), SHM_RND; data shared with a forked child;
 * shm_nattch through attach, fork and detach; IPC_RMID while attached (the key is free at
 * once, the memory stays until the last detach); IPC_STAT, IPC_SET, /proc/sysvipc/shm and
 * the errors. Keys come from the pid: the host's IPC namespace is shared. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"
#include "checkcall.h"

static long nattch(int id)
{
	struct shmid_ds ds;
	if (shmctl(id, IPC_STAT, &ds) != 0)
		return -1;
	return (long)ds.shm_nattch;
}

static sigjmp_buf jump;

static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jump, 1);
}

/* Whether /proc/sysvipc/shm lists `key`: its perms, size and nattch. */
static void proc_line(key_t key)
{
	FILE *f = fopen("/proc/sysvipc/shm", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		long lkey, id, size, cpid, lpid, n;
		unsigned perms;
		if (sscanf(line, "%ld %ld %o %ld %ld %ld %ld", &lkey, &id, &perms, &size, &cpid, &lpid,
			   &n) == 7 && lkey == key) {
			printf("/proc/sysvipc/shm: perms %o, size %ld, nattch %ld\n", perms, size, n);
			found = 1;
		}
	}
	if (f)
		fclose(f);
	if (!found)
		printf("/proc/sysvipc/shm: not listed\n");
}

int main(void)
{
	key_t key = 0x5d000000 + getpid();
	CHECK(shmget(key, 100, 0600));
	int id = shmget(key, 10000, IPC_CREAT | 0640);
	printf("made: %s\n", id >= 0 ? "yes" : errname(errno));
	CHECK(shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0600));
	CHECK(shmget(key, 5000, 0) == id);
	CHECK(shmget(key, 20000, 0));
	CHECK(shmget(IPC_PRIVATE, 0, 0600));
	struct shmid_ds ds;
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("segsz %lu, nattch %lu, mode %o, cpid is me: %d\n", (unsigned long)ds.shm_segsz,
	       (unsigned long)ds.shm_nattch, ds.shm_perm.mode & 0777, ds.shm_cpid == getpid());
	proc_line(key);

	char *a = shmat(id, NULL, 0);
	printf("attached: %s, zeroed: %d\n", a != (void *)-1 ? "yes" : errname(errno), a[0] == 0 && a[9999] == 0);
	strcpy(a, "written by the parent");
	char *b = shmat(id, NULL, SHM_RDONLY);
	printf("second attach sees: %s, nattch %ld\n", b, nattch(id));
	CHECK(shmat(id, a + 1, 0) == (void *)-1);
	char *c = shmat(id, a + 1, SHM_RND | SHM_REMAP);
	printf("SHM_RND|SHM_REMAP at the first: %s\n", c == a ? "same address" : "??");
	CHECK(nattch(id));
	CHECK(shmat(id, a, 0) == (void *)-1);

	/* A store through the read-only attach faults. */
	struct sigaction sa = {.sa_handler = on_segv};
	sigaction(SIGSEGV, &sa, NULL);
	if (sigsetjmp(jump, 1) == 0) {
		b[0] = 'x';
		printf("store to SHM_RDONLY: allowed\n");
	} else {
		printf("store to SHM_RDONLY: SIGSEGV\n");
	}

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		printf("child sees: %s, nattch %ld\n", a, nattch(id));
		fflush(stdout);
		strcpy(a, "written by the child");
		shmdt(a);
		shmdt(b);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	printf("parent sees: %s, nattch %ld\n", a, nattch(id));

	/* IPC_RMID while attached: the key goes, the memory stays. */
	CHECK(shmctl(id, IPC_RMID, NULL));
	CHECK(shmget(key, 100, 0));
	CHECK(shmctl(id, IPC_STAT, &ds));
	printf("after RMID: mode %o (SHM_DEST %d), key %d, nattch %lu\n", ds.shm_perm.mode & 0777,
	       (ds.shm_perm.mode & 01000) != 0, (int)ds.shm_perm.__key, (unsigned long)ds.shm_nattch);
	printf("still readable: %s\n", a);
	CHECK(shmdt(b));
	CHECK(shmdt(b));
	CHECK(shmdt(a + 4096));
	CHECK(shmdt(a));
	CHECK(shmctl(id, IPC_STAT, &ds));

	/* IPC_SET, and the errors. */
	int p = shmget(IPC_PRIVATE, 4096, 0600);
	CHECK(shmctl(p, IPC_STAT, &ds));
	ds.shm_perm.mode = 0644;
	CHECK(shmctl(p, IPC_SET, &ds));
	CHECK(shmctl(p, IPC_STAT, &ds));
	printf("mode %o\n", ds.shm_perm.mode & 0777);
	CHECK(shmat(-1, NULL, 0) == (void *)-1);
	CHECK(shmat(p, (void *)12345, 0) == (void *)-1);
	CHECK(shmctl(p, 99, &ds));
	CHECK(shmctl(-1, IPC_STAT, &ds));
	CHECK(shmdt((void *)4096));
	CHECK(shmctl(p, IPC_RMID, NULL));
	CHECK(shmctl(p, IPC_STAT, &ds));
	proc_line(key);
	return 0;
}
