/* fs_mount: mounting a tmpfs (as root): size= and mode= options, statfs of it, ENOSPC when it
 * is full, EXDEV for rename and link across it, EBUSY while it is in use, MS_RDONLY,
 * MS_REMOUNT read-only and back, and umount2. */
#define _GNU_SOURCE
#include <sys/mount.h>
#include <sys/statfs.h>
#include "fsutil.h"

static char big[100000];

static void show_statfs(const char *path)
{
	struct statfs s;
	errno = 0;
	if (statfs(path, &s) != 0) {
		printf("statfs(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	printf("statfs(%s): type=0x%lx bsize=%ld blocks=%ld bfree=%ld\n", path, (long)s.f_type,
	       (long)s.f_bsize, (long)s.f_blocks, (long)s.f_bfree);
	fflush(stdout);
}

static int mounted_here(void)
{
	char cwd[4096], line[8192];
	if (!getcwd(cwd, sizeof cwd))
		return -1;
	strcat(cwd, "/mnt ");
	FILE *f = fopen("/proc/self/mounts", "r");
	int count = 0;
	while (f && fgets(line, sizeof line, f))
		count += strstr(line, cwd) != NULL;
	if (f)
		fclose(f);
	return count;
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_mount");
	int fd;
	CHECK(mkdir("mnt", 0755));
	CHECK(put_file("outside", "outside\n"));
	struct stat before, after;
	stat("mnt", &before);
	CHECK(mount("none", "mnt", "tmpfs", 0, "size=64k,mode=0750"));
	printf("mounts listing mnt: %d\n", mounted_here());
	stat("mnt", &after);
	printf("mnt: %s nlink=%lu, another device: %s\n", mode_string(after.st_mode),
	       (unsigned long)after.st_nlink, before.st_dev != after.st_dev ? "yes" : "no");
	show_statfs("mnt");
	struct stat a, b;
	yes("mnt/.. is .", stat("mnt/..", &a) == 0 && stat(".", &b) == 0 && a.st_ino == b.st_ino &&
				  a.st_dev == b.st_dev);

	CHECK(fd = open("mnt/big", O_WRONLY | O_CREAT, 0644));
	CHECK(write(fd, big, sizeof big));
	CHECK(write(fd, big, 1));
	CHECK(close(fd));
	show_statfs("mnt");
	CHECK(put_file("mnt/small", "x"));
	CHECK(unlink("mnt/big"));
	CHECK(put_file("mnt/small", "inside\n"));

	CHECK(rename("outside", "mnt/outside"));
	CHECK(rename("mnt/small", "small"));
	CHECK(link("outside", "mnt/link"));
	CHECK(syscall(SYS_renameat2, AT_FDCWD, "outside", AT_FDCWD, "mnt/small",
		      COMPAT_RENAME_EXCHANGE));
	CHECK(symlink("../outside", "mnt/up"));
	show_file("mnt/up");

	CHECK(rmdir("mnt"));
	CHECK(rename("mnt", "mnt2"));
	CHECK(umount2("outside", 0));
	CHECK(umount2("missing", 0));
	CHECK(mount("none", "missing", "tmpfs", 0, NULL));
	CHECK(mount("none", "outside", "tmpfs", 0, NULL));
	CHECK(mount("none", "mnt", "no-such-fs", 0, NULL));
	CHECK(mount("none", "mnt", "tmpfs", 0, "size=nonsense"));
	CHECK(chdir("mnt"));
	CHECK(umount2("../mnt", 0));
	CHECK(chdir(".."));
	CHECK(fd = open("mnt/small", O_RDONLY));
	CHECK(umount2("mnt", 0));
	CHECK(close(fd));

	/* Remounting read-only (EBUSY while a file on it is open for writing) and back; a
	 * directory that is no mount's root cannot be remounted. */
	CHECK(fd = open("mnt/small", O_WRONLY));
	CHECK(mount(NULL, "mnt", NULL, MS_REMOUNT | MS_RDONLY, NULL));
	CHECK(close(fd));
	CHECK(mount(NULL, "mnt", NULL, MS_REMOUNT | MS_RDONLY, NULL));
	CHECK(put_file("mnt/new", "x"));
	CHECK(open("mnt/small", O_WRONLY));
	CHECK(unlink("mnt/small"));
	show_file("mnt/small");
	CHECK(mount(NULL, "mnt", NULL, MS_REMOUNT, NULL));
	CHECK(mount(NULL, ".", NULL, MS_REMOUNT | MS_RDONLY, NULL));
	CHECK(put_file("mnt/new", "x"));
	CHECK(umount2("mnt", 0x80));
	CHECK(umount2("mnt", 0));
	printf("mounts listing mnt: %d\n", mounted_here());
	CHECK(access("mnt/small", F_OK));
	stat("mnt", &after);
	printf("mnt after umount: %s, the old device: %s\n", mode_string(after.st_mode),
	       before.st_dev == after.st_dev ? "yes" : "no");
	CHECK(umount2("mnt", 0));

	CHECK(mount("none", "mnt", "tmpfs", MS_RDONLY, NULL));
	CHECK(open("mnt/x", O_WRONLY | O_CREAT, 0644));
	CHECK(mkdir("mnt/d", 0755));
	CHECK(umount2("mnt", MNT_DETACH));
	CHECK(rmdir("mnt"));
	return fs_end();
}
