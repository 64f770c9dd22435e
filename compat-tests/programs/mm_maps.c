/* mm_maps: /proc/self/maps tells the truth about fresh mappings, compared without addresses,
 * devices or inode numbers: lines inside a private arena as page offsets from its start,
 * permissions with p/s, file offsets and names; splitting and merging as Linux does. */
#include "mmutil.h"

static char *arena;
/* The temporary file's name, shown as <file> (it differs from run to run). */
static char path[] = "/tmp/mm_maps.XXXXXX";

/* Prints the maps lines that fall inside the arena. */
static void show_arena(const char *what)
{
	printf("-- %s\n", what);
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	while (fgets(line, sizeof line, f)) {
		unsigned long start, end, offset;
		char perms[8], dev[16], name[256] = "";
		unsigned long inode;
		int n = sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &start, &end, perms,
			       &offset, dev, &inode, name);
		if (n < 6 || start < (unsigned long)arena || start >= (unsigned long)arena + 64 * PAGE)
			continue;
		const char *nm = name;
		while (*nm == ' ')
			nm++;
		if (strcmp(nm, path) == 0)
			nm = "<file>";
		printf("%2lu-%2lu %s %08lx %s\n", (start - (unsigned long)arena) / PAGE,
		       (end - (unsigned long)arena) / PAGE, perms, offset, nm);
	}
	fclose(f);
	fflush(stdout);
}

static int has_line(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, name))
			found = 1;
	fclose(f);
	return found;
}

int main(void)
{
	arena = MAPPED(mmap(NULL, 64 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
	show_arena("a reservation");
	char *a = MAPPED(mmap(arena + 4 * PAGE, 3 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	a[0] = 1;
	show_arena("three anonymous pages inside");
	CHECK(mprotect(a + PAGE, PAGE, PROT_READ));
	show_arena("the middle one read-only");
	CHECK(mprotect(a + PAGE, PAGE, PROT_READ | PROT_WRITE));
	show_arena("back to read-write: merged");
	MAPPED(mmap(a + 3 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	show_arena("an adjacent anonymous mapping merges");
	CHECK(munmap(a + PAGE, PAGE));
	show_arena("a hole punched");

	int fd = syscall(SYS_memfd_create, "maps", 0);
	CHECK(ftruncate(fd, 4 * PAGE));
	MAPPED(mmap(arena + 16 * PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, PAGE));
	MAPPED(mmap(arena + 18 * PAGE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 3 * PAGE));
	MAPPED(mmap(arena + 20 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	show_arena("memfd shared at offset 1, private at offset 3, shared anonymous");
	CHECK(mprotect(arena + 17 * PAGE, PAGE, PROT_READ));
	show_arena("a shared file mapping split keeps offsets");

	int file = mkstemp(path);
	CHECK(ftruncate(file, 2 * PAGE));
	MAPPED(mmap(arena + 24 * PAGE, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, PAGE));
	MAPPED(mmap(arena + 25 * PAGE, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, 0));
	MAPPED(mmap(arena + 26 * PAGE, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, PAGE));
	show_arena("file pages: contiguous offsets merge, others do not");
	unlink(path);
	close(file);

	char *heap = sbrk(0);
	sbrk(8 * PAGE);
	heap[0] = 1;
	yes("[heap] is listed", has_line("[heap]"));
	yes("[stack] is listed", has_line("[stack]"));
	return 0;
}
