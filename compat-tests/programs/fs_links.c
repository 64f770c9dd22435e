/* fs_links: hard links (link/linkat, counts, shared content, unlink while open) and symbolic
 * links (symlink/symlinkat, readlink(at) and truncation, relative and absolute targets,
 * O_CREAT through a dangling link, lengths). */
#define _GNU_SOURCE
#include "fsutil.h"

static void nlink_of(const char *path)
{
	struct stat st;
	errno = 0;
	if (lstat(path, &st) != 0)
		printf("nlink(%s) = %s\n", path, errname(errno));
	else
		printf("nlink(%s) = %lu\n", path, (unsigned long)st.st_nlink);
	fflush(stdout);
}

static void show_link(const char *path, size_t size)
{
	char buf[8192];
	errno = 0;
	long n = readlink(path, buf, size);
	if (n < 0) {
		printf("readlink(%s, %zu) = -1 %s\n", path, size, errname(errno));
		return;
	}
	char label[300];
	snprintf(label, sizeof label, "readlink(%s, %zu) = %ld", path, size, n);
	print_bytes(label, buf, n > 64 ? 64 : n);
}

static void hard_links(void)
{
	int fd;
	CHECK(put_file("f", "original\n"));
	CHECK(mkdir("dir", 0755));
	CHECK(link("f", "h"));
	nlink_of("f");
	nlink_of("h");
	CHECK(link("f", "dir/h2"));
	nlink_of("f");
	CHECK(fd = open("h", O_WRONLY | O_APPEND));
	CHECK(write(fd, "via h\n", 6));
	CHECK(close(fd));
	show_file("f");
	show_file("dir/h2");
	CHECK(link("f", "h"));
	CHECK(link("missing", "x"));
	CHECK(link("dir", "dirlink"));
	CHECK(link("f", "missing/x"));
	CHECK(link("f", "f/x"));
	CHECK(unlink("f"));
	nlink_of("h");
	show_file("h");
	CHECK(unlink("dir/h2"));
	nlink_of("h");

	/* An open file outlives its last name. */
	CHECK(put_file("victim", "still here\n"));
	CHECK(fd = open("victim", O_RDWR));
	CHECK(unlink("victim"));
	struct stat st;
	CHECK(fstat(fd, &st));
	printf("unlinked but open: nlink=%lu size=%lld\n", (unsigned long)st.st_nlink,
	       (long long)st.st_size);
	char buf[64];
	long n;
	SHOW("pread from the unlinked file", n = pread(fd, buf, sizeof buf, 0));
	print_bytes("content", buf, n);
	CHECK(write(fd, "more", 4));
	CHECK(linkat(fd, "", AT_FDCWD, "revived", AT_EMPTY_PATH));
	CHECK(close(fd));
	CHECK(access("victim", F_OK));

	/* link(2) does not follow a symlink; linkat(AT_SYMLINK_FOLLOW) does. */
	CHECK(symlink("h", "sym"));
	CHECK(link("sym", "hsym"));
	show_stat("hsym");
	nlink_of("sym");
	CHECK(linkat(AT_FDCWD, "sym", AT_FDCWD, "hfollow", AT_SYMLINK_FOLLOW));
	show_stat("hfollow");
	nlink_of("h");
	CHECK(linkat(AT_FDCWD, "sym", AT_FDCWD, "hbad", 0x1));
	int d = open("dir", O_RDONLY | O_DIRECTORY);
	CHECK(linkat(AT_FDCWD, "h", d, "viafd", 0));
	nlink_of("dir/viafd");
	CHECK(linkat(9999, "h", d, "x", 0));
	CHECK(close(d));
}

static void symlinks(void)
{
	int fd;
	CHECK(symlink("h", "s"));
	show_stat("s");
	show_link("s", 64);
	show_link("s", 1);
	CHECK(syscall(SYS_readlink, "s", BAD_PTR, 64));
	char buf[64];
	CHECK(syscall(SYS_readlink, "s", buf, 0));
	CHECK(readlink("h", buf, sizeof buf));
	CHECK(readlink("dir", buf, sizeof buf));
	CHECK(readlink("missing", buf, sizeof buf));
	CHECK(readlink("s/", buf, sizeof buf));
	CHECK(symlink("anything", "s"));
	CHECK(symlink("", "empty"));
	CHECK(symlink("h", "missing/s"));

	/* Targets are relative to the link's own directory. */
	CHECK(symlink("../h", "dir/up"));
	show_file("dir/up");
	CHECK(symlink("dir", "ld"));
	CHECK(put_file("ld/through", "written through ld\n"));
	show_file("dir/through");
	CHECK(symlink("/", "toroot"));
	struct stat a, b;
	CHECK(stat("toroot/..", &a) == 0 && stat("/", &b) == 0 && a.st_ino == b.st_ino);
	int d = open("dir", O_RDONLY | O_DIRECTORY);
	CHECK(symlinkat("up", d, "upup"));
	long n;
	SHOW("readlinkat(d, upup)", n = readlinkat(d, "upup", buf, sizeof buf));
	print_bytes("target", buf, n);
	show_file("dir/upup");
	CHECK(symlinkat("x", 9999, "y"));
	CHECK(close(d));

	/* O_CREAT through a dangling symlink creates its target; O_EXCL refuses any symlink. */
	CHECK(symlink("created-by-open", "dangling"));
	CHECK(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644));
	CHECK(fd = open("dangling", O_WRONLY | O_CREAT, 0600));
	CHECK(close(fd));
	show_stat("created-by-open");
	CHECK(symlink("missing-dir/file", "dangling2"));
	CHECK(open("dangling2", O_WRONLY | O_CREAT, 0600));

	/* Unlinking or renaming a link leaves its target alone. */
	CHECK(unlink("s"));
	nlink_of("h");
	CHECK(rename("ld", "ld2"));
	show_link("ld2", 64);

	/* Lengths: up to 4095 bytes of target; tmpfs's blocks for short and long targets. */
	static char target[5000];
	memset(target, 'x', 4095);
	CHECK(symlink(target, "long"));
	show_stat("long");
	show_link("long", 8192);
	struct stat st;
	lstat("long", &st);
	printf("blocks(long symlink)=%lld\n", (long long)st.st_blocks);
	lstat("dir/up", &st);
	printf("blocks(short symlink)=%lld\n", (long long)st.st_blocks);
	target[4095] = 'x';
	CHECK(symlink(target, "toolong"));
	CHECK(syscall(SYS_symlink, BAD_PTR, "bad"));
	CHECK(syscall(SYS_symlink, "x", BAD_PTR));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_links");
	hard_links();
	symlinks();
	return fs_end();
}
