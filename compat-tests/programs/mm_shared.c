/* mm_shared: MAP_SHARED pages are the file's own: stores through a mapping are what read(2)
 * returns and write(2) shows through every mapping; private mappings keep their copies;
 * shared anonymous memory; file-mode and seal rules for shared writable mappings. */
#include "mmutil.h"
#include <sys/stat.h>

#define MFD_ALLOW_SEALING_ 0x2U
#define F_ADD_SEALS_ 1033
#define F_SEAL_WRITE_ 0x0008

int main(void)
{
	int fd = syscall(SYS_memfd_create, "shared", MFD_ALLOW_SEALING_);
	CHECK(ftruncate(fd, 3 * PAGE));
	CHECK(pwrite(fd, "from write(2)", 13, 0));
	char *a = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	char *b = MAPPED(mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, PAGE));
	char *p = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	yes("the mapping shows the file", memcmp(a, "from write(2)", 13) == 0);
	yes("so does the private one", memcmp(p, "from write(2)", 13) == 0);

	memcpy(a + PAGE + 10, "through the map", 15);
	char buf[32] = {0};
	CHECK(pread(fd, buf, 15, PAGE + 10));
	yes("read(2) sees the store", memcmp(buf, "through the map", 15) == 0);
	yes("the second mapping sees it", memcmp(b + 10, "through the map", 15) == 0);

	memcpy(p, "private", 7);
	CHECK(pwrite(fd, "REWRITTEN", 9, 0));
	yes("write(2) shows through the shared mapping", memcmp(a, "REWRITTEN", 9) == 0);
	yes("the private copy keeps its bytes", memcmp(p, "privateit", 9) == 0);
	CHECK(pread(fd, buf, 9, 0));
	yes("the private store never reached the file", memcmp(buf, "REWRITTEN", 9) == 0);

	/* Growing the file makes more of a mapping usable. */
	CHECK(ftruncate(fd, 4 * PAGE));
	char *c = MAPPED(mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	c[3 * PAGE + 1] = 'z';
	CHECK(pread(fd, buf, 1, 3 * PAGE + 1));
	yes("store past the old end reached the file", buf[0] == 'z');
	struct stat st;
	fstat(fd, &st);
	printf("size after stores: %lld\n", (long long)st.st_size);

	/* Unmapped, the file keeps what was stored. */
	CHECK(munmap(a, 3 * PAGE));
	CHECK(munmap(c, 4 * PAGE));
	CHECK(pread(fd, buf, 15, PAGE + 10));
	yes("the file kept the stores", memcmp(buf, "through the map", 15) == 0);

	/* Seals: a shared mapping that may write blocks F_SEAL_WRITE, and the other way round. */
	char *w = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	CHECK(fcntl(fd, F_ADD_SEALS_, F_SEAL_WRITE_));
	CHECK(munmap(w, PAGE));
	CHECK(munmap(b, 2 * PAGE));
	CHECK(fcntl(fd, F_ADD_SEALS_, F_SEAL_WRITE_));
	MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	char *r = MAPPED(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0));
	CHECK(mprotect(r, PAGE, PROT_READ | PROT_WRITE));

	/* A file open read-only: no shared writable mapping. */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY);
	MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
	char *rp = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0));
	rp[0] = 'q';
	yes("a private writable map of a read-only file works", rp[0] == 'q');
	char tmp[] = "/tmp/mm_shared.XXXXXX";
	close(mkstemp(tmp));
	int wo = open(tmp, O_WRONLY);
	MAPPED(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, wo, 0));
	unlink(tmp);
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 999, 0));
	int pipefd[2];
	CHECK(pipe(pipefd));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, pipefd[0], 0));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, fd, 0));

	/* Shared anonymous memory: a duplicate made by mremap(old_size 0) shares the pages. */
	char *s = MAPPED(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	yes("shared anonymous memory starts zeroed", all_bytes(s, 2 * PAGE, 0));
	memcpy(s + PAGE, "one", 3);
	char *dup = MAPPED(raw_mremap(s, 0, 2 * PAGE, MREMAP_MAYMOVE, NULL));
	yes("the duplicate sees it", memcmp(dup + PAGE, "one", 3) == 0);
	memcpy(dup, "two", 3);
	yes("and the original sees the duplicate's store", memcmp(s, "two", 3) == 0);
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0));

	/* /dev/zero: private is anonymous memory, shared is shared anonymous memory. */
	int z = open("/dev/zero", O_RDWR);
	char *zp = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, z, 0));
	zp[5] = 1;
	yes("/dev/zero private map is writable memory", zp[5] == 1 && zp[4] == 0);
	char *zs = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, z, 0));
	zs[5] = 2;
	yes("/dev/zero shared map is writable memory", zs[5] == 2);
	return 0;
}
