/* vdso_clock: the vDSO is there, exports what Linux's exports, and its clocks agree with the
 * system calls. argv[1] is the host's time (s since 1970). Prints only facts that hold on Linux
 * and in Coracle alike (never a time or a CPU number). */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void check(const char *what, int ok)
{
	printf("%s %s\n", what, ok ? "ok" : "bad");
}

static long long ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* The vDSO's dynamic symbol table, found the way libcs do: PT_LOAD and PT_DYNAMIC, then the
 * DT_* tags. Symbols are matched by name and by version through DT_VERSYM/DT_VERDEF. */
static struct {
	uintptr_t base;
	const char *strings;
	const Elf64_Sym *syms;
	const Elf64_Word *hash;
	const Elf64_Versym *versym;
	const Elf64_Verdef *verdef;
} vdso;

static int vdso_parse(const Elf64_Ehdr *eh)
{
	const Elf64_Dyn *dyn = NULL;
	int have_load = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)((const char *)eh + eh->e_phoff +
						      (size_t)i * eh->e_phentsize);
		if (ph->p_type == PT_LOAD && !have_load) {
			vdso.base = (uintptr_t)eh + ph->p_offset - ph->p_vaddr;
			have_load = 1;
		} else if (ph->p_type == PT_DYNAMIC) {
			dyn = (const void *)((const char *)eh + ph->p_offset);
		}
	}
	if (!have_load || !dyn)
		return 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		const void *p = (const void *)(vdso.base + dyn->d_un.d_ptr);
		switch (dyn->d_tag) {
		case DT_STRTAB: vdso.strings = p; break;
		case DT_SYMTAB: vdso.syms = p; break;
		case DT_HASH: vdso.hash = p; break;
		case DT_VERSYM: vdso.versym = p; break;
		case DT_VERDEF: vdso.verdef = p; break;
		}
	}
	return vdso.strings && vdso.syms && vdso.hash && vdso.versym && vdso.verdef;
}

static int version_is(int index, const char *name)
{
	const Elf64_Verdef *d = vdso.verdef;
	for (;;) {
		if (!(d->vd_flags & VER_FLG_BASE) && (d->vd_ndx & 0x7fff) == (index & 0x7fff)) {
			const Elf64_Verdaux *a = (const void *)((const char *)d + d->vd_aux);
			return strcmp(vdso.strings + a->vda_name, name) == 0;
		}
		if (!d->vd_next)
			return 0;
		d = (const void *)((const char *)d + d->vd_next);
	}
}

static void *vdso_sym(const char *name)
{
	for (Elf64_Word i = 0; i < vdso.hash[1]; i++) {
		const Elf64_Sym *s = &vdso.syms[i];
		if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF)
			continue;
		if (strcmp(vdso.strings + s->st_name, name) == 0 &&
		    version_is(vdso.versym[i], "LINUX_2.6"))
			return (void *)(vdso.base + s->st_value);
	}
	return NULL;
}

typedef int (*clock_fn)(clockid_t, struct timespec *);

/* A system call's result as the vDSO returns it: the value, or -errno. */
static long raw(long r)
{
	return r == -1 ? -errno : r;
}

int main(int argc, char **argv)
{
	long long host = argc > 1 ? atoll(argv[1]) : 0;
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	check("AT_SYSINFO_EHDR is set", eh != NULL);
	if (!eh)
		return 1;
	check("the vDSO is an x86_64 ELF shared object",
	      memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
		      eh->e_type == ET_DYN && eh->e_machine == EM_X86_64);
	check("its dynamic section has DT_HASH, DT_SYMTAB, DT_STRTAB, DT_VERSYM, DT_VERDEF",
	      vdso_parse(eh));
	static const char *names[] = {"clock_gettime", "__vdso_clock_gettime", "gettimeofday",
				      "__vdso_gettimeofday", "time", "__vdso_time", "getcpu",
				      "__vdso_getcpu", "clock_getres", "__vdso_clock_getres"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char what[80];
		snprintf(what, sizeof what, "%s@LINUX_2.6 found", names[i]);
		check(what, vdso_sym(names[i]) != NULL);
	}
	clock_fn cgt = (clock_fn)vdso_sym("__vdso_clock_gettime");
	clock_fn getres = (clock_fn)vdso_sym("__vdso_clock_getres");
	check("clock_gettime and __vdso_clock_gettime are one function",
	      cgt && (void *)cgt == vdso_sym("clock_gettime"));
	if (!cgt || !getres)
		return 1;

	/* Each clock the vDSO answers reads between two system calls of the same clock. */
	static const int fast[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW,
				   CLOCK_REALTIME_COARSE, CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME,
				   CLOCK_TAI};
	for (size_t i = 0; i < sizeof fast / sizeof *fast; i++) {
		struct timespec a, v, b;
		int ok = syscall(SYS_clock_gettime, fast[i], &a) == 0 && cgt(fast[i], &v) == 0 &&
			 syscall(SYS_clock_gettime, fast[i], &b) == 0;
		char what[80];
		snprintf(what, sizeof what, "clock %d: the vDSO reads between two system calls",
			 fast[i]);
		check(what, ok && ns(a) <= ns(v) && ns(v) <= ns(b) && v.tv_nsec >= 0 &&
				    v.tv_nsec < 1000000000L);
	}
	/* Every clock id, good or bad, gives the vDSO the system call's result. */
	/* (Not 8 and 9, the alarm clocks, which need an RTC on Linux; nor 12-15, which Linux's
	 * own vDSO and system call answer differently.) */
	static const int ids[] = {0, 1, 2, 3, 4, 5, 6, 7, 11, 100, -1, 0x7fffffff};
	for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
		struct timespec t, r1 = {-1, -1}, r2 = {-2, -2};
		long s = raw(syscall(SYS_clock_gettime, ids[i], &t));
		long v = cgt(ids[i], &t);
		long gs = raw(syscall(SYS_clock_getres, ids[i], &r1));
		long gv = getres(ids[i], &r2);
		char what[80];
		snprintf(what, sizeof what, "clock %d: clock_gettime result %s", ids[i],
			 s == 0 ? "0" : "an error");
		check(what, s == v);
		snprintf(what, sizeof what, "clock %d: clock_getres agrees with the system call",
			 ids[i]);
		check(what, gs == gv && (gs != 0 || (r1.tv_sec == r2.tv_sec && r1.tv_nsec == r2.tv_nsec)));
	}
	check("clock_getres with a NULL result", getres(CLOCK_MONOTONIC, NULL) == 0);

	/* The monotonic clock never goes back, whichever way it is read. */
	struct timespec prev, now;
	int monotonic = clock_gettime(CLOCK_MONOTONIC, &prev) == 0;
	for (int i = 0; i < 100000 && monotonic; i++) {
		if (i % 10 == 0)
			monotonic = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &now) == 0;
		else
			monotonic = clock_gettime(CLOCK_MONOTONIC, &now) == 0;
		monotonic = monotonic && ns(now) >= ns(prev);
		prev = now;
	}
	check("monotonic non-decreasing over 100000 reads mixing vDSO and system calls", monotonic);

	/* The wall clock, through each entry point. */
	struct timespec a, b;
	struct timeval tv;
	clock_gettime(CLOCK_REALTIME, &a);
	int tod = gettimeofday(&tv, NULL);
	time_t t1 = time(NULL), t2 = 0;
	time_t t3 = time(&t2);
	clock_gettime(CLOCK_REALTIME, &b);
	long long us = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
	check("gettimeofday reads between two clock_gettime(REALTIME)",
	      tod == 0 && ns(a) / 1000 <= us && us <= ns(b) / 1000 && tv.tv_usec < 1000000);
	check("time() reads between them too", a.tv_sec <= t1 && t1 <= t3 && t3 <= b.tv_sec);
	check("time(&t) stores what it returns", t2 == t3);
	struct timezone tz = {-1, -1};
	struct timeval *volatile no_tv = NULL;
	check("gettimeofday(NULL, &tz) succeeds", gettimeofday(no_tv, &tz) == 0);
	check("realtime within 5 minutes of the host", llabs((long long)a.tv_sec - host) <= 300);

	int cpu = sched_getcpu();
	check("sched_getcpu gives an online CPU",
	      cpu >= 0 && cpu < sysconf(_SC_NPROCESSORS_ONLN));
	unsigned vcpu = ~0u, vnode = ~0u;
	int (*getcpu)(unsigned *, unsigned *, void *) =
		(int (*)(unsigned *, unsigned *, void *))vdso_sym("__vdso_getcpu");
	check("__vdso_getcpu gives an online CPU",
	      getcpu && getcpu(&vcpu, &vnode, NULL) == 0 && vcpu < sysconf(_SC_NPROCESSORS_ONLN) &&
		      vnode != ~0u);
	check("__vdso_getcpu accepts NULL pointers", getcpu && getcpu(NULL, NULL, NULL) == 0);
	return 0;
}
