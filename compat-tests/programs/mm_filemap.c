/* mm_filemap: mappings of a regular file. MAP_SHARED pages are one set for every process that
 * maps the file (through fork or by mapping it again), MAP_PRIVATE ones are copied on write
 * (also after fork), a mapping may reach past the end of the file (SIGBUS there, zeros in the
 * last page), mremap grows a file mapping over the file, mprotect and mmap refuse what the
 * file's open mode forbids, and files that cannot be mapped say so. */
#include "mmutil.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* Runs `fn` in a child and prints its exit status. */
static void in_child(const char *what, void (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn(arg);
		fflush(stdout);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("%s: child status %d\n", what, WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
	fflush(stdout);
}

static char path[] = "/tmp/mm_filemap.XXXXXX";

static void child_stores(void *arg)
{
	char *shared = arg;
	memcpy(shared + 100, "child via fork", 14);
	/* The child maps the file on its own, at another address, and stores through that. */
	int fd = open(path, O_RDWR);
	char *own = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	if (own == MAP_FAILED)
		_exit(1);
	memcpy(own + 200, "child's own map", 15);
}

static void child_private(void *arg)
{
	char *priv = arg;
	yes("the child sees the parent's private copy", memcmp(priv, "PRIVATE", 7) == 0);
	memcpy(priv, "CHILD!!", 7);
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	int fd = mkstemp(path);
	char page[PAGE];
	for (int i = 0; i < 3; i++) {
		memset(page, 'a' + i, PAGE);
		CHECK(write(fd, page, PAGE));
	}

	/* Shared between processes: through fork, and mapped again by the child. */
	char *s = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	in_child("stores by a child", child_stores, s);
	yes("the parent sees the store through the inherited map", memcmp(s + 100, "child via fork", 14) == 0);
	yes("and the one through the child's own map", memcmp(s + PAGE + 200, "child's own map", 15) == 0);
	char buf[32] = {0};
	CHECK(pread(fd, buf, 15, PAGE + 200));
	yes("read(2) sees it", memcmp(buf, "child's own map", 15) == 0);
	CHECK(msync(s, 3 * PAGE, MS_SYNC));
	CHECK(fsync(fd));

	/* Private: copied on write, in the parent and after fork in the child. */
	char *p = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	yes("the private map shows the file", p[PAGE + 200] == 'c' && p[0] == 'a');
	memcpy(p, "PRIVATE", 7);
	in_child("a child writes its copy", child_private, p);
	yes("the parent keeps its copy", memcmp(p, "PRIVATE", 7) == 0);
	yes("the file never saw either", s[0] == 'a' && s[6] == 'a');
	memcpy(s + 2 * PAGE, "shared store", 12);
	yes("an unwritten private page follows the file", memcmp(p + 2 * PAGE, "shared store", 12) == 0);

	/* Past the end of the file: a 3-page file mapped as 5 pages, then grown by a few bytes. */
	char *big = MAPPED(mmap(NULL, 5 * PAGE, PROT_READ, MAP_SHARED, fd, 0));
	probe("last page of the file", big + 3 * PAGE - 1);
	probe("first page past the end", big + 3 * PAGE);
	probe("second page past the end", big + 4 * PAGE + 5);
	CHECK(ftruncate(fd, 3 * PAGE + 10));
	probe("after growing: inside the new end", big + 3 * PAGE + 9);
	probe("after growing: past the end in the last page", big + 3 * PAGE + 100);
	probe("after growing: the page after", big + 4 * PAGE);
	char *wide = MAPPED(mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	probe("private past the end", wide + 4 * PAGE);
	probe("private in the last page", wide + 3 * PAGE + 50);
	CHECK(munmap(big, 5 * PAGE));
	CHECK(munmap(wide, 5 * PAGE));

	/* mremap grows a file mapping over more of the file. */
	CHECK(ftruncate(fd, 3 * PAGE));
	char *m = MAPPED(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE));
	char *grown = MAPPED(mremap(m, PAGE, 2 * PAGE, MREMAP_MAYMOVE));
	yes("the grown part shows the file", grown[PAGE] == 's' && grown[PAGE + 12] == 'c');
	probe("grown past the end", (char *)mremap(grown, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE) + 2 * PAGE);

	/* MAP_POPULATE: the file's pages are there at once. */
	char *pop = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0));
	residency("MAP_POPULATE", pop, 3);
	/* MAP_FIXED_NOREPLACE over it. */
	MAPPED(mmap(pop + PAGE, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0));
	/* MAP_NORESERVE changes nothing visible. */
	char *nr = MAPPED(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd, 0));
	yes("MAP_NORESERVE maps the file", nr[0] == 'a');

	/* What the open mode allows. */
	int ro = open(path, O_RDONLY);
	char *rs = MAPPED(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, ro, 0));
	CHECK(mprotect(rs, PAGE, PROT_READ | PROT_WRITE));
	char *rp = MAPPED(mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, ro, 0));
	CHECK(mprotect(rp, PAGE, PROT_READ | PROT_WRITE));
	rp[1] = 'Z';
	yes("a private map of a read-only fd became writable", rp[1] == 'Z' && s[1] == 'a');
	MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0));
	close(ro);
	yes("the mapping outlives the fd", rs[0] == 'a');

	/* Arguments and files that cannot be mapped. */
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 100));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, PAGE + 1));
	MAPPED(raw_mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED | MAP_PRIVATE, fd, 0));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, 0, fd, 0));
	int dir = open("/tmp", O_RDONLY | O_DIRECTORY);
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, dir, 0));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dir, 0));
	int pipefd[2];
	CHECK(pipe(pipefd));
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, pipefd[1], 0));
	int wo = open(path, O_WRONLY);
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wo, 0));
	int ap = open(path, O_RDWR | O_APPEND);
	MAPPED(raw_mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0));

	unlink(path);
	yes("an unlinked file's mapping still works", s[PAGE + 200] == 'c');
	return 0;
}
