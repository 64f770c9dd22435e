/* fs_dirs: directories: mkdir/rmdir and their errors, link counts and tmpfs sizes, getdents64
 * order, d_type, buffer sizes and rewinding, telldir/seekdir, and a removed working directory.
 * Listing order and directory sizes are Linux tmpfs's: ".", "..", then newest first; 40 bytes
 * plus 20 per entry. */
#define _GNU_SOURCE
#include "fsutil.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static const char *type_name(unsigned char t)
{
	switch (t) {
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_CHR: return "chr";
	case DT_SOCK: return "sock";
	case DT_UNKNOWN: return "unknown";
	default: return "other";
	}
}

/* Lists `path` with raw getdents64 calls of `bufsize` bytes: "name/type" in order. */
static void list(const char *path, size_t bufsize)
{
	char buf[8192];
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		printf("list %s: open failed %s\n", path, errname(errno));
		return;
	}
	printf("list %s (%zu-byte buffer):", path, bufsize);
	int calls = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, bufsize);
		calls++;
		if (n < 0) {
			printf(" getdents64 failed %s", errname(errno));
			break;
		}
		if (n == 0)
			break;
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			printf(" %s/%s", d->d_name, type_name(d->d_type));
			at += d->d_reclen;
		}
	}
	printf(" (%d calls)\n", calls);
	fflush(stdout);
	close(fd);
}

static void dir_facts(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("stat(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	printf("%s: %s nlink=%lu size=%lld\n", path, mode_string(st.st_mode),
	       (unsigned long)st.st_nlink, (long long)st.st_size);
	fflush(stdout);
}

static void making(void)
{
	dir_facts(".");
	CHECK(mkdir("top", 0777));
	dir_facts("top");
	dir_facts(".");
	CHECK(mkdir("top", 0755));
	CHECK(mkdir("missing/x", 0755));
	CHECK(put_file("file", "x"));
	CHECK(mkdir("file/x", 0755));
	CHECK(mkdir("file", 0755));
	CHECK(mkdir("top/sub1", 0700));
	CHECK(mkdir("top/sub2", 01777));
	CHECK(mkdir("top/sub3", 07777));
	dir_facts("top/sub1");
	dir_facts("top/sub2");
	dir_facts("top/sub3");
	dir_facts("top");
	CHECK(chmod("top", 02755));
	CHECK(mkdir("top/inherits", 0755));
	dir_facts("top/inherits");
	CHECK(put_file("top/f", "data"));
	dir_facts("top");
	CHECK(rmdir("top"));
	CHECK(rmdir("top/f"));
	CHECK(rmdir("top/missing"));
	CHECK(rmdir("top/sub1"));
	dir_facts("top");
	CHECK(unlinkat(AT_FDCWD, "top/sub2", AT_REMOVEDIR));
	CHECK(unlinkat(AT_FDCWD, "top/f", AT_REMOVEDIR));
	CHECK(unlinkat(AT_FDCWD, "top/sub3", 0x4000));
	int d = open("top", O_RDONLY | O_DIRECTORY);
	CHECK(mkdirat(d, "at", 0750));
	dir_facts("top/at");
	CHECK(mkdirat(9999, "at", 0750));
	CHECK(unlinkat(d, "at", AT_REMOVEDIR));
	CHECK(close(d));
	CHECK(mknod("top/reg", S_IFREG | 0600, 0));
	show_stat("top/reg");
	CHECK(mknod("top/dir", S_IFDIR | 0755, 0));
	CHECK(mknod("top/bad", 0170000 | 0644, 0));
}

static void listing(void)
{
	CHECK(mkdir("ls", 0755));
	list("ls", sizeof(char[8192]));
	CHECK(put_file("ls/alpha", "1"));
	CHECK(mkdir("ls/beta", 0755));
	CHECK(symlink("alpha", "ls/gamma"));
	CHECK(mknod("ls/delta", S_IFIFO | 0644, 0));
	CHECK(put_file("ls/epsilon", "5"));
	list("ls", 8192);
	dir_facts("ls");
	CHECK(unlink("ls/gamma"));
	CHECK(symlink("alpha", "ls/gamma"));
	CHECK(unlink("ls/alpha"));
	list("ls", 8192);
	dir_facts("ls");
	/* Small buffers: one entry per call, or too small for any. */
	list("ls", 32);
	list("ls", 24);
	char buf[64];
	int fd = open("ls", O_RDONLY | O_DIRECTORY);
	CHECK(syscall(SYS_getdents64, fd, buf, 8));
	CHECK(syscall(SYS_getdents64, fd, BAD_PTR, 4096));
	CHECK(syscall(SYS_getdents64, 9999, buf, sizeof buf));
	int file = open("file", O_RDONLY);
	CHECK(syscall(SYS_getdents64, file, buf, sizeof buf));
	CHECK(close(file));
	/* Read to the end, then lseek(0) starts over. */
	long total = 0, n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
		total += n;
	printf("read to the end: %s\n", n == 0 && total > 0 ? "ok" : errname(errno));
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf));
	CHECK(lseek(fd, 0, SEEK_SET));
	SHOW("getdents64 after lseek(0) > 0", syscall(SYS_getdents64, fd, buf, sizeof buf) > 0);
	CHECK(close(fd));

	/* libc's readdir: the same order, and seekdir back to a telldir position. */
	DIR *dir = opendir("ls");
	struct dirent *e;
	long mark = -1;
	char after_mark[256] = "";
	printf("readdir:");
	int index = 0;
	while ((e = readdir(dir))) {
		printf(" %s", e->d_name);
		if (index == 2)
			snprintf(after_mark, sizeof after_mark, "%s", e->d_name);
		if (++index == 2)
			mark = telldir(dir);
	}
	printf("\n");
	seekdir(dir, mark);
	e = readdir(dir);
	yes("seekdir(telldir()) resumes at the third entry", e && !strcmp(e->d_name, after_mark));
	rewinddir(dir);
	e = readdir(dir);
	yes("rewinddir starts at .", e && !strcmp(e->d_name, "."));
	CHECK(closedir(dir));

	/* A thousand entries: tmpfs counts 20 bytes each. */
	CHECK(mkdir("k", 0755));
	char name[32];
	int made = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "k/entry-%04d", i);
		made += put_file(name, "") == 0;
	}
	printf("created %d files\n", made);
	dir_facts("k");
	dir = opendir("k");
	int count = 0;
	long sum = 0;
	char first[256] = "", last[256] = "";
	while ((e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		if (!count)
			snprintf(first, sizeof first, "%s", e->d_name);
		snprintf(last, sizeof last, "%s", e->d_name);
		count++;
		sum += strlen(e->d_name);
	}
	closedir(dir);
	printf("readdir k: %d entries, %ld name bytes, first %s, last %s\n", count, sum, first,
	       last);
}

static void removed_cwd(void)
{
	CHECK(mkdir("gone", 0755));
	CHECK(chdir("gone"));
	CHECK(rmdir("../gone"));
	char buf[4096];
	errno = 0;
	printf("getcwd in a removed directory = %s\n",
	       getcwd(buf, sizeof buf) ? "a path" : errname(errno));
	struct stat st;
	CHECK(stat(".", &st));
	printf("removed directory: nlink=%lu size=%lld\n", (unsigned long)st.st_nlink,
	       (long long)st.st_size);
	CHECK(open("new", O_WRONLY | O_CREAT, 0644));
	CHECK(mkdir("new", 0755));
	int fd = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf));
	CHECK(close(fd));
	CHECK(chdir(".."));
	dir_facts(".");
	CHECK(access("gone", F_OK));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_dirs");
	making();
	listing();
	removed_cwd();
	return fs_end();
}
