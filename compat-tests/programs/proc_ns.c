/* proc_ns: /proc/<pid>/ns. The entries in Linux's order, links reading `kind:[inode]` (the
 * number printed as N) whose target's inode is that number, the same in a child and under
 * /proc/<pid>; the nsfs files open read-only and refuse reads; setns as a Docker container's
 * root: EBADF, EINVAL (not a namespace, another type, the own user namespace), EPERM. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "credutil.h"
#include "checkcall.h"

static void masked(const char *label, const char *text)
{
	printf("%s: ", label);
	for (const char *p = text; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			while (p[1] >= '0' && p[1] <= '9')
				p++;
			putchar('N');
		} else {
			putchar(*p);
		}
	}
	putchar('\n');
}

static unsigned long long number_in(const char *text)
{
	const char *b = strchr(text, '[');
	return b ? strtoull(b + 1, NULL, 10) : 0;
}

static void link_of(const char *path, char *out, size_t size)
{
	ssize_t n = readlink(path, out, size - 1);
	out[n > 0 ? n : 0] = 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	DIR *d = opendir("/proc/self/ns");
	struct dirent *e;
	char names[16][32];
	int count = 0;
	while (d && (e = readdir(d)) && count < 16) {
		if (e->d_name[0] == '.')
			continue;
		printf("entry %s type %s\n", e->d_name, e->d_type == DT_LNK ? "link" : "other");
		snprintf(names[count++], sizeof names[0], "%s", e->d_name);
	}
	if (d)
		closedir(d);
	char pidpath[64];
	snprintf(pidpath, sizeof pidpath, "/proc/%d/ns", getpid());
	for (int i = 0; i < count; i++) {
		char path[128], other[128], text[128], text2[128];
		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		snprintf(other, sizeof other, "%s/%s", pidpath, names[i]);
		link_of(path, text, sizeof text);
		link_of(other, text2, sizeof text2);
		masked(names[i], text);
		struct stat st, lst;
		int s = stat(path, &st), l = lstat(path, &lst);
		printf("  stat %d: regular %d mode 0%o size %lld, inode is the number: %s\n", s,
		       S_ISREG(st.st_mode), (unsigned)(st.st_mode & 07777), (long long)st.st_size,
		       (unsigned long long)st.st_ino == number_in(text) ? "yes" : "no");
		printf("  lstat %d: link %d; /proc/PID the same: %s\n", l, S_ISLNK(lst.st_mode),
		       strcmp(text, text2) == 0 ? "yes" : "no");
		int fd = open(path, O_RDONLY);
		char b[8];
		errno = 0;
		long r = read(fd, b, sizeof b);
		struct stat fst;
		fstat(fd, &fst);
		printf("  open %s, read = %ld %s, fstat same inode: %s\n", fd >= 0 ? "ok" : "failed",
		       r, errname(errno), fst.st_ino == st.st_ino ? "yes" : "no");
		close(fd);
	}
	char mine[128], pid[128], kids[128];
	link_of("/proc/self/ns/pid", pid, sizeof pid);
	link_of("/proc/self/ns/pid_for_children", kids, sizeof kids);
	printf("pid_for_children is pid: %s\n", strcmp(pid, kids) == 0 ? "yes" : "no");
	link_of("/proc/self/ns/net", mine, sizeof mine);
	pid_t child = fork();
	if (child == 0) {
		char theirs[128];
		link_of("/proc/self/ns/net", theirs, sizeof theirs);
		printf("a child is in the same net namespace: %s\n",
		       strcmp(mine, theirs) == 0 ? "yes" : "no");
		cred_start();
		int net = open("/proc/self/ns/net", O_RDONLY);
		int user = open("/proc/self/ns/user", O_RDONLY);
		int uts = open("/proc/self/ns/uts", O_RDONLY);
		int file = open("/proc/self/status", O_RDONLY);
		CHECK(setns(99, 0));
		CHECK(setns(file, 0));
		CHECK(setns(uts, CLONE_NEWNET));
		CHECK(setns(user, 0));
		CHECK(setns(net, 0));
		CHECK(setns(net, CLONE_NEWNET));
		CHECK(setns(uts, CLONE_NEWUTS));
		_exit(0);
	}
	int status;
	waitpid(child, &status, 0);
	printf("child: exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
