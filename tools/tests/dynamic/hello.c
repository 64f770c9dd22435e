/* hello: a dynamically linked program that prints what the kernel and its dynamic linker gave
 * it, in a form that is the same on every run: its arguments, the auxiliary vector entries
 * ld.so relies on, the objects loaded (dl_iterate_phdr: the vDSO, libc, ld.so), and a clock
 * read through the vDSO. tools/tests/dynamic.rs compares it with the host's run. */
#define _GNU_SOURCE
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>

static int object(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	const char *name = info->dlpi_name;
	const char *slash = strrchr(name, '/');
	/* The main program has an empty name; the vDSO its soname. */
	printf("object %s phnum=%d\n", *name ? (slash ? slash + 1 : name) : "(main)",
	       info->dlpi_phnum > 0);
	return 0;
}

extern char _start[];

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=%s\n", i, argv[i]);
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const char *base = execfn ? strrchr(execfn, '/') : NULL;
	printf("AT_EXECFN ends %s\n", base ? base : "?");
	printf("AT_PLATFORM %s\n", (const char *)getauxval(AT_PLATFORM));
	printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
	printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
	printf("AT_BASE set %d\n", getauxval(AT_BASE) != 0);
	printf("AT_ENTRY is _start %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
	printf("AT_PHENT %lu\n", getauxval(AT_PHENT));
	printf("AT_RANDOM set %d\n", getauxval(AT_RANDOM) != 0);
	printf("AT_SYSINFO_EHDR set %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
	printf("AT_MINSIGSTKSZ set %d\n", getauxval(AT_MINSIGSTKSZ) != 0);
	dl_iterate_phdr(object, NULL);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("monotonic %s\n", b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec >= a.tv_nsec)
	       ? "ok" : "backwards");
	char *p = malloc(100);
	strcpy(p, "heap ok");
	puts(p);
	free(p);
	return 3;
}
