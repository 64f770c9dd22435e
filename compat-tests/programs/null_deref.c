/* null_deref: reading address 0 must kill the program with SIGSEGV. */
#include <unistd.h>

int main(void)
{
	volatile int *volatile p = 0;
	write(1, "before\n", 7);
	int value = *p;
	write(1, "survived\n", 9);
	return value;
}
