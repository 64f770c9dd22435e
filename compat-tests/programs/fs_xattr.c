/* fs_xattr: extended attributes on tmpfs: user.* set, get, list and remove through paths,
 * symlinks (l*) and fds (f*); XATTR_CREATE and XATTR_REPLACE; the size probes (size 0),
 * ERANGE, ENODATA, E2BIG, name limits, unknown namespaces, user.* on a symlink or a fifo,
 * the list order tmpfs gives, and ctime moving. security.* is only read (writing it takes
 * CAP_SYS_ADMIN, which a Docker container's root lacks and the host's root has). */
#define _GNU_SOURCE
#include <sys/xattr.h>
#include "fsutil.h"

static void show_list(const char *what, long n, const char *buf)
{
	printf("%s = %ld:", what, n);
	for (long i = 0; i < n; i += (long)strlen(buf + i) + 1)
		printf(" %s", buf + i);
	printf("\n");
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_xattr");
	char buf[512], big[70000];
	memset(big, 'b', sizeof big);
	CHECK(put_file("f", "data"));
	CHECK(symlink("f", "link"));
	CHECK(mkdir("d", 0755));
	CHECK(mkfifo("fifo", 0644));

	CHECK(setxattr("f", "user.mime", "text/plain", 10, 0));
	CHECK(setxattr("f", "user.mime", "x", 1, XATTR_CREATE));
	CHECK(setxattr("f", "user.none", "x", 1, XATTR_REPLACE));
	CHECK(setxattr("f", "user.mime", "text/html", 9, XATTR_REPLACE));
	CHECK(setxattr("f", "user.empty", "", 0, 0));
	CHECK(setxattr("f", "user.a", "1", 1, XATTR_CREATE | XATTR_REPLACE));
	CHECK(setxattr("f", "user.a", "1", 1, 4));
	CHECK(getxattr("f", "user.mime", NULL, 0));
	long n = getxattr("f", "user.mime", buf, sizeof buf);
	print_bytes("user.mime", buf, n);
	CHECK(getxattr("f", "user.mime", buf, 3));
	CHECK(getxattr("f", "user.empty", buf, sizeof buf));
	CHECK(getxattr("f", "user.missing", buf, sizeof buf));
	CHECK(getxattr("f", "security.selinux", buf, sizeof buf));

	/* Through the symlink: l* acts on the link itself, where user.* is refused. */
	CHECK(getxattr("link", "user.mime", buf, sizeof buf));
	CHECK(lgetxattr("link", "user.mime", buf, sizeof buf));
	CHECK(lsetxattr("link", "user.x", "1", 1, 0));
	CHECK(llistxattr("link", buf, sizeof buf));
	CHECK(setxattr("fifo", "user.x", "1", 1, 0));
	CHECK(getxattr("fifo", "user.x", buf, sizeof buf));
	CHECK(setxattr("d", "user.dir", "yes", 3, 0));
	CHECK(getxattr("d", "user.dir", NULL, 0));

	/* Names and sizes. */
	CHECK(setxattr("f", "", "1", 1, 0));
	CHECK(setxattr("f", "user.", "1", 1, 0));
	CHECK(setxattr("f", "bogus.x", "1", 1, 0));
	CHECK(setxattr("f", "nonamespace", "1", 1, 0));
	char name[300] = "user.";
	memset(name + 5, 'n', 250);
	CHECK(setxattr("f", name, "1", 1, 0));
	name[255] = 'n';
	CHECK(setxattr("f", name, "1", 1, 0));
	CHECK(getxattr("f", name, buf, sizeof buf));
	CHECK(setxattr("f", "user.big", big, 65537, 0));
	CHECK(setxattr("f", "user.big", big, 65536, 0));
	CHECK(getxattr("f", "user.big", NULL, 0));
	CHECK(getxattr("f", "user.big", big, 65536));
	CHECK(removexattr("f", "user.big"));
	CHECK(setxattr("missing", "user.x", "1", 1, 0));
	CHECK(getxattr("missing", "user.x", buf, sizeof buf));

	/* Lists: in tmpfs's order, size probes and ERANGE. */
	CHECK(setxattr("f", "user.zz", "1", 1, 0));
	CHECK(setxattr("f", "user.b", "1", 1, 0));
	n = listxattr("f", buf, sizeof buf);
	show_list("listxattr(f)", n, buf);
	CHECK(listxattr("f", NULL, 0));
	CHECK(listxattr("f", buf, 5));
	n = listxattr("d", buf, sizeof buf);
	show_list("listxattr(d)", n, buf);

	/* Through an fd; an O_PATH fd is refused. */
	int fd = open("f", O_RDWR);
	CHECK(fsetxattr(fd, "user.fd", "via fd", 6, 0));
	n = fgetxattr(fd, "user.fd", buf, sizeof buf);
	print_bytes("user.fd", buf, n);
	CHECK(fremovexattr(fd, "user.fd"));
	CHECK(fremovexattr(fd, "user.fd"));
	n = flistxattr(fd, buf, sizeof buf);
	show_list("flistxattr", n, buf);
	int opath = open("f", O_PATH);
	CHECK(fgetxattr(opath, "user.mime", buf, sizeof buf));
	CHECK(fgetxattr(-1, "user.mime", buf, sizeof buf));

	/* Removing; ctime moves when an attribute changes. */
	struct stat before, after;
	stat("f", &before);
	usleep(20000);
	CHECK(removexattr("f", "user.mime"));
	CHECK(removexattr("f", "user.mime"));
	CHECK(lremovexattr("link", "user.mime"));
	stat("f", &after);
	yes("ctime moved", after.st_ctim.tv_sec != before.st_ctim.tv_sec ||
			       after.st_ctim.tv_nsec != before.st_ctim.tv_nsec);
	n = listxattr("f", buf, sizeof buf);
	show_list("listxattr(f)", n, buf);
	close(fd);
	close(opath);
	fs_end();
	return 0;
}
