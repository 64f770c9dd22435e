/* tty_pty: a pseudo-terminal from posix_openpt used from both ends: the fresh slave's
 * termios, canonical input with erase, word erase, kill and end of file, the echo the master
 * reads, output processing (ONLCR, tabs, OPOST off), raw mode with VMIN/VTIME, FIONREAD, the
 * window size, TIOCGPTN, and what closing each end does to the other. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "errname.h"

/* Prints bytes with control characters escaped. */
static void show(const char *what, const char *buf, long n)
{
	printf("%s (%ld): \"", what, n);
	for (long i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c == '\n')
			printf("\\n");
		else if (c == '\r')
			printf("\\r");
		else if (c == '\b')
			printf("\\b");
		else if (c == '\t')
			printf("\\t");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* Everything fd has until it stays quiet for 300 ms (Linux moves pty bytes on a worker). */
static long drain(int fd, char *buf, long size)
{
	long n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (n < size && poll(&p, 1, 300) == 1 && (p.revents & POLLIN)) {
		long r = read(fd, buf + n, size - n);
		if (r <= 0)
			break;
		n += r;
	}
	return n;
}

static void put(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (long)strlen(s))
		printf("short write\n");
}

/* One read of the slave, shown. */
static void read_slave(int s, const char *what)
{
	char buf[256];
	long n = read(s, buf, sizeof buf);
	if (n < 0)
		printf("%s: -1 %s\n", what, errname(errno));
	else
		show(what, buf, n);
}

static void echo_of(int m, const char *what)
{
	char buf[1024];
	show(what, buf, drain(m, buf, sizeof buf));
}

static long ms_since(struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m)) {
		printf("posix_openpt: %s\n", errname(errno));
		return 1;
	}
	const char *name = ptsname(m);
	unsigned int ptn = 99999;
	printf("TIOCGPTN=%d matches ptsname=%d\n", ioctl(m, TIOCGPTN, &ptn),
	       name && (unsigned)atoi(name + 9) == ptn && !strncmp(name, "/dev/pts/", 9));
	int s = open(name, O_RDWR | O_NOCTTY);
	printf("slave open: %d, isatty=%d\n", s >= 0, isatty(s));

	struct termios t;
	tcgetattr(s, &t);
	printf("iflag=%o oflag=%o cflag=%o lflag=%o ispeed=%d\n", t.c_iflag, t.c_oflag,
	       t.c_cflag, t.c_lflag, (int)cfgetispeed(&t));
	printf("cc:");
	for (int i = 0; i < 17; i++)
		printf(" %d", t.c_cc[i]);
	printf("\n");

	/* Canonical input. */
	put(m, "ab\x7f" "c\r");
	read_slave(s, "erase");
	echo_of(m, "erase echo");
	put(m, "foo bar\x17" "baz\x15" "qux\n");
	read_slave(s, "werase+kill");
	echo_of(m, "werase+kill echo");
	put(m, "one\ntwo\n");
	char small[2];
	long n = read(s, small, 2);
	show("partial line", small, n);
	read_slave(s, "rest of line");
	read_slave(s, "next line");
	echo_of(m, "lines echo");
	put(m, "x\x04");
	read_slave(s, "eof mid-line");
	put(m, "\x04");
	read_slave(s, "eof at start");
	put(m, "\x01\x16\x03\t\x7f\x7f\n");
	read_slave(s, "control chars");
	echo_of(m, "control echo");
	int avail = -1;
	put(m, "ab");
	usleep(100000);
	ioctl(s, FIONREAD, &avail);
	printf("FIONREAD without a line end: %d\n", avail);
	put(m, "\n");
	usleep(100000);
	ioctl(s, FIONREAD, &avail);
	printf("FIONREAD with one: %d\n", avail);
	read_slave(s, "that line");
	echo_of(m, "its echo");

	/* Output processing. */
	put(s, "a\tb\nc\r\n");
	echo_of(m, "output onlcr");
	t.c_oflag &= ~OPOST;
	tcsetattr(s, TCSANOW, &t);
	put(s, "a\nb\n");
	echo_of(m, "output raw");

	/* Raw mode. */
	struct termios raw = t;
	cfmakeraw(&raw);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &raw);
	put(m, "x\ry\x03");
	char buf[64];
	long got = 0;
	while (got < 4) {
		long r = read(s, buf + got, sizeof buf - got);
		if (r <= 0)
			break;
		got += r;
	}
	show("raw read", buf, got);
	echo_of(m, "raw echo");
	raw.c_cc[VMIN] = 0;
	tcsetattr(s, TCSANOW, &raw);
	printf("VMIN=0 VTIME=0 empty read: %ld\n", (long)read(s, buf, 10));
	raw.c_cc[VTIME] = 2;
	tcsetattr(s, TCSANOW, &raw);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long r = read(s, buf, 10);
	long ms = ms_since(&t0);
	printf("VMIN=0 VTIME=2 empty read: %ld after >=150ms: %d\n", r, ms >= 150);
	raw.c_cc[VMIN] = 3;
	raw.c_cc[VTIME] = 0;
	tcsetattr(s, TCSANOW, &raw);
	put(m, "abcd");
	r = read(s, buf, 2);
	show("VMIN=3 read of 2", buf, r);
	put(m, "ef");
	r = read(s, buf, 10);
	show("then", buf, r);
	struct pollfd pf = { .fd = s, .events = POLLIN };
	printf("poll with nothing: %d\n", poll(&pf, 1, 0));

	/* Window size. */
	struct winsize w = { .ws_row = 33, .ws_col = 101 };
	printf("TIOCSWINSZ on the master: %d\n", ioctl(m, TIOCSWINSZ, &w));
	memset(&w, 0, sizeof w);
	ioctl(s, TIOCGWINSZ, &w);
	printf("slave winsize: %d x %d\n", w.ws_row, w.ws_col);

	/* No controlling terminal here. */
	errno = 0;
	int pg = tcgetpgrp(s);
	printf("tcgetpgrp: %d %s\n", pg, errname(errno));

	/* Closing the slave: the master reads EIO. */
	close(s);
	errno = 0;
	r = read(m, buf, 10);
	printf("master read after slave close: %ld %s\n", r, r < 0 ? errname(errno) : "");
	/* Closing the master: the slave is hung up. */
	s = open(name, O_RDWR | O_NOCTTY);
	close(m);
	errno = 0;
	r = read(s, buf, 10);
	printf("slave read after master close: %ld %s\n", r, r < 0 ? errname(errno) : "");
	errno = 0;
	r = write(s, "x", 1);
	printf("slave write after master close: %ld %s\n", r, r < 0 ? errname(errno) : "");
	pf.events = POLLIN | POLLOUT;
	poll(&pf, 1, 0);
	printf("slave poll after master close: %#x\n", pf.revents);
	errno = 0;
	int again = open(name, O_RDWR | O_NOCTTY);
	printf("reopen of the slave: %d %s\n", again >= 0, errname(errno));
	return 0;
}
