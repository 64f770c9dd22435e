//! PVH entry: from 32-bit protected mode to 64-bit long mode in the higher half.
//!
//! QEMU (and Firecracker) jump to the address in the `XEN_ELFNOTE_PHYS32_ENTRY` note with paging
//! off and `%ebx` holding the physical address of `hvm_start_info`. The page tables used here are
//! static data built by the assembler, so the switch costs no loop at all:
//! - `[0]` identity-maps the first GiB (only for the few instructions before the jump up);
//! - `[256]` is the direct map of physical memory at `PHYS_OFFSET`, 4 GiB with 2 MiB pages,
//!   no-execute, the last GiB (MMIO) uncached;
//! - `[511]` maps the first GiB at `0xffffffff80000000`, where the kernel is linked.
//!
//! `mm::paging` then replaces the kernel mapping with 4 KiB pages carrying exact permissions and
//! removes the identity map. The entry hands Rust the start_info address and the TSC read at the
//! very first instruction (for boot-time measurement).
//!
//! One check comes first: with too little RAM for the image and the initrd, QEMU loads the
//! initrd (at the top of RAM) over the kernel image, and nothing past `.boot` can be trusted.
//! The entry then reports it on the kernel log with the failure record and status of
//! docs/guest-protocol.md, instead of faulting on garbage.

core::arch::global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                      /* namesz */
    .long 8                      /* descsz */
    .long 18                     /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32
    .balign 4

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %edi               /* start_info (physical) */
    rdtsc
    mov %eax, %esi               /* TSC at entry: low half */
    mov %edx, %ebp               /*                high half */

    cmpl $0, 12(%edi)            /* nr_modules */
    je 2f
    mov 16(%edi), %ecx           /* modlist (QEMU puts it below 4 GiB) */
    cmpl $0, 4(%ecx)             /* the initrd's address, high half */
    jne 2f
    cmpl $__kernel_end_phys, (%ecx)
    jae 2f
    mov $boot_oom_log, %esi      /* the TSC is not needed on this path */
    mov $(boot_oom_log_end - boot_oom_log), %ecx
    mov $0xeb, %dx               /* the kernel log */
    rep outsb
    mov $boot_oom_ctl, %esi
    mov $(boot_oom_ctl_end - boot_oom_ctl), %ecx
    mov $0xec, %dx               /* the control channel: the kernel failed */
    rep outsb
    mov $1, %al
    out %al, $0xf4               /* isa-debug-exit, as cpu::exit_vm(1) */
1:  hlt
    jmp 1b
2:

    mov %cr4, %eax
    or $0x20, %eax               /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3

    mov $0xc0000080, %ecx        /* IA32_EFER */
    rdmsr
    or $0x901, %eax              /* SCE | LME | NXE */
    wrmsr

    mov %cr0, %eax
    or $0x80010001, %eax         /* PG | WP | PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $boot64

    .code64
boot64:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    mov %edi, %edi               /* zero-extend start_info */
    mov %esi, %esi
    shl $32, %rbp
    or %rbp, %rsi                /* full 64-bit entry TSC */
    xor %ebp, %ebp               /* terminates the backtrace */
    movabs $__stack_top, %rsp
    movabs $kernel_entry, %rax
    call *%rax
    ud2

    .section .boot.data, "aw"
boot_oom_log:
    .ascii "KERNEL FAILURE: out of memory: the initrd does not fit above the kernel image; "
    .ascii "give the VM more memory (-m)\n"
boot_oom_log_end:
boot_oom_ctl:
    .ascii "panic\n"
boot_oom_ctl_end:
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff     /* 0x10: data */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .balign 4096
boot_pml4:
    .quad boot_pdpt_low + 3
    .fill 255, 8, 0
    .quad boot_pdpt_direct + 3
    .fill 254, 8, 0
    .quad boot_pdpt_high + 3
boot_pdpt_low:
    .quad boot_pd_low + 3
    .fill 511, 8, 0
boot_pdpt_high:
    .fill 510, 8, 0
    .quad boot_pd_low + 3
    .quad 0
boot_pdpt_direct:
    .quad boot_pd_direct + 3
    .quad boot_pd_direct + 0x1000 + 3
    .quad boot_pd_direct + 0x2000 + 3
    .quad boot_pd_direct + 0x3000 + 3
    .fill 508, 8, 0
boot_pd_low:                     /* 0..1 GiB, 2 MiB pages, present | writable | huge */
    .set page, 0
    .rept 512
    .quad (page << 21) | 0x83
    .set page, page + 1
    .endr
boot_pd_direct:                  /* 0..4 GiB, no-execute; 3..4 GiB uncached (MMIO) */
    .set page, 0
    .rept 1536
    .quad (page << 21) | 0x83 | (1 << 63)
    .set page, page + 1
    .endr
    .rept 512
    .quad (page << 21) | 0x9b | (1 << 63)
    .set page, page + 1
    .endr
    .code64
"#,
    options(att_syntax)
);
