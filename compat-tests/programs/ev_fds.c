/* ev_fds: eventfd and timerfd in one thread: flags, sizes, the counter's limits, semaphore
 * mode, poll bits, names; timerfd clocks, settime/gettime with old values, relative and
 * absolute (monotonic and realtime) expiries, intervals counted on read, disarming. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include "fsutil.h"

#ifndef TFD_TIMER_CANCEL_ON_SET
#define TFD_TIMER_CANCEL_ON_SET (1 << 1)
#endif

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static void show_u64(const char *what, int fd)
{
	uint64_t v = 0;
	errno = 0;
	long r = read(fd, &v, 8);
	if (r < 0)
		printf("%s: read = -1 %s\n", what, errname(errno));
	else
		printf("%s: read = %ld value %llu\n", what, r, (unsigned long long)v);
	fflush(stdout);
}

static long put_u64(int fd, uint64_t v)
{
	return write(fd, &v, 8);
}

static void revents(const char *what, int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM};
	int n = poll(&pf, 1, 0);
	printf("%s: poll = %d revents %#x\n", what, n, pf.revents);
	fflush(stdout);
}

static void name_of(int fd)
{
	char link[64], target[64] = {0};
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	readlink(link, target, sizeof target - 1);
	struct stat st;
	fstat(fd, &st);
	printf("fd links to %s, mode %#o\n", target, (unsigned)st.st_mode);
}

static void eventfds(void)
{
	CHECK(eventfd(0, 8));
	CHECK(syscall(SYS_eventfd2, 0, 0x100));
	int fd = eventfd(3, EFD_NONBLOCK | EFD_CLOEXEC);
	yes("EFD_CLOEXEC sets FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	yes("EFD_NONBLOCK sets O_NONBLOCK", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
	name_of(fd);
	revents("count 3", fd);
	char small[4];
	SHOW("read 4 bytes", read(fd, small, 4));
	SHOW("read 0 bytes", read(fd, small, 0));
	show_u64("read", fd);
	show_u64("read at 0", fd);
	revents("count 0", fd);
	/* (Longer writes take the first 8 bytes before Linux 6.9-ish and fail after: not shown.) */
	uint64_t two[2] = {5, 9};
	SHOW("write 7 bytes", write(fd, two, 7));
	SHOW("write 8 bytes", write(fd, two, 8));
	SHOW("write UINT64_MAX", put_u64(fd, UINT64_MAX));
	SHOW("write up to UINT64_MAX - 1", put_u64(fd, UINT64_MAX - 6));
	revents("count UINT64_MAX - 1", fd);
	SHOW("write 1 more", put_u64(fd, 1));
	SHOW("write 0", put_u64(fd, 0));
	show_u64("read", fd);
	close(fd);

	fd = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	show_u64("semaphore read", fd);
	show_u64("semaphore read", fd);
	show_u64("semaphore read", fd);
	put_u64(fd, 7);
	show_u64("semaphore read after adding 7", fd);
	close(fd);
}

static void show_its(const char *what, struct itimerspec *its)
{
	/* Time left is rounded to 10 ms so that scheduling noise does not show. */
	long long left = (its->it_value.tv_sec * 1000LL + its->it_value.tv_nsec / 1000000 + 9) / 10 * 10;
	printf("%s: interval %lld.%09ld, value ~%lld ms\n", what, (long long)its->it_interval.tv_sec,
	       its->it_interval.tv_nsec, left);
	fflush(stdout);
}

static void timerfds(void)
{
	CHECK(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0));
	CHECK(timerfd_create(99, 0));
	CHECK(timerfd_create(CLOCK_MONOTONIC, 1));
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	yes("TFD_CLOEXEC sets FD_CLOEXEC", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	name_of(fd);
	struct itimerspec its = {{0, 0}, {0, 0}}, old;
	SHOW("settime with bad flags", timerfd_settime(fd, 4, &its, NULL));
	its.it_value.tv_nsec = 1000000000;
	SHOW("settime with tv_nsec 1e9", timerfd_settime(fd, 0, &its, NULL));
	its.it_value.tv_nsec = 0;
	its.it_value.tv_sec = -1;
	SHOW("settime with a negative time", timerfd_settime(fd, 0, &its, NULL));
	SHOW("settime on stdout", timerfd_settime(1, 0, &its, NULL));
	SHOW("settime on a bad fd", timerfd_settime(99, 0, &its, NULL));
	SHOW("settime with a bad pointer", timerfd_settime(fd, 0, BAD_PTR, NULL));
	SHOW("gettime with a bad pointer", timerfd_gettime(fd, BAD_PTR));
	char small[4];
	SHOW("read 4 bytes", read(fd, small, 4));
	show_u64("read, never armed", fd);
	revents("never armed", fd);

	/* One shot, relative. */
	its = (struct itimerspec){{0, 0}, {0, 300000000}};
	CHECK(timerfd_settime(fd, 0, &its, NULL));
	timerfd_gettime(fd, &old);
	yes("armed for 300 ms: gettime says at most 300 ms (and over 200) left",
	    old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 300000000 &&
		    old.it_value.tv_nsec > 200000000 && old.it_interval.tv_nsec == 0);
	show_u64("read before it expires", fd);
	nap_ms(350);
	revents("expired", fd);
	show_u64("read after it expired", fd);
	show_u64("read again", fd);
	timerfd_gettime(fd, &old);
	show_its("after a one-shot expiry", &old);

	/* Periodic: expiries between reads are counted. */
	its = (struct itimerspec){{0, 100000000}, {0, 100000000}};
	long long t0 = now_ms();
	timerfd_settime(fd, 0, &its, NULL);
	nap_ms(350);
	uint64_t n = 0;
	read(fd, &n, 8);
	long long periods = (now_ms() - t0) / 100;
	yes("a 100 ms period read after 350 ms counts every period that passed",
	    n >= 3 && (long long)n >= periods - 1 && (long long)n <= periods + 1);
	timerfd_gettime(fd, &old);
	yes("the next expiry is within the period",
	    old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 100000000);
	printf("interval still %ld ns\n", old.it_interval.tv_nsec);

	/* settime returns the old setting; a zero value disarms. */
	its = (struct itimerspec){{0, 0}, {0, 0}};
	CHECK(timerfd_settime(fd, 0, &its, &old));
	printf("old interval %ld ns, old value within it: %s\n", old.it_interval.tv_nsec,
	       old.it_value.tv_nsec <= 100000000 ? "yes" : "no");
	timerfd_gettime(fd, &old);
	show_its("disarmed", &old);
	nap_ms(150);
	show_u64("read after disarming", fd);
	close(fd);

	/* Absolute, in the past: it has expired when settime returns. (A second in the past
	 * must be a valid time: a fresh VM's monotonic clock may not be there yet.) */
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	struct timespec now, later;
	while (now_ms() < 1100)
		nap_ms(50);
	clock_gettime(CLOCK_MONOTONIC, &now);
	its = (struct itimerspec){{0, 0}, {now.tv_sec - 1, now.tv_nsec}};
	CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL));
	nap_ms(10);
	show_u64("absolute time in the past", fd);
	/* With an interval, the periods since then count. */
	its = (struct itimerspec){{0, 100000000}, {now.tv_sec - 1, now.tv_nsec}};
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
	n = 0;
	read(fd, &n, 8);
	clock_gettime(CLOCK_MONOTONIC, &later);
	periods = (later.tv_sec - now.tv_sec + 1) * 10 + (later.tv_nsec - now.tv_nsec) / 100000000;
	yes("1 s in the past with a 100 ms period counts the periods since",
	    n >= 10 && (long long)n >= periods - 1 && (long long)n <= periods + 1);
	close(fd);

	/* Realtime, absolute, 200 ms ahead, with TFD_TIMER_CANCEL_ON_SET. */
	fd = timerfd_create(CLOCK_REALTIME, 0);
	clock_gettime(CLOCK_REALTIME, &now);
	now.tv_nsec += 200000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	its = (struct itimerspec){{0, 0}, now};
	CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL));
	timerfd_gettime(fd, &old);
	yes("gettime tells the time left, not the absolute time",
	    old.it_value.tv_sec == 0 && old.it_value.tv_nsec <= 200000000);
	t0 = now_ms();
	show_u64("blocking read of a realtime timer", fd);
	yes("it took about 200 ms", now_ms() - t0 >= 150);
	close(fd);

	/* CLOCK_BOOTTIME works like CLOCK_MONOTONIC. */
	fd = timerfd_create(CLOCK_BOOTTIME, 0);
	its = (struct itimerspec){{0, 0}, {0, 50000000}};
	timerfd_settime(fd, 0, &its, NULL);
	show_u64("boottime timer", fd);
	close(fd);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "ev_fds");
	eventfds();
	timerfds();
	return fs_end();
}
