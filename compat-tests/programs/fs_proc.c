/* fs_proc: what programs read from /proc about themselves: the exe, cwd, root and fd links
 * (with " (deleted)" and pipe:[ino]), fd and fdinfo directories, maps (parsed, and following
 * mmap/mprotect), stat, status, comm, cmdline, environ, and the system-wide files they parse. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/utsname.h>
#include "fsutil.h"

extern char **environ;

static long read_all(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	long total = 0, n;
	while (total < (long)size - 1 && (n = read(fd, buf + total, size - 1 - total)) > 0)
		total += n;
	close(fd);
	buf[total] = 0;
	return total;
}

static void show_link(const char *path, int relative)
{
	char buf[4096];
	errno = 0;
	long n = readlink(path, buf, sizeof buf - 1);
	if (n < 0) {
		printf("readlink(%s) = -1 %s\n", path, errname(errno));
		return;
	}
	buf[n] = 0;
	printf("readlink(%s) = %s\n", path, relative ? relative_to_work(buf) : buf);
	fflush(stdout);
}

static void fd_link(int fd)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	show_link(path, 1);
}

/* The line of `text` that starts with `key`, printed as it is. */
static void show_line(const char *what, const char *text, const char *key)
{
	const char *at = text;
	size_t len = strlen(key);
	while (at && *at) {
		if (!strncmp(at, key, len)) {
			const char *end = strchr(at, '\n');
			printf("%s: %.*s\n", what, (int)(end ? end - at : (long)strlen(at)), at);
			return;
		}
		at = strchr(at, '\n');
		at = at ? at + 1 : NULL;
	}
	printf("%s: no line starting with %s\n", what, key);
}

static void self_links(char **argv)
{
	char buf[4096];
	long n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	yes("/proc/self/exe is argv[0]", n > 0 && !strcmp(buf, argv[0]));
	CHECK(readlink("/proc/self/exe", buf, 4));
	struct stat a, b;
	yes("stat(/proc/self/exe) is the program",
	    stat("/proc/self/exe", &a) == 0 && stat(argv[0], &b) == 0 && a.st_ino == b.st_ino);
	CHECK(lstat("/proc/self/exe", &a));
	printf("lstat(/proc/self/exe): %s\n", mode_string(a.st_mode));
	int fd = open("/proc/self/exe", O_RDONLY);
	CHECK(read(fd, buf, 4));
	print_bytes("first bytes of /proc/self/exe", buf, 4);
	CHECK(close(fd));

	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	n = readlink("/proc/self", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	yes("/proc/self links to the pid", !strcmp(buf, pid));
	n = readlink("/proc/thread-self", buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	char want[64];
	snprintf(want, sizeof want, "%d/task/%d", (int)getpid(), (int)syscall(SYS_gettid));
	yes("/proc/thread-self links to pid/task/tid", !strcmp(buf, want));
	show_link("/proc/self/cwd", 1);
	show_link("/proc/self/root", 0);
	CHECK(mkdir("sub", 0755));
	CHECK(chdir("sub"));
	show_link("/proc/self/cwd", 1);
	CHECK(chdir(".."));
	char path[64], buf2[4096];
	snprintf(path, sizeof path, "/proc/%d/cwd", (int)getpid());
	n = readlink(path, buf2, sizeof buf2 - 1);
	buf2[n > 0 ? n : 0] = 0;
	printf("readlink(/proc/<pid>/cwd) = %s\n", relative_to_work(buf2));
}

static void fd_links(void)
{
	int f, d, p[2], null;
	char buf[256];
	CHECK(put_file("file", "0123456789"));
	CHECK(f = open("file", O_RDWR));
	CHECK(d = open("sub", O_RDONLY | O_DIRECTORY));
	CHECK(pipe(p));
	CHECK(null = open("/dev/null", O_WRONLY));
	fd_link(f);
	fd_link(d);
	fd_link(null);
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", p[0]);
	long n = readlink(link, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	struct stat st;
	fstat(p[0], &st);
	char want[64];
	snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st.st_ino);
	yes("pipe link is pipe:[inode]", !strcmp(buf, want));
	CHECK(readlink("/proc/self/fd/9999", buf, sizeof buf));
	CHECK(open("/proc/self/fd/9999", O_RDONLY));

	/* Opening the link opens the file anew: an offset of its own. */
	CHECK(lseek(f, 5, SEEK_SET));
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", f);
	int again;
	CHECK(again = open(path, O_RDONLY));
	CHECK(read(again, buf, 3));
	print_bytes("read through the reopened link", buf, 3);
	CHECK(lseek(f, 0, SEEK_CUR));
	CHECK(close(again));
	snprintf(path, sizeof path, "/proc/self/fd/%d", p[1]);
	int w;
	CHECK(w = open(path, O_WRONLY));
	CHECK(write(w, "via link", 8));
	CHECK(read(p[0], buf, sizeof buf));
	CHECK(close(w));

	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", f);
	n = read_all(path, buf, sizeof buf);
	show_line("fdinfo", buf, "pos:");
	show_line("fdinfo", buf, "flags:");
	CHECK(unlink("file"));
	fd_link(f);
	CHECK(rename("sub", "moved"));
	fd_link(d);

	/* /proc/self/fd lists the open descriptors in numeric order. */
	CHECK(close(null));
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	printf("/proc/self/fd:");
	while ((e = readdir(dir)))
		printf(" %s", e->d_name);
	printf(" (the listing's own fd is %d)\n", dirfd(dir));
	closedir(dir);
	CHECK(close(f));
	CHECK(close(d));
	CHECK(close(p[0]));
	CHECK(close(p[1]));
	CHECK(lstat("/proc/self/fd", &st));
	printf("/proc/self/fd: %s\n", mode_string(st.st_mode));
	CHECK(lstat("/proc", &st));
	printf("/proc: %s\n", mode_string(st.st_mode));
}

static void maps(char **argv)
{
	static char text[1 << 16];
	long n = read_all("/proc/self/maps", text, sizeof text);
	yes("/proc/self/maps read", n > 0);
	int lines = 0, parsed = 0, sorted = 1, exe_exec = 0, stack = 0;
	unsigned long last_end = 0;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		unsigned long start, end, offset, inode;
		char perms[8], path[4096] = "";
		unsigned major, minor;
		lines++;
		int fields = sscanf(line, "%lx-%lx %7s %lx %x:%x %lu %4095s", &start, &end, perms,
				    &offset, &major, &minor, &inode, path);
		if (fields < 7 || start >= end || strlen(perms) != 4 || start % 4096 || end % 4096)
			continue;
		parsed++;
		sorted &= start >= last_end;
		last_end = end;
		exe_exec |= !strcmp(path, argv[0]) && perms[2] == 'x';
		stack |= !strcmp(path, "[stack]");
	}
	yes("every line parses", lines > 0 && parsed == lines);
	yes("sorted and disjoint", sorted);
	yes("the program is mapped executable", exe_exec);
	yes("[stack] is there", stack);

	char *m = mmap(NULL, 3 * 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(mprotect(m + 4096, 4096, PROT_READ | PROT_WRITE));
	n = read_all("/proc/self/maps", text, sizeof text);
	static const char *perms[3] = {"r--p", "rw-p", "r--p"};
	char want[3][128];
	snprintf(want[0], sizeof want[0], "%lx-%lx r--p 00000000 00:00 0", (unsigned long)m,
		 (unsigned long)m + 4096);
	snprintf(want[1], sizeof want[1], "%lx-%lx rw-p 00000000 00:00 0", (unsigned long)m + 4096,
		 (unsigned long)m + 8192);
	snprintf(want[2], sizeof want[2], "%lx-%lx r--p 00000000 00:00 0", (unsigned long)m + 8192,
		 (unsigned long)m + 12288);
	for (int i = 0; i < 3; i++)
		printf("maps shows page %d of the mapping as %s: %s\n", i, perms[i],
		       strstr(text, want[i]) ? "yes" : "no");
	CHECK(munmap(m, 3 * 4096));
	n = read_all("/proc/self/maps", text, sizeof text);
	yes("gone after munmap", !strstr(text, want[1]));
}

static void about_self(int argc, char **argv)
{
	static char text[1 << 16];
	char want[256];
	read_all("/proc/self/stat", text, sizeof text);
	int pid = 0;
	char comm[64] = "", state = '?';
	sscanf(text, "%d (%63[^)]) %c", &pid, comm, &state);
	printf("/proc/self/stat: pid is getpid(): %s, comm=%s, state=%c\n",
	       pid == getpid() ? "yes" : "no", comm, state);
	read_all("/proc/self/status", text, sizeof text);
	show_line("status", text, "Name:");
	show_line("status", text, "Umask:");
	show_line("status", text, "State:");
	show_line("status", text, "Uid:");
	show_line("status", text, "Gid:");
	show_line("status", text, "Threads:");
	snprintf(want, sizeof want, "Pid:\t%d\n", (int)getpid());
	yes("status Pid is getpid()", strstr(text, want) != NULL);
	umask(027);
	read_all("/proc/self/status", text, sizeof text);
	show_line("status after umask(027)", text, "Umask:");
	umask(022);
	read_all("/proc/self/comm", text, sizeof text);
	print_bytes("/proc/self/comm", text, strlen(text));
	int fd = open("/proc/self/comm", O_WRONLY);
	CHECK(write(fd, "renamed", 7));
	close(fd);
	read_all("/proc/self/comm", text, sizeof text);
	print_bytes("/proc/self/comm after writing it", text, strlen(text));
	read_all("/proc/self/stat", text, sizeof text);
	sscanf(text, "%d (%63[^)])", &pid, comm);
	printf("comm in /proc/self/stat: %s\n", comm);

	long n = read_all("/proc/self/cmdline", text, sizeof text);
	long at = 0;
	int same = 1;
	for (int i = 0; i < argc; i++) {
		same &= at < n && !strcmp(text + at, argv[i]);
		at += strlen(argv[i]) + 1;
	}
	yes("cmdline is argv, NUL-terminated", same && at == n);
	n = read_all("/proc/self/environ", text, sizeof text);
	at = 0;
	same = 1;
	for (char **e = environ; *e; e++) {
		same &= at < n && !strcmp(text + at, *e);
		at += strlen(*e) + 1;
	}
	yes("environ is the environment", same && at == n);
	DIR *dir = opendir("/proc/self/task");
	int tasks = 0;
	struct dirent *e;
	while (dir && (e = readdir(dir)))
		tasks += e->d_name[0] != '.' && atoi(e->d_name) == (int)syscall(SYS_gettid);
	if (dir)
		closedir(dir);
	yes("/proc/self/task has this thread", tasks == 1);
	read_all("/proc/self/limits", text, sizeof text);
	yes("limits has Max open files", strstr(text, "\nMax open files") != NULL);
}

static void system_files(void)
{
	static char text[1 << 16];
	read_all("/proc/meminfo", text, sizeof text);
	unsigned long total = 0, avail = 0;
	char *at = strstr(text, "MemTotal:");
	yes("meminfo starts with MemTotal",
	    at == text && sscanf(at, "MemTotal: %lu kB", &total) == 1);
	at = strstr(text, "\nMemAvailable:");
	yes("MemAvailable <= MemTotal", at && sscanf(at, "\nMemAvailable: %lu", &avail) == 1 &&
					       avail <= total);
	read_all("/proc/cpuinfo", text, sizeof text);
	yes("cpuinfo has processor 0", !strncmp(text, "processor\t: 0\n", 14));
	yes("cpuinfo has flags", strstr(text, "\nflags\t\t: ") != NULL);
	double up = -1, idle = -1;
	read_all("/proc/uptime", text, sizeof text);
	yes("uptime parses", sscanf(text, "%lf %lf", &up, &idle) == 2 && up > 0);
	read_all("/proc/loadavg", text, sizeof text);
	double l1, l5, l15;
	yes("loadavg parses", sscanf(text, "%lf %lf %lf", &l1, &l5, &l15) == 3);
	read_all("/proc/version", text, sizeof text);
	yes("version starts with Linux version", !strncmp(text, "Linux version ", 14));
	read_all("/proc/sys/kernel/ostype", text, sizeof text);
	print_bytes("/proc/sys/kernel/ostype", text, strlen(text));
	struct utsname u;
	uname(&u);
	read_all("/proc/sys/kernel/hostname", text, sizeof text);
	text[strcspn(text, "\n")] = 0;
	yes("/proc/sys/kernel/hostname is uname's nodename", !strcmp(text, u.nodename));
	read_all("/proc/sys/kernel/osrelease", text, sizeof text);
	text[strcspn(text, "\n")] = 0;
	yes("/proc/sys/kernel/osrelease is uname's release", !strcmp(text, u.release));
	read_all("/proc/filesystems", text, sizeof text);
	yes("filesystems lists tmpfs", strstr(text, "\ttmpfs\n") != NULL);
	read_all("/proc/mounts", text, sizeof text);
	yes("mounts has proc on /proc", strstr(text, "proc /proc proc ") != NULL);
	read_all("/proc/self/mounts", text, sizeof text);
	yes("self/mounts too", strstr(text, "proc /proc proc ") != NULL);
	CHECK(open("/proc/nonexistent", O_RDONLY));
	CHECK(mkdir("/proc/x", 0755));
	CHECK(open("/proc/self/stat", O_WRONLY | O_CREAT, 0644) >= 0);
}

int main(int argc, char **argv)
{
	fs_begin(argc, argv, "fs_proc");
	self_links(argv);
	fd_links();
	maps(argv);
	about_self(argc, argv);
	system_files();
	return fs_end();
}
