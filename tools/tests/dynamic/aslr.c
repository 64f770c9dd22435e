/* aslr: prints where the parts of its address space are, one "name address" line each: the
 * program (a PIE), its stack, its heap (the program break), libc, ld.so (AT_BASE) and the
 * vDSO. aslr_check runs it twice and compares. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

int main(void)
{
	int local = 0;
	printf("program %p\n", (void *)main);
	printf("stack %p\n", (void *)&local);
	printf("heap %p\n", sbrk(0));
	printf("libc %p\n", (void *)printf);
	printf("ld.so %#lx\n", getauxval(AT_BASE));
	printf("vdso %#lx\n", getauxval(AT_SYSINFO_EHDR));
	return 0;
}
