/* Random system calls in forked children: whatever a child does to itself, the kernel must
 * survive it, and SIGKILL must end a child however it is blocked.
 *
 * Usage: sysfuzz SEED CHILDREN CALLS_PER_CHILD [THREADS]
 * Each child starts its own session (so kill(0, ...) reaches only itself), points fds 0-2 at
 * /dev/null, and makes CALLS_PER_CHILD calls with a random number (process-creating and
 * cross-process-memory calls excluded) and random arguments: small numbers, -1, random
 * words, pointers into a scratch buffer (some next to an inaccessible page), kernel
 * addresses, low addresses; fds 3 and up are a pipe, an eventfd, an epoll, a timerfd, a memfd,
 * a file and a directory. The parent (PID 1) reaps each child, killing it with SIGKILL if it
 * has not ended after a second, and prints one summary line. With THREADS > 1 each child
 * makes its calls from that many threads at once (locking inside the kernel). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"

static __thread uint64_t state;

static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static unsigned char *scratch;
#define SCRATCH_PAGES 3 /* the last one is PROT_NONE */

static const char *const paths[] = {"/tmp/fz", "/tmp", ".", "/proc/self/status", "/tmp/fz/a", ""};

static uint64_t arg(void)
{
    switch (rnd() % 11) {
    case 0: return 0;
    case 1: return rnd() % 16;
    case 2: return (uint64_t)-1;
    case 3: return rnd();
    case 4:
    case 5: return (uint64_t)(uintptr_t)(scratch + rnd() % 4096);
    case 6: return (uint64_t)(uintptr_t)(scratch + 2 * 4096 - 1 - rnd() % 64);
    case 7: return 0xffffffff80000000ull + rnd() % 0x1000000;
    case 8: return 1ull << (rnd() % 64);
    case 9: return rnd() % 4096;
    default: return (uint64_t)(uintptr_t)scratch; /* holds a path */
    }
}

/* Calls that would reach beyond the child: new processes (a fork bomb), other processes'
 * memory, rebooting. */
static int excluded(long nr)
{
    switch (nr) {
    case SYS_clone: case SYS_fork: case SYS_vfork: case SYS_clone3:
    case SYS_execve: case SYS_execveat:
    case SYS_ptrace: case SYS_process_vm_readv: case SYS_process_vm_writev:
    case SYS_reboot: case SYS_kexec_load: case SYS_kexec_file_load:
        return 1;
    }
    return 0;
}

static long calls_per_thread;
static volatile long *counter;

static void fuzz(void)
{
    for (long i = 0; i < calls_per_thread; i++) {
        unsigned char *buf = scratch;
        for (int j = 0; j < 4096; j += 8) {
            uint64_t r = rnd();
            memcpy(buf + j, &r, 8);
        }
        const char *path = paths[rnd() % (sizeof paths / sizeof *paths)];
        memcpy(buf, path, strlen(path) + 1);
        long nr;
        do
            nr = rnd() % 460;
        while (excluded(nr));
        uint64_t a[6];
        for (int j = 0; j < 6; j++)
            a[j] = arg();
        __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
}

static void *thread_main(void *seed)
{
    state = (uint64_t)(uintptr_t)seed * 0x9e3779b97f4a7c15ull | 1;
    fuzz();
    return 0;
}

static void child(uint64_t seed, long threads)
{
    state = seed * 0x9e3779b97f4a7c15ull | 1;
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    /* Something behind the small fd numbers the arguments name: a pipe, an eventfd, an epoll,
     * a timerfd, a memfd, a file, a directory. */
    int fds[2];
    pipe(fds);
    syscall(SYS_eventfd2, 0, 0);
    syscall(SYS_epoll_create1, 0);
    syscall(SYS_timerfd_create, CLOCK_MONOTONIC, 0);
    syscall(SYS_memfd_create, "fz", 0);
    mkdir("/tmp/fz", 0755);
    open("/tmp/fz/a", O_RDWR | O_CREAT, 0644);
    open("/tmp", O_RDONLY | O_DIRECTORY);
    scratch = mmap(0, SCRATCH_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED)
        _exit(1);
    mprotect(scratch + 2 * 4096, 4096, PROT_NONE);
    for (long t = 1; t < threads; t++) {
        pthread_t th;
        pthread_create(&th, 0, thread_main, (void *)(uintptr_t)(seed * 131 + t));
    }
    fuzz();
    _exit(0);
}

static uint64_t base_seed;
static long child_threads;

static void fuzz_child(long c)
{
    child(base_seed + (uint64_t)c, child_threads);
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: sysfuzz SEED CHILDREN CALLS_PER_CHILD [THREADS]\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], 0, 0);
    long children = atol(argv[2]), calls = atol(argv[3]);
    base_seed = seed;
    long threads = argc == 5 ? atol(argv[4]) : 1;
    if (threads < 1)
        threads = 1;
    calls_per_thread = calls / threads;
    child_threads = threads;
    counter = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (counter == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct outcomes out = {0};
    if (run_children(children, fuzz_child, 0, &out) != 0)
        return 1;
    printf("sysfuzz: seed %llu: %ld children, %ld calls; %ld exited, %ld killed by a signal "
           "(%ld of them after the time limit)\n",
           (unsigned long long)seed, children, *counter, out.exited, out.signalled, out.killed);
    return 0;
}
