/* mm_truncate: shrinking a file under its mappings. Pages wholly past the new end leave every
 * mapping of the file, in this process and in others, shared and private (written copies too,
 * as truncate_pagecache does): a touch there is SIGBUS with BUS_ADRERR. The tail of the last
 * page past the end reads as zeros; growing the file again brings zeros back, never the old
 * bytes. A hole punched in the file (fallocate) reads as zeros through the mappings. */
#include "mmutil.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/wait.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 1
#define FALLOC_FL_PUNCH_HOLE 2
#endif

/* Writes a byte at `p`, printing only a signal. */
static void poke(const char *what, volatile char *p, char c)
{
	int sig = sigsetjmp(jump, 1);
	if (sig == 0) {
		*p = c;
		printf("%s: stored\n", what);
	} else {
		printf("%s: signal %s, si_code %d\n", what, sig == SIGBUS ? "SIGBUS" : "SIGSEGV", last_code);
	}
	fflush(stdout);
}

static void fill(int fd, int pages)
{
	char page[PAGE];
	for (int i = 0; i < pages; i++) {
		memset(page, 'a' + i, PAGE);
		if (pwrite(fd, page, PAGE, (off_t)i * PAGE) != (ssize_t)PAGE)
			printf("pwrite failed\n");
	}
}

int main(void)
{
	struct sigaction sa = {0};
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	char path[] = "/tmp/mm_truncate.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	fill(fd, 4);
	char *s = MAPPED(mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
	char *p = MAPPED(mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0));
	/* Everything resident: the shared pages read, private ones read or written (copied). */
	for (int i = 0; i < 4; i++) {
		volatile char c = s[i * PAGE];
		(void)c;
		c = p[i * PAGE];
	}
	p[2 * PAGE + 7] = 'P';
	p[3 * PAGE + 7] = 'P';
	residency("shared before", s, 4);

	/* A child keeps its own resident view of the file until the parent truncates. */
	int go[2], done[2];
	CHECK(pipe(go));
	CHECK(pipe(done));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *c = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
		volatile char x = c[3 * PAGE];
		(void)x;
		char b;
		if (write(done[1], "r", 1) != 1 || read(go[0], &b, 1) != 1)
			_exit(1);
		probe("child: its own map past the new end", c + 3 * PAGE);
		probe("child: inherited map past the new end", s + 2 * PAGE);
		probe("child: inherited map before the end", s + PAGE);
		_exit(0);
	}
	char b;
	CHECK(read(done[0], &b, 1));

	CHECK(ftruncate(fd, PAGE + 100));
	residency("shared after truncation", s, 4);
	probe("shared: first page", s);
	probe("shared: inside the new end", s + PAGE + 99);
	probe("shared: the tail of the last page", s + PAGE + 100);
	probe("shared: the page after", s + 2 * PAGE);
	probe("shared: the last page", s + 3 * PAGE + 7);
	probe("private: a written copy past the end", p + 2 * PAGE + 7);
	probe("private: an unwritten page past the end", p + 3 * PAGE);
	probe("private: the last page's tail", p + PAGE + 200);
	poke("shared: store past the end", s + 2 * PAGE + 1, 'x');
	poke("shared: store in the tail", s + PAGE + 200, 'T');
	char buf[8];
	CHECK(pread(fd, buf, 8, PAGE + 200));

	/* Not printed: the child prints from here on, until it ends. */
	if (write(go[1], "g", 1) != 1)
		printf("write to the child failed\n");
	int status;
	waitpid(pid, &status, 0);
	printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));

	/* Growing again: zeros, not the bytes that were there. (What a store past the end in the
	 * last page leaves depends on the filesystem: ext4 zeroes it, tmpfs keeps it.) */
	CHECK(ftruncate(fd, 4 * PAGE));
	probe("grown: a page that was cut", s + 2 * PAGE);
	probe("grown: private page that was cut", p + 3 * PAGE + 7);
	yes("grown: the page kept before the end", s[0] == 'a' && s[PAGE] == 'b');

	/* Truncating to zero and punching a hole. */
	fill(fd, 4);
	yes("refilled through write(2)", s[3 * PAGE] == 'd' && p[3 * PAGE] == 'd');
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PAGE, 2 * PAGE));
	probe("punched: shared", s + PAGE + 5);
	probe("punched: private unwritten", p + 2 * PAGE + 5);
	probe("punched: after the hole", s + 3 * PAGE);
	CHECK(ftruncate(fd, 0));
	probe("empty: shared first page", s);
	probe("empty: private first page", p);
	return 0;
}
