/* mm_reserve: address-space reservations cost nothing until touched (Go's arenas, glibc's
 * heaps): a 1 GiB PROT_NONE reservation, parts of it made usable and touched, MAP_FIXED and
 * MAP_FIXED_NOREPLACE inside it, munmap of parts, the overcommit check, MAP_POPULATE, brk,
 * and system calls writing into pages nobody touched yet. */
#include "mmutil.h"

int main(void)
{
	size_t gib = 1UL << 30;
	char *r = MAPPED(mmap(NULL, gib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
	if (r == MAP_FAILED)
		return 1;
	residency("fresh reservation", r, 8);
	CHECK(mprotect(r + 16 * PAGE, 4 * PAGE, PROT_READ | PROT_WRITE));
	residency("made read-write, untouched", r + 16 * PAGE, 4);
	r[16 * PAGE] = 1;
	r[18 * PAGE + 100] = 2;
	residency("after touching two pages", r + 16 * PAGE, 4);
	yes("untouched bytes read as zero", all_bytes(r + 17 * PAGE, PAGE, 0));
	residency("reading faulted one more in", r + 16 * PAGE, 4);
	/* Far apart: the start and the end of the gigabyte. */
	CHECK(mprotect(r + gib - PAGE, PAGE, PROT_READ | PROT_WRITE));
	r[gib - 1] = 7;
	yes("last byte of the gigabyte kept", r[gib - 1] == 7);

	MAPPED(raw_mmap(r + 17 * PAGE, PAGE, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	char *free_spot = MAPPED(raw_mmap(r - PAGE, PAGE, PROT_READ,
					  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
	yes("MAP_FIXED_NOREPLACE on free room lands there", free_spot == r - PAGE);
	char *f = MAPPED(mmap(r + 64 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	yes("MAP_FIXED lands where asked", f == r + 64 * PAGE);
	memset(f, 'f', 2 * PAGE);
	char *g = MAPPED(mmap(r + 65 * PAGE, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	yes("MAP_FIXED over a used page gives a fresh one", g[0] == 0 && f[0] == 'f');
	CHECK(munmap(r + 16 * PAGE, PAGE));
	residency("after munmap of the first page", r + 17 * PAGE, 2);
	CHECK(munmap(r + 1, PAGE));
	CHECK(munmap(r, 0));

	/* Overcommit: private writable memory beyond RAM is refused unless MAP_NORESERVE. */
	size_t tib = 1UL << 40;
	void *big = raw_mmap(NULL, tib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	yes("1 TiB private writable mapping refused", big == MAP_FAILED && errno == ENOMEM);
	big = raw_mmap(NULL, tib, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	yes("1 TiB with MAP_NORESERVE accepted", big != MAP_FAILED);
	if (big != MAP_FAILED) {
		((char *)big)[tib / 2] = 1;
		CHECK(munmap(big, tib));
	}
	big = raw_mmap(NULL, tib, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	yes("1 TiB PROT_NONE accepted", big != MAP_FAILED);
	if (big != MAP_FAILED)
		CHECK(munmap(big, tib));
	void *all = raw_mmap(NULL, 1UL << 47, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	yes("the whole address space refused", all == MAP_FAILED && errno == ENOMEM);

	char *pop = MAPPED(mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0));
	residency("MAP_POPULATE", pop, 8);

	/* brk (directly: musl's sbrk only reports the break): growing costs nothing, shrinking
	 * gives pages back, regrown pages are zero. */
	char *b0 = (char *)syscall(SYS_brk, 0);
	CHECK(syscall(SYS_brk, b0 + 64 * PAGE) == (long)(b0 + 64 * PAGE));
	residency("grown heap, untouched", b0, 4);
	memset(b0, 'b', 64 * PAGE);
	CHECK(syscall(SYS_brk, b0 + 2 * PAGE) == (long)(b0 + 2 * PAGE));
	CHECK(syscall(SYS_brk, b0 - PAGE) == (long)(b0 + 2 * PAGE));
	CHECK(syscall(SYS_brk, b0 + 64 * PAGE) == (long)(b0 + 64 * PAGE));
	yes("kept heap bytes", b0[PAGE] == 'b');
	yes("regrown heap reads zero", all_bytes(b0 + 2 * PAGE, 62 * PAGE, 0));

	/* A read(2) into pages nobody touched fills them. */
	char *dst = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	int fd = open("/proc/self/cmdline", O_RDONLY);
	long n = read(fd, dst + PAGE - 2, 64);
	close(fd);
	yes("read into untouched pages", n > 4 && dst[PAGE - 2] != 0 && dst[PAGE + 2] != 0);
	int pipefd[2];
	CHECK(pipe(pipefd));
	CHECK(write(pipefd[1], r + 1000 * PAGE, 5));
	CHECK(write(pipefd[1], "hello", 5));
	CHECK(read(pipefd[0], dst + 2 * PAGE + 100, 5));
	yes("the pipe's bytes arrived", memcmp(dst + 2 * PAGE + 100, "hello", 5) == 0);
	return 0;
}
