/* bench.h: timing and reporting helpers shared by the micro-benchmarks.
 *
 * Each benchmark prints its results as lines `name value unit` on stdout, which
 * `coracle bench` parses and tabulates (Coracle vs the Linux VM); any other line is
 * shown but not tabulated, so notes start with "# ". Errors go to stderr with a
 * non-zero exit status, so that a missing kernel feature reads as a failure, not a number.
 */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline long long bench_now_ns(void)
{
	struct timespec t;
	if (clock_gettime(CLOCK_MONOTONIC, &t) != 0) {
		fprintf(stderr, "clock_gettime(CLOCK_MONOTONIC): %s\n", strerror(errno));
		exit(1);
	}
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* argv[i] as a positive count, or `fallback` when absent. */
static inline long bench_arg(int argc, char **argv, int i, long fallback)
{
	if (argc <= i)
		return fallback;
	char *end;
	long v = strtol(argv[i], &end, 10);
	if (*argv[i] == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "%s: argument %d must be a positive integer, not '%s'\n", argv[0], i,
			argv[i]);
		exit(2);
	}
	return v;
}

static inline void bench_report(const char *name, double value, const char *unit)
{
	printf("%s %.1f %s\n", name, value, unit);
}

static inline void bench_die(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, strerror(err));
	exit(1);
}

#endif
