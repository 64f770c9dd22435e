/* mm_maps: /proc/self/maps tells the truth about fresh mappings, compared without addresses,
 * devices or inode numbers: lines inside a private arena as page offsets from its start,
 * permissions with p/s, file offsets and names; splitting and merging as Linux does. */
#include "mmutil.h"

static char *arena;
/* The temporary file's name, shown as <file> (it differs from run to run). */
static char path[] = "/tmp/mm_maps.XXXXXX";

/* All of /proc/self/maps, read without stdio so that no allocation changes the layout. */
static char maps[1 << 16];

static void read_maps(void)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	long n, total = 0;
	while ((n = read(fd, maps + total, sizeof maps - 1 - total)) > 0)
		total += n;
	close(fd);
	maps[total] = 0;
}

/* Prints the maps lines that fall inside the arena. */
static void show_arena(const char *what)
{
	printf("-- %s\n", what);
	read_maps();
	for (char *line = maps; *line;) {
		char *eol = strchr(line, '\n');
		if (eol)
			*eol = 0;
		unsigned long start, end, offset, inode;
		char perms[8], dev[16], name[256] = "";
		int n = sscanf(line, "%lx-%lx %7s %lx %15s %lu %255[^\n]", &start, &end, perms,
			       &offset, dev, &inode, name);
		line = eol ? eol + 1 : line + strlen(line);
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
	fflush(stdout);
}

static int has_line(const char *name)
{
	read_maps();
	return strstr(maps, name) != NULL;
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

	/* brk directly: musl's sbrk only reports the break. */
	char *heap = (char *)syscall(SYS_brk, 0);
	CHECK(syscall(SYS_brk, heap + 8 * PAGE) == (long)(heap + 8 * PAGE));
	heap[0] = 1;
	yes("[heap] is listed", has_line("[heap]"));
	yes("[stack] is listed", has_line("[stack]"));
	return 0;
}
