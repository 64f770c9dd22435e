/* bench_pagefault: nanoseconds per first-touch page fault on fresh anonymous memory.
 * Usage: bench_pagefault [MIB [ROUNDS]]   (defaults 16 and 4)
 * Each round maps MIB MiB, writes one byte per 4 KiB page, and unmaps it. Transparent huge
 * pages are refused with MADV_NOHUGEPAGE (where the kernel knows it) so that each page faults.
 * Two numbers per page: the touching alone, and mmap + touching + munmap, which also shows a
 * kernel that populates eagerly at mmap time. */
#include <sys/mman.h>

#include "bench.h"

int main(int argc, char **argv)
{
	long mib = bench_arg(argc, argv, 1, 16);
	long rounds = bench_arg(argc, argv, 2, 4);
	size_t len = (size_t)mib << 20, pages = len / 4096;
	long long touch = 0, whole = 0;
	for (long r = 0; r < rounds; r++) {
		long long t0 = bench_now_ns();
		volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			bench_die("mmap", errno);
		madvise((void *)p, len, MADV_NOHUGEPAGE); /* advice only: an error is fine */
		long long t1 = bench_now_ns();
		for (size_t i = 0; i < pages; i++)
			p[i * 4096] = 1;
		long long t2 = bench_now_ns();
		for (size_t i = 0; i < pages; i++)
			if (p[i * 4096] != 1) {
				fprintf(stderr, "page %zu lost its byte\n", i);
				return 1;
			}
		long long t3 = bench_now_ns();
		if (munmap((void *)p, len) != 0)
			bench_die("munmap", errno);
		long long t4 = bench_now_ns();
		touch += t2 - t1;
		whole += (t2 - t0) + (t4 - t3); /* leaves out the check */
	}
	printf("# %ld rounds of %zu pages (%ld MiB)\n", rounds, pages, mib);
	bench_report("pagefault_touch", (double)touch / (rounds * pages), "ns");
	bench_report("pagefault_map_touch_unmap", (double)whole / (rounds * pages), "ns");
	return 0;
}
