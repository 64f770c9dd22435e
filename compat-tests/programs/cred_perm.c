/* cred_perm: permission checks with real credentials, from root of a container and from
 * users it becomes: a non-root user cannot read a 0600 root file, access(2) with the real
 * ids, sticky and set-group-ID directories, chmod/chown rules and the bits they clear,
 * writes clearing set-user-ID, utimes, kill, mknod, hard links (protected_hardlinks), and a
 * set-user-ID executable gaining its owner's effective id. argv[1] is the scratch directory;
 * the program works in <argv[1]>/perm, which it leaves for the harness to remove. */
#include "credutil.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>

static const char *self;

static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		printf("become %u:%u: %s\n", uid, gid, errname(errno));
		_exit(1);
	}
}

static void mode_of(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("stat %s: %s\n", path, errname(errno));
		return;
	}
	printf("%s: mode %04o uid %u gid %u\n", path, st.st_mode & 07777, st.st_uid, st.st_gid);
}

static int make(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "data\n", 5) != 5 || close(fd) != 0 || chown(path, uid, gid) != 0 ||
	    chmod(path, mode) != 0) {
		printf("make %s: %s\n", path, errname(errno));
		return -1;
	}
	return 0;
}

static void as_nobody(void)
{
	become(65534, 65534);
	TRY(open("secret", O_RDONLY));
	TRY(open("shared", O_RDONLY));
	TRY(open("public", O_RDONLY) >= 0);
	TRY(open("public", O_WRONLY));
	TRY(open("public", O_RDONLY | O_TRUNC));
	TRY(open("new", O_WRONLY | O_CREAT, 0644));
	TRY(mkdir("newdir", 0755));
	TRY(unlink("public"));
	TRY(access("secret", R_OK));
	TRY(access("public", R_OK | W_OK));
	TRY(access("public", R_OK));
	TRY(open("closed/file", O_RDONLY));
	TRY(access("closed", F_OK));
	TRY(chmod("public", 0666));
	TRY(chown("public", 65534, -1));
	TRY(chown("public", 0, -1));
	TRY(chown("public", -1, -1));
	TRY(utimes("public", NULL));
	TRY(mknod("fifo", S_IFIFO | 0644, 0));
	TRY(chroot("."));
	TRY(open("public", O_RDONLY | O_NOATIME));
	TRY(link("public", "sticky/link"));
	TRY(setuid(0));
}

static void access_real_ids(void)
{
	/* Real root, effective user: access says yes, open says no. */
	TRY(seteuid(1000));
	TRY(access("secret", R_OK));
	TRY(faccessat(AT_FDCWD, "secret", R_OK, AT_EACCESS));
	TRY(open("secret", O_RDONLY));
	TRY(access("closed/file", F_OK));
	TRY(faccessat(AT_FDCWD, "closed/file", F_OK, AT_EACCESS));
	TRY(seteuid(0));
	/* Real user, effective root: the other way round. */
	TRY(setresuid(1000, 0, 0));
	TRY(access("secret", R_OK));
	TRY(faccessat(AT_FDCWD, "secret", R_OK, AT_EACCESS));
	TRY(open("secret", O_RDONLY) >= 0);
	TRY(access("public", X_OK));
	TRY(faccessat(AT_FDCWD, "public", X_OK, AT_EACCESS));
	TRY(faccessat(AT_FDCWD, "exec", X_OK, AT_EACCESS));
}

static void sticky_user(uid_t uid)
{
	become(uid, uid);
	char name[32];
	snprintf(name, sizeof name, "sticky/by%u", uid);
	TRY(open(name, O_WRONLY | O_CREAT, 0644) >= 0);
}

static void sticky_1000(void)
{
	sticky_user(1000);
}

static void sticky_2000(void)
{
	sticky_user(2000);
	TRY(unlink("sticky/by1000"));
	TRY(rename("sticky/by1000", "sticky/mine"));
	TRY(rename("sticky/by2000", "sticky/by1000"));
	TRY(rename("sticky/by2000", "sticky/renamed"));
	TRY(unlink("sticky/renamed"));
}

static void sticky_root(void)
{
	TRY(unlink("sticky/by1000"));
	TRY(rmdir("sticky/dir"));
}

static void setgid_dir_user(void)
{
	become(1000, 1000);
	TRY(open("sgid/user-file", O_WRONLY | O_CREAT, 02755) >= 0);
	mode_of("sgid/user-file");
	TRY(mkdir("sgid/user-dir", 0755));
	mode_of("sgid/user-dir");
	TRY(chmod("sgid/user-file", 02755));
	mode_of("sgid/user-file");
}

static void setgid_dir_root(void)
{
	TRY(open("sgid/root-file", O_WRONLY | O_CREAT, 02755) >= 0);
	mode_of("sgid/root-file");
	TRY(mkdir("sgid/root-dir", 0700));
	mode_of("sgid/root-dir");
	TRY(mknod("sgid/fifo", S_IFIFO | 0600, 0));
	mode_of("sgid/fifo");
}

static void write_clears(void)
{
	/* Root (CAP_FSETID) keeps the bits; the owner writing loses them. */
	int fd = open("suid", O_WRONLY | O_APPEND);
	TRY(write(fd, "x", 1));
	close(fd);
	mode_of("suid");
	pid_t pid = fork();
	if (pid == 0) {
		become(1000, 1000);
		int fd = open("suid", O_WRONLY | O_APPEND);
		TRY(write(fd, "x", 1));
		close(fd);
		mode_of("suid");
		TRY(chmod("suid", 06755));
		mode_of("suid");
		TRY(truncate("suid", 1));
		mode_of("suid");
		TRY(chmod("suid", 04755));
		TRY(chown("suid", -1, 1000));
		mode_of("suid");
		TRY(chown("suid", -1, 0));
		TRY(chown("suid", 1000, -1));
		TRY(chmod("public", 0644));
		TRY(utimes("suid", NULL));
		struct timeval tv[2] = {{1, 0}, {2, 0}};
		TRY(utimes("suid", tv));
		TRY(utimes("public", tv));
		TRY(utimes("public", NULL));
		TRY(utimes("everyone", NULL));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	TRY(chmod("suid", 06755));
	TRY(chown("suid", 1000, 1000));
	mode_of("suid");
	TRY(chmod("suid", 06755));
	TRY(chown("suid", -1, -1));
	mode_of("suid");
	TRY(chmod("suid", 02745));
	TRY(chown("suid", 0, 0));
	mode_of("suid");
	TRY(mknod("chr", S_IFCHR | 0600, makedev(1, 3)));
	mode_of("chr");
}

static void kill_rules(void)
{
	int ready[2];
	if (pipe(ready) != 0)
		return;
	pid_t victim = fork();
	if (victim == 0) {
		become(1000, 1000);
		close(ready[0]);
		close(ready[1]);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char c;
	(void)read(ready[0], &c, 1); /* end of file once the victim dropped its ids */
	close(ready[0]);
	pid_t killer = fork();
	if (killer == 0) {
		become(2000, 2000);
		TRY(kill(victim, 0));
		TRY(kill(victim, SIGTERM));
		TRY(kill(getppid(), 0));
		_exit(0);
	}
	waitpid(killer, NULL, 0);
	killer = fork();
	if (killer == 0) {
		TRY(setresuid(3000, 3000, 1000));
		TRY(kill(victim, 0));
		TRY(setresuid(1000, 3000, 3000));
		TRY(kill(victim, 0));
		_exit(0);
	}
	waitpid(killer, NULL, 0);
	TRY(kill(victim, SIGTERM));
	int status;
	waitpid(victim, &status, 0);
	printf("victim: signaled %d sig %d\n", WIFSIGNALED(status), WTERMSIG(status));
}

static void links(void)
{
	become(2000, 2000);
	TRY(link("public", "sticky/l1"));
	TRY(link("everyone", "sticky/l2"));
	TRY(link("sticky/by2000", "sticky/l3"));
	TRY(link("exec", "sticky/l4"));
}

static void run_setuid(void)
{
	become(1000, 1000);
	TRY(execl("./suidprog", "suidprog", "show", (char *)NULL));
}

static void run_setgid(void)
{
	become(1000, 1000);
	TRY(execl("./sgidprog", "sgidprog", "show", (char *)NULL));
}

static void run_setuid_nnp(void)
{
	become(1000, 1000);
	TRY(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	TRY(execl("./suidprog", "suidprog", "show", (char *)NULL));
}

static void run_setuid_from_seteuid(void)
{
	TRY(setresuid(1000, 2000, 0));
	TRY(execl("./suidprog2000", "suidprog2000", "show", (char *)NULL));
}

static int copy_self(const char *to, mode_t mode, uid_t uid, gid_t gid)
{
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0700);
	char buf[65536];
	long n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	if (chown(to, uid, gid) != 0 || chmod(to, mode) != 0) {
		printf("copy %s: %s\n", to, errname(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1 && !strcmp(argv[1], "show")) {
		setvbuf(stdout, NULL, _IONBF, 0);
		show_ids("after exec");
		printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
		TRY(open("secret", O_RDONLY) >= 0);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: cred_perm DIR\n");
		return 2;
	}
	cred_start();
	umask(022);
	if (chdir(argv[1]) != 0 || mkdir("perm", 0755) != 0 || chdir("perm") != 0) {
		printf("setup: %s\n", errname(errno));
		return 1;
	}
	make("secret", 0600, 0, 0);
	make("shared", 0640, 0, 0);
	make("public", 0644, 0, 0);
	make("everyone", 0666, 0, 0);
	make("exec", 0700, 0, 0);
	make("suid", 04755, 1000, 1000);
	mkdir("closed", 0700);
	make("closed/file", 0644, 0, 0);
	mkdir("sticky", 0777);
	chmod("sticky", 01777);
	mkdir("sticky/dir", 0755);
	chown("sticky/dir", 1000, 1000);
	mkdir("sgid", 0777);
	chown("sgid", 0, 50);
	chmod("sgid", 02777);
	copy_self("suidprog", 04755, 0, 0);
	copy_self("sgidprog", 02755, 0, 50);
	copy_self("suidprog2000", 04755, 2000, 0);

	in_child("a user and root's files", as_nobody);
	in_child("access with the real ids", access_real_ids);
	in_child("sticky directory: user 1000", sticky_1000);
	in_child("sticky directory: user 2000", sticky_2000);
	in_child("sticky directory: root", sticky_root);
	in_child("setgid directory: user", setgid_dir_user);
	in_child("setgid directory: root", setgid_dir_root);
	in_child("writes, chmod and chown", write_clears);
	in_child("kill", kill_rules);
	in_child("hard links", links);
	in_child("set-user-ID executable", run_setuid);
	in_child("set-group-ID executable", run_setgid);
	in_child("set-user-ID executable with no_new_privs", run_setuid_nnp);
	in_child("set-user-ID executable from a user's effective id", run_setuid_from_seteuid);
	return 0;
}
