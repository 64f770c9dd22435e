/* isatty: with stdin at EOF and stdout/stderr pipes, nothing is a terminal (ENOTTY). */
#include <stdio.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include "errname.h"

int main(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		errno = 0;
		int tty = isatty(fd);
		printf("isatty(%d)=%d%s%s\n", fd, tty, tty ? "" : " ", tty ? "" : errname(errno));
	}
	struct termios t;
	errno = 0;
	int r = ioctl(1, TCGETS, &t);
	printf("ioctl(1, TCGETS)=%d %s\n", r, r ? errname(errno) : "");
	struct winsize ws;
	errno = 0;
	r = ioctl(1, TIOCGWINSZ, &ws);
	printf("ioctl(1, TIOCGWINSZ)=%d %s\n", r, r ? errname(errno) : "");
	errno = 0;
	r = ioctl(42, TCGETS, &t);
	printf("ioctl(42, TCGETS)=%d %s\n", r, r ? errname(errno) : "");
	return 0;
}
