/* fsutil.h - what the fs_* programs share: the scratch directory and one-line checks.
 *
 * Every fs_* program takes the directory to work in as argv[1] (the harness passes a fresh
 * tmpfs directory on the host and /tmp in Coracle), makes <argv[1]>/<name>, works there with
 * relative paths and removes it at the end. Output never contains that path, inode numbers,
 * times, pids or addresses: only return values, errno names, contents and relative facts.
 *
 * Newer syscalls go through syscall(2) with numbers and structs defined here: musl's headers
 * lack <linux/...>, and raw calls keep libc emulations out of the comparison. */
#ifndef COMPAT_FSUTIL_H
#define COMPAT_FSUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "errname.h"

#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif
#ifndef AT_STATX_SYNC_AS_STAT
#define AT_STATX_SYNC_AS_STAT 0
#endif
#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#define COMPAT_RENAME_NOREPLACE (1 << 0)
#define COMPAT_RENAME_EXCHANGE (1 << 1)
#define COMPAT_RESOLVE_NO_XDEV 0x01
#define COMPAT_RESOLVE_NO_MAGICLINKS 0x02
#define COMPAT_RESOLVE_NO_SYMLINKS 0x04
#define COMPAT_RESOLVE_BENEATH 0x08
#define COMPAT_RESOLVE_IN_ROOT 0x10
#define COMPAT_CLOSE_RANGE_CLOEXEC (1U << 2)
#define COMPAT_STATX_BASIC_STATS 0x07ffU
#define COMPAT_STATX_BTIME 0x0800U

/* struct open_how of openat2(2). */
struct compat_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

/* struct statx of statx(2). */
struct compat_statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct compat_statx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t spare0;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct compat_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major;
	uint32_t stx_rdev_minor;
	uint32_t stx_dev_major;
	uint32_t stx_dev_minor;
	uint64_t spare2[14];
};

/* A pointer no program owns: the first page is never mapped. */
#define BAD_PTR ((void *)16)

static char fs_base[4096];
static const char *fs_name;

/* "what = value", or "what = -1 ENAME" when it failed. */
static __attribute__((unused)) void show(const char *what, long r)
{
	if (r < 0)
		printf("%s = %ld %s\n", what, r, errname(errno));
	else
		printf("%s = %ld\n", what, r);
	fflush(stdout);
}

/* Runs EXPR with errno cleared and prints it with its own text as the label. */
#define CHECK(expr)                          \
	do {                                 \
		errno = 0;                   \
		long check_r_ = (long)(expr); \
		show(#expr, check_r_);       \
	} while (0)

/* Like CHECK with a label of its own. */
#define SHOW(label, expr)                    \
	do {                                 \
		errno = 0;                   \
		long check_r_ = (long)(expr); \
		show(label, check_r_);       \
	} while (0)

static __attribute__((unused)) void yes(const char *what, int cond)
{
	printf("%s: %s\n", what, cond ? "yes" : "no");
	fflush(stdout);
}

/* Prints bytes as an escaped string: "what: \"...\"". */
static __attribute__((unused)) void print_bytes(const char *what, const char *buf, long n)
{
	printf("%s: \"", what);
	for (long i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n')
			printf("\\n");
		else if (c == '\\' || c == '"')
			printf("\\%c", c);
		else if (c < 32 || c > 126)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\" (%ld bytes)\n", n);
	fflush(stdout);
}

/* Writes `text` to a new (truncated) file; 0 or -1. */
static __attribute__((unused)) int put_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	int ok = write(fd, text, len) == (ssize_t)len;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Prints the whole content of `path`, or why it cannot be read. */
static __attribute__((unused)) void show_file(const char *path)
{
	char buf[4096], label[512];
	snprintf(label, sizeof label, "content of %s", path);
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		printf("%s: open failed %s\n", label, errname(errno));
		return;
	}
	long n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 0)
		printf("%s: read failed %s\n", label, errname(errno));
	else
		print_bytes(label, buf, n);
}

/* A file's type and permission bits as `ls` shows them: "-rw-r--r--". */
static __attribute__((unused)) const char *mode_string(mode_t mode)
{
	static char s[11];
	const char *types = "?pc?d?b?-?l?s???";
	s[0] = types[(mode >> 12) & 15];
	const char *rwx = "rwxrwxrwx";
	for (int i = 0; i < 9; i++)
		s[i + 1] = (mode & (0400 >> i)) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[3] = (mode & S_IXUSR) ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = (mode & S_IXGRP) ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = (mode & S_IXOTH) ? 't' : 'T';
	s[10] = 0;
	return s;
}

/* The fs-independent facts of lstat(path): type, mode, nlink, size (sizes of directories are
 * printed too: Linux tmpfs, which both sides use, reports 40 + 20 per entry). */
static __attribute__((unused)) void show_stat(const char *path)
{
	struct stat st;
	errno = 0;
	if (lstat(path, &st) != 0) {
		printf("lstat(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	printf("lstat(%s): %s mode=0%o nlink=%lu size=%lld uid=%u gid=%u\n", path,
	       mode_string(st.st_mode), (unsigned)(st.st_mode & 07777), (unsigned long)st.st_nlink,
	       (long long)st.st_size, (unsigned)st.st_uid, (unsigned)st.st_gid);
	fflush(stdout);
}

static __attribute__((unused)) int rm_one(const char *path, const struct stat *st, int type,
					  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf `path`; 0 or -1. */
static __attribute__((unused)) int rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/* Makes <argv[1]>/<name> (argv[1] defaults to /tmp), enters it and sets umask 022. */
static __attribute__((unused)) void fs_begin(int argc, char **argv, const char *name)
{
	snprintf(fs_base, sizeof fs_base, "%s", argc > 1 ? argv[1] : "/tmp");
	fs_name = name;
	/* Descriptors inherited from the harness (a jobserver, say) would shift every fd number. */
	if (syscall(SYS_close_range, 3u, ~0u, 0) != 0)
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
	umask(022);
	if (chdir(fs_base) != 0 || rm_rf(name) != 0 || mkdir(name, 0755) != 0 || chdir(name) != 0) {
		printf("setup failed: %s\n", errname(errno));
		exit(1);
	}
	printf("%s: working in a fresh directory\n", name);
	fflush(stdout);
}

/* Leaves and removes the scratch directory; the exit status. */
static __attribute__((unused)) int fs_end(void)
{
	int ok = chdir(fs_base) == 0 && rm_rf(fs_name) == 0;
	printf("cleanup: %s\n", ok ? "ok" : errname(errno));
	return ok ? 0 : 1;
}

/* `path` with the scratch directory's path replaced by "$WORK", for printing paths the kernel
 * returns (/proc/self/fd/N links, getcwd). */
static __attribute__((unused)) const char *relative_to_work(const char *path)
{
	static char out[4096 + 16];
	char work[4096 + 256];
	snprintf(work, sizeof work, "%s/%s", fs_base, fs_name);
	size_t len = strlen(work);
	if (strncmp(path, work, len) == 0 && (path[len] == '/' || path[len] == 0))
		snprintf(out, sizeof out, "$WORK%s", path + len);
	else
		snprintf(out, sizeof out, "%s", path);
	return out;
}

#endif
