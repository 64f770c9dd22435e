/* clock: the clocks are sane. argv[1] is the host's time (s since 1970); prints only ok/bad. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static void check(const char *what, int ok)
{
	printf("%s %s\n", what, ok ? "ok" : "bad");
}

static long long ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	long long host = argc > 1 ? atoll(argv[1]) : 0;
	struct timespec rt, res, a, b;

	check("clock_gettime(REALTIME)", clock_gettime(CLOCK_REALTIME, &rt) == 0);
	check("realtime within 5 minutes of the host", llabs((long long)rt.tv_sec - host) <= 300);
	check("tv_nsec in range", rt.tv_nsec >= 0 && rt.tv_nsec < 1000000000L);
	check("time() agrees", llabs((long long)time(NULL) - (long long)rt.tv_sec) <= 2);
	struct timeval tv;
	check("gettimeofday agrees",
	      gettimeofday(&tv, NULL) == 0 && llabs((long long)tv.tv_sec - (long long)rt.tv_sec) <= 2);

	int monotonic = clock_gettime(CLOCK_MONOTONIC, &a) == 0;
	for (int i = 0; i < 1000 && monotonic; i++) {
		monotonic = clock_gettime(CLOCK_MONOTONIC, &b) == 0 && ns(b) >= ns(a);
		a = b;
	}
	check("monotonic non-decreasing over 1000 reads", monotonic);
	check("clock_getres(MONOTONIC) at most 10 ms",
	      clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(res) > 0 && ns(res) <= 10000000);

	struct timespec before, after, nap = {0, 2000000};
	clock_gettime(CLOCK_MONOTONIC, &before);
	int slept = nanosleep(&nap, NULL) == 0;
	clock_gettime(CLOCK_MONOTONIC, &after);
	check("nanosleep(2 ms) takes at least 2 ms", slept && ns(after) - ns(before) >= 2000000);
	return 0;
}
