/* proc_exec: execve, in the scratch directory argv[1]. Its errors (ENOENT, ENOTDIR, EACCES for
 * a file without x permission and for a directory, ENOEXEC, E2BIG for one argument over 128 KiB
 * and for too many, EFAULT, ELOOP, ENOENT for a missing #! interpreter), and what it does:
 * argv and envp as given, `#!` scripts (the rest of the line is one argument; the script path
 * is added; a script as the interpreter of another), the pid and parent kept, caught signals
 * reset to default while ignored ones, the mask and pending signals stay, /proc/self/exe, and
 * exec from a second thread (the others end, the process keeps its pid). Helpers are this
 * program again through argv[0] and /proc/self/exe. */
#define _GNU_SOURCE
#include <sys/stat.h>
#include "procutil.h"

static char path_buf[4096];
static const char *dir;

static const char *in_dir(const char *name)
{
	snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
	return path_buf;
}

static void put(const char *name, const char *text, mode_t mode)
{
	int fd = open(in_dir(name), O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(name);
	close(fd);
	chmod(in_dir(name), mode);
}

/* Helper modes: print argv, selected environment, signal state, and the parent relation. */
static int child_mode(int argc, char **argv, const char *mode)
{
	if (strcmp(mode, "args") == 0) {
		for (int i = 1; i < argc; i++) {
			const char *a = argv[i];
			/* Paths in the scratch directory differ between the sides: shorten them. */
			if (dir && strncmp(a, dir, strlen(dir)) == 0)
				printf("  argv[%d] = DIR%s\n", i, a + strlen(dir));
			else
				printf("  argv[%d] = [%s]\n", i, a);
		}
		const char *e = getenv("PROC_EXEC");
		printf("  PROC_EXEC=%s, HOME %s\n", e ? e : "(unset)", getenv("HOME") ? "set" : "unset");
		return 0;
	}
	if (strcmp(mode, "signals") == 0) {
		struct sigaction sa;
		sigaction(SIGUSR1, NULL, &sa);
		printf("  USR1 (caught before): %s\n", sa.sa_handler == SIG_DFL ? "default" : "not default");
		sigaction(SIGUSR2, NULL, &sa);
		printf("  USR2 (ignored before): %s\n", sa.sa_handler == SIG_IGN ? "ignored" : "not ignored");
		sigset_t mask, pending;
		sigprocmask(SIG_BLOCK, NULL, &mask);
		sigpending(&pending);
		printf("  TERM blocked: %s, pending: %s\n", sigismember(&mask, SIGTERM) ? "yes" : "no",
		       sigismember(&pending, SIGTERM) ? "yes" : "no");
		printf("  pid kept: %s, parent kept: %s\n",
		       atoi(argv[3]) == getpid() ? "yes" : "no",
		       atoi(argv[4]) == getppid() ? "yes" : "no");
		return 0;
	}
	if (strcmp(mode, "exe") == 0) {
		char link[4096] = {0};
		readlink("/proc/self/exe", link, sizeof link - 1);
		printf("  /proc/self/exe is argv[0]: %s\n", strcmp(link, self_path) == 0 ? "yes" : "no");
		return 0;
	}
	if (strcmp(mode, "pid") == 0) {
		printf("  after exec from a thread: pid kept %s\n",
		       atoi(argv[3]) == getpid() ? "yes" : "no");
		return 0;
	}
	return 125;
}

static void expect_exec_errno(const char *what, const char *path, char *const argv[], int want)
{
	char *envp[] = {NULL};
	int r = execve(path, argv, envp);
	expect_errno(what, r, want);
}

static void errors(void)
{
	char *argv[] = {"x", NULL};
	expect_exec_errno("execve(missing file)", in_dir("missing"), argv, ENOENT);
	put("plain", "just text\n", 0644);
	expect_exec_errno("execve(file without x permission)", in_dir("plain"), argv, EACCES);
	expect_exec_errno("execve(a path through a file)", in_dir("plain/x"), argv, ENOTDIR);
	expect_exec_errno("execve(a directory)", dir, argv, EACCES);
	put("garbage", "\x01\x02\x03 not a program\n", 0755);
	expect_exec_errno("execve(executable garbage)", in_dir("garbage"), argv, ENOEXEC);
	put("empty", "", 0755);
	expect_exec_errno("execve(an empty file)", in_dir("empty"), argv, ENOEXEC);
	put("no-interp", "#!/no/such/interpreter\n", 0755);
	expect_exec_errno("execve(#! with a missing interpreter)", in_dir("no-interp"), argv, ENOENT);
	char loop[4096];
	snprintf(loop, sizeof loop, "%s", in_dir("loop"));
	symlink("loop", loop);
	expect_exec_errno("execve(a symlink loop)", loop, argv, ELOOP);
	expect_exec_errno("execve(bad path pointer)", (const char *)16, argv, EFAULT);
	char *const *volatile bad_argv = (char *const *)16;
	expect_exec_errno("execve(bad argv pointer)", self_path, bad_argv, EFAULT);

	/* One argument longer than MAX_ARG_STRLEN (32 pages). */
	size_t big = 32 * 4096 + 10;
	char *arg = malloc(big);
	memset(arg, 'a', big - 1);
	arg[big - 1] = 0;
	char *long_argv[] = {"x", arg, NULL};
	expect_exec_errno("execve(an argument over 128 KiB)", self_path, long_argv, E2BIG);
	/* Many arguments: 64 MiB in all, more than a quarter of any stack limit here. */
	arg[100000] = 0;
	int n = 700;
	char **many = calloc(n + 2, sizeof *many);
	many[0] = "x";
	for (int i = 1; i <= n; i++)
		many[i] = arg;
	expect_exec_errno("execve(arguments over the limit)", self_path, many, E2BIG);
	free(many);
	free(arg);
	check("after failed execs the program still runs", 1);
}

static void run(const char *what, const char *path, char *const argv[], char *const envp[])
{
	printf("%s:\n", what);
	fflush(stdout);
	pid_t pid = fork_or_die();
	if (pid == 0) {
		execve(path, argv, envp);
		printf("  execve: %s\n", errname(errno));
		fflush(stdout);
		_exit(127);
	}
	expect_status(what, pid, "exited 0");
}

static void scripts(void)
{
	char dir_env[4200];
	snprintf(dir_env, sizeof dir_env, "PROC_EXEC_DIR=%s", dir);
	char *env[] = {"PROC_EXEC=given", dir_env, NULL};
	char *argv[] = {(char *)self_path, "--child", "args", "", "two words", NULL};
	run("argv and envp as given", self_path, argv, env);
	char *empty_env[] = {NULL};
	run("an empty environment", self_path, argv, empty_env);

	/* `#!INTERP ARG`: the interpreter gets INTERP, ARG, the script's path, then argv[1..]
	 * (argv[0] is dropped). The helper takes a path in its mode's place as "args". */
	char text[8192], script[4096];
	char *sargv[] = {"dropped-argv0", "first", "", NULL};
	snprintf(text, sizeof text, "#!%s --child\n", self_path);
	put("script", text, 0755);
	snprintf(script, sizeof script, "%s", in_dir("script"));
	run("#! with an argument", script, sargv, env);
	/* Blanks around the interpreter and the argument: the rest of the line, trimmed, is one
	 * argument. */
	snprintf(text, sizeof text, "#! %s  --child -x  y \t\nrest of the file\n", self_path);
	put("script2", text, 0755);
	snprintf(script, sizeof script, "%s", in_dir("script2"));
	run("#! with blanks: one argument", script, sargv, env);
	/* A script whose interpreter is another script. */
	snprintf(text, sizeof text, "#!%s\n", in_dir("script"));
	put("script3", text, 0755);
	snprintf(script, sizeof script, "%s", in_dir("script3"));
	run("a script as the interpreter of a script", script, sargv, env);
}

static void on_usr1(int sig) { (void)sig; }

static void *exec_from_thread(void *arg)
{
	char *argv[] = {(char *)self_path, "--child", "pid", arg, NULL};
	execv(self_path, argv);
	printf("execv from a thread: %s\n", errname(errno));
	exit(1);
}

static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return arg;
}

static void state(void)
{
	pid_t pid = fork_or_die();
	if (pid == 0) {
		signal(SIGUSR1, on_usr1);
		signal(SIGUSR2, SIG_IGN);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
		raise(SIGTERM);
		char me[16], parent[16];
		snprintf(me, sizeof me, "%d", (int)getpid());
		snprintf(parent, sizeof parent, "%d", (int)getppid());
		printf("signal state across exec:\n");
		fflush(stdout);
		exec_self("signals", me, parent);
		_exit(127);
	}
	expect_status("the signals helper", pid, "exited 0");

	pid = fork_or_die();
	if (pid == 0) {
		char *argv[] = {(char *)self_path, "--child", "exe", NULL};
		printf("exec through /proc/self/exe:\n");
		fflush(stdout);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	expect_status("the exe helper", pid, "exited 0");

	pid = fork_or_die();
	if (pid == 0) {
		static char me[16];
		snprintf(me, sizeof me, "%d", (int)getpid());
		pthread_t idle, t;
		spawn(&idle, idle_thread, NULL);
		spawn(&t, exec_from_thread, me);
		for (;;)
			pause();
	}
	expect_status("exec from a second thread", pid, "exited 0");
}

int main(int argc, char **argv)
{
	self_path = argv[0];
	if (argc > 2 && strncmp(argv[1], "--child", 7) == 0) {
		/* Run as the interpreter of a #! script, the script's path is where the mode was. */
		const char *mode = strchr(argv[2], '/') != NULL ? "args" : argv[2];
		dir = getenv("PROC_EXEC_DIR");
		return child_mode(argc, argv, mode);
	}
	if (argc < 2) {
		printf("usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	setenv("PROC_EXEC_DIR", dir, 1);
	errors();
	scripts();
	state();
	return finish();
}
