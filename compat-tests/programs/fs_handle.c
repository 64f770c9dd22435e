/* fs_handle: name_to_handle_at and open_by_handle_at on tmpfs. The EOVERFLOW handshake
 * (handle_bytes 0 asks for the size), MAX_HANDLE_SZ, flags, links and symlinks (one handle
 * per inode), AT_EMPTY_PATH, the mount id /proc/self/mountinfo lists; then, as a Docker
 * container's root (no CAP_DAC_READ_SEARCH), open_by_handle_at's EBADF and EPERM. */
#define _GNU_SOURCE
#include <sys/wait.h>
#include "fsutil.h"
#include "credutil.h"

#define MAX_HANDLE 128

struct handle {
	unsigned int bytes;
	int type;
	unsigned char f[MAX_HANDLE];
};

static long get(const char *path, struct handle *h, int *mnt, int flags)
{
	memset(h, 0, sizeof *h);
	h->bytes = MAX_HANDLE;
	return syscall(SYS_name_to_handle_at, AT_FDCWD, path, h, mnt, flags);
}

static int same(const struct handle *a, const struct handle *b)
{
	return a->bytes == b->bytes && a->type == b->type && memcmp(a->f, b->f, a->bytes) == 0;
}

static int listed(int mnt)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	int found = 0;
	while (f && fgets(line, sizeof line, f))
		if (atoi(line) == mnt)
			found = 1;
	if (f)
		fclose(f);
	return found;
}

static void as_container_root(struct handle *h)
{
	pid_t pid = fork();
	if (pid == 0) {
		cred_start();
		int dir = open(".", O_RDONLY | O_DIRECTORY);
		CHECK(syscall(SYS_open_by_handle_at, 99, h, O_RDONLY));
		CHECK(syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY));
		CHECK(syscall(SYS_open_by_handle_at, dir, h, O_RDONLY));
		CHECK(syscall(SYS_open_by_handle_at, dir, BAD_PTR, O_RDONLY));
		struct handle empty = {0};
		CHECK(syscall(SYS_open_by_handle_at, dir, &empty, O_RDONLY));
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	printf("child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_handle");
	CHECK(put_file("f", "data"));
	CHECK(put_file("g", "other"));
	CHECK(link("f", "hard"));
	CHECK(symlink("f", "sym"));
	CHECK(mkdir("d", 0755));

	struct handle h, h2;
	int mnt = -1, mnt2 = -1;
	memset(&h, 0, sizeof h);
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, 0));
	printf("asked with 0 bytes: handle_bytes=%u handle_type=%d\n", h.bytes, h.type);
	yes("mount id written", mnt > 0);
	h.bytes = MAX_HANDLE + 1;
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, 0));
	h.bytes = 11;
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, 0));
	CHECK(get("f", &h, &mnt, 0));
	printf("handle_bytes=%u handle_type=%d\n", h.bytes, h.type);
	yes("mount id is listed in /proc/self/mountinfo", listed(mnt));
	CHECK(get("hard", &h2, &mnt2, 0));
	yes("a hard link has the same handle", same(&h, &h2) && mnt == mnt2);
	CHECK(get("g", &h2, &mnt2, 0));
	yes("another file has another handle", !same(&h, &h2));
	CHECK(get("sym", &h2, &mnt2, 0));
	yes("a symlink, not followed, has its own", !same(&h, &h2));
	CHECK(get("sym", &h2, &mnt2, AT_SYMLINK_FOLLOW));
	yes("followed, the target's", same(&h, &h2));
	CHECK(get("d", &h2, &mnt2, 0));
	CHECK(get(".", &h2, &mnt2, 0));
	int fd = open("f", O_RDONLY);
	memset(&h2, 0, sizeof h2);
	h2.bytes = MAX_HANDLE;
	CHECK(syscall(SYS_name_to_handle_at, fd, "", &h2, &mnt2, AT_EMPTY_PATH));
	yes("AT_EMPTY_PATH names the fd's file", same(&h, &h2));
	close(fd);
	CHECK(get("", &h2, &mnt2, 0));
	CHECK(get("missing", &h2, &mnt2, 0));
	CHECK(get("f/", &h2, &mnt2, 0));
	CHECK(get("f", &h2, &mnt2, 0x8000));
	CHECK(get("f", &h2, &mnt2, 0x200 | 0x002));
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", BAD_PTR, &mnt2, 0));
	CHECK(syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h2, BAD_PTR, 0));
	CHECK(syscall(SYS_name_to_handle_at, 99, "f", &h2, &mnt2, 0));

	as_container_root(&h);
	return fs_end();
}
