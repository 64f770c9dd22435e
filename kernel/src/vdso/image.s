// The vDSO: a complete ELF shared object ("linux-vdso.so.1") assembled into the kernel image,
// page-aligned, linked at address 0 and position independent. The kernel maps these pages
// read+exec into each process, right above the vvar page (`vdso.rs`), which the code reads
// RIP-relative at `.Lvvar`. Every address inside is an offset from `.Lvdso_start`, resolved
// by the assembler: the image needs no relocation.
//
// Layout (file offset = virtual address): ELF header, program headers (PT_LOAD, PT_DYNAMIC),
// .hash, .dynsym, .dynstr, .gnu.version, .gnu.version_d, .dynamic, .text, .shstrtab, section
// headers. Symbols are versioned LINUX_2.6 as on Linux; the unprefixed names are weak aliases.
//
// The functions follow the SysV ABI, touch only call-clobbered registers and use no stack.
// Whatever they cannot answer (clocks other than the ones below, the TSC frequency not known
// yet, no RDPID/RDTSCP) goes to the real system call, so errors stay exactly the kernel's.

    .pushsection .rodata.coracle_vdso, "a"
    .balign 4096
    .globl __coracle_vdso_start
__coracle_vdso_start:
.Lvdso_start:
    .set .Lvvar, .Lvdso_start - 4096

// ---- ELF header ----
    .byte 0x7f, 0x45, 0x4c, 0x46        // \x7fELF
    .byte 2, 1, 1, 0                    // ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE
    .byte 0, 0, 0, 0, 0, 0, 0, 0
    .short 3                            // ET_DYN
    .short 62                           // EM_X86_64
    .long 1                             // EV_CURRENT
    .quad 0                             // e_entry
    .quad .Lphdrs - .Lvdso_start        // e_phoff
    .quad .Lshdrs - .Lvdso_start        // e_shoff
    .long 0                             // e_flags
    .short 64                           // e_ehsize
    .short 56                           // e_phentsize
    .short 2                            // e_phnum
    .short 64                           // e_shentsize
    .short 9                            // e_shnum
    .short 8                            // e_shstrndx

// ---- program headers ----
    .balign 8
.Lphdrs:
    .long 1                             // PT_LOAD
    .long 5                             // PF_R | PF_X
    .quad 0, 0, 0                       // p_offset, p_vaddr, p_paddr
    .quad .Lvdso_end - .Lvdso_start     // p_filesz
    .quad .Lvdso_end - .Lvdso_start     // p_memsz
    .quad 4096
    .long 2                             // PT_DYNAMIC
    .long 4                             // PF_R
    .quad .Ldynamic - .Lvdso_start
    .quad .Ldynamic - .Lvdso_start
    .quad .Ldynamic - .Lvdso_start
    .quad .Ldynamic_end - .Ldynamic
    .quad .Ldynamic_end - .Ldynamic
    .quad 8

// ---- .hash: one bucket holding every symbol, chained in order ----
    .balign 8
.Lhash:
    .long 1, 11                         // nbucket, nchain (= number of symbols)
    .long 1                             // bucket[0]
    .long 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0
.Lhash_end:

// ---- .dynsym ----
.macro VDSO_SYM name, bind, func
    .long \name - .Ldynstr              // st_name
    .byte (\bind << 4) | 2              // st_info: STT_FUNC
    .byte 0                             // st_other: STV_DEFAULT
    .short 7                            // st_shndx: .text
    .quad \func - .Lvdso_start          // st_value
    .quad \func\()_end - \func          // st_size
.endm
    .balign 8
.Ldynsym:
    .quad 0, 0, 0                       // the null symbol
    VDSO_SYM .Ls_clock_gettime, 2, .Lclock_gettime
    VDSO_SYM .Ls_vdso_clock_gettime, 1, .Lclock_gettime
    VDSO_SYM .Ls_gettimeofday, 2, .Lgettimeofday
    VDSO_SYM .Ls_vdso_gettimeofday, 1, .Lgettimeofday
    VDSO_SYM .Ls_time, 2, .Ltime
    VDSO_SYM .Ls_vdso_time, 1, .Ltime
    VDSO_SYM .Ls_getcpu, 2, .Lgetcpu
    VDSO_SYM .Ls_vdso_getcpu, 1, .Lgetcpu
    VDSO_SYM .Ls_clock_getres, 2, .Lclock_getres
    VDSO_SYM .Ls_vdso_clock_getres, 1, .Lclock_getres
.Ldynsym_end:

// ---- .dynstr ----
.Ldynstr:
    .byte 0
.Ls_soname:
    .asciz "linux-vdso.so.1"
.Ls_version:
    .asciz "LINUX_2.6"
.Ls_vdso_clock_gettime:
    .ascii "__vdso_"
.Ls_clock_gettime:
    .asciz "clock_gettime"
.Ls_vdso_gettimeofday:
    .ascii "__vdso_"
.Ls_gettimeofday:
    .asciz "gettimeofday"
.Ls_vdso_time:
    .ascii "__vdso_"
.Ls_time:
    .asciz "time"
.Ls_vdso_getcpu:
    .ascii "__vdso_"
.Ls_getcpu:
    .asciz "getcpu"
.Ls_vdso_clock_getres:
    .ascii "__vdso_"
.Ls_clock_getres:
    .asciz "clock_getres"
.Ldynstr_end:

// ---- .gnu.version: every symbol but the null one is LINUX_2.6 (index 2) ----
    .balign 2
.Lversym:
    .short 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
.Lversym_end:

// ---- .gnu.version_d: the base version (the soname) and LINUX_2.6 ----
    .balign 4
.Lverdef:
    .short 1, 1, 1, 1                   // vd_version, vd_flags = VER_FLG_BASE, vd_ndx, vd_cnt
    .long {HASH_SONAME}                 // vd_hash: ELF hash of the name
    .long 20, 28                        // vd_aux, vd_next
    .long .Ls_soname - .Ldynstr, 0      // vda_name, vda_next
    .short 1, 0, 2, 1
    .long {HASH_LINUX_2_6}
    .long 20, 0
    .long .Ls_version - .Ldynstr, 0
.Lverdef_end:

// ---- .dynamic ----
    .balign 8
.Ldynamic:
    .quad 4, .Lhash - .Lvdso_start              // DT_HASH
    .quad 5, .Ldynstr - .Lvdso_start            // DT_STRTAB
    .quad 6, .Ldynsym - .Lvdso_start            // DT_SYMTAB
    .quad 10, .Ldynstr_end - .Ldynstr           // DT_STRSZ
    .quad 11, 24                                // DT_SYMENT
    .quad 14, .Ls_soname - .Ldynstr             // DT_SONAME
    .quad 0x6ffffff0, .Lversym - .Lvdso_start   // DT_VERSYM
    .quad 0x6ffffffc, .Lverdef - .Lvdso_start   // DT_VERDEF
    .quad 0x6ffffffd, 2                         // DT_VERDEFNUM
    .quad 0, 0                                  // DT_NULL
.Ldynamic_end:

// ---- .text ----

// Reads the clock: rax = nanoseconds since boot, r9 = the wall-clock offset, both from one
// consistent vvar snapshot (a sequence count, odd while the kernel writes). Jumps to `fail`
// while the TSC frequency is unknown. Clobbers rax, rcx, rdx, r8, r9 and the flags.
.macro VDSO_READ_NS fail
1:
    mov r8d, dword ptr [rip + .Lvvar + {VVAR_SEQ}]
    test r8d, 1
    jnz 3f
    test dword ptr [rip + .Lvvar + {VVAR_FLAGS}], 1
    jz \fail
    mov r9, qword ptr [rip + .Lvvar + {VVAR_REALTIME_OFFSET}]
    lfence
    rdtsc
    shl rdx, 32
    or rax, rdx
    sub rax, qword ptr [rip + .Lvvar + {VVAR_TSC_BASE}]
    jae 2f
    xor eax, eax                        // a counter behind the base reads as the base
2:
    mov ecx, dword ptr [rip + .Lvvar + {VVAR_SHIFT}]
    mul qword ptr [rip + .Lvvar + {VVAR_MULT}]
    shrd rax, rdx, cl
    add rax, qword ptr [rip + .Lvvar + {VVAR_MONO_BASE}]
    cmp r8d, dword ptr [rip + .Lvvar + {VVAR_SEQ}]
    je 4f
3:
    pause
    jmp 1b
4:
.endm

// Splits rax = nanoseconds into rdx = seconds and rcx = nanoseconds below a second, dividing
// by 10^9 with a multiply by its reciprocal (exact for every 64-bit value, as compilers do it).
// Clobbers rax.
.macro VDSO_SPLIT_NS
    mov rcx, rax
    shr rax, 9
    movabs rdx, 19342813113834067
    mul rdx
    shr rdx, 11
    imul rax, rdx, 1000000000
    sub rcx, rax
.endm

// The clock sets below are bit masks of clock ids, named in `vdso.rs`.

    .balign 16
.Ltext:
// int clock_gettime(clockid_t clock, struct timespec *ts)
.Lclock_gettime:
    cmp edi, 11
    ja 5f
    mov eax, {CLOCKS}
    bt eax, edi
    jnc 5f
    VDSO_READ_NS 5f
    mov ecx, {WALL_CLOCKS}
    bt ecx, edi
    jnc 6f
    add rax, r9
6:
    VDSO_SPLIT_NS
    mov qword ptr [rsi], rdx
    mov qword ptr [rsi + 8], rcx
    xor eax, eax
    ret
5:
    mov eax, 228                        // SYS_clock_gettime
    syscall
    ret
.Lclock_gettime_end:

// int gettimeofday(struct timeval *tv, struct timezone *tz)
    .balign 16
.Lgettimeofday:
    test rdi, rdi
    jz 6f
    VDSO_READ_NS 5f
    add rax, r9
    VDSO_SPLIT_NS
    mov qword ptr [rdi], rdx
    mov eax, ecx
    imul rax, rax, 274877907            // / 1000, exact below 2^32
    shr rax, 38
    mov qword ptr [rdi + 8], rax
6:
    test rsi, rsi
    jz 7f
    mov qword ptr [rsi], 0              // UTC, no DST correction
7:
    xor eax, eax
    ret
5:
    mov eax, 96                         // SYS_gettimeofday
    syscall
    ret
.Lgettimeofday_end:

// time_t time(time_t *tloc)
    .balign 16
.Ltime:
    VDSO_READ_NS 5f
    add rax, r9
    VDSO_SPLIT_NS
    mov rax, rdx
    test rdi, rdi
    jz 6f
    mov qword ptr [rdi], rax
6:
    ret
5:
    mov eax, 201                        // SYS_time
    syscall
    ret
.Ltime_end:

// int getcpu(unsigned *cpu, unsigned *node, void *cache): IA32_TSC_AUX holds
// (node << 12) | cpu on every CPU, as on Linux.
    .balign 16
.Lgetcpu:
    mov eax, dword ptr [rip + .Lvvar + {VVAR_GETCPU}]
    cmp eax, {GETCPU_RDPID}
    je 6f
    cmp eax, {GETCPU_RDTSCP}
    jne 5f
    rdtscp
    mov eax, ecx
    jmp 7f
6:
    rdpid rax
7:
    test rdi, rdi
    jz 8f
    mov ecx, eax
    and ecx, 0xfff
    mov dword ptr [rdi], ecx
8:
    test rsi, rsi
    jz 9f
    shr eax, 12
    mov dword ptr [rsi], eax
9:
    xor eax, eax
    ret
5:
    mov eax, 309                        // SYS_getcpu
    syscall
    ret
.Lgetcpu_end:

// int clock_getres(clockid_t clock, struct timespec *res)
    .balign 16
.Lclock_getres:
    cmp edi, 11
    ja 5f
    mov eax, {CLOCKS}
    bt eax, edi
    jnc 5f
    test rsi, rsi
    jz 7f
    mov eax, 1
    mov ecx, {COARSE_CLOCKS}
    bt ecx, edi
    jnc 6f
    mov eax, {COARSE_RES_NS}
6:
    mov qword ptr [rsi], 0
    mov qword ptr [rsi + 8], rax
7:
    xor eax, eax
    ret
5:
    mov eax, 229                        // SYS_clock_getres
    syscall
    ret
.Lclock_getres_end:
.Ltext_end:

// ---- .shstrtab ----
.Lshstrtab:
    .byte 0
.Ln_hash:
    .asciz ".hash"
.Ln_dynsym:
    .asciz ".dynsym"
.Ln_dynstr:
    .asciz ".dynstr"
.Ln_versym:
    .asciz ".gnu.version"
.Ln_verdef:
    .asciz ".gnu.version_d"
.Ln_dynamic:
    .asciz ".dynamic"
.Ln_text:
    .asciz ".text"
.Ln_shstrtab:
    .asciz ".shstrtab"
.Lshstrtab_end:

// ---- section headers ----
.macro VDSO_SHDR name, type, flags, start, end, link, info, align, entsize
    .long \name - .Lshstrtab
    .long \type
    .quad \flags
    .quad \start - .Lvdso_start         // sh_addr
    .quad \start - .Lvdso_start         // sh_offset
    .quad \end - \start
    .long \link
    .long \info
    .quad \align
    .quad \entsize
.endm
    .balign 8
.Lshdrs:
    .quad 0, 0, 0, 0, 0, 0, 0, 0        // SHN_UNDEF
    VDSO_SHDR .Ln_hash, 5, 2, .Lhash, .Lhash_end, 2, 0, 8, 4
    VDSO_SHDR .Ln_dynsym, 11, 2, .Ldynsym, .Ldynsym_end, 3, 1, 8, 24
    VDSO_SHDR .Ln_dynstr, 3, 2, .Ldynstr, .Ldynstr_end, 0, 0, 1, 0
    VDSO_SHDR .Ln_versym, 0x6fffffff, 2, .Lversym, .Lversym_end, 2, 0, 2, 2
    VDSO_SHDR .Ln_verdef, 0x6ffffffd, 2, .Lverdef, .Lverdef_end, 3, 2, 4, 0
    VDSO_SHDR .Ln_dynamic, 6, 2, .Ldynamic, .Ldynamic_end, 3, 0, 8, 16
    VDSO_SHDR .Ln_text, 1, 6, .Ltext, .Ltext_end, 0, 0, 16, 0
    VDSO_SHDR .Ln_shstrtab, 3, 0, .Lshstrtab, .Lshstrtab_end, 0, 0, 1, 0

    .balign 4096
.Lvdso_end:
    .globl __coracle_vdso_end
__coracle_vdso_end:
    .popsection
