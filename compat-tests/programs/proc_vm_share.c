/* proc_vm_share: a process made with CLONE_VM shares its parent's memory map, not a copy, as
 * Linux shares one mm. While the main thread waits in vfork, a second thread of the parent
 * maps a page and writes it: the vfork child reads that byte, writes another into the page
 * (the thread reads it) and maps a page of its own (the parent finds it after). A
 * clone(CLONE_VM) child without CLONE_VFORK runs beside its parent: it sees the page the
 * parent maps meanwhile, and what it maps and writes is the parent's, also after it ended. */
#define _GNU_SOURCE
#include "procutil.h"

#include <sched.h>
#include <sys/mman.h>

/* Set by whoever is named in the comment, read by the others (all in one memory). */
static volatile int go;             /* vfork child: the thread may map */
static volatile int thread_mapped;  /* thread: thread_page is set */
static volatile int child_done;     /* vfork child: its writes are done */
static char *volatile thread_page;
static char *volatile vchild_page;
static volatile int vchild_saw = -1;

static volatile int parent_mapped;  /* parent: parent_page is set */
static volatile int clone_done;     /* clone child: its writes are done */
static char *volatile parent_page;
static char *volatile clone_page;
static volatile int clone_saw = -1;
static char stack[256 * 1024] __attribute__((aligned(16)));

static char *map_page(void)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Whether a line of /proc/self/maps covers `addr` (it may have merged with a neighbour). */
static int listed(void *addr)
{
	unsigned long at = (unsigned long)addr, start, end;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 && start <= at && at < end)
			found = 1;
	fclose(f);
	return found;
}

/* The parent's second thread: maps and writes a page once the vfork child runs. */
static void *mapper(void *arg)
{
	(void)arg;
	if (!wait_flag(&go))
		return (void *)-1L;
	char *p = map_page();
	if (!p)
		return (void *)-2L;
	p[0] = 0x5a;
	thread_page = p;
	__atomic_store_n(&thread_mapped, 1, __ATOMIC_RELEASE);
	if (!wait_flag(&child_done))
		return (void *)-3L;
	return (void *)(long)p[1];
}

static void vfork_case(void)
{
	pthread_t t;
	spawn(&t, mapper, NULL);
	pid_t pid = vfork();
	if (pid == 0) {
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		if (wait_flag(&thread_mapped)) {
			vchild_saw = thread_page[0];
			thread_page[1] = 0x77;
			char *p = map_page();
			if (p)
				p[0] = 0x33;
			vchild_page = p;
		}
		__atomic_store_n(&child_done, 1, __ATOMIC_RELEASE);
		_exit(0);
	}
	if (pid < 0)
		die("vfork");
	int status = 0;
	waitpid(pid, &status, 0);
	long thread_saw = (long)join(t);
	printf("vfork: child saw the thread's new page: byte %#x\n", vchild_saw);
	printf("vfork: thread saw the child's store: %#lx\n", thread_saw);
	if (vchild_page)
		printf("vfork: the child's page is the parent's: byte %#x, listed %d\n",
		       vchild_page[0], listed(vchild_page));
	else
		printf("vfork: the child mapped no page\n");
}

static int clone_child(void *arg)
{
	(void)arg;
	if (wait_flag(&parent_mapped)) {
		clone_saw = parent_page[0];
		parent_page[1] = 0x22;
		char *p = map_page();
		if (p)
			p[0] = 0x44;
		clone_page = p;
	}
	__atomic_store_n(&clone_done, 1, __ATOMIC_RELEASE);
	return 0;
}

static void clone_case(void)
{
	pid_t pid = clone(clone_child, stack + sizeof stack, CLONE_VM | SIGCHLD, NULL);
	if (pid < 0)
		die("clone");
	char *p = map_page();
	if (p)
		p[0] = 0x11;
	parent_page = p;
	__atomic_store_n(&parent_mapped, 1, __ATOMIC_RELEASE);
	int done = wait_flag(&clone_done);
	int status = 0;
	waitpid(pid, &status, 0);
	printf("clone: child done %d, exited %d\n", done, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("clone: child saw the parent's new page: byte %#x\n", clone_saw);
	if (p)
		printf("clone: parent saw the child's store: %#x\n", p[1]);
	/* After the child ended: its mapping stays, the memory was never only its own. */
	if (clone_page)
		printf("clone: the child's page is the parent's: byte %#x, listed %d\n",
		       clone_page[0], listed(clone_page));
	else
		printf("clone: the child mapped no page\n");
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	vfork_case();
	clone_case();
	return 0;
}
