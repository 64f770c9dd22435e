/* bench_overview: one program for the README's comparison, each figure from a small loop so
 * that a deterministic (--icount) run stays short:
 *   vm_start_to_main    the TSC at main (QEMU starts it at 0 when the VM starts: under --icount
 *                       that is virtual ns, one per instruction, so firmware, kernel and, for
 *                       the Linux VM, its /init included)
 *   syscall_getppid     ns per syscall(SYS_getppid)
 *   fork_exec_wait      us per fork + execve of this program (which exits at once) + waitpid
 *   pagefault_touch     ns per first write to a page of fresh anonymous memory
 *   futex_pingpong      ns per FUTEX_WAKE/FUTEX_WAIT round trip between two threads
 * It prints "overview done" last: the line both VMs must agree on.
 * Usage: bench_overview [SCALE]   (default 1: 20000 syscalls, 50 execs, 1024 pages, 2000 trips)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "futex_pingpong.h"

static void syscalls(long n)
{
	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	bench_report("syscall_getppid", (double)(bench_now_ns() - t0) / n, "ns");
}

static void fork_exec(char *self, long n)
{
	char *child_argv[] = {self, "--exit", NULL};
	fflush(stdout);
	long long t0 = bench_now_ns();
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			bench_die("fork", errno);
		if (pid == 0) {
			execv(self, child_argv);
			_exit(127);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid)
			bench_die("waitpid", errno);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "child ended with status %#x\n", status);
			exit(1);
		}
	}
	bench_report("fork_exec_wait", (double)(bench_now_ns() - t0) / n / 1000, "us");
}

static void page_faults(size_t pages)
{
	size_t len = pages * 4096;
	volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	if (p == MAP_FAILED)
		bench_die("mmap", errno);
	madvise((void *)p, len, MADV_NOHUGEPAGE); /* advice only: an error is fine */
	long long t0 = bench_now_ns();
	for (size_t i = 0; i < pages; i++)
		p[i * 4096] = 1;
	bench_report("pagefault_touch", (double)(bench_now_ns() - t0) / pages, "ns");
	munmap((void *)p, len);
}

static void futexes(long n)
{
	bench_report("futex_pingpong", futex_pingpong(n), "ns");
}

int main(int argc, char **argv)
{
	unsigned long long at_main = __builtin_ia32_rdtsc();
	if (argc > 1 && strcmp(argv[1], "--exit") == 0)
		return 0;
	long scale = bench_arg(argc, argv, 1, 1);
	printf("vm_start_to_main %llu tsc\n", at_main);
	syscalls(20000 * scale);
	fork_exec(argv[0], 50 * scale);
	page_faults(1024 * scale);
	futexes(2000 * scale);
	printf("overview done\n");
	return 0;
}
