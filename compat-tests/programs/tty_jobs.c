/* tty_jobs: job control on a pseudo-terminal. A child leads a new session whose controlling
 * terminal is the pty's slave; typed ^C and a window change reach its handlers, ^Z stops it
 * and SIGCONT continues it; a background group of that session is stopped by SIGTTIN when it
 * reads and by SIGTTOU when it writes with TOSTOP or changes the settings, and gets EIO
 * instead when it ignores SIGTTIN; tcsetpgrp brings a child to the foreground, where ^Z
 * stops it and, continued, it reads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include "errname.h"

static volatile sig_atomic_t got;

static void on_signal(int sig)
{
	got = sig;
}

/* Waits for `pid` to stop or end, and says how. */
static void report(const char *what, pid_t pid)
{
	int st;
	if (waitpid(pid, &st, WUNTRACED) != pid)
		printf("%s: waitpid %s\n", what, errname(errno));
	else if (WIFSTOPPED(st))
		printf("%s: stopped by %s\n", what, strsignal(WSTOPSIG(st)));
	else if (WIFSIGNALED(st))
		printf("%s: killed by %s\n", what, strsignal(WTERMSIG(st)));
	else
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
}

/* In a background group of the session: what touching the terminal does. */
static void background(int tty, const char *what)
{
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		char c;
		if (!strcmp(what, "read"))
			_exit(read(tty, &c, 1) < 0 ? 10 + (errno == EIO) : 0);
		if (!strcmp(what, "read ignoring SIGTTIN")) {
			signal(SIGTTIN, SIG_IGN);
			_exit(read(tty, &c, 1) < 0 && errno == EIO ? 20 : 0);
		}
		if (!strcmp(what, "write"))
			_exit(write(tty, "", 0) == 0 && write(tty, "w", 1) == 1 ? 30 : 0);
		if (!strcmp(what, "tcsetattr")) {
			struct termios t;
			tcgetattr(tty, &t);
			_exit(tcsetattr(tty, TCSANOW, &t) == 0 ? 40 : 0);
		}
		_exit(99);
	}
	setpgid(pid, pid);
	report(what, pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The session leader's part; `up` carries its reports' order to the parent. */
static int leader(const char *name, int up)
{
	setsid();
	int tty = open(name, O_RDWR);
	printf("leader: tcgetpgrp is mine: %d, tcgetsid is mine: %d\n", tcgetpgrp(tty) == getpgrp(),
	       tcgetsid(tty) == getsid(0));
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	for (int i = 0; i < 3; i++) {
		if (write(up, "r", 1) != 1)
			return 1;
		got = 0;
		while (!got)
			sigsuspend(&none);
		printf("leader: got %s\n", strsignal(got));
	}
	sigprocmask(SIG_SETMASK, &none, NULL);
	background(tty, "read");
	background(tty, "read ignoring SIGTTIN");
	background(tty, "write");
	struct termios t;
	tcgetattr(tty, &t);
	t.c_lflag |= TOSTOP;
	tcsetattr(tty, TCSANOW, &t);
	background(tty, "write");
	background(tty, "tcsetattr");
	/* A child in the foreground: ^Z stops it, SIGCONT continues it, then it reads. */
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		while (tcgetpgrp(tty) != getpgrp())
			usleep(1000);
		char buf[16];
		long n = read(tty, buf, sizeof buf);
		printf("foreground child read %ld\n", n);
		_exit(0);
	}
	setpgid(pid, pid);
	signal(SIGTTOU, SIG_IGN);
	printf("tcsetpgrp: %d\n", tcsetpgrp(tty, pid));
	usleep(200000);
	if (write(up, "f", 1) != 1)
		return 1;
	report("foreground child after ^Z", pid);
	kill(pid, SIGCONT);
	if (write(up, "c", 1) != 1)
		return 1;
	report("foreground child", pid);
	return 0;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return 1;
	char name[64];
	snprintf(name, sizeof name, "%s", ptsname(m));
	int up[2];
	if (pipe(up))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		close(up[0]);
		_exit(leader(name, up[1]));
	}
	close(up[1]);
	char c;
	const char *keys[] = { "\x03", NULL, "\x1c" };
	for (int i = 0; i < 3; i++) {
		if (read(up[0], &c, 1) != 1)
			return 1;
		if (keys[i]) {
			if (write(m, keys[i], 1) != 1)
				return 1;
		} else {
			struct winsize w = { .ws_row = 40, .ws_col = 100 };
			ioctl(m, TIOCSWINSZ, &w);
		}
	}
	if (read(up[0], &c, 1) != 1 || c != 'f')
		return 1;
	if (write(m, "\x1a", 1) != 1)
		return 1;
	if (read(up[0], &c, 1) != 1 || c != 'c')
		return 1;
	if (write(m, "line\n", 5) != 5)
		return 1;
	report("leader", pid);
	return 0;
}
