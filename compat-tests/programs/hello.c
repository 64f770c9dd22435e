/* hello: the smallest program; stdio to a pipe, exit 0. */
#include <stdio.h>

int main(void)
{
	printf("Hello, %s!\n", "world");
	puts("from puts");
	return 0;
}
