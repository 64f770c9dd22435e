/* proc_vm: process_vm_readv and process_vm_writev on a forked child's memory (the same
 * addresses as the parent's copy): scattered iovecs on both sides, a write the child then
 * sees, a short copy when the remote side runs into an unmapped page, and the errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include "errname.h"

static char secret[64] = "the child's own bytes";
static char *page;

static void show(const char *what, long r)
{
	printf("%s = %ld %s\n", what, r, r < 0 ? errname(errno) : "");
	fflush(stdout);
}

int main(void)
{
	/* A page with an unmapped page after it. */
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(page + 4096, 4096);
	memset(page, 'p', 4096);
	int ready[2], done[2];
	pipe(ready);
	pipe(done);
	pid_t pid = fork();
	if (pid == 0) {
		strcpy(secret, "changed in the child");
		write(ready[1], "r", 1);
		char c;
		read(done[0], &c, 1);
		printf("child sees: %s\n", secret);
		fflush(stdout);
		_exit(0);
	}
	char c;
	read(ready[0], &c, 1);
	char a[8] = {0}, b[32] = {0};
	struct iovec local[2] = {{a, 7}, {b, 13}};
	struct iovec remote[2] = {{secret, 9}, {secret + 9, 11}};
	show("process_vm_readv", process_vm_readv(pid, local, 2, remote, 2, 0));
	printf("read: \"%s\" + \"%s\"; mine: %s\n", a, b, secret);
	struct iovec src[1] = {{"WRITTEN", 7}};
	struct iovec dst[1] = {{secret, 7}};
	show("process_vm_writev", process_vm_writev(pid, src, 1, dst, 1, 0));
	char big[6000];
	struct iovec lbig[1] = {{big, sizeof big}};
	struct iovec rbig[1] = {{page + 1000, sizeof big}};
	show("readv past the mapping", process_vm_readv(pid, lbig, 1, rbig, 1, 0));
	struct iovec rbad[1] = {{page + 4096, 10}};
	show("readv unmapped", process_vm_readv(pid, lbig, 1, rbad, 1, 0));
	show("flags", process_vm_readv(pid, local, 2, remote, 2, 1));
	show("no such pid", process_vm_readv(999999, local, 2, remote, 2, 0));
	struct iovec lbad[1] = {{NULL, 5}};
	show("local fault", process_vm_readv(pid, lbad, 1, remote, 1, 0));
	show("self", process_vm_readv(getpid(), local, 1, remote, 1, 0));
	write(done[1], "d", 1);
	waitpid(pid, NULL, 0);
	return 0;
}
