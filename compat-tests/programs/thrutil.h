/* thrutil.h - what the thread, signal, time, event and process programs (thr_*, sig_*, time_*, ev_*,
 * cpu_*, sched_*) share: checks that print one line each and count failures, clocks, waits, and
 * the syscall numbers and constants musl's headers lack.
 *
 * These programs print only what is the same on every run and every machine: results, errno
 * names and yes/no answers about times, counts and identities, never a time, an address, a tid
 * or a CPU number itself. Only the main thread prints, after it has joined what it checks. The
 * exit status is 0 when every check passed and 1 otherwise; the harness requires the expected
 * status on the host too, so a program that fails its own checks on Linux fails its cases.
 *
 * Coracle may run under TCG, 10-50 times slower than the host: a wait for something that must
 * happen gets a long timeout (LONG_WAIT_S), a wait for something that must not happen a short
 * one, and no check depends on how fast anything is. */
#ifndef COMPAT_THRUTIL_H
#define COMPAT_THRUTIL_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "errname.h"

/* How long a wait for something that must happen may take before the check fails. */
#define LONG_WAIT_S 60

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static int t_checks, t_failures;

/* "what: ok", or "what: FAILED" (counted). */
static __attribute__((unused)) void check(const char *what, int ok)
{
	t_checks++;
	if (!ok)
		t_failures++;
	printf("%s: %s\n", what, ok ? "ok" : "FAILED");
	fflush(stdout);
}

/* check() with a printf-style label. */
static __attribute__((unused, format(printf, 2, 3))) void checkf(int ok, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	check(what, ok);
}

/* A call that returns -1 and sets errno, expected to fail with `want`; the errno is printed. */
static __attribute__((unused)) void expect_errno(const char *what, long r, int want)
{
	int e = errno;
	char line[512];
	if (r == -1)
		snprintf(line, sizeof line, "%s = -1 %s", what, errname(e));
	else
		snprintf(line, sizeof line, "%s = %ld (expected -1 %s)", what, r, errname(want));
	check(line, r == -1 && e == want);
}

/* A call expected to return `want`; a -1 is printed with its errno. */
static __attribute__((unused)) void expect_ret(const char *what, long r, long want)
{
	int e = errno;
	char line[512];
	if (r == -1 && want != -1)
		snprintf(line, sizeof line, "%s = -1 %s (expected %ld)", what, errname(e), want);
	else
		snprintf(line, sizeof line, "%s = %ld", what, r);
	check(line, r == want);
}

/* A pthread-style call that returns an error number (0 on success), expected to return `want`. */
static __attribute__((unused)) void expect_rc(const char *what, int rc, int want)
{
	char line[512];
	snprintf(line, sizeof line, "%s = %s", what, errname(rc));
	check(line, rc == want);
}

/* Something the program needs in order to go on failed: say what and exit 1. */
static __attribute__((unused)) void die(const char *what)
{
	printf("%s: %s: cannot go on\n", what, errname(errno));
	fflush(stdout);
	exit(1);
}

/* Like die() for pthread-style error numbers. */
static __attribute__((unused)) void die_rc(const char *what, int rc)
{
	if (rc == 0)
		return;
	errno = rc;
	die(what);
}

/* The last line; the exit status. */
static __attribute__((unused)) int finish(void)
{
	if (t_failures)
		printf("%d of %d checks FAILED\n", t_failures, t_checks);
	else
		printf("all %d checks passed\n", t_checks);
	fflush(stdout);
	return t_failures ? 1 : 0;
}

static __attribute__((unused)) int64_t ts_ns(struct timespec t)
{
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static __attribute__((unused)) struct timespec ns_ts(int64_t ns)
{
	struct timespec t = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
	return t;
}

/* clock_gettime(clock) in nanoseconds (-1 on error). */
static __attribute__((unused)) int64_t clock_ns(clockid_t clock)
{
	struct timespec t;
	if (clock_gettime(clock, &t) != 0)
		return -1;
	return ts_ns(t);
}

static __attribute__((unused)) int64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* `clock` now plus `ns`, for absolute timeouts. A deadline before the clock's zero is kept at
 * zero: a VM that has just booted has a monotonic clock under a second, and a negative time is
 * not "in the past" but invalid (EINVAL), on Linux as well. */
static __attribute__((unused)) struct timespec deadline_in(clockid_t clock, int64_t ns)
{
	int64_t at = clock_ns(clock) + ns;
	return ns_ts(at < 0 ? 0 : at);
}

static __attribute__((unused)) void sleep_ms(int ms)
{
	struct timespec t = ns_ts((int64_t)ms * 1000000);
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Waits until *flag is non-zero, for at most LONG_WAIT_S; whether it became so. */
static __attribute__((unused)) int wait_flag(volatile int *flag)
{
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (mono_ns() > until)
			return 0;
		sched_yield();
	}
	return 1;
}

/* Waits until *counter reaches at least `n`, for at most LONG_WAIT_S. */
static __attribute__((unused)) int wait_count(volatile int *counter, int n)
{
	int64_t until = mono_ns() + (int64_t)LONG_WAIT_S * 1000000000;
	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < n) {
		if (mono_ns() > until)
			return 0;
		sched_yield();
	}
	return 1;
}

static __attribute__((unused)) void spawn(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	die_rc("pthread_create", pthread_create(thread, NULL, fn, arg));
}

static __attribute__((unused)) void *join(pthread_t thread)
{
	void *value = NULL;
	die_rc("pthread_join", pthread_join(thread, &value));
	return value;
}

static __attribute__((unused)) long gettid_(void)
{
	return syscall(SYS_gettid);
}

/* A signal's short name for the output ("USR1", "RTMIN+2"; others by number). */
static __attribute__((unused)) const char *sig_name(int sig)
{
	static char buf[16];
	switch (sig) {
	case SIGUSR1: return "USR1";
	case SIGUSR2: return "USR2";
	case SIGALRM: return "ALRM";
	case SIGTERM: return "TERM";
	}
	if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
		snprintf(buf, sizeof buf, "RTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
	snprintf(buf, sizeof buf, "%d", sig);
	return buf;
}

/* The name of a sender's si_code (kill, tkill, sigqueue, the kernel, a timer). */
static __attribute__((unused)) const char *sender_code_name(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_TKILL: return "SI_TKILL";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_KERNEL: return "SI_KERNEL";
	case SI_TIMER: return "SI_TIMER";
	default: return "other";
	}
}

#endif
