/* dump: writes the vDSO image (from AT_SYSINFO_EHDR to the end of its last PT_LOAD) to stdout,
 * for tools/tests/vdso.rs to parse from the outside. */
#include <elf.h>
#include <stdio.h>
#include <sys/auxv.h>

int main(void)
{
	const Elf64_Ehdr *eh = (const void *)getauxval(AT_SYSINFO_EHDR);
	if (!eh) {
		fprintf(stderr, "no AT_SYSINFO_EHDR\n");
		return 1;
	}
	size_t len = 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)((const char *)eh + eh->e_phoff +
						      (size_t)i * eh->e_phentsize);
		if (ph->p_type == PT_LOAD && ph->p_offset + ph->p_filesz > len)
			len = ph->p_offset + ph->p_filesz;
	}
	return fwrite(eh, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}
