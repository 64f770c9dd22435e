/* fs_rename: rename/renameat/renameat2: replacing files and directories, every documented
 * error, directory link counts and "..", hard links to one inode, and the NOREPLACE,
 * EXCHANGE and WHITEOUT flags. */
#define _GNU_SOURCE
#include <time.h>
#include "fsutil.h"

#define RENAME_WHITEOUT_ (1 << 2)

static long renameat2_(int olddir, const char *old, int newdir, const char *new, unsigned flags)
{
	return syscall(SYS_renameat2, olddir, old, newdir, new, flags);
}

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

static int same(const char *a, const char *b)
{
	struct stat x, y;
	return lstat(a, &x) == 0 && lstat(b, &y) == 0 && x.st_ino == y.st_ino;
}

static void pause_a_tick(void)
{
	struct timespec t = {0, 20000000};
	nanosleep(&t, NULL);
}

static void plain(void)
{
	struct stat before, after, dir_before, dir_after;
	CHECK(put_file("a", "A\n"));
	CHECK(put_file("b", "B\n"));
	CHECK(mkdir("d1", 0755));
	CHECK(mkdir("d2", 0755));
	CHECK(mkdir("d2/inner", 0755));
	CHECK(mkdir("empty", 0755));
	lstat("a", &before);
	stat(".", &dir_before);
	pause_a_tick();
	CHECK(rename("a", "a2"));
	lstat("a2", &after);
	stat(".", &dir_after);
	yes("same inode after rename", before.st_ino == after.st_ino);
	yes("ctime changed by rename", before.st_ctim.tv_sec != after.st_ctim.tv_sec ||
					       before.st_ctim.tv_nsec != after.st_ctim.tv_nsec);
	yes("parent mtime changed", dir_before.st_mtim.tv_nsec != dir_after.st_mtim.tv_nsec ||
					    dir_before.st_mtim.tv_sec != dir_after.st_mtim.tv_sec);
	CHECK(access("a", F_OK));
	show_file("a2");

	CHECK(link("b", "b-link"));
	nlink_of("b-link");
	CHECK(rename("a2", "b"));
	show_file("b");
	nlink_of("b-link");
	CHECK(rename("b", "b"));
	show_file("b");
	/* Two names of one inode: rename does nothing and both stay. */
	CHECK(link("b", "b-too"));
	CHECK(rename("b", "b-too"));
	yes("both names stay", access("b", F_OK) == 0 && access("b-too", F_OK) == 0);

	CHECK(rename("missing", "x"));
	CHECK(rename("b", "missing/x"));
	CHECK(rename("b", "b-link/x"));
	CHECK(rename("b", "d1"));
	CHECK(rename("d1", "b"));
	CHECK(rename("d1", "d2"));
	CHECK(rename("d1", "d1/x"));
	CHECK(rename("d2", "d2/inner/x"));
	CHECK(rename(".", "x"));
	CHECK(rename("d1/.", "x"));
	CHECK(rename("d1/..", "x"));
	CHECK(rename("b", "."));
	CHECK(rename("b", ".."));
	CHECK(rename("", "x"));
	CHECK(rename("b", ""));
	CHECK(syscall(SYS_rename, BAD_PTR, "x"));
	CHECK(syscall(SYS_rename, "b", BAD_PTR));

	/* Directories: over an empty one, link counts, and the new "..". */
	nlink_of(".");
	CHECK(rename("d1", "empty"));
	nlink_of(".");
	CHECK(rename("empty", "d2/moved"));
	nlink_of(".");
	nlink_of("d2");
	yes("d2/moved/.. is d2", same("d2/moved/..", "d2"));
	CHECK(rename("d2/moved/", "back/"));
	nlink_of("d2");
	CHECK(rename("back", "d2/inner/.."));
	CHECK(symlink("d2", "sym-to-dir"));
	CHECK(rename("b", "sym-to-dir"));
	show_stat("sym-to-dir");
	show_stat("d2");

	int d = open("d2", O_RDONLY | O_DIRECTORY);
	CHECK(renameat(AT_FDCWD, "b-link", d, "via-fd"));
	CHECK(renameat(d, "via-fd", AT_FDCWD, "b-link"));
	CHECK(renameat(9999, "b-link", d, "x"));
	CHECK(renameat(AT_FDCWD, "b-link", 9999, "x"));
	CHECK(close(d));
}

static void flags(void)
{
	CHECK(put_file("x", "X\n"));
	CHECK(put_file("y", "Y\n"));
	CHECK(mkdir("dx", 0755));
	CHECK(put_file("dx/inside", "in dx\n"));
	CHECK(renameat2_(AT_FDCWD, "x", AT_FDCWD, "y", COMPAT_RENAME_NOREPLACE));
	show_file("x");
	show_file("y");
	CHECK(renameat2_(AT_FDCWD, "x", AT_FDCWD, "z", COMPAT_RENAME_NOREPLACE));
	show_file("z");
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "y", COMPAT_RENAME_EXCHANGE));
	show_file("z");
	show_file("y");
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "nothing", COMPAT_RENAME_EXCHANGE));
	CHECK(renameat2_(AT_FDCWD, "nothing", AT_FDCWD, "z", COMPAT_RENAME_EXCHANGE));
	/* A file and a directory may trade places; the parents' link counts follow. */
	CHECK(mkdir("other", 0755));
	CHECK(renameat2_(AT_FDCWD, "dx", AT_FDCWD, "other/y", COMPAT_RENAME_NOREPLACE));
	nlink_of(".");
	nlink_of("other");
	CHECK(renameat2_(AT_FDCWD, "y", AT_FDCWD, "other/y", COMPAT_RENAME_EXCHANGE));
	nlink_of(".");
	nlink_of("other");
	show_stat("y");
	show_file("y/inside");
	show_file("other/y");
	yes("y/.. is .", same("y/..", "."));
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "z", COMPAT_RENAME_EXCHANGE));
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "y",
			 COMPAT_RENAME_EXCHANGE | COMPAT_RENAME_NOREPLACE));
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "w", 1 << 5));
	CHECK(renameat2_(AT_FDCWD, "y", AT_FDCWD, "y/sub", COMPAT_RENAME_EXCHANGE));
	CHECK(renameat2_(AT_FDCWD, "y", AT_FDCWD, "y/inside", COMPAT_RENAME_EXCHANGE));
	CHECK(renameat2_(AT_FDCWD, "y/inside", AT_FDCWD, "y", COMPAT_RENAME_EXCHANGE));
	CHECK(renameat2_(AT_FDCWD, "z", AT_FDCWD, "w", 0));
	/* RENAME_WHITEOUT (root, tmpfs): the old name becomes a 0:0 character device. */
	CHECK(renameat2_(AT_FDCWD, "w", AT_FDCWD, "v", RENAME_WHITEOUT_));
	struct stat st;
	CHECK(lstat("w", &st));
	printf("whiteout: %s rdev=%u:%u size=%lld\n", mode_string(st.st_mode),
	       (unsigned)((st.st_rdev >> 8) & 0xfff), (unsigned)(st.st_rdev & 0xff),
	       (long long)st.st_size);
	show_file("v");
	CHECK(renameat2_(AT_FDCWD, "v", AT_FDCWD, "u",
			 RENAME_WHITEOUT_ | COMPAT_RENAME_EXCHANGE));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_rename");
	plain();
	flags();
	return fs_end();
}
