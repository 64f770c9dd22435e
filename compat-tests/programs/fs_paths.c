/* fs_paths: path resolution: trailing slashes, dots, `..` at /, empty paths and AT_EMPTY_PATH,
 * ENAMETOOLONG, ELOOP and O_NOFOLLOW, dirfds, openat2's RESOLVE_* flags, chdir and getcwd. */
#define _GNU_SOURCE
#include "fsutil.h"

static int same_file(const char *a, const char *b)
{
	struct stat x, y;
	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev;
}

static void kind(const char *what, int follow)
{
	struct stat st;
	errno = 0;
	int r = follow ? stat(what, &st) : lstat(what, &st);
	if (r != 0)
		printf("%s(\"%s\") = -1 %s\n", follow ? "stat" : "lstat", what, errname(errno));
	else
		printf("%s(\"%s\") = 0 %s\n", follow ? "stat" : "lstat", what,
		       mode_string(st.st_mode));
	fflush(stdout);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void show_cwd_tail(const char *suffix)
{
	char buf[4096];
	errno = 0;
	if (!getcwd(buf, sizeof buf)) {
		printf("getcwd = NULL %s\n", errname(errno));
		return;
	}
	printf("getcwd ends with %s: %s\n", suffix, ends_with(buf, suffix) ? "yes" : "no");
	fflush(stdout);
}

static void slashes_and_dots(void)
{
	CHECK(put_file("f", "file\n"));
	CHECK(mkdir("dir", 0755));
	CHECK(mkdir("dir/sub", 0755));
	CHECK(symlink("dir", "ls"));
	CHECK(symlink("nowhere", "dangling"));
	CHECK(symlink("f", "lf"));

	kind("f/", 1);
	kind("f/.", 1);
	kind("f/..", 1);
	kind("dir/", 1);
	kind("dir//.//", 1);
	kind("dir//sub", 1);
	kind("./././f", 1);
	kind("dir/../f", 1);
	kind("dir/sub/../../f", 1);
	kind("missing/../f", 1);
	kind("ls", 0);
	kind("ls/", 0);
	kind("ls/.", 0);
	kind("lf/", 0);
	kind("lf/", 1);
	kind("dangling", 0);
	kind("dangling", 1);
	kind("dangling/", 0);
	CHECK(open("f/", O_RDONLY));
	CHECK(open("newf/", O_WRONLY | O_CREAT, 0644));
	yes("newf was not created", access("newf", F_OK) != 0);
	CHECK(open("dir/", O_RDONLY | O_DIRECTORY) >= 0);
	CHECK(mkdir("nd/", 0755));
	CHECK(rmdir("nd/"));
	CHECK(mkdir("nd//", 0755));
	CHECK(rmdir("nd//"));
	CHECK(mkdir("dangling", 0755));
	CHECK(mkdir("dangling/", 0755));
	CHECK(mkdir("ls/", 0755));
	CHECK(unlink("f/"));
	CHECK(unlink("dir/"));
	CHECK(unlink("dir"));
	CHECK(rmdir("dir/sub/."));
	CHECK(rmdir("dir/sub/.."));
	CHECK(rmdir("."));
	CHECK(rmdir("f"));
	CHECK(rmdir("ls"));
	CHECK(rmdir("ls/"));
	CHECK(symlink("f", "newlink/"));
	CHECK(link("f", "newlink/"));
	CHECK(link("f/", "newlink"));
	CHECK(rename("f", "g/"));
	CHECK(rename("f/", "g"));
	yes("f still there", access("f", F_OK) == 0);
	CHECK(mknod("fifo/", S_IFIFO | 0644, 0));
	CHECK(access("f/", F_OK));
	CHECK(access("dir/", F_OK));
	CHECK(truncate("f/", 0));
}

static void root_and_empty(void)
{
	yes("/.. is /", same_file("/..", "/"));
	yes("/../../.. is /", same_file("/../../..", "/"));
	yes("//. is /", same_file("//.", "/"));
	yes(". is ./dir/..", same_file(".", "./dir/.."));
	int here = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(chdir("/"));
	CHECK(chdir(".."));
	char buf[64];
	errno = 0;
	printf("getcwd after chdir(\"/..\") = %s\n",
	       getcwd(buf, sizeof buf) ? buf : errname(errno));
	int root = open("/", O_RDONLY | O_DIRECTORY);
	int up = openat(root, "..", O_RDONLY | O_DIRECTORY);
	struct stat a, b;
	fstat(root, &a);
	fstat(up, &b);
	yes("openat(/, \"..\") is /", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(up);
	close(root);
	CHECK(fchdir(here));
	show_cwd_tail("/fs_paths");
	CHECK(close(here));

	struct stat st;
	CHECK(stat("", &st));
	CHECK(lstat("", &st));
	CHECK(open("", O_RDONLY));
	CHECK(mkdir("", 0755));
	CHECK(unlink(""));
	CHECK(chdir(""));
	CHECK(access("", F_OK));
	int fd = open("f", O_RDONLY);
	CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH));
	printf("fstatat(fd, \"\", AT_EMPTY_PATH): %s size=%lld\n", mode_string(st.st_mode),
	       (long long)st.st_size);
	CHECK(fstatat(fd, "", &st, 0));
	CHECK(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
	printf("fstatat(AT_FDCWD, \"\", AT_EMPTY_PATH): %s\n", mode_string(st.st_mode));
	CHECK(fstatat(9999, "", &st, AT_EMPTY_PATH));
	CHECK(fstatat(-1, "", &st, AT_EMPTY_PATH));
	CHECK(fstatat(AT_FDCWD, "f", &st, 0x40000000));
	CHECK(fstatat(fd, "x", &st, 0));
	CHECK(fstatat(fd, "/", &st, 0));
	CHECK(close(fd));
}

static void long_names(void)
{
	char name[300], path[6000];
	memset(name, 'n', 255);
	name[255] = 0;
	int fd;
	CHECK(fd = open(name, O_WRONLY | O_CREAT, 0644));
	CHECK(close(fd));
	CHECK(unlink(name));
	CHECK(mkdir(name, 0755));
	CHECK(rmdir(name));
	name[255] = 'n';
	name[256] = 0;
	CHECK(open(name, O_WRONLY | O_CREAT, 0644));
	CHECK(mkdir(name, 0755));
	CHECK(access(name, F_OK));
	CHECK(symlink("f", name));
	CHECK(rename("f", name));
	CHECK(unlink(name));
	/* Every byte but NUL and '/' is allowed in a name. */
	int len = 0;
	for (int c = 1; c < 256; c++)
		if (c != '/')
			name[len++] = (char)c;
	name[len] = 0;
	CHECK(fd = open(name, O_WRONLY | O_CREAT, 0644));
	CHECK(close(fd));
	CHECK(access(name, F_OK));
	CHECK(unlink(name));

	/* PATH_MAX (4096) counts the NUL: 4095 characters resolve, 4096 do not. */
	for (int n = 0; n < 4094; n += 2)
		memcpy(path + n, "./", 2);
	strcpy(path + 4094, "f");
	printf("strlen(path) = %zu\n", strlen(path));
	CHECK(access(path, F_OK));
	memcpy(path + 4094, "/f", 3);
	printf("strlen(path) = %zu\n", strlen(path));
	CHECK(access(path, F_OK));
	CHECK(open(path, O_RDONLY));
	memset(path, 'a', 5000);
	for (int n = 1; n < 5000; n += 2)
		path[n] = '/';
	path[5000] = 0;
	printf("strlen(path) = %zu\n", strlen(path));
	CHECK(open(path, O_RDONLY));
	CHECK(mkdir(path, 0755));
	struct stat st;
	CHECK(stat(path, &st));
	CHECK(chdir(path));

	/* A tree deeper than PATH_MAX: every step is fine, the whole path is not. */
	memset(name, 'd', 200);
	name[200] = 0;
	int depth = 0, ok = 1;
	for (; depth < 30 && ok; depth++)
		ok = mkdir(name, 0755) == 0 && chdir(name) == 0;
	printf("made and entered %d levels of 200-byte names: %s\n", depth,
	       ok ? "ok" : errname(errno));
	char cwd[8192];
	errno = 0;
	long r = syscall(SYS_getcwd, cwd, sizeof cwd);
	printf("getcwd at depth 30 = %s\n", r < 0 ? errname(errno) : "a path");
	CHECK(put_file("bottom", "deep\n"));
	show_file("bottom");
	CHECK(unlink("bottom"));
	int cleaned = 0;
	for (int i = 0; i < depth; i++)
		cleaned += chdir("..") == 0 && rmdir(name) == 0;
	printf("removed %d levels\n", cleaned);
	show_cwd_tail("/fs_paths");
}

static void loops(void)
{
	char from[16], to[16];
	CHECK(symlink("f", "s1"));
	for (int i = 2; i <= 41; i++) {
		snprintf(from, sizeof from, "s%d", i - 1);
		snprintf(to, sizeof to, "s%d", i);
		if (symlink(from, to) != 0)
			printf("symlink(%s) failed: %s\n", to, errname(errno));
	}
	int fd;
	CHECK(fd = open("s40", O_RDONLY));
	CHECK(close(fd));
	CHECK(open("s41", O_RDONLY));
	kind("s41", 1);
	kind("s41", 0);
	CHECK(symlink("loop", "loop"));
	kind("loop", 1);
	kind("loop/", 0);
	CHECK(open("loop", O_RDONLY | O_CREAT, 0644));
	CHECK(symlink("lb", "la"));
	CHECK(symlink("la", "lb"));
	kind("la", 1);
	CHECK(open("lf", O_RDONLY | O_NOFOLLOW));
	CHECK(open("dangling", O_RDONLY | O_NOFOLLOW));
	CHECK(open("ls", O_RDONLY | O_NOFOLLOW | O_DIRECTORY));
	CHECK(fd = open("ls/sub", O_RDONLY | O_NOFOLLOW));
	CHECK(close(fd));
	CHECK(fd = open("lf", O_PATH | O_NOFOLLOW));
	struct stat st;
	CHECK(fstat(fd, &st));
	printf("O_PATH|O_NOFOLLOW fstat: %s size=%lld\n", mode_string(st.st_mode),
	       (long long)st.st_size);
	char buf[64];
	long n;
	SHOW("readlinkat(O_PATH fd, \"\")", n = readlinkat(fd, "", buf, sizeof buf));
	if (n >= 0)
		print_bytes("target", buf, n);
	CHECK(read(fd, buf, 1));
	CHECK(close(fd));
}

static void dirfds(void)
{
	int d, f, fd;
	CHECK(d = open("dir", O_RDONLY | O_DIRECTORY));
	CHECK(f = open("f", O_RDONLY));
	CHECK(fd = openat(d, "sub", O_RDONLY | O_DIRECTORY));
	CHECK(close(fd));
	CHECK(openat(f, "x", O_RDONLY));
	CHECK(openat(9999, "x", O_RDONLY));
	CHECK(openat(-1, "x", O_RDONLY));
	CHECK(fd = openat(9999, "/", O_RDONLY));
	CHECK(close(fd));
	CHECK(mkdirat(d, "made", 0755));
	kind("dir/made", 1);
	CHECK(unlinkat(d, "made", AT_REMOVEDIR));
	CHECK(unlinkat(d, "sub", 0));
	CHECK(unlinkat(d, "sub", 0x1));
	CHECK(faccessat(d, "sub", F_OK, 0));
	CHECK(faccessat(f, "sub", F_OK, 0));

	/* openat2 (5.6): strict arguments, and resolution confined by RESOLVE_* flags. */
	struct compat_open_how how = {O_RDONLY, 0, COMPAT_RESOLVE_BENEATH};
	CHECK(fd = syscall(SYS_openat2, d, "sub", &how, sizeof how));
	CHECK(close(fd));
	CHECK(syscall(SYS_openat2, d, "../f", &how, sizeof how));
	CHECK(syscall(SYS_openat2, d, "/", &how, sizeof how));
	CHECK(syscall(SYS_openat2, d, "sub/..", &how, sizeof how) >= 0);
	how.resolve = COMPAT_RESOLVE_NO_SYMLINKS;
	CHECK(syscall(SYS_openat2, AT_FDCWD, "ls/sub", &how, sizeof how));
	CHECK(syscall(SYS_openat2, AT_FDCWD, "lf", &how, sizeof how));
	how.resolve = COMPAT_RESOLVE_IN_ROOT;
	CHECK(fd = syscall(SYS_openat2, d, "/sub", &how, sizeof how));
	CHECK(close(fd));
	CHECK(fd = syscall(SYS_openat2, d, "../../sub", &how, sizeof how));
	CHECK(close(fd));
	CHECK(syscall(SYS_openat2, d, "/f", &how, sizeof how));
	how.resolve = COMPAT_RESOLVE_NO_MAGICLINKS;
	char magic[32];
	snprintf(magic, sizeof magic, "/proc/self/fd/%d", f);
	SHOW("openat2(\"/proc/self/fd/N\", NO_MAGICLINKS)",
	     syscall(SYS_openat2, AT_FDCWD, magic, &how, sizeof how));
	how.resolve = 0;
	CHECK(fd = syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
	CHECK(close(fd));
	CHECK(syscall(SYS_openat2, AT_FDCWD, "f", &how, 8));
	CHECK(syscall(SYS_openat2, AT_FDCWD, "f", &how, 4096L * 2));
	how.resolve = 0x80;
	SHOW("openat2 with an unknown RESOLVE_ bit",
	     syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
	how.resolve = 0;
	how.mode = 0644;
	SHOW("openat2 with a mode but no O_CREAT",
	     syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
	how.mode = 0;
	how.flags = 1UL << 40;
	SHOW("openat2 with flag bit 40", syscall(SYS_openat2, AT_FDCWD, "f", &how, sizeof how));
	CHECK(syscall(SYS_openat2, AT_FDCWD, "f", BAD_PTR, sizeof how));

	CHECK(chdir("f"));
	CHECK(chdir("missing"));
	CHECK(chdir("ls"));
	show_cwd_tail("/fs_paths/dir");
	CHECK(chdir(".."));
	show_cwd_tail("/fs_paths");
	CHECK(fchdir(f));
	CHECK(fchdir(9999));
	CHECK(fd = open("dir/sub", O_PATH));
	CHECK(fchdir(fd));
	show_cwd_tail("/fs_paths/dir/sub");
	CHECK(chdir("../.."));
	CHECK(close(fd));
	CHECK(close(d));
	CHECK(close(f));
}

static void bad_pointers(void)
{
	CHECK(syscall(SYS_open, BAD_PTR, O_RDONLY));
	CHECK(syscall(SYS_openat, AT_FDCWD, BAD_PTR, O_RDONLY));
	CHECK(syscall(SYS_stat, BAD_PTR, BAD_PTR));
	CHECK(syscall(SYS_stat, "f", BAD_PTR));
	CHECK(syscall(SYS_mkdir, BAD_PTR, 0755));
	CHECK(syscall(SYS_chdir, BAD_PTR));
	CHECK(syscall(SYS_access, BAD_PTR, F_OK));
	CHECK(syscall(SYS_getcwd, BAD_PTR, 4096));
	CHECK(syscall(SYS_getcwd, BAD_PTR, 1));
	char small[2];
	CHECK(syscall(SYS_getcwd, small, sizeof small));
	CHECK(syscall(SYS_getcwd, small, 0));
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_paths");
	slashes_and_dots();
	root_and_empty();
	long_names();
	loops();
	dirfds();
	bad_pointers();
	return fs_end();
}
