/* time_sleep: sleeping: nanosleep, clock_nanosleep relative and TIMER_ABSTIME on the monotonic,
 * realtime and boottime clocks, deadlines in the past, the argument errors, select, poll and
 * ppoll as timers, and eight threads sleeping at once. Only yes/no facts about elapsed time are
 * printed: at least what was asked, never how much more. */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/select.h>
#include "thrutil.h"

#define MS 1000000LL

static void took_at_least(const char *what, int64_t before, int64_t ns)
{
	char line[200];
	snprintf(line, sizeof line, "%s took at least %lld ms", what, (long long)(ns / MS));
	check(line, mono_ns() - before >= ns);
}

static void relative(void)
{
	struct timespec t = ns_ts(30 * MS);
	int64_t before = mono_ns();
	expect_ret("nanosleep(30 ms)", nanosleep(&t, NULL), 0);
	took_at_least("it", before, 30 * MS);

	clockid_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME};
	const char *names[] = {"MONOTONIC", "REALTIME", "BOOTTIME"};
	for (int i = 0; i < 3; i++) {
		char what[100];
		snprintf(what, sizeof what, "clock_nanosleep(%s, relative 20 ms)", names[i]);
		before = mono_ns();
		expect_rc(what, clock_nanosleep(clocks[i], 0, &(struct timespec){0, 20 * MS}, NULL),
			  0);
		took_at_least("it", before, 20 * MS);

		snprintf(what, sizeof what, "clock_nanosleep(%s, TIMER_ABSTIME now + 20 ms)",
			 names[i]);
		before = mono_ns();
		struct timespec at = deadline_in(clocks[i], 20 * MS);
		expect_rc(what, clock_nanosleep(clocks[i], TIMER_ABSTIME, &at, NULL), 0);
		snprintf(what, sizeof what, "%s is past the deadline afterwards", names[i]);
		check(what, clock_ns(clocks[i]) >= ts_ns(at));
		took_at_least("it", before, 20 * MS);
	}

	struct timespec past = deadline_in(CLOCK_MONOTONIC, -1000 * MS);
	expect_rc("clock_nanosleep(TIMER_ABSTIME, a second ago)",
		  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL), 0);
	struct timespec zero = {0, 0};
	expect_ret("nanosleep(0)", nanosleep(&zero, NULL), 0);
	before = mono_ns();
	expect_ret("usleep(20000)", usleep(20000), 0);
	took_at_least("it", before, 20 * MS);
}

static void errors(void)
{
	struct timespec bad = {0, 1000000000};
	errno = 0;
	expect_errno("nanosleep with tv_nsec = 1e9", nanosleep(&bad, NULL), EINVAL);
	struct timespec negative = {-1, 0};
	errno = 0;
	expect_errno("nanosleep with tv_sec = -1", nanosleep(&negative, NULL), EINVAL);
	errno = 0;
	expect_errno("nanosleep with an unmapped request",
		     syscall(SYS_nanosleep, (void *)16, NULL), EFAULT);
	struct timespec t = {0, 1000};
	/* Raw, as libcs refuse some of these before asking the kernel. */
	errno = 0;
	expect_errno("clock_nanosleep(CLOCK_THREAD_CPUTIME_ID)",
		     syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &t, NULL), ENOTSUP);
	errno = 0;
	expect_errno("clock_nanosleep(clock 1234)", syscall(SYS_clock_nanosleep, 1234, 0, &t, NULL),
		     EINVAL);
	errno = 0;
	expect_errno("clock_nanosleep with tv_nsec = 1e9",
		     syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
}

static void multiplexers(void)
{
	struct timeval tv = {0, 20000};
	int64_t before = mono_ns();
	/* Raw: musl's select does not hand the kernel's remaining time back. */
	expect_ret("select(0 fds, 20 ms)", syscall(SYS_select, 0, NULL, NULL, NULL, &tv), 0);
	took_at_least("it", before, 20 * MS);
	check("select left the timeout at zero", tv.tv_sec == 0 && tv.tv_usec == 0);
	before = mono_ns();
	expect_ret("poll(no fds, 20 ms)", poll(NULL, 0, 20), 0);
	took_at_least("it", before, 20 * MS);
	struct timespec ts = {0, 20 * MS};
	before = mono_ns();
	expect_ret("ppoll(no fds, 20 ms)", ppoll(NULL, 0, &ts, NULL), 0);
	took_at_least("it", before, 20 * MS);
	struct timespec zero = {0, 0};
	expect_ret("ppoll(no fds, 0)", ppoll(NULL, 0, &zero, NULL), 0);
	expect_ret("poll(no fds, 0)", poll(NULL, 0, 0), 0);
}

/* Eight threads each sleep 400 ms at once: together well under the 3.2 s one after another
 * would take, on any number of CPUs. */
#define SLEEPERS 8
static int64_t woke_after[SLEEPERS];

static void *sleeper(void *arg)
{
	long i = (long)arg;
	int64_t before = mono_ns();
	struct timespec t = ns_ts(400 * MS);
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
	woke_after[i] = mono_ns() - before;
	return NULL;
}

static void parallel(void)
{
	pthread_t threads[SLEEPERS];
	int64_t before = mono_ns();
	for (long i = 0; i < SLEEPERS; i++)
		spawn(&threads[i], sleeper, (void *)i);
	for (int i = 0; i < SLEEPERS; i++)
		join(threads[i]);
	int64_t total = mono_ns() - before;
	int each = 1;
	for (int i = 0; i < SLEEPERS; i++)
		each &= woke_after[i] >= 400 * MS;
	check("8 threads each slept at least 400 ms", each);
	check("and all together took less than 8 x 400 ms: they slept at the same time",
	      total < SLEEPERS * 400 * MS);
}

int main(void)
{
	relative();
	errors();
	multiplexers();
	parallel();
	return finish();
}
