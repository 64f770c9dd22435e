/* fs_many: one directory with 100,000 files: create them, list them with getdents64 (each name
 * once, tmpfs order, directory size), then delete each as the listing returns it, and count
 * again. Prints only counts and a few names. */
#define _GNU_SOURCE
#include "fsutil.h"

#define FILES 100000

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static char buf[32768];
static unsigned char seen[FILES];

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_many");
	CHECK(mkdir("many", 0755));
	int dir = open("many", O_RDONLY | O_DIRECTORY);
	int created = 0, failed = 0;
	char name[32];
	for (int i = 0; i < FILES; i++) {
		snprintf(name, sizeof name, "f%06d", i);
		int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			if (!failed++)
				printf("creating %s failed: %s\n", name, errname(errno));
			continue;
		}
		created++;
		close(fd);
	}
	printf("created %d files\n", created);
	struct stat st;
	CHECK(fstat(dir, &st));
	printf("many: nlink=%lu size=%lld\n", (unsigned long)st.st_nlink, (long long)st.st_size);
	CHECK(fstatat(dir, "f050000", &st, 0));
	CHECK(fstatat(dir, "f100000", &st, 0));

	/* List: every name once, "." and ".." first. */
	long entries = 0, calls = 0, n, dups = 0, bad = 0;
	char first[3][32] = {"", "", ""}, last[32] = "";
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
		calls++;
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			if (entries < 3)
				snprintf(first[entries], sizeof first[0], "%s", d->d_name);
			snprintf(last, sizeof last, "%s", d->d_name);
			entries++;
			int index = d->d_name[0] == 'f' ? atoi(d->d_name + 1) : -1;
			if (index >= 0 && index < FILES)
				dups += seen[index]++ != 0;
			else if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				bad++;
			at += d->d_reclen;
		}
	}
	printf("getdents64 with a %zu-byte buffer: %ld entries in %ld calls, then %s\n", sizeof buf,
	       entries, calls, n < 0 ? errname(errno) : "0");
	printf("first entries: %s %s %s; last: %s\n", first[0], first[1], first[2], last);
	int missing = 0;
	for (int i = 0; i < FILES; i++)
		missing += !seen[i];
	printf("names seen twice: %ld, missing: %d, unexpected: %ld\n", dups, missing, bad);

	/* Delete each file as the listing returns it (what rm -r does). */
	CHECK(lseek(dir, 0, SEEK_SET));
	long deleted = 0, unlink_failed = 0;
	calls = 0;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
		calls++;
		for (long at = 0; at < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + at);
			if (d->d_name[0] == 'f') {
				if (unlinkat(dir, d->d_name, 0) == 0)
					deleted++;
				else
					unlink_failed++;
			}
			at += d->d_reclen;
		}
	}
	printf("deleted %ld while listing (%ld failed) in %ld calls\n", deleted, unlink_failed,
	       calls);
	CHECK(lseek(dir, 0, SEEK_SET));
	entries = 0;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0)
		for (long at = 0; at < n; at += ((struct linux_dirent64 *)(buf + at))->d_reclen)
			entries++;
	printf("entries left: %ld\n", entries);
	CHECK(fstat(dir, &st));
	printf("many: nlink=%lu size=%lld\n", (unsigned long)st.st_nlink, (long long)st.st_size);
	CHECK(close(dir));
	CHECK(rmdir("many"));
	return fs_end();
}
