/* kernel_store: a store to a kernel-half address must kill the program with SIGSEGV. */
#include <unistd.h>

int main(void)
{
	write(1, "before\n", 7);
	*(volatile int *)0xffffffff80100000UL = 1;
	write(1, "survived\n", 9);
	return 0;
}
