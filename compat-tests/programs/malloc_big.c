/* malloc_big: a 16 MiB allocation touched end to end, plus many small ones (brk and mmap). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	size_t size = 16u << 20;
	unsigned char *big = malloc(size);
	if (!big) {
		puts("malloc(16 MiB) failed");
		return 1;
	}
	for (size_t i = 0; i < size; i++)
		big[i] = (unsigned char)(i * 131 + (i >> 12));
	uint64_t sum = 0;
	for (size_t i = 0; i < size; i += 64)
		sum += big[i] * (i & 0xffff);
	free(big);
	printf("big sum=%llu\n", (unsigned long long)sum);

	void *small[5000];
	uint64_t total = 0;
	for (int i = 0; i < 5000; i++) {
		size_t n = (size_t)(i * 37 % 3000) + 1;
		small[i] = malloc(n);
		if (!small[i]) {
			puts("small malloc failed");
			return 1;
		}
		memset(small[i], i & 0xff, n);
		total += n;
	}
	for (int i = 0; i < 5000; i += 2)
		free(small[i]);
	char *grown = NULL;
	for (size_t n = 16; n <= (4u << 20); n *= 2) {
		grown = realloc(grown, n);
		if (!grown) {
			puts("realloc failed");
			return 1;
		}
		grown[n - 1] = 'x';
	}
	free(grown);
	for (int i = 1; i < 5000; i += 2)
		free(small[i]);
	printf("small total=%llu\n", (unsigned long long)total);
	return 0;
}
