//! Entering and leaving user mode; the trap entry points.
//!
//! The kernel runs user code like a function call: [`run_user`] loads a [`UserContext`] and
//! drops to ring 3; the next SYSCALL, exception or interrupt from ring 3 stores the user
//! registers back into that context and returns from [`run_user`], on the kernel stack it was
//! called on. The syscall loop in `crate::task` is then ordinary Rust.
//!
//! Traps taken in ring 0 save a [`KernelFrame`] on the current stack and call
//! [`super::fault::kernel_trap`], which may resume (user-copy fixups) or stop the VM.

use core::arch::global_asm;
use core::cell::UnsafeCell;

use x86_64::registers::model_specific::{GsBase, KernelGsBase, Msr};
use x86_64::VirtAddr;

use super::smp::MAX_CPUS;
use super::{cpu, gdt, interrupt};

/// The user registers, saved on entry to the kernel and loaded on the way out. The assembly
/// below depends on the layout of its first 20 fields (rax at 0 ... error_code at 152).
pub type UserContext = coracle_syscalls::UserRegs;

/// The registers of a trap taken in ring 0, as pushed by `kernel_trap_entry`.
#[repr(C)]
#[derive(Debug)]
pub struct KernelFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Per-CPU data reached through GS while in the kernel. Offsets are used by the assembly.
#[repr(C)]
struct PerCpu {
    /// 0: this structure's own address.
    this: u64,
    /// 8: the context `run_user` is running.
    user_context: u64,
    /// 16: the kernel stack pointer inside `run_user`.
    kernel_rsp: u64,
    /// 24: scratch for the user stack pointer during SYSCALL entry.
    user_rsp: u64,
    /// 32: this CPU's index (0 = the boot CPU), read by `cpu_index`.
    index: u64,
}

/// The per-CPU blocks, one per possible CPU; each is only touched by its own CPU.
struct PerCpuTable(UnsafeCell<[PerCpu; MAX_CPUS]>);

// SAFETY: CPU `i` only ever reaches block `i` (through its own GS base), so no block is
// shared between CPUs.
unsafe impl Sync for PerCpuTable {}

static PER_CPU: PerCpuTable = PerCpuTable(UnsafeCell::new(
    [const {
        PerCpu {
            this: 0,
            user_context: 0,
            kernel_rsp: 0,
            user_rsp: 0,
            index: 0,
        }
    }; MAX_CPUS],
));

extern "C" {
    fn coracle_run_user(context: *mut UserContext);
    fn coracle_syscall_entry();
    /// The 32 exception entry points, in vector order.
    static coracle_trap_vectors: [u64; 32];
    /// The interrupt entry points, in the order of `interrupt::VECTORS`.
    static coracle_irq_vectors: [u64; 4];
    /// The device interrupt entry points, from `interrupt::DEVICE_BASE` on.
    static coracle_device_vectors: [u64; interrupt::DEVICE_COUNT];
}

const IA32_TSC_AUX: u32 = 0xc000_0103;

/// Sets up GS for CPU `cpu`'s per-CPU data, the SYSCALL MSRs and IA32_TSC_AUX (the CPU number
/// RDTSCP and the vDSO's getcpu read). Called once per CPU, on that CPU, with `cpu < MAX_CPUS`.
pub fn init(cpu: usize) {
    // SAFETY: in bounds (cpu < MAX_CPUS); the block is this CPU's alone and nothing uses it
    // before GS points at it, below.
    let per_cpu = unsafe { (PER_CPU.0.get() as *mut PerCpu).add(cpu) };
    // SAFETY: as above: only this CPU writes its block, and not concurrently with the entry
    // assembly, which cannot run before GS is set.
    unsafe {
        (*per_cpu).this = per_cpu as u64;
        (*per_cpu).index = cpu as u64;
    }
    GsBase::write(VirtAddr::from_ptr(per_cpu));
    KernelGsBase::write(VirtAddr::zero());
    let star = (u64::from(gdt::KERNEL_DS & !3) << 48) | (u64::from(gdt::KERNEL_CS) << 32);
    // TF | DF | IF | IOPL | NT | AC are cleared on SYSCALL, as Linux does.
    let fmask: u64 = 0x0004_7700;
    // SAFETY: STAR matches the GDT layout (see gdt.rs), LSTAR points at the entry below, which
    // expects GS and the per-CPU block as just set; SCE was enabled at boot.
    unsafe {
        Msr::new(0xc000_0081).write(star);
        Msr::new(0xc000_0082).write(coracle_syscall_entry as *const () as u64);
        Msr::new(0xc000_0084).write(fmask);
    }
    if cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0001
        && cpu::cpuid(0x8000_0001, 0).edx & (1 << 27) != 0
    {
        // SAFETY: RDTSCP is reported, so IA32_TSC_AUX exists; the kernel does not use it.
        unsafe { Msr::new(IA32_TSC_AUX).write(cpu as u64) };
    }
}

/// This CPU's index: 0 for the boot CPU, then 1.. in start-up order.
pub fn cpu_index() -> usize {
    let index: u64;
    // SAFETY: in the kernel GS always points at this CPU's PerCpu block (set by `init` before
    // anything calls this), whose `index` is at offset 32.
    unsafe {
        core::arch::asm!("mov {}, gs:[32]", out(reg) index, options(nostack, preserves_flags, readonly))
    };
    index as usize
}

/// The addresses of the interrupt entry points, paired with their vectors.
pub fn irq_vectors() -> impl Iterator<Item = (u8, u64)> {
    // SAFETY: the table is immutable data emitted by the assembly below.
    let addrs = unsafe { &*core::ptr::addr_of!(coracle_irq_vectors) };
    interrupt::VECTORS.into_iter().zip(addrs.iter().copied())
}

/// The addresses of the device interrupt entry points, paired with their vectors.
pub fn device_vectors() -> impl Iterator<Item = (u8, u64)> {
    // SAFETY: the table is immutable data emitted by the assembly below.
    let addrs = unsafe { &*core::ptr::addr_of!(coracle_device_vectors) };
    (interrupt::DEVICE_BASE..).zip(addrs.iter().copied())
}

/// The addresses of the exception entry points, for the IDT.
pub fn trap_vectors() -> &'static [u64; 32] {
    // SAFETY: the table is immutable data emitted by the assembly below.
    unsafe { &*core::ptr::addr_of!(coracle_trap_vectors) }
}

/// Runs user code with `context` until it makes a system call or traps; the context then holds
/// the user registers and `trap` says why.
pub fn run_user(context: &mut UserContext) {
    debug_assert!(
        context.rip < 0x0000_8000_0000_0000,
        "user rip must be canonical-low"
    );
    // Only the arithmetic flags, DF, TF (single-step: ptrace, or the program's own POPF) and
    // RF (past an instruction breakpoint; IRETQ only) may come from the user; IF is always set.
    context.rflags = (context.rflags & 0x1_0dd5) | 0x202;
    // SAFETY: the context is a valid, exclusively borrowed UserContext for the whole call;
    // user code can only reach it through the trap entries, which write the registers into it.
    unsafe { coracle_run_user(context) }
}

global_asm!(
    r#"
    .section .text.coracle_trap, "ax"
    .global coracle_run_user
coracle_run_user:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov gs:[16], rsp
    mov gs:[8], rdi
    cmp qword ptr [rdi + 144], 0x100
    jne 2f
    /* Back from a system call: SYSRET, which clobbers rcx and r11 as SYSCALL did. */
    mov rcx, [rdi + 128]
    mov r11, [rdi + 136]
    mov rax, [rdi + 0]
    mov rbx, [rdi + 8]
    mov rdx, [rdi + 24]
    mov rsi, [rdi + 32]
    mov rbp, [rdi + 48]
    mov r8, [rdi + 64]
    mov r9, [rdi + 72]
    mov r10, [rdi + 80]
    mov r12, [rdi + 96]
    mov r13, [rdi + 104]
    mov r14, [rdi + 112]
    mov r15, [rdi + 120]
    mov rsp, [rdi + 56]
    mov rdi, [rdi + 40]
    swapgs
    sysretq
2:
    /* Any other return restores every register exactly, through IRETQ. */
    push 0x1b
    push qword ptr [rdi + 56]
    push qword ptr [rdi + 136]
    push 0x23
    push qword ptr [rdi + 128]
    mov rax, [rdi + 0]
    mov rbx, [rdi + 8]
    mov rcx, [rdi + 16]
    mov rdx, [rdi + 24]
    mov rsi, [rdi + 32]
    mov rbp, [rdi + 48]
    mov r8, [rdi + 64]
    mov r9, [rdi + 72]
    mov r10, [rdi + 80]
    mov r11, [rdi + 88]
    mov r12, [rdi + 96]
    mov r13, [rdi + 104]
    mov r14, [rdi + 112]
    mov r15, [rdi + 120]
    mov rdi, [rdi + 40]
    swapgs
    iretq

    .global coracle_syscall_entry
coracle_syscall_entry:
    swapgs
    mov gs:[24], rsp
    mov rsp, gs:[8]
    add rsp, 144                 /* just past UserContext.rflags: push fills it downwards */
    push r11                     /* rflags */
    push rcx                     /* rip */
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push qword ptr gs:[24]       /* rsp */
    push rbp
    push rdi
    push rsi
    push rdx
    push rcx
    push rbx
    push rax
    mov qword ptr [rsp + 144], 0x100
    mov qword ptr [rsp + 152], 0
    jmp 3f

    .global coracle_trap_common
coracle_trap_common:
trap_common:
    test byte ptr [rsp + 24], 3
    jz kernel_trap_entry
    swapgs
    /* Interrupt and exception gates keep the user's direction flag (SYSCALL clears it through
       FMASK): the kernel's string copies need it clear, as the ABI promises every function. */
    cld
    push rax
    mov rax, gs:[8]
    mov [rax + 8], rbx
    mov [rax + 16], rcx
    mov [rax + 24], rdx
    mov [rax + 32], rsi
    mov [rax + 40], rdi
    mov [rax + 48], rbp
    mov [rax + 64], r8
    mov [rax + 72], r9
    mov [rax + 80], r10
    mov [rax + 88], r11
    mov [rax + 96], r12
    mov [rax + 104], r13
    mov [rax + 112], r14
    mov [rax + 120], r15
    pop rbx
    mov [rax + 0], rbx           /* rax */
    pop rbx
    mov [rax + 144], rbx         /* vector */
    pop rbx
    mov [rax + 152], rbx         /* error code */
    pop rbx
    mov [rax + 128], rbx         /* rip */
    pop rbx                      /* cs */
    pop rbx
    mov [rax + 136], rbx         /* rflags */
    pop rbx
    mov [rax + 56], rbx          /* rsp */
3:
    /* Back onto the kernel stack of run_user, and return from it. */
    mov rsp, gs:[16]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

kernel_trap_entry:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    call coracle_kernel_trap
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

    .altmacro
    .macro trap_stub n
    .balign 16
trap_stub_\n:
    .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    push 0
    .endif
    push \n
    jmp trap_common
    .endm
    .set i, 0
    .rept 32
    trap_stub %i
    .set i, i + 1
    .endr

    .macro trap_addr n
    .quad trap_stub_\n
    .endm
    .section .rodata.coracle_trap_vectors, "a"
    .balign 8
    .global coracle_trap_vectors
coracle_trap_vectors:
    .set i, 0
    .rept 32
    trap_addr %i
    .set i, i + 1
    .endr
    .noaltmacro
"#
);

// The interrupt entry points: like the exception stubs, with no error code, and the vector
// numbers taken from `interrupt` so the assembly cannot drift from them.
global_asm!(
    r#"
    .section .text.coracle_trap, "ax"
    .balign 16
irq_stub_timer:
    push 0
    push {timer}
    jmp coracle_trap_common
    .balign 16
irq_stub_wake:
    push 0
    push {wake}
    jmp coracle_trap_common
    .balign 16
irq_stub_tlb:
    push 0
    push {tlb}
    jmp coracle_trap_common
    .balign 16
irq_stub_spurious:
    push 0
    push {spurious}
    jmp coracle_trap_common

    .section .rodata.coracle_irq_vectors, "a"
    .balign 8
    .global coracle_irq_vectors
coracle_irq_vectors:
    .quad irq_stub_timer
    .quad irq_stub_wake
    .quad irq_stub_tlb
    .quad irq_stub_spurious
"#,
    timer = const interrupt::TIMER,
    wake = const interrupt::WAKE,
    tlb = const interrupt::TLB_SHOOTDOWN,
    spurious = const interrupt::SPURIOUS,
);

// The device interrupt entry points: one stub per vector of the device range, pushing its
// vector number, so a handler knows which device interrupted.
global_asm!(
    r#"
    .section .text.coracle_trap, "ax"
    .altmacro
    .macro device_stub n
    .balign 16
device_stub_\n:
    push 0
    push \n
    jmp coracle_trap_common
    .endm
    .set i, {base}
    .rept {count}
    device_stub %i
    .set i, i + 1
    .endr

    .macro device_addr n
    .quad device_stub_\n
    .endm
    .section .rodata.coracle_device_vectors, "a"
    .balign 8
    .global coracle_device_vectors
coracle_device_vectors:
    .set i, {base}
    .rept {count}
    device_addr %i
    .set i, i + 1
    .endr
    .noaltmacro
"#,
    base = const interrupt::DEVICE_BASE,
    count = const interrupt::DEVICE_COUNT,
);
