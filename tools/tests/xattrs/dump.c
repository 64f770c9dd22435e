/* dump: each path's extended attributes as llistxattr gives them (sorted, with the size
 * probe), each value from lgetxattr in hex, and getxattr("security.capability") through the
 * path (a symlink followed). The same static program runs on the host and in Coracle. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hex(ssize_t n, const unsigned char *v)
{
	if (n < 0)
		printf(" error %d", errno);
	for (ssize_t i = 0; i < n; i++)
		printf(" %02x", v[i]);
	printf("\n");
}

int main(int argc, char **argv)
{
	static char list[65536];
	static unsigned char value[65536];
	for (int i = 1; i < argc; i++) {
		ssize_t probe = llistxattr(argv[i], NULL, 0);
		ssize_t n = llistxattr(argv[i], list, sizeof list);
		if (n < 0) {
			printf("%s: llistxattr error %d\n", argv[i], errno);
			continue;
		}
		char *names[256];
		int count = 0;
		for (ssize_t at = 0; at < n && count < 256; at += (ssize_t)strlen(list + at) + 1)
			names[count++] = list + at;
		qsort(names, count, sizeof names[0], by_name);
		printf("%s: %d names, %zd bytes, probe %zd\n", argv[i], count, n, probe);
		for (int j = 0; j < count; j++) {
			printf("  %s:", names[j]);
			hex(lgetxattr(argv[i], names[j], value, sizeof value), value);
		}
		printf("  getxattr(security.capability):");
		hex(getxattr(argv[i], "security.capability", value, sizeof value), value);
		printf("  lgetxattr(user.missing):");
		hex(lgetxattr(argv[i], "user.missing", value, sizeof value), value);
	}
	return 0;
}
