/* ipc_mq: POSIX message queues: mq_open's flags, names and attribute limits (against
 * /proc/sys/fs/mqueue), EACCES by mode, priority order and FIFO within a priority, EAGAIN,
 * ETIMEDOUT, EMSGSIZE, EBADF, mq_getattr/mq_setattr, blocked senders and receivers woken
 * across threads and processes and by a signal, mq_notify (SIGEV_SIGNAL with SI_MESGQ,
 * SIGEV_NONE, EBUSY, unregistering), poll/select/epoll on a queue, RLIMIT_MSGQUEUE, and the
 * mqueue filesystem mounted in the scratch directory (listing, status lines, open(2) and
 * unlink(2) in it). Names come from the pid: the host's queues are shared. Runs as root with
 * Docker's capabilities (mounting first, which takes CAP_SYS_ADMIN on the host). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include "credutil.h"
#include "checkcall.h"

static char qa[64], qb[64], qc[64], qd[64], qe[64];
static char buf[9000];
static unsigned prio;

static struct mq_attr attr(long maxmsg, long msgsize)
{
	struct mq_attr a = {0};
	a.mq_maxmsg = maxmsg;
	a.mq_msgsize = msgsize;
	return a;
}

static struct timespec in_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ms * 1000000;
	t.tv_sec += t.tv_nsec / 1000000000;
	t.tv_nsec %= 1000000000;
	return t;
}

static long rcv(mqd_t q)
{
	memset(buf, 0, sizeof buf);
	long n = mq_receive(q, buf, sizeof buf, &prio);
	if (n >= 0)
		printf("  got prio %u: \"%.*s\"\n", prio, (int)n, buf);
	return n;
}

static void show_attr(mqd_t q)
{
	struct mq_attr a;
	if (mq_getattr(q, &a) != 0) {
		printf("mq_getattr: %s\n", errname(errno));
		return;
	}
	printf("attr: flags %s maxmsg %ld msgsize %ld curmsgs %ld\n",
	       a.mq_flags & O_NONBLOCK ? "O_NONBLOCK" : "0", a.mq_maxmsg, a.mq_msgsize,
	       a.mq_curmsgs);
}

static void show_proc(void)
{
	const char *names[] = {"msg_default", "msg_max", "msgsize_default", "msgsize_max",
			       "queues_max"};
	for (unsigned i = 0; i < sizeof names / sizeof *names; i++) {
		char path[128], line[64] = "";
		snprintf(path, sizeof path, "/proc/sys/fs/mqueue/%s", names[i]);
		FILE *f = fopen(path, "r");
		if (f && fgets(line, sizeof line, f))
			printf("%s: %s", names[i], line);
		else
			printf("%s: %s\n", names[i], errname(errno));
		if (f)
			fclose(f);
	}
}

/* The status line of a queue, read through a descriptor of its file in the mount (kept open:
 * closing one would end our notification registration); the pid is shown as "me" when it is
 * ours. */
static void queue_status(int fd)
{
	char line[256] = "";
	long n = pread(fd, line, sizeof line - 1, 0);
	if (n < 0) {
		printf("status: %s\n", errname(errno));
		return;
	}
	line[n] = 0;
	char *pid = strstr(line, "NOTIFY_PID:");
	if (pid) {
		int v = atoi(pid + 11);
		sprintf(pid + 11, "%s", v == getpid() ? "me" : v == 0 ? "0" : "other");
	}
	printf("status (%ld bytes): %s\n", n, line);
}

static volatile sig_atomic_t got_sig, got_code, got_value, got_pid;

static void on_notify(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	got_sig = sig;
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
	got_pid = si->si_pid == getpid();
}

static void on_usr2(int sig)
{
	(void)sig;
}

static void *full_sender(void *arg)
{
	mqd_t q = *(mqd_t *)arg;
	long r = mq_send(q, "from thread", 11, 3);
	return (void *)r;
}

/* A child blocked receiving; `wake` 0: the parent sends, 1: SIGUSR2 without SA_RESTART. */
static void blocked_receiver(mqd_t q, int wake)
{
	pid_t pid = fork();
	if (pid == 0) {
		char b[64];
		long n = mq_receive(q, b, sizeof b, NULL);
		_exit(n >= 0 ? 0 : errno == EINTR ? 4 : 99);
	}
	usleep(200000);
	if (wake == 0)
		mq_send(q, "wake", 4, 0);
	else
		kill(pid, SIGUSR2);
	int status;
	waitpid(pid, &status, 0);
	int code = WEXITSTATUS(status);
	printf("blocked receiver woken by %s: %s\n", wake ? "a signal" : "a send",
	       code == 0 ? "got the message" : code == 4 ? "EINTR" : "??");
}

/* In a child as uid 54321: permissions on another's queue, and RLIMIT_MSGQUEUE. */
static void as_other_user(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		CHECK(setuid(54321));
		CHECK(mq_open(qa, O_RDONLY) >= 0);
		CHECK(mq_open(qb, O_RDONLY) >= 0);
		CHECK(mq_open(qb, O_WRONLY));
		CHECK(mq_unlink(qb));
		struct rlimit r = {200000, 200000};
		CHECK(setrlimit(RLIMIT_MSGQUEUE, &r));
		CHECK(mq_open(qc, O_CREAT | O_RDWR, 0600, NULL) >= 0);
		CHECK(mq_open(qd, O_CREAT | O_RDWR, 0600, NULL) >= 0);
		CHECK(mq_open(qe, O_CREAT | O_RDWR, 0600, NULL));
		struct mq_attr small = attr(1, 1);
		CHECK(mq_open(qe, O_CREAT | O_RDWR, 0600, &small) >= 0);
		CHECK(mq_unlink(qc));
		CHECK(mq_unlink(qd));
		CHECK(mq_unlink(qe));
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void list_mount(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		printf("opendir: %s\n", errname(errno));
		return;
	}
	struct dirent *e;
	int dots = 0;
	char mine[8][64];
	int n = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			dots++;
		else if (n < 8 && !strncmp(e->d_name, qa + 1, strlen(qa) - 2))
			snprintf(mine[n++], 64, "%s (type %s)", e->d_name + strlen(qa) - 2,
				 e->d_type == DT_REG ? "reg" : "??");
	}
	closedir(d);
	printf("listing: %d dot entries, ours:", dots);
	for (int i = 0; i < n; i++)
		printf(" %s", mine[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	char dir[256];
	snprintf(dir, sizeof dir, "%s/ipc_mq.mnt", argc > 1 ? argv[1] : "/tmp");
	setvbuf(stdout, NULL, _IONBF, 0);
	/* Descriptors inherited from the harness would shift ours. */
	syscall(SYS_close_range, 3u, ~0u, 0);
	rmdir(dir);
	/* On the host, a mount namespace of its own keeps the mount private (Coracle has none
	 * to make: unshare fails there and the mount is undone at the end). */
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	CHECK(mkdir(dir, 0755));
	CHECK(mount("none", dir, "mqueue", 0, NULL));
	cred_start();
	umask(022);
	int me = getpid();
	snprintf(qa, sizeof qa, "/cmq%d_a", me);
	snprintf(qb, sizeof qb, "/cmq%d_b", me);
	snprintf(qc, sizeof qc, "/cmq%d_c", me);
	snprintf(qd, sizeof qd, "/cmq%d_d", me);
	snprintf(qe, sizeof qe, "/cmq%d_e", me);
	show_proc();

	/* Names and flags. */
	struct mq_attr a;
	CHECK(mq_open(qa, O_RDWR));
	a = attr(0, 16);
	CHECK(mq_open(qa, O_CREAT | O_RDWR, 0600, &a));
	a = attr(4, 0);
	CHECK(mq_open(qa, O_CREAT | O_RDWR, 0600, &a));
	a = attr(-1, 16);
	CHECK(mq_open(qa, O_CREAT | O_RDWR, 0600, &a));
	a = attr(11, 16);
	CHECK(mq_open(qa, O_CREAT | O_RDWR, 0600, &a));
	a = attr(4, 8193);
	CHECK(mq_open(qa, O_CREAT | O_RDWR, 0600, &a));
	a = attr(4, 16);
	mqd_t q = mq_open(qa, O_CREAT | O_EXCL | O_RDWR, 0640, &a);
	printf("made queue a: %s\n", q >= 0 ? "yes" : errname(errno));
	char path[512];
	snprintf(path, sizeof path, "%s%s", dir, qa);
	int sfd = open(path, O_RDONLY);
	printf("its file: %s\n", sfd >= 0 ? "opens" : errname(errno));
	CHECK(mq_open(qa, O_CREAT | O_EXCL | O_RDWR, 0600, &a));
	a = attr(0, 0);
	mqd_t q2 = mq_open(qa, O_CREAT | O_RDONLY, 0600, &a);
	printf("existing queue with bad attr: %s\n", q2 >= 0 ? "opened" : errname(errno));
	CHECK(fcntl(q, F_GETFD));
	CHECK(mq_open("/", O_CREAT | O_RDWR, 0600, NULL));
	CHECK(mq_open("/a/b", O_CREAT | O_RDWR, 0600, NULL));
	char longname[300] = "/";
	memset(longname + 1, 'n', 256);
	CHECK(mq_open(longname, O_CREAT | O_RDWR, 0600, NULL));
	CHECK(mq_unlink(longname));
	CHECK(mq_unlink(qb));
	show_attr(q);

	/* Sending and receiving. */
	CHECK(mq_send(q, "too big message!!", 17, 0));
	CHECK(mq_send(q, "x", 1, 32768));
	CHECK(mq_send(q, "low", 3, 1));
	CHECK(mq_send(q, "high", 4, 9));
	CHECK(mq_send(q, "low2", 4, 1));
	CHECK(mq_send(q, "high2", 5, 9));
	show_attr(q);
	queue_status(sfd);
	struct timespec t = in_ms(50);
	CHECK(mq_timedsend(q, "full", 4, 0, &t));
	CHECK(mq_receive(q, buf, 15, NULL));
	CHECK(rcv(q));
	CHECK(rcv(q));
	CHECK(rcv(q));
	CHECK(rcv(q));
	t = in_ms(100);
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &t));
	t.tv_nsec = 1000000000;
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &t));
	CHECK(mq_timedsend(q, "x", 1, 0, &t));
	t.tv_sec = 0;
	t.tv_nsec = 0;
	CHECK(mq_timedsend(q, "past", 4, 0, &t));
	CHECK(mq_timedreceive(q, buf, sizeof buf, NULL, &t));
	CHECK(mq_send(q2, "ro", 2, 0));
	CHECK(mq_send(0, "x", 1, 0));
	CHECK(mq_send(-1, "x", 1, 0));

	/* Non-blocking: mq_setattr. */
	struct mq_attr na = {0}, old;
	na.mq_flags = O_NONBLOCK;
	CHECK(mq_setattr(q, &na, &old));
	printf("old flags: %ld\n", old.mq_flags);
	show_attr(q);
	CHECK(mq_receive(q, buf, sizeof buf, NULL));
	int filled = 0;
	while (mq_send(q, "fill", 4, 2) == 0)
		filled++;
	printf("full after %d: %s\n", filled, errname(errno));
	na.mq_flags = O_NONBLOCK | O_APPEND;
	CHECK(mq_setattr(q, &na, NULL));
	na.mq_flags = 0;
	CHECK(mq_setattr(q, &na, NULL));
	t = in_ms(100);
	CHECK(mq_timedsend(q, "late", 4, 0, &t));

	/* Readiness: a full queue is readable, not writable; an empty one the other way. */
	struct pollfd pfd = {q, POLLIN | POLLOUT, 0};
	CHECK(poll(&pfd, 1, 0));
	printf("poll full: %s%s\n", pfd.revents & POLLIN ? "IN " : "", pfd.revents & POLLOUT ? "OUT" : "");
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT}, out;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, q, &ev));
	CHECK(epoll_wait(ep, &out, 1, 0));
	printf("epoll full: %s%s\n", out.events & EPOLLIN ? "IN " : "", out.events & EPOLLOUT ? "OUT" : "");

	/* A thread blocked sending into the full queue, woken by a receive. */
	pthread_t th;
	pthread_create(&th, NULL, full_sender, &q);
	usleep(200000);
	CHECK(rcv(q));
	void *res;
	pthread_join(th, &res);
	printf("blocked sender thread: %ld\n", (long)res);
	while (mq_timedreceive(q, buf, sizeof buf, &prio, &t) >= 0)
		printf("  drained prio %u\n", prio);
	printf("drained: %s\n", errname(errno));
	pfd.revents = 0;
	CHECK(poll(&pfd, 1, 0));
	printf("poll empty: %s%s\n", pfd.revents & POLLIN ? "IN " : "", pfd.revents & POLLOUT ? "OUT" : "");
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(q, &rd);
	struct timeval tv = {0, 0};
	CHECK(select(q + 1, &rd, NULL, NULL, &tv));
	CHECK(mq_send(q, "ready", 5, 0));
	FD_ZERO(&rd);
	FD_SET(q, &rd);
	CHECK(select(q + 1, &rd, NULL, NULL, &tv));
	CHECK(epoll_wait(ep, &out, 1, 0));
	printf("epoll one message: %s%s\n", out.events & EPOLLIN ? "IN " : "", out.events & EPOLLOUT ? "OUT" : "");
	CHECK(rcv(q));

	/* Blocked receivers in another process. */
	struct sigaction sa = {.sa_handler = on_usr2};
	sigaction(SIGUSR2, &sa, NULL);
	blocked_receiver(q, 0);
	blocked_receiver(q, 1);

	/* Notification. */
	struct sigaction sn = {.sa_sigaction = on_notify, .sa_flags = SA_SIGINFO};
	sigaction(SIGUSR1, &sn, NULL);
	struct sigevent se = {0};
	se.sigev_notify = 99;
	CHECK(mq_notify(q, &se));
	se.sigev_notify = SIGEV_SIGNAL;
	se.sigev_signo = 65;
	CHECK(mq_notify(q, &se));
	se.sigev_signo = SIGUSR1;
	se.sigev_value.sival_int = 1234;
	CHECK(mq_notify(q, &se));
	CHECK(mq_notify(q, &se));
	queue_status(sfd);
	CHECK(mq_send(q, "ping", 4, 0));
	printf("notified: sig %s, code %s, value %d, pid is mine: %d\n",
	       got_sig == SIGUSR1 ? "SIGUSR1" : "none", got_code == SI_MESGQ ? "SI_MESGQ" : "??",
	       (int)got_value, (int)got_pid);
	queue_status(sfd);
	got_sig = 0;
	CHECK(mq_send(q, "pong", 4, 0));
	printf("second send notified: %d\n", (int)got_sig);
	CHECK(rcv(q));
	CHECK(rcv(q));
	CHECK(mq_notify(q, &se));
	CHECK(mq_notify(q, NULL));
	CHECK(mq_send(q, "quiet", 5, 0));
	printf("after unregistering, notified: %d\n", (int)got_sig);
	CHECK(rcv(q));
	se.sigev_notify = SIGEV_NONE;
	CHECK(mq_notify(q, &se));
	queue_status(sfd);
	CHECK(mq_send(q, "none", 4, 0));
	queue_status(sfd);
	CHECK(mq_notify(q, &se));
	CHECK(mq_notify(q, NULL));
	/* Closing any descriptor of the queue ends our registration. */
	se.sigev_notify = SIGEV_SIGNAL;
	CHECK(mq_notify(q, &se));
	CHECK(mq_close(mq_open(qa, O_RDONLY)));
	queue_status(sfd);
	CHECK(mq_notify(q, &se));
	/* A registration of another process: EBUSY here, and its exit ends it. */
	CHECK(mq_notify(q, NULL));
	int ready[2], go[2];
	CHECK(pipe(ready) | pipe(go));
	pid_t child = fork();
	if (child == 0) {
		close(go[1]);
		mqd_t cq = mq_open(qa, O_RDONLY);
		char c = mq_notify(cq, &se) == 0 ? 'y' : 'n';
		write(ready[1], &c, 1);
		read(go[0], &c, 1);
		_exit(0);
	}
	char c = '?';
	read(ready[0], &c, 1);
	printf("child registered: %c\n", c);
	CHECK(mq_notify(q, &se));
	CHECK(mq_notify(q, NULL));
	queue_status(sfd);
	close(go[1]);
	waitpid(child, NULL, 0);
	queue_status(sfd);
	CHECK(mq_notify(q, &se));
	CHECK(mq_notify(q, NULL));

	/* The filesystem: stat, listing, open(2) and unlink(2) in it. */
	struct stat st;
	CHECK(fstat(q, &st));
	printf("queue file: mode %o size %ld nlink %ld\n", st.st_mode, (long)st.st_size,
	       (long)st.st_nlink);
	CHECK(stat(dir, &st));
	printf("mount root: mode %o nlink %ld\n", st.st_mode, (long)st.st_nlink);
	struct statfs sf;
	CHECK(statfs(dir, &sf));
	printf("statfs: type 0x%lx bsize %ld namelen %ld\n", (long)sf.f_type, (long)sf.f_bsize,
	       (long)sf.f_namelen);
	snprintf(path, sizeof path, "%s%s", dir, qb);
	CHECK(open(path, O_CREAT | O_RDWR, 0644) >= 0);
	mqd_t qbd = mq_open(qb, O_RDWR);
	printf("queue b via open(2): %s\n", qbd >= 0 ? "opens" : errname(errno));
	show_attr(qbd);
	list_mount(dir);
	snprintf(path, sizeof path, "%s/sub", dir);
	CHECK(mkdir(path, 0755));
	CHECK(write(q, "x", 1));

	as_other_user();

	/* Unlinking: the open queue lives on. */
	snprintf(path, sizeof path, "%s%s", dir, qb);
	CHECK(unlink(path));
	CHECK(mq_unlink(qa));
	CHECK(mq_unlink(qa));
	CHECK(mq_send(q, "still", 5, 0));
	CHECK(rcv(q));
	list_mount(dir);
	CHECK(mq_close(q));
	CHECK(mq_close(q));
	/* Coracle's root may unmount; on the host the mount namespace goes with the process. */
	umount(dir);
	rmdir(dir);
	return 0;
}
