/* Random machine code in forked children: privileged, invalid and faulting instructions,
 * odd flags and segment loads, system calls with whatever the registers hold. Every trap
 * must become a signal for the child (or end it); none may bring down the kernel.
 *
 * Usage: codefuzz SEED CHILDREN ATTEMPTS_PER_CHILD
 * Each child fills an executable page with random bytes and jumps into it with random
 * registers (all but rsp, r9-r11); a handler for the fault signals (SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP)
 * jumps back with siglongjmp for the next attempt, on an alternate stack. The parent (PID 1)
 * kills a child that has not ended after a second (and shows the code it was running on
 * stderr) and prints one summary line. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "children.h"

static uint64_t state;

static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static sigjmp_buf back;
static volatile long *traps;
/* Shared with the parent: what the child is running (for the report on a time-out). */
struct attempt {
    long number;
    uint64_t entry;
    uint64_t regs[12];
    unsigned char code[64];
};
static volatile struct attempt *shown;

static void on_trap(int sig)
{
    (void)sig;
    __atomic_fetch_add(traps, 1, __ATOMIC_RELAXED);
    siglongjmp(back, 1);
}

static void child(uint64_t seed, long attempts)
{
    state = seed * 0x9e3779b97f4a7c15ull | 1;
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
    }
    unsigned char *code = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    static unsigned char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, 0);
    struct sigaction sa = {.sa_handler = on_trap, .sa_flags = SA_ONSTACK | SA_NODEFER};
    sigfillset(&sa.sa_mask);
    int sigs[] = {SIGSEGV, SIGILL, SIGBUS, SIGFPE, SIGTRAP};
    for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++)
        sigaction(sigs[i], &sa, 0);
    static volatile long attempt;
    attempt = 0;
    sigsetjmp(back, 1);
    if (attempt++ >= attempts)
        _exit(0);
    /* A fresh, writable, executable page each time (the last attempt may have changed it). */
    if (mprotect(code, 2 * 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
        _exit(3);
    for (int i = 0; i < 4096; i += 8) {
        uint64_t r = rnd();
        memcpy(code + i, &r, 8);
    }
    /* Jump in with random general registers, keeping rsp on a scratch area inside the page
     * after the code. */
    uint64_t regs[12];
    for (int i = 0; i < 12; i++)
        regs[i] = rnd() % 4 == 0 ? (uint64_t)(uintptr_t)(code + 4096 + rnd() % 4096) : rnd();
    uintptr_t entry = (uintptr_t)code + rnd() % 4000;
    uintptr_t sp = (uintptr_t)code + 2 * 4096 - 256;
    shown->number = attempt;
    shown->entry = entry;
    for (int i = 0; i < 12; i++)
        shown->regs[i] = regs[i];
    memcpy((void *)shown->code, (void *)entry, sizeof shown->code);
    /* (The entry, the stack and the register values sit in registers the jump does not
     * load, so that none is overwritten before it is used. r12-r15 are loaded too, so that
     * no register points at the shared counters.) */
    register uintptr_t r_entry __asm__("r9") = entry;
    register uint64_t *r_regs __asm__("r10") = regs;
    register uintptr_t r_sp __asm__("r11") = sp;
    __asm__ volatile("mov %%r11, %%rsp\n\t"
                     "mov 0(%%r10), %%rax\n\t"
                     "mov 8(%%r10), %%rbx\n\t"
                     "mov 16(%%r10), %%rcx\n\t"
                     "mov 24(%%r10), %%rdx\n\t"
                     "mov 32(%%r10), %%rsi\n\t"
                     "mov 40(%%r10), %%rdi\n\t"
                     "mov 48(%%r10), %%rbp\n\t"
                     "mov 56(%%r10), %%r8\n\t"
                     "mov 64(%%r10), %%r12\n\t"
                     "mov 72(%%r10), %%r13\n\t"
                     "mov 80(%%r10), %%r14\n\t"
                     "mov 88(%%r10), %%r15\n\t"
                     "jmp *%%r9"
                     :
                     : "r"(r_entry), "r"(r_regs), "r"(r_sp)
                     : "memory");
    __builtin_unreachable();
}

static uint64_t base_seed;
static long child_attempts;

static void fuzz_child(long c)
{
    child(base_seed + (uint64_t)c, child_attempts);
}

/* A child ran out of time: the code it was running, for a look with objdump. */
static void show_attempt(long c)
{
    fprintf(stderr, "codefuzz: child %ld timed out in attempt %ld at %#llx, code:", c,
            shown->number, (unsigned long long)shown->entry);
    for (int i = 0; i < 64; i++)
        fprintf(stderr, " %02x", shown->code[i]);
    fprintf(stderr, "\nregs:");
    for (int i = 0; i < 12; i++)
        fprintf(stderr, " %#llx", (unsigned long long)shown->regs[i]);
    fprintf(stderr, "\n");
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: codefuzz SEED CHILDREN ATTEMPTS_PER_CHILD\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[1], 0, 0);
    long children = atol(argv[2]), attempts = atol(argv[3]);
    base_seed = seed;
    child_attempts = attempts;
    traps = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (traps == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    shown = (volatile struct attempt *)(traps + 8);
    struct outcomes out = {0};
    if (run_children(children, fuzz_child, show_attempt, &out) != 0)
        return 1;
    printf("codefuzz: seed %llu: %ld children, %ld traps caught; %ld exited, %ld killed by a "
           "signal (%ld of them after the time limit)\n",
           (unsigned long long)seed, children, *traps, out.exited, out.signalled, out.killed);
    return 0;
}
