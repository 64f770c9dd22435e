/* mm_procmaps: /proc/self/maps and /proc/PID/maps lines of file mappings as Linux prints them
 * (show_map_vma): the device as major:minor in hex and the inode number, which must agree
 * with fstat; the offset in 8 hex digits; the name from column 74; " (deleted)" once the file
 * is unlinked; memfds and shared anonymous memory by their names; another process's maps; the
 * kernel's own lines; and pthread_getattr_np, which glibc answers for the main thread from
 * the [stack] line. Addresses, devices and inode numbers differ from run to run and machine
 * to machine: only whether they agree is printed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include "mmutil.h"

static char maps[1 << 17];

static void read_maps(const char *file)
{
	int fd = open(file, O_RDONLY);
	long n, total = 0;
	while (fd >= 0 && (n = read(fd, maps + total, sizeof maps - 1 - total)) > 0)
		total += n;
	if (fd >= 0)
		close(fd);
	maps[total] = 0;
}

/* The line of the mapping that starts at `addr` (in `line`), or 0. */
static int line_at(void *addr, char *line, size_t size)
{
	char want[32];
	snprintf(want, sizeof want, "%08lx-", (unsigned long)addr);
	for (char *l = maps; *l;) {
		char *eol = strchr(l, '\n');
		size_t len = eol ? (size_t)(eol - l) : strlen(l);
		if (strncmp(l, want, strlen(want)) == 0 && (l == maps || l[-1] == '\n')) {
			if (len >= size)
				len = size - 1;
			memcpy(line, l, len);
			line[len] = 0;
			return 1;
		}
		l = eol ? eol + 1 : l + len;
	}
	return 0;
}

/* Prints what the line of the mapping at `addr` says, against `st` (NULL: no file). */
static void describe(const char *what, void *addr, unsigned long len, const struct stat *st, const char *path)
{
	char line[512];
	if (!line_at(addr, line, sizeof line)) {
		printf("%s: no line\n", what);
		return;
	}
	unsigned long start, end, offset, ino;
	unsigned maj, min;
	char perms[8];
	int name_at = 0;
	int n = sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %n", &start, &end, perms, &offset, &maj, &min, &ino, &name_at);
	if (n < 7) {
		printf("%s: unparsed\n", what);
		return;
	}
	const char *name = line + name_at;
	/* The fields before the name are fixed: 8 hex digits of offset, two of each dev part. */
	const char *off_field = strchr(strchr(line, ' ') + 1, ' ') + 1;
	int off_digits = (int)(strchr(off_field, ' ') - off_field);
	const char *dev_field = off_field + off_digits + 1;
	int dev_len = (int)(strchr(dev_field, ' ') - dev_field);
	printf("%s: %s offset %08lx (%d digits), dev field %d chars, length %s", what, perms, offset, off_digits,
	       dev_len, end - start == len ? "right" : "wrong");
	if (st) {
		printf(", dev %s, inode %s", maj == major(st->st_dev) && min == minor(st->st_dev) ? "agrees" : "differs",
		       ino == st->st_ino ? "agrees" : "differs");
	} else {
		printf(", dev %s, inode %s", maj == 0 && min == 0 ? "00:00" : "set", ino == 0 ? "0" : "set");
	}
	if (*name) {
		int col = (int)(name - line);
		if (path && strncmp(name, path, strlen(path)) == 0)
			printf(", name at column %d: <path>%s", col, name + strlen(path));
		else
			printf(", name at column %d: %s", col, name);
	}
	printf("\n");
	fflush(stdout);
}

static int has(const char *name)
{
	return strstr(maps, name) != NULL;
}

int main(void)
{
	char path[] = "/tmp/mm_procmaps.XXXXXX";
	int fd = mkstemp(path);
	CHECK(ftruncate(fd, 5 * PAGE));
	struct stat st;
	fstat(fd, &st);
	char *a = MAPPED(mmap(NULL, 3 * PAGE, PROT_READ, MAP_SHARED, fd, 2 * PAGE));
	char *b = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, PAGE));
	read_maps("/proc/self/maps");
	describe("shared file", a, 3 * PAGE, &st, path);
	describe("private file", b, PAGE, &st, path);

	int mfd = syscall(SYS_memfd_create, "procmaps", 0);
	CHECK(ftruncate(mfd, PAGE));
	struct stat mst;
	fstat(mfd, &mst);
	char *m = MAPPED(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0));
	char *z = MAPPED(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	char *anon = MAPPED(mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	read_maps("/proc/self/maps");
	describe("memfd", m, PAGE, &mst, NULL);
	describe("shared anonymous", z, 2 * PAGE, NULL, NULL);
	describe("private anonymous", anon, 2 * PAGE, NULL, NULL);

	CHECK(unlink(path));
	read_maps("/proc/self/maps");
	describe("unlinked file", a, 3 * PAGE, &st, path);

	/* Another process's maps, read by its parent. */
	int ready[2], go[2];
	CHECK(pipe(ready));
	CHECK(pipe(go));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		munmap(b, PAGE);
		if (write(ready[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1));
	char file[64];
	snprintf(file, sizeof file, "/proc/%d/maps", (int)pid);
	read_maps(file);
	describe("the child's inherited file mapping", a, 3 * PAGE, &st, path);
	char line[512];
	yes("the child's unmapped page has no line", !line_at(b, line, sizeof line));
	CHECK(write(go[1], "g", 1));
	waitpid(pid, NULL, 0);

	read_maps("/proc/self/maps");
	yes("[stack] is listed", has("[stack]\n"));
	yes("[vdso] is listed", has("[vdso]\n"));
	yes("[vvar] is listed", has("[vvar]\n"));
	/* Lines are in address order and do not overlap. */
	unsigned long prev = 0;
	int ordered = 1, lines = 0;
	for (char *l = maps; *l; lines++) {
		unsigned long s, e;
		if (sscanf(l, "%lx-%lx", &s, &e) != 2 || s < prev || e <= s)
			ordered = 0;
		prev = e;
		char *eol = strchr(l, '\n');
		if (!eol)
			break;
		l = eol + 1;
	}
	yes("lines ascend without overlap", ordered && lines > 5);

	/* pthread_getattr_np on the main thread: its stack holds this frame. */
	pthread_attr_t attr;
	int rc = pthread_getattr_np(pthread_self(), &attr);
	printf("pthread_getattr_np = %d\n", rc);
	void *stack = NULL;
	size_t size = 0;
	pthread_attr_getstack(&attr, &stack, &size);
	char local;
	yes("the main thread's stack holds a local",
	    (char *)stack <= &local && &local < (char *)stack + size);
	yes("its size is at least 64 KiB", size >= 64 * 1024);
	return 0;
}
