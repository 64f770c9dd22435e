/* big_output: 1 MiB of every byte value to stdout in writes of assorted sizes. */
#include <stdio.h>
#include <unistd.h>

#define SIZE (1 << 20)

static unsigned char buf[SIZE];

int main(void)
{
	for (unsigned i = 0; i < SIZE; i++)
		buf[i] = (unsigned char)(i ^ (i >> 8) ^ ((i >> 16) * 31));
	static const size_t chunks[] = {1, 7, 4096, 65536, 100000, 3, 250000};
	size_t done = 0;
	for (unsigned n = 0; done < SIZE; n++) {
		size_t want = chunks[n % (sizeof chunks / sizeof chunks[0])];
		if (want > SIZE - done)
			want = SIZE - done;
		ssize_t r = write(1, buf + done, want);
		if (r <= 0) {
			perror("write");
			return 1;
		}
		done += (size_t)r;
	}
	fprintf(stderr, "wrote %zu bytes\n", done);
	return 0;
}
