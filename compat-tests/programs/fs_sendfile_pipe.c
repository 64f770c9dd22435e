/* fs_sendfile_pipe: sendfile from a file into a blocking pipe bigger than the pipe holds, a
 * child reading the other end: every byte arrives once, in order (a blocking sendfile waits
 * for room; bytes the pipe did not take stay in the file). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE 300000

int main(void)
{
	char path[] = "/tmp/sendfile_pipe_XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return perror("mkstemp"), 1;
	unlink(path);
	static unsigned char data[SIZE];
	for (int i = 0; i < SIZE; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	if (write(fd, data, SIZE) != SIZE || lseek(fd, 0, SEEK_SET) != 0)
		return perror("write"), 1;
	int p[2];
	if (pipe(p) < 0)
		return perror("pipe"), 1;
	pid_t child = fork();
	if (child == 0) {
		close(p[1]);
		static unsigned char got[SIZE + 1];
		size_t have = 0;
		ssize_t n;
		while ((n = read(p[0], got + have, sizeof got - have)) > 0)
			have += (size_t)n;
		printf("child read %zu bytes, %s\n", have,
		       have == SIZE && memcmp(got, data, SIZE) == 0 ? "all in order" : "WRONG");
		return 0;
	}
	close(p[0]);
	long total = 0, calls = 0;
	for (;;) {
		ssize_t n = sendfile(p[1], fd, NULL, SIZE);
		if (n < 0) {
			perror("sendfile");
			break;
		}
		if (n == 0)
			break;
		total += n;
		calls++;
	}
	close(p[1]);
	int status;
	waitpid(child, &status, 0);
	printf("sent %ld bytes, file offset %ld, %s\n", total, (long)lseek(fd, 0, SEEK_CUR),
	       calls > 0 ? "sendfile returned" : "no call");
	return 0;
}
