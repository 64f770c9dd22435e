/* write(2) from a stack buffer whose page the program never touched: Linux maps a fresh zero
 * page on the kernel's access, so 8 zero bytes are written, not EFAULT. */
#include <stdio.h>
#include <unistd.h>

static long emit(void)
{
	char buf[1 << 20];
	/* 64 KiB into a 1 MiB frame: far from the frame's edges, below anything touched so far. */
	long n = write(1, buf + (1 << 16), 8);
	__asm__ volatile("" : : "r"(buf) : "memory");
	return n;
}

int main(void)
{
	long n = emit();
	fprintf(stderr, "write returned %ld\n", n);
	return n == 8 ? 0 : 1;
}
