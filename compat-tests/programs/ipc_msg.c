/* ipc_msg: System V message queues: msgget's keys and flags, messages by type (first, exact,
 * MSG_EXCEPT, lowest up to -type), MSG_NOERROR, E2BIG, ENOMSG, a full queue (EAGAIN), IPC_STAT
 * and IPC_SET, a blocked receiver woken by a send, by IPC_RMID (EIDRM) and by a signal
 * (EINTR), and /proc/sysvipc/msg. Keys come from the pid: the host's IPC namespace is shared. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"
#include "checkcall.h"

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct msg {
	long mtype;
	char mtext[9000];
};

static struct msg m;

static long snd(int q, long type, const char *text, int flags)
{
	m.mtype = type;
	strcpy(m.mtext, text);
	return msgsnd(q, &m, strlen(text), flags);
}

static long rcv(int q, long type, size_t size, int flags)
{
	memset(&m, 0, sizeof m);
	long n = msgrcv(q, &m, size, type, flags);
	if (n >= 0)
		printf("  got type %ld: \"%.*s\"\n", m.mtype, (int)n, m.mtext);
	return n;
}

static void handler(int sig)
{
	(void)sig;
}

/* A child blocked in msgrcv, then `wake` run by the parent; prints how the child ended. */
static void blocked(const char *what, int q, void (*wake)(int q, pid_t child))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		errno = 0;
		long n = msgrcv(q, &m, 100, 7, 0);
		_exit(n >= 0 ? 0 : errno == EIDRM ? 43 : errno == EINTR ? 4 : 99);
	}
	usleep(200000);
	wake(q, pid);
	int status;
	waitpid(pid, &status, 0);
	int code = WEXITSTATUS(status);
	printf("%s: the receiver %s\n", what,
	       code == 0 ? "got it" : code == 43 ? "saw EIDRM" : code == 4 ? "saw EINTR" : "??");
}

static void wake_send(int q, pid_t child)
{
	(void)child;
	snd(q, 7, "seven", 0);
}

static void wake_rmid(int q, pid_t child)
{
	(void)child;
	msgctl(q, IPC_RMID, NULL);
}

static void wake_signal(int q, pid_t child)
{
	(void)q;
	kill(child, SIGUSR1);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = handler};
	sigaction(SIGUSR1, &sa, NULL);
	key_t key = 0x4c000000 + getpid();
	int q = msgget(IPC_PRIVATE, 0600);
	printf("private queue: %s\n", q >= 0 ? "made" : errname(errno));
	CHECK(msgget(key, 0600));
	int k = msgget(key, IPC_CREAT | 0640);
	printf("keyed queue: %s\n", k >= 0 ? "made" : errname(errno));
	printf("same key again: %s\n", msgget(key, 0) == k ? "same id" : "??");
	CHECK(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
	CHECK(msgget(key, IPC_CREAT | 0600) == k);

	CHECK(snd(q, 1, "one", 0));
	CHECK(snd(q, 2, "two", 0));
	CHECK(snd(q, 3, "three", 0));
	CHECK(snd(q, 2, "two again", 0));
	CHECK(snd(q, 0, "zero", 0));
	CHECK(snd(q, -1, "negative", 0));
	m.mtype = 1;
	CHECK(msgsnd(q, &m, 8193, 0));
	CHECK(msgsnd(q, NULL, 4, 0));
	CHECK(msgsnd(-1, &m, 4, 0));
	struct msqid_ds ds;
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qnum %lu, cbytes %lu, qbytes %lu, mode %o\n", (unsigned long)ds.msg_qnum,
	       (unsigned long)ds.__msg_cbytes, (unsigned long)ds.msg_qbytes, ds.msg_perm.mode & 0777);
	CHECK(rcv(q, 2, 100, 0));
	CHECK(rcv(q, 2, 4, 0));
	CHECK(rcv(q, 2, 4, MSG_NOERROR));
	CHECK(rcv(q, 1, 100, MSG_EXCEPT));
	CHECK(rcv(q, -5, 100, 0));
	CHECK(rcv(q, 0, 100, IPC_NOWAIT));
	CHECK(rcv(q, 0, 100, IPC_NOWAIT));
	CHECK(rcv(q, 0, -1, IPC_NOWAIT));
	CHECK(rcv(q, 0, 100, MSG_COPY));

	/* Fill the queue: 16384 bytes. */
	static char big[8193];
	memset(big, 'x', 8192);
	int sent = 0;
	while (snd(q, 1, big, IPC_NOWAIT) == 0)
		sent++;
	printf("full after %d messages: %s\n", sent, errname(errno));
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("qnum %lu, cbytes %lu\n", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes);
	ds.msg_perm.mode = 0604;
	ds.msg_qbytes = 8192;
	CHECK(msgctl(q, IPC_SET, &ds));
	CHECK(msgctl(q, IPC_STAT, &ds));
	printf("mode %o, qbytes %lu\n", ds.msg_perm.mode & 0777, (unsigned long)ds.msg_qbytes);
	int drained = 0;
	while (msgrcv(q, &m, 8192, 0, IPC_NOWAIT) == 8192)
		drained++;
	printf("drained %d, then %s\n", drained, errname(errno));

	/* /proc/sysvipc/msg's line for the keyed queue. */
	CHECK(snd(k, 5, "hello", 0));
	FILE *f = fopen("/proc/sysvipc/msg", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof line, f)) {
		long lkey, id, cbytes, qnum;
		unsigned perms;
		if (sscanf(line, "%ld %ld %o %ld %ld", &lkey, &id, &perms, &cbytes, &qnum) == 5 &&
		    lkey == key) {
			printf("/proc/sysvipc/msg: perms %o, cbytes %ld, qnum %ld, id %s\n", perms, cbytes,
			       qnum, id == k ? "matches" : "??");
			found = 1;
		}
	}
	if (f)
		fclose(f);
	printf("listed: %d\n", found);

	blocked("send", k, wake_send);
	blocked("signal", k, wake_signal);
	blocked("IPC_RMID", k, wake_rmid);
	CHECK(msgsnd(k, &m, 1, 0));
	CHECK(msgctl(k, IPC_STAT, &ds));
	CHECK(msgctl(q, IPC_RMID, NULL));
	CHECK(msgctl(q, IPC_RMID, NULL));
	CHECK(msgctl(q, 99, &ds));
	return 0;
}
