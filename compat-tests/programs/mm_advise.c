/* mm_advise: madvise (DONTNEED zeroes private anonymous memory and re-reads files, FREE,
 * POPULATE_*, the accepted rest, the errors), mincore, msync's checks, and the mlock family
 * within the default RLIMIT_MEMLOCK. */
#include "mmutil.h"

int main(void)
{
	char *a = MAPPED(mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	memset(a, 'x', 8 * PAGE);
	residency("written", a, 8);
	CHECK(madvise(a + 2 * PAGE, 2 * PAGE, MADV_DONTNEED));
	residency("after DONTNEED of two", a, 8);
	yes("DONTNEED pages read zero", all_bytes(a + 2 * PAGE, 2 * PAGE, 0));
	yes("the others kept", all_bytes(a, 2 * PAGE, 'x') && all_bytes(a + 4 * PAGE, 4 * PAGE, 'x'));
	CHECK(madvise(a + 6 * PAGE, 2 * PAGE, MADV_FREE));
	a[7 * PAGE] = 'y';
	yes("written after FREE keeps the write", a[7 * PAGE] == 'y');
	for (int advice = 0; advice <= 3; advice++) {
		char label[40];
		snprintf(label, sizeof label, "madvise(advice %d)", advice);
		errno = 0;
		show(label, madvise(a, 8 * PAGE, advice));
	}
	CHECK(madvise(a, PAGE, MADV_DONTFORK));
	CHECK(madvise(a, PAGE, MADV_DOFORK));
	CHECK(madvise(a, PAGE, MADV_HUGEPAGE));
	CHECK(madvise(a, PAGE, MADV_NOHUGEPAGE));
	CHECK(madvise(a, PAGE, MADV_DONTDUMP));
	CHECK(madvise(a, PAGE, MADV_DODUMP));
	CHECK(madvise(a, 8 * PAGE, MADV_WIPEONFORK));
	CHECK(madvise(a, 8 * PAGE, MADV_KEEPONFORK));
	CHECK(madvise(a, PAGE, 999));
	CHECK(madvise(a + 1, PAGE, MADV_DONTNEED));
	CHECK(madvise(a, 0, MADV_DONTNEED));
	CHECK(madvise(a, PAGE, MADV_REMOVE));

	/* POPULATE_READ and POPULATE_WRITE fault in, or say why they cannot. */
	char *ro = MAPPED(mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	residency("read-only, untouched", ro, 4);
	CHECK(madvise(ro, 4 * PAGE, MADV_POPULATE_READ));
	residency("after POPULATE_READ", ro, 4);
	CHECK(madvise(ro, PAGE, MADV_POPULATE_WRITE));
	CHECK(madvise(a, 8 * PAGE, MADV_POPULATE_WRITE));
	residency("after POPULATE_WRITE", a, 8);

	/* A private file mapping: DONTNEED brings the file's bytes back. */
	char path[] = "/tmp/mm_advise.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	CHECK(write(fd, "file bytes", 10));
	char *f = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	memcpy(f, "FILE", 4);
	yes("private copy written", memcmp(f, "FILE bytes", 10) == 0);
	CHECK(madvise(f, PAGE, MADV_DONTNEED));
	yes("file bytes again after DONTNEED", memcmp(f, "file bytes", 10) == 0);
	CHECK(madvise(f, PAGE, MADV_FREE));
	CHECK(madvise(f, PAGE, MADV_WIPEONFORK));

	/* mincore. */
	char *m = MAPPED(mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK(munmap(m + 4 * PAGE, PAGE));
	m[PAGE] = 1;
	m[3 * PAGE + 5] = 1;
	residency("two touched of four", m, 4);
	unsigned char v[8];
	CHECK(mincore(m + 1, PAGE, v));
	CHECK(mincore(m, 0, v));
	CHECK(mincore(m, 5 * PAGE, v));
	CHECK(madvise(m, 5 * PAGE, MADV_DONTNEED));
	residency("DONTNEED up to a hole still dropped the pages", m, 4);
	CHECK(madvise(m + 4 * PAGE, PAGE, MADV_DONTNEED));
	CHECK(mincore(m, PAGE, (unsigned char *)16));
	residency("file pages in the page cache count", f, 1);

	/* msync: nothing to write back on tmpfs, but the checks are Linux's. */
	char *s = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	CHECK(msync(s, 3 * PAGE, MS_SYNC));
	CHECK(msync(s, 3 * PAGE, MS_ASYNC));
	CHECK(msync(s, 3 * PAGE, MS_INVALIDATE));
	CHECK(msync(s, PAGE, MS_SYNC | MS_ASYNC));
	CHECK(msync(s, PAGE, 8));
	CHECK(msync(s + 1, PAGE, MS_SYNC));
	CHECK(msync(s, 0, MS_SYNC));
	CHECK(munmap(s + PAGE, PAGE));
	CHECK(msync(s, 3 * PAGE, MS_SYNC));
	CHECK(msync(s, 3 * PAGE, MS_ASYNC));
	CHECK(msync(s + PAGE, PAGE, MS_SYNC));

	/* mlock family, well under RLIMIT_MEMLOCK. */
	char *l = MAPPED(mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK(munmap(l + 4 * PAGE, PAGE));
	CHECK(mlock(l + 5, 2 * PAGE));
	residency("mlock faults the range in", l, 4);
	CHECK(madvise(l, PAGE, MADV_DONTNEED));
	CHECK(munlock(l, 4 * PAGE));
	CHECK(madvise(l, PAGE, MADV_DONTNEED));
	CHECK(syscall(SYS_mlock2, l, PAGE, 1));
	CHECK(syscall(SYS_mlock2, l, PAGE, 2));
	CHECK(munlock(l, PAGE));
	CHECK(mlock(l, 5 * PAGE));
	CHECK(munlock(l, 5 * PAGE));
	CHECK(mlockall(0));
	CHECK(mlockall(MCL_ONFAULT));
	CHECK(mlockall(8));
	CHECK(munlockall());
	return 0;
}
