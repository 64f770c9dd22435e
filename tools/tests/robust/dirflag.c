/* The direction flag belongs to user mode: a program that sets it (std) and then enters the
 * kernel through a page fault or a system call must not make the kernel's own copies run
 * backwards, and a signal handler starts with it clear (the ABI's promise to every function;
 * Linux clears it when it builds the signal frame). */
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile unsigned long handler_flags;

static void handler(int sig)
{
    unsigned long flags;
    (void)sig;
    __asm__ volatile("pushfq\n\tpopq %0" : "=r"(flags));
    handler_flags = flags;
}

int main(void)
{
    enum { PAGES = 64 };
    char *p = mmap(0, PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    for (int i = 0; i < PAGES; i++)
        __asm__ volatile("std\n\tmovb $1, (%0)\n\tcld" : : "r"(p + i * 4096) : "memory");
    long bad = 0;
    for (long i = 0; i < PAGES * 4096L; i++)
        bad += p[i] != (i % 4096 == 0);
    printf("first-touch pages with DF set: %ld bad bytes\n", bad);

    signal(SIGUSR1, handler);
    long ret;
    /* kill(getpid(), SIGUSR1) with DF set: the handler runs on the way back. */
    __asm__ volatile("std\n\tsyscall\n\tcld"
                     : "=a"(ret)
                     : "a"((long)SYS_kill), "D"((long)getpid()), "S"((long)SIGUSR1)
                     : "rcx", "r11", "memory");
    printf("signal handler with DF set: %s\n",
           ret != 0 ? "kill failed" : handler_flags & 0x400 ? "DF set" : "DF clear");
    return bad != 0;
}
