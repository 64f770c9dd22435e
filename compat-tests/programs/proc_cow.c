/* proc_cow: memory after fork. Writes on either side stay on that side for globals, the stack,
 * the heap (small malloc and a big mmap'd one), brk memory, private anonymous mappings and
 * private mappings of a file (a memfd), through three generations; MAP_SHARED memory (anonymous
 * and of the file) stays shared both ways; MADV_DONTFORK and MADV_WIPEONFORK; mprotect and
 * munmap in the child leave the parent's mappings alone; a 16 MiB region rewritten page by page
 * in the child is intact in the parent; fork in a process with threads copies only the calling
 * thread and runs the pthread_atfork handlers in order. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "procutil.h"

#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static int global_value = 1;
static char bss_buf[8192];

#define PAGE 4096
#define BIG (16 << 20)

static unsigned long sum_bytes(const unsigned char *p, size_t n)
{
	unsigned long s = 0;
	for (size_t i = 0; i < n; i += 64)
		s = s * 31 + p[i];
	return s;
}

/* A page of brk memory. musl's sbrk() only reports the break, so it moves the break itself,
 * before its malloc first asks where the break is; glibc's malloc keeps its own idea of the
 * break, which sbrk() updates. */
static char *brk_page(void)
{
#ifdef __GLIBC__
	return sbrk(PAGE);
#else
	long cur = syscall(SYS_brk, 0);
	if (syscall(SYS_brk, cur + PAGE) != cur + PAGE)
		return (void *)-1;
	return (char *)cur;
#endif
}

static char *brk_mem;

static void private_memory(void)
{
	int stack_value = 2;
	char *small = malloc(64);
	char *large = malloc(1 << 20); /* above the mmap threshold of both libcs */
	char *anon = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			  0);
	int mfd = memfd_create("cow", 0);
	if (!small || !large || brk_mem == (void *)-1 || anon == MAP_FAILED || mfd < 0)
		die("setting up memory");
	if (ftruncate(mfd, 2 * PAGE) != 0)
		die("ftruncate");
	char *fpriv = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, mfd, 0);
	char *fshared = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	char *shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fpriv == MAP_FAILED || fshared == MAP_FAILED || shared == MAP_FAILED)
		die("mmap");
	strcpy(small, "parent");
	memset(large, 'P', 1 << 20);
	strcpy(brk_mem, "parent");
	strcpy(anon + PAGE, "parent");
	strcpy(bss_buf + 5000, "parent");
	strcpy(fshared, "file-before");
	/* fpriv has not been written yet: it shows the file until the first write. */
	strcpy(shared, "shared-before");

	struct event child_wrote = event_new(), parent_wrote = event_new();
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int ok = 1;
		ok &= global_value == 1 && stack_value == 2 && strcmp(small, "parent") == 0;
		ok &= large[12345] == 'P' && strcmp(brk_mem, "parent") == 0;
		ok &= strcmp(anon + PAGE, "parent") == 0 && strcmp(bss_buf + 5000, "parent") == 0;
		ok &= strcmp(fpriv, "file-before") == 0 && strcmp(shared, "shared-before") == 0;
		global_value = 10;
		stack_value = 20;
		strcpy(small, "child");
		memset(large, 'C', 1 << 20);
		strcpy(brk_mem, "child");
		strcpy(anon + PAGE, "child");
		strcpy(bss_buf + 5000, "child");
		strcpy(fpriv, "private-child");
		strcpy(fshared + PAGE, "file-child");
		strcpy(shared + 100, "shared-child");
		event_set(child_wrote);
		event_wait(parent_wrote);
		/* The parent's writes after the fork are not seen here, its shared ones are. */
		ok &= global_value == 10 && strcmp(small, "child") == 0 && large[999] == 'C';
		ok &= strcmp(anon + PAGE, "child") == 0 && strcmp(fpriv, "private-child") == 0;
		ok &= strcmp(shared + 200, "shared-parent") == 0;
		ok &= strcmp(fshared + 100, "file-parent") == 0;
		/* A grandchild gets the child's values and its writes stay its own. */
		pid_t g = fork();
		if (g == 0) {
			int gok = global_value == 10 && strcmp(small, "child") == 0;
			global_value = 100;
			strcpy(small, "grand");
			strcpy(shared + 300, "shared-grand");
			_exit(gok ? 0 : 1);
		}
		int status;
		waitpid(g, &status, 0);
		ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
		ok &= global_value == 10 && strcmp(small, "child") == 0;
		ok &= strcmp(shared + 300, "shared-grand") == 0;
		_exit(ok ? 0 : 1);
	}
	event_wait(child_wrote);
	checkf(global_value == 1 && stack_value == 2, "globals and the stack stay the parent's");
	checkf(strcmp(small, "parent") == 0 && large[777] == 'P', "malloc memory stays the parent's");
	checkf(strcmp(brk_mem, "parent") == 0 && strcmp(bss_buf + 5000, "parent") == 0,
	       "brk and bss memory stay the parent's");
	checkf(strcmp(anon + PAGE, "parent") == 0, "a private anonymous mapping stays the parent's");
	checkf(strcmp(fpriv, "file-before") == 0, "a private file mapping stays the parent's");
	checkf(strcmp(shared + 100, "shared-child") == 0, "MAP_SHARED anonymous: the child's write is seen");
	checkf(strcmp(fshared + PAGE, "file-child") == 0, "MAP_SHARED file: the child's write is seen");
	char buf[16] = {0};
	pread(mfd, buf, 10, PAGE);
	checkf(strcmp(buf, "file-child") == 0, "and it is in the file");
	global_value = 5;
	strcpy(small, "parent2");
	strcpy(anon + PAGE, "parent2");
	strcpy(shared + 200, "shared-parent");
	strcpy(fshared + 100, "file-parent");
	event_set(parent_wrote);
	expect_status("the child saw its own values, then the parent's shared writes", pid,
		      "exited 0");
	checkf(strcmp(shared + 300, "shared-grand") == 0, "the grandchild's shared write is seen");
	event_close(child_wrote);
	event_close(parent_wrote);
	free(small);
	free(large);
	munmap(anon, 4 * PAGE);
	munmap(fpriv, 2 * PAGE);
	munmap(fshared, 2 * PAGE);
	munmap(shared, PAGE);
	close(mfd);
}

static void advice_and_maps(void)
{
	char *dontfork = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *wipe = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *prot = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dontfork == MAP_FAILED || wipe == MAP_FAILED || prot == MAP_FAILED || gone == MAP_FAILED)
		die("mmap");
	strcpy(dontfork, "kept here");
	strcpy(wipe + PAGE, "wiped in the child");
	strcpy(prot, "prot");
	strcpy(gone, "gone");
	expect_ret("madvise(MADV_DONTFORK)", madvise(dontfork, PAGE, MADV_DONTFORK), 0);
	expect_ret("madvise(MADV_WIPEONFORK)", madvise(wipe, 2 * PAGE, MADV_WIPEONFORK), 0);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int ok = 1;
		/* The MADV_DONTFORK range is not mapped in the child. */
		ok &= msync(dontfork, PAGE, MS_ASYNC) == -1 && errno == ENOMEM;
		ok &= wipe[PAGE] == 0 && wipe[0] == 0;
		ok &= mprotect(prot, PAGE, PROT_READ) == 0;
		ok &= munmap(gone, PAGE) == 0;
		_exit(ok ? 0 : 1);
	}
	expect_status("child: DONTFORK range unmapped, WIPEONFORK range zero", pid, "exited 0");
	checkf(strcmp(dontfork, "kept here") == 0 && strcmp(wipe + PAGE, "wiped in the child") == 0,
	       "the parent keeps both");
	strcpy(prot, "still writable");
	strcpy(gone, "still mapped");
	check("the child's mprotect and munmap did not touch the parent's mappings",
	      strcmp(prot, "still writable") == 0 && strcmp(gone, "still mapped") == 0);
	munmap(dontfork, PAGE);
	munmap(wipe, 2 * PAGE);
	munmap(prot, PAGE);
	munmap(gone, PAGE);
}

static void big_region(void)
{
	unsigned char *big = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				  -1, 0);
	if (big == MAP_FAILED)
		die("mmap 16 MiB");
	for (size_t i = 0; i < BIG; i++)
		big[i] = (unsigned char)(i * 7 + i / PAGE);
	unsigned long before = sum_bytes(big, BIG);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int ok = sum_bytes(big, BIG) == before;
		for (size_t i = 0; i < BIG; i += PAGE)
			big[i + (i / PAGE) % PAGE] ^= 0xff;
		ok &= sum_bytes(big, BIG) != before;
		_exit(ok ? 0 : 1);
	}
	expect_status("child rewrote a page in each of 4096", pid, "exited 0");
	check("the parent's 16 MiB are unchanged", sum_bytes(big, BIG) == before);
	/* Now the parent writes while a child only reads. */
	struct event go = event_new(), done = event_new();
	pid = fork_or_die();
	if (pid == 0) {
		event_wait(go);
		_exit(sum_bytes(big, BIG) == before ? 0 : 1);
	}
	memset(big, 0, BIG);
	event_set(go);
	expect_status("a child does not see the parent's later writes", pid, "exited 0");
	event_close(go);
	event_close(done);
	munmap(big, BIG);
}

static volatile int ticks;
static volatile int stop_ticking;
static char atfork_log[16];
static void at_prepare(void) { strcat(atfork_log, "P"); }
static void at_parent(void) { strcat(atfork_log, "p"); }
static void at_child(void) { strcat(atfork_log, "c"); }

static void *ticker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_ticking, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
		sched_yield();
	}
	return NULL;
}

static void threads(void)
{
	pthread_atfork(at_prepare, at_parent, at_child);
	pthread_t t;
	spawn(&t, ticker, NULL);
	while (__atomic_load_n(&ticks, __ATOMIC_RELAXED) < 10)
		sched_yield();
	pid_t pid = fork_or_die();
	if (pid == 0) {
		int a = ticks;
		sleep_ms(50);
		/* The ticking thread was not copied: the counter stands still. */
		int ok = ticks == a && strcmp(atfork_log, "Pc") == 0;
		_exit(ok ? 0 : 1);
	}
	check("the parent ran prepare then parent", strcmp(atfork_log, "Pp") == 0);
	expect_status("child: only the forking thread, prepare then child handler", pid,
		      "exited 0");
	__atomic_store_n(&stop_ticking, 1, __ATOMIC_RELAXED);
	join(t);
}

int main(int argc, char **argv)
{
	(void)argc;
	self_path = argv[0];
	brk_mem = brk_page();
	private_memory();
	advice_and_maps();
	big_region();
	threads();
	return finish();
}
