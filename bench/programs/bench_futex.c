/* bench_futex: nanoseconds per futex ping-pong round trip between two threads.
 * Usage: bench_futex [ROUND_TRIPS]   (default 20000)
 * (the ping-pong itself: futex_pingpong.h). */
#include <stdio.h>

#include "bench.h"
#include "futex_pingpong.h"

int main(int argc, char **argv)
{
	long rounds = bench_arg(argc, argv, 1, 20000);
	double ns = futex_pingpong(rounds);
	printf("# %ld round trips\n", rounds);
	bench_report("futex_pingpong", ns, "ns");
	return 0;
}
