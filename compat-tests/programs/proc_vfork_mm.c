/* proc_vfork_mm: a vfork child shares its parent's memory map, not only its pages. What the
 * child maps, unmaps or changes before _exit or execve is the parent's map afterwards (Linux
 * shares one mm): a page the child mapped is there (MAP_FIXED_NOREPLACE refuses it, the byte
 * the child wrote is read), a page the child unmapped is gone
 * (not in /proc/self/maps, MAP_FIXED_NOREPLACE takes it) and a protection the child dropped stays dropped. gdb's
 * fork_inferior vforks, and its parent side corrupted its heap when its map missed what the
 * child had done. */
#define _GNU_SOURCE
#include "procutil.h"

#include <sys/mman.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Whether /proc/self/maps has a line starting at `addr`. */
static int listed(void *addr)
{
	char want[32];
	snprintf(want, sizeof want, "%lx-", (unsigned long)addr);
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		found |= strncmp(line, want, strlen(want)) == 0;
	fclose(f);
	return found;
}

/* Maps one page at `hint` exactly if nothing is there: "mapped" or the errno's name. */
static const char *noreplace(void *hint)
{
	void *p = mmap(hint, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED)
		return errno == EEXIST ? "EEXIST" : "other error";
	if (p != hint)
		return "elsewhere (no MAP_FIXED_NOREPLACE)";
	munmap(p, 4096);
	return "mapped";
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	/* Three pages to leave to the child: reserved, then given back so the addresses are free. */
	char *area = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	char *fresh = area, *gone = area + 4096, *sealed = area + 2 * 4096;
	munmap(fresh, 4096);
	gone[0] = 1;
	sealed[0] = 1;
	volatile int child_ok = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		char *p = mmap(fresh, 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == fresh) {
			p[0] = 42;
			child_ok = munmap(gone, 4096) == 0 && mprotect(sealed, 4096, PROT_NONE) == 0;
		}
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	printf("child's calls worked: %s\n", child_ok ? "yes" : "no");
	printf("page the child mapped: byte %d, MAP_FIXED_NOREPLACE: %s\n", fresh[0],
	       noreplace(fresh));
	printf("page the child unmapped: listed %d, MAP_FIXED_NOREPLACE: %s\n", listed(gone),
	       noreplace(gone));
	/* mprotect(PROT_READ) on a PROT_NONE VMA is allowed; the line shows its permissions. */
	char want[32], line[512], perms[8] = "none";
	snprintf(want, sizeof want, "%lx-", (unsigned long)sealed);
	FILE *f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, want, strlen(want)) == 0)
			sscanf(strchr(line, ' ') + 1, "%4s", perms);
	if (f)
		fclose(f);
	printf("page the child made PROT_NONE: %s\n", perms);
	return 0;
}
