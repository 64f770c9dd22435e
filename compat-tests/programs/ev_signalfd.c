/* ev_signalfd: signals read from a signalfd: the fields of struct signalfd_siginfo for raise,
 * kill and sigqueue, several records in one read, the lowest signal first, real-time signals
 * queued, non-blocking EAGAIN, poll and epoll readiness, changing the mask of an existing
 * signalfd, signals outside the mask left alone, short buffers, and a read blocked in a thread
 * finished by a signal sent to the process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include "thrutil.h"

/* Reads what is there and prints it; the number of records. */
static int show_read(int fd, const char *what)
{
	struct signalfd_siginfo rec[8];
	long n = read(fd, rec, sizeof rec);
	printf("%s: ", what);
	if (n < 0) {
		printf("-1 %s\n", errname(errno));
		return -1;
	}
	int count = (int)(n / (long)sizeof rec[0]);
	printf("%d record(s)", count);
	for (int i = 0; i < count; i++)
		printf(" [%s %s from us: %s, uid ours: %s, int %d]", sig_name((int)rec[i].ssi_signo),
		       sender_code_name(rec[i].ssi_code), rec[i].ssi_pid == (uint32_t)getpid() ? "yes" : "no",
		       rec[i].ssi_uid == getuid() ? "yes" : "no",
		       rec[i].ssi_code == SI_QUEUE ? rec[i].ssi_int : 0);
	printf("\n");
	return count;
}

static int sfd_blocking;
static volatile int reader_started;
static uint32_t blocked_got;

static void *blocked_reader(void *arg)
{
	(void)arg;
	struct signalfd_siginfo rec;
	__atomic_store_n(&reader_started, 1, __ATOMIC_RELEASE);
	if (read(sfd_blocking, &rec, sizeof rec) == sizeof rec)
		blocked_got = rec.ssi_signo;
	return NULL;
}

int main(void)
{
	check("struct signalfd_siginfo is 128 bytes", sizeof(struct signalfd_siginfo) == 128);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	check("signalfd(USR1, USR2, RTMIN+1; NONBLOCK|CLOEXEC)", fd >= 0);
	check("the flags show", (fcntl(fd, F_GETFL) & O_NONBLOCK) && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	check("nothing pending: EAGAIN", show_read(fd, "read") == -1 && errno == EAGAIN);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	expect_ret("poll with nothing pending", poll(&p, 1, 0), 0);

	raise(SIGUSR2);
	kill(getpid(), SIGUSR1);
	union sigval v = {.sival_int = 5};
	sigqueue(getpid(), SIGRTMIN + 1, v);
	v.sival_int = 6;
	sigqueue(getpid(), SIGRTMIN + 1, v);
	expect_ret("poll with signals pending", poll(&p, 1, 0), 1);
	check("POLLIN", p.revents == POLLIN);
	check("four records in one read, lowest signal first, RT ones both",
	      show_read(fd, "read") == 4);
	check("all taken: EAGAIN", show_read(fd, "read again") == -1 && errno == EAGAIN);
	sigset_t pending;
	sigpending(&pending);
	check("nothing left pending", !sigismember(&pending, SIGUSR1) &&
					     !sigismember(&pending, SIGRTMIN + 1));

	raise(SIGUSR1);
	char small[64];
	errno = 0;
	expect_errno("read into 64 bytes", read(fd, small, sizeof small), EINVAL);
	check("the signal is still there after that", show_read(fd, "read") == 1);

	/* A signal outside the mask stays pending for sigtimedwait and the like. */
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGTERM);
	check("TERM, not in the mask, is not read", show_read(fd, "read") == -1);
	sigset_t only_term;
	sigemptyset(&only_term);
	sigaddset(&only_term, SIGTERM);
	check("signalfd(fd, {TERM}) changes the mask, returning the same fd",
	      signalfd(fd, &only_term, 0) == fd);
	check("now TERM is read", show_read(fd, "read") == 1);
	raise(SIGUSR1);
	check("and USR1 is not", show_read(fd, "read") == -1);
	sigemptyset(&only_term);
	sigaddset(&only_term, SIGUSR1);
	signalfd(fd, &only_term, 0);
	show_read(fd, "mask back to USR1, read");

	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1}, got;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	expect_ret("epoll_wait(0) with nothing pending", epoll_wait(ep, &got, 1, 0), 0);
	raise(SIGUSR1);
	expect_ret("epoll_wait(0) with USR1 pending", epoll_wait(ep, &got, 1, 0), 1);
	show_read(fd, "read");
	close(ep);

	/* Blocking read in a thread; the signal goes to the process. */
	int blocking = signalfd(-1, &only_term, 0);
	sfd_blocking = blocking;
	pthread_t t;
	spawn(&t, blocked_reader, NULL);
	wait_flag(&reader_started);
	sleep_ms(10);
	kill(getpid(), SIGUSR1);
	join(t);
	printf("the blocked read got %s\n", sig_name((int)blocked_got));
	check("a read blocked in a thread got the process-directed USR1", blocked_got == SIGUSR1);

	errno = 0;
	expect_errno("signalfd on a closed fd", signalfd(1000, &set, 0), EBADF);
	int pipe_fds[2];
	if (pipe(pipe_fds) != 0)
		die("pipe");
	errno = 0;
	expect_errno("signalfd on a pipe", signalfd(pipe_fds[0], &set, 0), EINVAL);
	errno = 0;
	expect_errno("signalfd with flags 0x4", signalfd(-1, &set, 0x4), EINVAL);
	errno = 0;
	expect_errno("signalfd with a 4-byte mask", syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL);
	return finish();
}
