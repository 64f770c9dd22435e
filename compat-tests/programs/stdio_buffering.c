/* stdio_buffering: stdio buffers fully on a pipe, write(2) does not, stderr is unbuffered. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void say(int fd, const char *s)
{
	write(fd, s, strlen(s));
}

int main(void)
{
	printf("1 printf\n");
	say(1, "2 write(1)\n");
	fprintf(stderr, "3 fprintf(stderr)\n");
	say(2, "4 write(2)\n");
	printf("5 printf\n");
	fflush(stdout);
	say(1, "6 write(1) after fflush\n");
	printf("7 printf without newline");
	fputs("8 fputs(stderr) without newline", stderr);
	say(2, "\n9 write(2)\n");
	setvbuf(stdout, NULL, _IONBF, 0);
	printf(" 10 unbuffered printf\n");
	say(1, "11 write(1)\n");
	return 0;
}
