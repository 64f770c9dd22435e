/* mm_remap: mremap grows in place, moves with its contents (MREMAP_MAYMOVE, MREMAP_FIXED,
 * MREMAP_DONTUNMAP) and shrinks; mprotect on parts of a mapping; and the errors of both. */
#include "mmutil.h"

static void fill(char *p, size_t pages)
{
	for (size_t i = 0; i < pages; i++)
		memset(p + i * PAGE, 'a' + (int)i, PAGE);
}

static int filled(const char *p, size_t pages)
{
	for (size_t i = 0; i < pages; i++)
		if (!all_bytes(p + i * PAGE, PAGE, (unsigned char)('a' + i)))
			return 0;
	return 1;
}

int main(void)
{
	/* A private arena to work in, so neighbours are ours. */
	char *arena = MAPPED(mmap(NULL, 256 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	CHECK(munmap(arena, 256 * PAGE));
	char *a = MAPPED(mmap(arena, 4 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	fill(a, 4);
	char *grown = MAPPED(mremap(a, 4 * PAGE, 8 * PAGE, 0));
	yes("grown in place", grown == a);
	yes("contents kept", filled(grown, 4));
	yes("new part is zero", all_bytes(grown + 4 * PAGE, 4 * PAGE, 0));

	/* A neighbour in the way: without MREMAP_MAYMOVE it fails, with it the pages move. */
	char *wall = MAPPED(mmap(a + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	MAPPED(mremap(a, 8 * PAGE, 16 * PAGE, 0));
	char *moved = MAPPED(mremap(a, 8 * PAGE, 64 * PAGE, MREMAP_MAYMOVE));
	yes("moved elsewhere", moved != a);
	yes("moved contents kept", filled(moved, 4));
	residency("old place after the move (mincore)", a, 2);
	residency("moved pages are resident", moved, 8);

	/* Shrinking frees the tail. */
	char *shrunk = MAPPED(mremap(moved, 64 * PAGE, 2 * PAGE, 0));
	yes("shrunk in place", shrunk == moved);
	residency("shrunk tail (mincore)", moved + 2 * PAGE, 2);

	/* MREMAP_FIXED onto a mapping replaces it. */
	char *target = a + 32 * PAGE;
	char *t = MAPPED(mmap(target, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	memset(t, 'z', 2 * PAGE);
	char *fixed = MAPPED(raw_mremap(shrunk, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target));
	yes("MREMAP_FIXED lands where asked", fixed == target);
	yes("with the moved contents", filled(fixed, 2));

	/* MREMAP_DONTUNMAP: the old range stays mapped and reads zero. */
	char *kept = MAPPED(raw_mremap(fixed, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	yes("DONTUNMAP moved the contents", kept != MAP_FAILED && filled(kept, 2));
	yes("DONTUNMAP left zeros behind", all_bytes(fixed, 2 * PAGE, 0));

	/* Errors. */
	MAPPED(raw_mremap(kept + 1, PAGE, PAGE, 0, NULL));
	MAPPED(raw_mremap(kept, PAGE, 0, 0, NULL));
	MAPPED(raw_mremap(kept, PAGE, PAGE, 8, NULL));
	MAPPED(raw_mremap(kept, PAGE, PAGE, MREMAP_FIXED, a));
	MAPPED(raw_mremap(kept, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, kept + PAGE));
	MAPPED(raw_mremap(kept, 2 * PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL));
	MAPPED(raw_mremap(kept, 8 * PAGE, 16 * PAGE, MREMAP_MAYMOVE, NULL));
	MAPPED(raw_mremap(arena + 200 * PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE, NULL));
	MAPPED(raw_mremap(kept, 0, PAGE, MREMAP_MAYMOVE, NULL));

	/* mprotect on parts: splitting, keeping contents, partial application over a hole. */
	char *m = MAPPED(mmap(a + 96 * PAGE, 6 * PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	fill(m, 6);
	CHECK(mprotect(m + PAGE, 2 * PAGE, PROT_READ));
	CHECK(mprotect(m + 2 * PAGE, PAGE, PROT_NONE));
	CHECK(mprotect(m + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE));
	yes("contents survive PROT_NONE and back", filled(m, 6));
	CHECK(mprotect(m + PAGE, PAGE, PROT_READ | PROT_WRITE));
	m[PAGE] = 'X';
	CHECK(munmap(m + 4 * PAGE, PAGE));
	CHECK(mprotect(m + 3 * PAGE, 3 * PAGE, PROT_READ));
	CHECK(mprotect(m + 3 * PAGE, PAGE, PROT_READ | PROT_WRITE));
	CHECK(mprotect(m + 1, PAGE, PROT_READ));
	CHECK(mprotect(m, PAGE, 0x10));
	CHECK(mprotect(m, 0, PROT_READ));
	CHECK(mprotect(m, PAGE, PROT_READ | PROT_GROWSDOWN));
	CHECK(syscall(SYS_pkey_mprotect, m, PAGE, PROT_READ, 5));
	CHECK(syscall(SYS_pkey_mprotect, m, PAGE, PROT_READ | PROT_WRITE, -1));
	CHECK(mprotect(a + 200 * PAGE, PAGE, PROT_READ));
	return 0;
}
