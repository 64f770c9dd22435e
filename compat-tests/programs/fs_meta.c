/* fs_meta: metadata: stat/statx fields, chmod/chown families (and the set-id bits they clear),
 * utimensat and friends with exact times, which calls change mtime/ctime, access/faccessat2
 * as root, umask, and statfs of tmpfs, /proc and /sys. */
#define _GNU_SOURCE
#include <sys/statfs.h>
#include <sys/time.h>
#include <time.h>
#include <utime.h>
#include "fsutil.h"

#define SYS_fchmodat2_ 452
#define UTIME_NOW_ ((1L << 30) - 1L)
#define UTIME_OMIT_ ((1L << 30) - 2L)

static void pause_a_tick(void)
{
	struct timespec t = {0, 20000000};
	nanosleep(&t, NULL);
}

static void ids_and_mode(const char *path)
{
	struct stat st;
	errno = 0;
	if (lstat(path, &st) != 0) {
		printf("lstat(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	printf("%s: %s uid=%u gid=%u\n", path, mode_string(st.st_mode), (unsigned)st.st_uid,
	       (unsigned)st.st_gid);
	fflush(stdout);
}

static void times_of(const char *label, const char *path, int follow)
{
	struct stat st;
	errno = 0;
	if ((follow ? stat(path, &st) : lstat(path, &st)) != 0) {
		printf("%s: -1 %s\n", label, errname(errno));
		return;
	}
	printf("%s: atime=%lld.%09ld mtime=%lld.%09ld\n", label, (long long)st.st_atim.tv_sec,
	       st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	fflush(stdout);
}

static int ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Runs `change` (a label) after a pause and says which of mtime and ctime of `path` moved. */
#define CHANGES(path, label, expr)                                                         \
	do {                                                                               \
		struct stat b_, a_;                                                        \
		lstat(path, &b_);                                                          \
		pause_a_tick();                                                            \
		errno = 0;                                                                 \
		long r_ = (long)(expr);                                                    \
		lstat(path, &a_);                                                          \
		printf("%s = %ld%s%s: mtime changed: %s, ctime changed: %s\n", label, r_,   \
		       r_ < 0 ? " " : "", r_ < 0 ? errname(errno) : "",                    \
		       ts_equal(b_.st_mtim, a_.st_mtim) ? "no" : "yes",                    \
		       ts_equal(b_.st_ctim, a_.st_ctim) ? "no" : "yes");                   \
		fflush(stdout);                                                            \
	} while (0)

static void stats(void)
{
	struct stat st, dir;
	CHECK(put_file("f", "0123456789"));
	CHECK(stat("f", &st));
	CHECK(stat(".", &dir));
	printf("f: %s nlink=%lu size=%lld blocks=%lld blksize=%ld same dev as .: %s\n",
	       mode_string(st.st_mode), (unsigned long)st.st_nlink, (long long)st.st_size,
	       (long long)st.st_blocks, (long)st.st_blksize,
	       st.st_dev == dir.st_dev ? "yes" : "no");
	struct stat fresh;
	int fd = open("fresh", O_WRONLY | O_CREAT, 0644);
	CHECK(fstat(fd, &fresh));
	close(fd);
	yes("atime, mtime and ctime of a new file are equal",
	    ts_equal(fresh.st_atim, fresh.st_mtim) && ts_equal(fresh.st_mtim, fresh.st_ctim));
	long now = time(NULL);
	yes("mtime is within 10 s of time()",
	    st.st_mtim.tv_sec >= now - 10 && st.st_mtim.tv_sec <= now + 10);

	struct compat_statx sx;
	unsigned mask = COMPAT_STATX_BASIC_STATS | COMPAT_STATX_BTIME;
	CHECK(syscall(SYS_statx, AT_FDCWD, "f", 0, mask, &sx));
	printf("statx(f): mask&0xfff=0x%x mode=0%o nlink=%u uid=%u size=%llu blocks=%llu "
	       "blksize=%u\n",
	       sx.stx_mask & 0xfff, sx.stx_mode, sx.stx_nlink, sx.stx_uid,
	       (unsigned long long)sx.stx_size, (unsigned long long)sx.stx_blocks, sx.stx_blksize);
	yes("statx times match stat", sx.stx_mtime.tv_sec == st.st_mtim.tv_sec &&
					      sx.stx_mtime.tv_nsec == (uint32_t)st.st_mtim.tv_nsec);
	yes("statx ino matches stat", sx.stx_ino == st.st_ino);
	yes("btime is not after mtime", (sx.stx_mask & COMPAT_STATX_BTIME) == 0 ||
					       sx.stx_btime.tv_sec <= sx.stx_mtime.tv_sec);
	CHECK(symlink("f", "link"));
	CHECK(syscall(SYS_statx, AT_FDCWD, "link", AT_SYMLINK_NOFOLLOW, mask, &sx));
	printf("statx(link, NOFOLLOW): mode=0%o size=%llu\n", sx.stx_mode,
	       (unsigned long long)sx.stx_size);
	CHECK(syscall(SYS_statx, AT_FDCWD, "link", 0, mask, &sx));
	printf("statx(link): mode=0%o size=%llu\n", sx.stx_mode, (unsigned long long)sx.stx_size);
	fd = open("f", O_RDONLY);
	CHECK(syscall(SYS_statx, fd, "", AT_EMPTY_PATH, mask, &sx));
	printf("statx(fd, \"\", AT_EMPTY_PATH): size=%llu\n", (unsigned long long)sx.stx_size);
	CHECK(syscall(SYS_statx, fd, "", 0, mask, &sx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "f", 0x6000, mask, &sx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "f", 0, 0x80000000U, &sx));
	CHECK(syscall(SYS_statx, AT_FDCWD, "f", 0, mask, BAD_PTR));
	CHECK(syscall(SYS_statx, AT_FDCWD, "missing", 0, mask, &sx));
	CHECK(syscall(SYS_statx, 9999, "", AT_EMPTY_PATH, mask, &sx));
	CHECK(close(fd));
	CHECK(fstat(9999, &st));
	CHECK(fstat(-1, &st));
	CHECK(syscall(SYS_fstat, 0, BAD_PTR));
}

static void modes_and_owners(void)
{
	int fd;
	CHECK(chmod("f", 0600));
	ids_and_mode("f");
	CHECK(chmod("f", 07777));
	ids_and_mode("f");
	CHECK(chmod("f", 0170644));
	ids_and_mode("f");
	CHECK(chmod("link", 0640));
	ids_and_mode("f");
	ids_and_mode("link");
	CHECK(chmod("missing", 0644));
	CHECK(fd = open("f", O_RDONLY));
	CHECK(fchmod(fd, 0604));
	ids_and_mode("f");
	CHECK(fchmod(9999, 0644));
	CHECK(fchmodat(AT_FDCWD, "f", 0644, 0));
	CHECK(syscall(SYS_fchmodat, AT_FDCWD, "link", 0600));
	ids_and_mode("f");
	CHECK(syscall(SYS_fchmodat2_, AT_FDCWD, "link", 0644, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_fchmodat2_, AT_FDCWD, "f", 0640, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_fchmodat2_, fd, "", 0644, AT_EMPTY_PATH));
	CHECK(syscall(SYS_fchmodat2_, AT_FDCWD, "f", 0644, 0x1));
	ids_and_mode("f");

	CHECK(chown("f", 1000, 2000));
	ids_and_mode("f");
	CHECK(chown("f", -1, 3000));
	ids_and_mode("f");
	CHECK(lchown("link", 4000, 4000));
	ids_and_mode("link");
	ids_and_mode("f");
	CHECK(chown("link", 0, 0));
	ids_and_mode("f");
	CHECK(fchown(fd, 5, 6));
	ids_and_mode("f");
	CHECK(fchownat(AT_FDCWD, "link", 7, 7, AT_SYMLINK_NOFOLLOW));
	ids_and_mode("link");
	CHECK(fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
	ids_and_mode("f");
	CHECK(fchownat(AT_FDCWD, "f", 0, 0, 0x2));
	CHECK(fchown(9999, 0, 0));
	CHECK(close(fd));

	/* chown clears set-user-ID, and set-group-ID when group-executable, even for root. */
	CHECK(chmod("f", 06755));
	CHECK(chown("f", 0, 0));
	ids_and_mode("f");
	CHECK(chmod("f", 02644));
	CHECK(chown("f", 0, 0));
	ids_and_mode("f");
	CHECK(mkdir("d", 0755));
	CHECK(chmod("d", 02755));
	CHECK(chown("d", 0, 0));
	ids_and_mode("d");
	/* Root writing keeps the set-user-ID bit (CAP_FSETID). */
	CHECK(chmod("f", 04755));
	CHECK(fd = open("f", O_WRONLY | O_APPEND));
	CHECK(write(fd, "x", 1));
	CHECK(close(fd));
	ids_and_mode("f");
	CHECK(chmod("f", 0644));
}

static void times(void)
{
	struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 987654321}};
	CHECK(utimensat(AT_FDCWD, "f", ts, 0));
	times_of("f", "f", 1);
	struct timespec omit[2] = {{0, UTIME_OMIT_}, {2000000000, 5}};
	CHECK(utimensat(AT_FDCWD, "f", omit, 0));
	times_of("f", "f", 1);
	struct timespec now[2] = {{0, UTIME_NOW_}, {0, UTIME_OMIT_}};
	CHECK(utimensat(AT_FDCWD, "f", now, 0));
	struct stat st;
	stat("f", &st);
	long t = time(NULL);
	yes("UTIME_NOW set atime to now",
	    st.st_atim.tv_sec >= t - 10 && st.st_atim.tv_sec <= t + 10);
	printf("mtime kept: %lld\n", (long long)st.st_mtim.tv_sec);
	CHECK(utimensat(AT_FDCWD, "f", NULL, 0));
	stat("f", &st);
	yes("NULL set mtime to now", st.st_mtim.tv_sec >= t - 10 && st.st_mtim.tv_sec <= t + 10);
	CHECK(utimensat(AT_FDCWD, "link", ts, AT_SYMLINK_NOFOLLOW));
	times_of("lstat(link)", "link", 0);
	yes("the target was not touched", stat("f", &st) == 0 && st.st_mtim.tv_sec != ts[1].tv_sec);
	int fd = open("f", O_RDONLY);
	CHECK(futimens(fd, ts));
	times_of("f after futimens", "f", 1);
	CHECK(syscall(SYS_utimensat, fd, NULL, omit, 0));
	times_of("f after utimensat(fd, NULL)", "f", 1);
	CHECK(close(fd));
	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	CHECK(utimensat(AT_FDCWD, "f", bad, 0));
	bad[0].tv_nsec = -1;
	CHECK(utimensat(AT_FDCWD, "f", bad, 0));
	CHECK(utimensat(AT_FDCWD, "f", ts, 0x4));
	CHECK(utimensat(AT_FDCWD, "missing", ts, 0));
	CHECK(syscall(SYS_utimensat, AT_FDCWD, "f", BAD_PTR, 0));
	struct timeval tv[2] = {{300000000, 7}, {400000000, 8}};
	CHECK(syscall(SYS_utimes, "f", tv));
	times_of("f after utimes", "f", 1);
	struct utimbuf ub = {500000000, 600000000};
	CHECK(syscall(SYS_utime, "f", &ub));
	times_of("f after utime", "f", 1);

	/* Which calls move mtime and ctime. */
	CHANGES("f", "chmod", chmod("f", 0600));
	CHANGES("f", "chown", chown("f", 0, 0));
	CHANGES("f", "link", link("f", "f2"));
	CHANGES("f", "unlink other name", unlink("f2"));
	CHANGES("f", "rename to itself", rename("f", "f"));
	CHANGES("f", "rename away and back", rename("f", "f3") || rename("f3", "f"));
	CHANGES("f", "truncate to same size", truncate("f", 11));
	CHANGES("f", "truncate", truncate("f", 4));
	CHANGES("f", "write", put_file("f", "new"));
	CHANGES("f", "open O_RDONLY and read", ({
			char b[4];
			int rfd = open("f", O_RDONLY);
			long n = read(rfd, b, 4);
			close(rfd);
			n;
		}));
	CHANGES("f", "utimensat", utimensat(AT_FDCWD, "f", ts, 0));
	CHANGES("f", "failed chmod", chmod("f/", 0600));
	CHANGES(".", "create in .", put_file("g", "g"));
	CHANGES(".", "write to existing entry", put_file("g", "gg"));
	CHANGES(".", "unlink in .", unlink("g"));
	CHANGES(".", "mkdir in .", mkdir("sub", 0755));
	CHANGES(".", "chmod of a child", chmod("sub", 0700));
}

static void access_and_umask(void)
{
	CHECK(put_file("none", ""));
	CHECK(chmod("none", 0));
	CHECK(access("none", R_OK | W_OK));
	CHECK(access("none", X_OK));
	CHECK(access("none", F_OK));
	CHECK(chmod("none", 0010));
	CHECK(access("none", X_OK));
	CHECK(mkdir("closed", 0));
	CHECK(access("closed", R_OK | W_OK | X_OK));
	CHECK(access("missing", F_OK));
	CHECK(access("none", 8));
	CHECK(access("none/x", F_OK));
	CHECK(symlink("missing", "dangling"));
	CHECK(faccessat(AT_FDCWD, "dangling", F_OK, 0));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "none", X_OK, AT_EACCESS));
	CHECK(syscall(SYS_faccessat2, AT_FDCWD, "none", F_OK, 0x1));
	int fd = open("none", O_RDONLY);
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
	CHECK(syscall(SYS_faccessat2, fd, "", R_OK, 0));
	CHECK(close(fd));

	printf("umask(077) returned 0%o\n", (unsigned)umask(077));
	CHECK(put_file("masked", ""));
	CHECK(mkdir("masked-dir", 0777));
	CHECK(mknod("masked-fifo", S_IFIFO | 0666, 0));
	ids_and_mode("masked");
	ids_and_mode("masked-dir");
	ids_and_mode("masked-fifo");
	printf("umask(0) returned 0%o\n", (unsigned)umask(0));
	CHECK(put_file("unmasked", ""));
	ids_and_mode("unmasked");
	CHECK(symlink("x", "masked-link"));
	ids_and_mode("masked-link");
	printf("umask(0777777) returned 0%o\n", (unsigned)umask(0777777));
	printf("umask(022) returned 0%o\n", (unsigned)umask(022));
}

static void filesystems(void)
{
	struct statfs s;
	CHECK(statfs(".", &s));
	printf("statfs(.): type=0x%lx bsize=%ld namelen=%ld frsize=%ld\n", (long)s.f_type,
	       (long)s.f_bsize, (long)s.f_namelen, (long)s.f_frsize);
	int fd = open(".", O_RDONLY);
	CHECK(fstatfs(fd, &s));
	printf("fstatfs(.): type=0x%lx\n", (long)s.f_type);
	CHECK(close(fd));
	CHECK(statfs("/proc", &s));
	printf("statfs(/proc): type=0x%lx\n", (long)s.f_type);
	CHECK(statfs("/proc/self", &s));
	printf("statfs(/proc/self): type=0x%lx\n", (long)s.f_type);
	CHECK(statfs("/sys", &s));
	printf("statfs(/sys): type=0x%lx\n", (long)s.f_type);
	CHECK(statfs("missing", &s));
	CHECK(fstatfs(9999, &s));
	CHECK(syscall(SYS_statfs, ".", BAD_PTR));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_meta");
	stats();
	modes_and_owners();
	times();
	access_and_umask();
	filesystems();
	return fs_end();
}
