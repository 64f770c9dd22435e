/* ids: process and user ids of a lone program running as root. */
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	pid_t pid = getpid();
	printf("getpid() > 0: %d\n", pid > 0);
	printf("gettid() == getpid(): %d\n", (pid_t)syscall(SYS_gettid) == pid);
	printf("getppid() >= 0: %d\n", getppid() >= 0);
	printf("getuid() == 0: %d\n", getuid() == 0);
	printf("geteuid() == 0: %d\n", geteuid() == 0);
	printf("getgid() == 0: %d\n", getgid() == 0);
	printf("getegid() == 0: %d\n", getegid() == 0);
	printf("getpgid(0) >= 0: %d\n", getpgid(0) >= 0);
	return 0;
}
