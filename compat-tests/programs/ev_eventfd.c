/* ev_eventfd: eventfd counters: adding and reading, semaphore mode, non-blocking EAGAIN on
 * empty and full, the largest value, short buffers, poll and select readiness, the flags, and
 * a blocked read and write finished by another thread. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include "thrutil.h"

#define MAX_COUNT 0xfffffffffffffffeULL

static long put(int fd, uint64_t v)
{
	return write(fd, &v, sizeof v);
}

/* read(fd) as "N" or "-1 ENAME". */
static const char *take(int fd)
{
	static char buf[64];
	uint64_t v = 0;
	long n = read(fd, &v, sizeof v);
	if (n == 8)
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
	else if (n < 0)
		snprintf(buf, sizeof buf, "-1 %s", errname(errno));
	else
		snprintf(buf, sizeof buf, "%ld bytes", n);
	return buf;
}

static const char *readiness(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
	int n = poll(&p, 1, 0);
	static char buf[32];
	snprintf(buf, sizeof buf, "%s%s%s", n == 0 ? "none" : "",
		 (p.revents & POLLIN) ? "IN " : "", (p.revents & POLLOUT) ? "OUT" : "");
	return buf;
}

static void expect_take(int fd, const char *want)
{
	const char *got = take(fd);
	char line[128];
	snprintf(line, sizeof line, "read: %s", got);
	check(line, strcmp(got, want) == 0);
}

static void expect_ready(int fd, const char *want)
{
	const char *got = readiness(fd);
	char line[128];
	snprintf(line, sizeof line, "poll: %s", got);
	check(line, strcmp(got, want) == 0);
}

static int fd_blocking;
static volatile int reader_started;
static uint64_t blocked_read_value;

static void *blocked_reader(void *arg)
{
	(void)arg;
	__atomic_store_n(&reader_started, 1, __ATOMIC_RELEASE);
	read(fd_blocking, &blocked_read_value, 8);
	return NULL;
}

static long blocked_write_result;

static void *blocked_writer(void *arg)
{
	(void)arg;
	__atomic_store_n(&reader_started, 1, __ATOMIC_RELEASE);
	blocked_write_result = put(fd_blocking, 5);
	return NULL;
}

int main(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	check("eventfd(0, NONBLOCK|CLOEXEC)", fd >= 0);
	check("the flags show", (fcntl(fd, F_GETFL) & O_NONBLOCK) && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	expect_ready(fd, "OUT");
	expect_take(fd, "-1 EAGAIN");
	expect_ret("write 3", put(fd, 3), 8);
	expect_ret("write 4", put(fd, 4), 8);
	expect_ready(fd, "IN OUT");
	expect_take(fd, "7");
	expect_take(fd, "-1 EAGAIN");
	char small[4] = {0};
	errno = 0;
	expect_errno("read into 4 bytes", read(fd, small, 4), EINVAL);
	errno = 0;
	expect_errno("write 4 bytes", write(fd, small, 4), EINVAL);
	errno = 0;
	expect_errno("write 0xffffffffffffffff", put(fd, ~0ULL), EINVAL);
	expect_ret("write the largest count", put(fd, MAX_COUNT), 8);
	expect_ready(fd, "IN ");
	errno = 0;
	expect_errno("write 1 more (non-blocking)", put(fd, 1), EAGAIN);
	expect_ret("write 0 is always fine", put(fd, 0), 8);
	expect_take(fd, "18446744073709551614");
	uint64_t big[2] = {0, 0};
	put(fd, 9);
	expect_ret("read into 16 bytes: 8", read(fd, big, sizeof big), 8);
	check("it read 9", big[0] == 9);
	close(fd);

	fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	check("eventfd(3, SEMAPHORE|NONBLOCK)", fd >= 0);
	expect_take(fd, "1");
	expect_take(fd, "1");
	put(fd, 2);
	expect_take(fd, "1");
	expect_take(fd, "1");
	expect_take(fd, "1");
	expect_take(fd, "-1 EAGAIN");
	close(fd);

	fd = eventfd(0, 0);
	fd_set r, w;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	struct timeval zero = {0, 0};
	int n = select(fd + 1, &r, &w, NULL, &zero);
	check("select on an empty counter: writable only",
	      n == 1 && !FD_ISSET(fd, &r) && FD_ISSET(fd, &w));
	put(fd, 1);
	FD_SET(fd, &r);
	FD_SET(fd, &w);
	zero.tv_usec = 0;
	n = select(fd + 1, &r, &w, NULL, &zero);
	check("select with a count: readable and writable",
	      n == 2 && FD_ISSET(fd, &r) && FD_ISSET(fd, &w));
	take(fd);

	/* Blocking: a read waits for a write from another thread, a write for room. */
	fd_blocking = fd;
	pthread_t t;
	spawn(&t, blocked_reader, NULL);
	wait_flag(&reader_started);
	sleep_ms(10);
	put(fd, 42);
	join(t);
	printf("the blocked read got %llu\n", (unsigned long long)blocked_read_value);
	check("a read blocked on an empty counter got the other thread's write",
	      blocked_read_value == 42);
	put(fd, MAX_COUNT - 1);
	reader_started = 0;
	spawn(&t, blocked_writer, NULL);
	wait_flag(&reader_started);
	sleep_ms(10);
	expect_take(fd, "18446744073709551613");
	join(t);
	check("a write blocked on a full counter went in once it was read",
	      blocked_write_result == 8);
	expect_take(fd, "5");
	close(fd);

	errno = 0;
	expect_errno("eventfd with flags 0x1234", eventfd(0, 0x1234), EINVAL);
	return finish();
}
