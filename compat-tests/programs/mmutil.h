/* mmutil.h - what the mm_* programs share: checks that print return values and errno names,
 * never addresses, so the host's and Coracle's outputs compare line by line. */
#ifndef COMPAT_MMUTIL_H
#define COMPAT_MMUTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "errname.h"

#define PAGE 4096UL

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif

/* Raw system calls: the libcs' wrappers differ in what they check before the kernel does. */
static void *raw_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void *raw_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, new_addr);
}

/* "what = value", or "what = -1 ENAME" for a failed call. */
static __attribute__((unused)) void show(const char *what, long r)
{
	if (r == -1)
		printf("%s = -1 %s\n", what, errname(errno));
	else
		printf("%s = %ld\n", what, r);
	fflush(stdout);
}

#define CHECK(expr)                           \
	do {                                  \
		errno = 0;                    \
		long check_r_ = (long)(expr); \
		show(#expr, check_r_);        \
	} while (0)

/* A mapping call: prints "ok" or the error, and returns the address (or MAP_FAILED). */
static __attribute__((unused)) void *mapped(const char *what, void *r)
{
	if (r == MAP_FAILED)
		printf("%s = MAP_FAILED %s\n", what, errname(errno));
	else
		printf("%s = ok\n", what);
	fflush(stdout);
	return r;
}

#define MAPPED(expr) mapped(#expr, (void *)(expr))

static __attribute__((unused)) void yes(const char *what, int cond)
{
	printf("%s: %s\n", what, cond ? "yes" : "no");
	fflush(stdout);
}

/* mincore's view of `pages` pages at `p`, as a string of 0 and 1. */
static __attribute__((unused)) void residency(const char *what, void *p, size_t pages)
{
	unsigned char v[64];
	char s[65];
	if (pages > 64)
		pages = 64;
	if (mincore(p, pages * PAGE, v) != 0) {
		printf("%s: mincore %s\n", what, errname(errno));
		return;
	}
	for (size_t i = 0; i < pages; i++)
		s[i] = (v[i] & 1) ? '1' : '0';
	s[pages] = 0;
	printf("%s: %s\n", what, s);
	fflush(stdout);
}

/* Whether every byte of [p, p+n) is `c`. */
static __attribute__((unused)) int all_bytes(const void *p, size_t n, unsigned char c)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != c)
			return 0;
	return 1;
}

/* For the programs that touch pages which may fault (their SIGBUS/SIGSEGV handler is on_fault). */
static sigjmp_buf jump;
static volatile int last_code;
static volatile uintptr_t last_addr;

static __attribute__((unused)) void on_fault(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	last_code = si->si_code;
	last_addr = (uintptr_t)si->si_addr;
	siglongjmp(jump, sig);
}

/* Reads the byte at `p`: prints the byte, or the signal, its si_code and whether si_addr is
 * the address read. */
static __attribute__((unused)) void probe(const char *what, volatile char *p)
{
	int sig = sigsetjmp(jump, 1);
	if (sig == 0) {
		char c = *p;
		printf("%s: reads %d\n", what, c);
	} else {
		printf("%s: signal %s, si_code %d, si_addr %s\n", what, sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
		       last_code, last_addr == (uintptr_t)p ? "exact" : "other");
	}
	fflush(stdout);
}

#endif
