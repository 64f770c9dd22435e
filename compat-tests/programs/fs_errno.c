/* fs_errno: the documented errors of every file syscall as a table: each fd-taking call with
 * fd 9999 and -1 (EBADF), and each path-taking call with a bad pointer (EFAULT), an empty
 * path, a missing directory, a file used as a directory, a 256-byte name and a 5000-byte path
 * (ENAMETOOLONG), a symlink loop (ELOOP), and an existing name for the calls that create.
 * Raw syscalls throughout: libc wrappers may check arguments themselves. */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/uio.h>
#include "fsutil.h"

static char buf[4096];
static struct iovec iov = {buf, 16};
static struct compat_open_how how = {O_RDONLY, 0, 0};
static struct compat_statx sx;

static long fd_call(int which, long fd)
{
	switch (which) {
	case 0: return syscall(SYS_read, fd, buf, 16);
	case 1: return syscall(SYS_write, fd, buf, 16);
	case 2: return syscall(SYS_pread64, fd, buf, 16, 0L);
	case 3: return syscall(SYS_pwrite64, fd, buf, 16, 0L);
	case 4: return syscall(SYS_readv, fd, &iov, 1);
	case 5: return syscall(SYS_writev, fd, &iov, 1);
	case 6: return syscall(SYS_preadv2, fd, &iov, 1, 0L, 0L, 0);
	case 7: return syscall(SYS_pwritev2, fd, &iov, 1, 0L, 0L, 0);
	case 8: return syscall(SYS_lseek, fd, 0L, SEEK_SET);
	case 9: return syscall(SYS_fstat, fd, buf);
	case 10: return syscall(SYS_fstatfs, fd, buf);
	case 11: return syscall(SYS_fsync, fd);
	case 12: return syscall(SYS_fdatasync, fd);
	case 13: return syscall(SYS_syncfs, fd);
	case 14: return syscall(SYS_ftruncate, fd, 0L);
	case 15: return syscall(SYS_fallocate, fd, 0, 0L, 10L);
	case 16: return syscall(SYS_fchmod, fd, 0644);
	case 17: return syscall(SYS_fchown, fd, 0, 0);
	case 18: return syscall(SYS_fchdir, fd);
	case 19: return syscall(SYS_getdents64, fd, buf, sizeof buf);
	case 20: return syscall(SYS_fcntl, fd, F_GETFL);
	case 21: return syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC);
	case 22: return syscall(SYS_dup, fd);
	case 23: return syscall(SYS_dup2, fd, 50);
	case 24: return syscall(SYS_dup3, fd, 50, 0);
	case 25: return syscall(SYS_close, fd);
	case 26: return syscall(SYS_flock, fd, 1);
	case 27: return syscall(SYS_ioctl, fd, FIONREAD, buf);
	case 28: return syscall(SYS_sendfile, fd, 0, NULL, 1L);
	case 29: return syscall(SYS_copy_file_range, fd, NULL, 1, NULL, 1L, 0);
	case 30: return syscall(SYS_openat, fd, "rel", O_RDONLY);
	case 31: return syscall(SYS_openat2, fd, "rel", &how, sizeof how);
	case 32: return syscall(SYS_newfstatat, fd, "rel", buf, 0);
	case 33: return syscall(SYS_newfstatat, fd, "", buf, AT_EMPTY_PATH);
	case 34: return syscall(SYS_statx, fd, "rel", 0, 0x7ffU, &sx);
	case 35: return syscall(SYS_mkdirat, fd, "rel", 0755);
	case 36: return syscall(SYS_mknodat, fd, "rel", S_IFIFO | 0644, 0);
	case 37: return syscall(SYS_unlinkat, fd, "rel", 0);
	case 38: return syscall(SYS_renameat, fd, "rel", AT_FDCWD, "x");
	case 39: return syscall(SYS_renameat2, AT_FDCWD, "file", fd, "x", 0);
	case 40: return syscall(SYS_linkat, fd, "rel", AT_FDCWD, "x", 0);
	case 41: return syscall(SYS_symlinkat, "x", fd, "rel");
	case 42: return syscall(SYS_readlinkat, fd, "rel", buf, sizeof buf);
	case 43: return syscall(SYS_fchmodat, fd, "rel", 0644);
	case 44: return syscall(SYS_fchownat, fd, "rel", 0, 0, 0);
	case 45: return syscall(SYS_faccessat, fd, "rel", F_OK);
	case 46: return syscall(SYS_faccessat2, fd, "rel", F_OK, 0);
	case 47: return syscall(SYS_utimensat, fd, "rel", NULL, 0);
	case 48: return syscall(SYS_utimensat, fd, NULL, NULL, 0);
	case 49: return syscall(SYS_fcntl, fd, F_GETLK, buf);
	case 50: return syscall(SYS_fadvise64, fd, 0L, 0L, 0);
	case 51: return syscall(SYS_readahead, fd, 0L, 10L);
	case 52: return syscall(SYS_ioctl, fd, FIOCLEX);
	}
	return -2;
}

static const char *fd_names[] = {
	"read", "write", "pread64", "pwrite64", "readv", "writev", "preadv2", "pwritev2", "lseek",
	"fstat", "fstatfs", "fsync", "fdatasync", "syncfs", "ftruncate", "fallocate", "fchmod",
	"fchown", "fchdir", "getdents64", "fcntl(F_GETFL)", "fcntl(F_SETFD)", "dup", "dup2",
	"dup3", "close", "flock", "ioctl(FIONREAD)", "sendfile(out)", "copy_file_range(in)",
	"openat", "openat2", "newfstatat", "newfstatat(AT_EMPTY_PATH)", "statx", "mkdirat",
	"mknodat", "unlinkat", "renameat(olddir)", "renameat2(newdir)", "linkat", "symlinkat",
	"readlinkat", "fchmodat", "fchownat", "faccessat", "faccessat2", "utimensat",
	"utimensat(NULL path)", "fcntl(F_GETLK)", "fadvise64", "readahead", "ioctl(FIOCLEX)",
};

static long path_call(int which, const char *p)
{
	switch (which) {
	case 0: return syscall(SYS_open, p, O_RDONLY);
	case 1: return syscall(SYS_open, p, O_WRONLY | O_CREAT, 0644);
	case 2: return syscall(SYS_creat, p, 0644);
	case 3: return syscall(SYS_stat, p, buf);
	case 4: return syscall(SYS_lstat, p, buf);
	case 5: return syscall(SYS_statx, AT_FDCWD, p, 0, 0x7ffU, &sx);
	case 6: return syscall(SYS_statfs, p, buf);
	case 7: return syscall(SYS_access, p, F_OK);
	case 8: return syscall(SYS_faccessat2, AT_FDCWD, p, F_OK, 0);
	case 9: return syscall(SYS_chdir, p);
	case 10: return syscall(SYS_mkdir, p, 0755);
	case 11: return syscall(SYS_mknod, p, S_IFIFO | 0644, 0);
	case 12: return syscall(SYS_rmdir, p);
	case 13: return syscall(SYS_unlink, p);
	case 14: return syscall(SYS_rename, p, "renamed");
	case 15: return syscall(SYS_rename, "file", p);
	case 16:
		return syscall(SYS_renameat2, AT_FDCWD, "file", AT_FDCWD, p,
			       COMPAT_RENAME_NOREPLACE);
	case 17: return syscall(SYS_link, p, "linked");
	case 18: return syscall(SYS_link, "file", p);
	case 19: return syscall(SYS_symlink, "target", p);
	case 20: return syscall(SYS_readlink, p, buf, sizeof buf);
	case 21: return syscall(SYS_chmod, p, 0644);
	case 22: return syscall(SYS_chown, p, 0, 0);
	case 23: return syscall(SYS_lchown, p, 0, 0);
	case 24: return syscall(SYS_truncate, p, 0L);
	case 25: return syscall(SYS_utimensat, AT_FDCWD, p, NULL, 0);
	case 26: return syscall(SYS_openat2, AT_FDCWD, p, &how, sizeof how);
	case 27: return syscall(SYS_utimes, p, NULL);
	}
	return -2;
}

static const char *path_names[] = {
	"open", "open(O_CREAT)", "creat", "stat", "lstat", "statx", "statfs", "access",
	"faccessat2", "chdir", "mkdir", "mknod(FIFO)", "rmdir", "unlink", "rename(old)",
	"rename(new)", "renameat2(new, NOREPLACE)", "link(old)", "link(new)", "symlink(new)",
	"readlink", "chmod", "chown", "lchown", "truncate", "utimensat", "openat2", "utimes",
};

/* A fresh fixture for every call: a file, a directory and a symlink loop. */
static void reset(void)
{
	if (chdir(fs_base) != 0 || rm_rf(fs_name) != 0 || mkdir(fs_name, 0755) != 0 ||
	    chdir(fs_name) != 0 || put_file("file", "contents") != 0 || mkdir("dir", 0755) != 0 ||
	    symlink("loop", "loop") != 0) {
		printf("reset failed: %s\n", errname(errno));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_errno");
	reset();
	int fd_calls = sizeof fd_names / sizeof fd_names[0];
	for (int i = 0; i < fd_calls; i++) {
		errno = 0;
		long a = fd_call(i, 9999);
		int ea = errno;
		errno = 0;
		long b = fd_call(i, -1);
		int eb = errno;
		printf("%s: fd 9999 -> %ld %s, fd -1 -> %ld %s\n", fd_names[i], a,
		       a < 0 ? errname(ea) : "", b, b < 0 ? errname(eb) : "");
	}
	fflush(stdout);

	static char long_name[300], long_path[6000];
	memset(long_name, 'n', 256);
	for (int i = 0; i < 5000; i++)
		long_path[i] = i % 2 ? '/' : 'p';
	struct {
		const char *label;
		const char *path;
	} cases[] = {
		{"bad pointer", BAD_PTR},
		{"empty", ""},
		{"missing/x", "missing/x"},
		{"file/x", "file/x"},
		{"file/", "file/"},
		{"256-byte name", long_name},
		{"5000-byte path", long_path},
		{"loop/x", "loop/x"},
		{"loop", "loop"},
		{"existing file", "file"},
		{"existing dir", "dir"},
		{"new name", "new"},
	};
	int path_calls = sizeof path_names / sizeof path_names[0];
	for (int i = 0; i < path_calls; i++) {
		printf("%s:", path_names[i]);
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			reset();
			errno = 0;
			long r = path_call(i, cases[c].path);
			printf(" %s=%s", cases[c].label, r < 0 ? errname(errno) : "ok");
			if (r >= 0 && (i <= 2 || i == 26))
				close((int)r);
		}
		printf("\n");
		fflush(stdout);
	}
	return fs_end();
}
