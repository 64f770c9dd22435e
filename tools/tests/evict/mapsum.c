/* Maps FILE whole (MAP_PRIVATE, then MAP_SHARED) and prints the FNV-1a hash of its bytes
 * read through each mapping: more file data than guest memory holds, all of it mapped. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int sum(int fd, size_t size, int flags) {
    const unsigned char *p = mmap(NULL, size, PROT_READ, flags, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
    }
    printf("%016llx\n", (unsigned long long)h);
    return munmap((void *)p, size) != 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mapsum FILE\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    return sum(fd, st.st_size, MAP_PRIVATE) || sum(fd, st.st_size, MAP_SHARED);
}
