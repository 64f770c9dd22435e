//! x86_64: boot, CPU setup, traps, user entry, interrupts, the other CPUs, port I/O. The only
//! home of inline assembly.

pub mod acpi;
pub mod apic;
mod boot;
pub mod cpu;
pub mod debugreg;
pub mod fault;
pub mod fpu;
pub mod gdt;
pub mod interrupt;
pub mod ioapic;
pub mod mem;
pub mod port;
pub mod selftest;
pub mod smp;
pub mod tlb;
pub mod trap;
pub mod usercopy;

use x86_64::registers::model_specific::{FsBase, KernelGsBase};
use x86_64::VirtAddr;

// The interface of the per-CPU scheduler loop (not all of it used yet).
pub use interrupt::idle_wait;
#[allow(unused_imports)]
pub use interrupt::{interrupt_done, is_interrupt, Interrupt};
pub use smp::{cpus_online, send_ipi, start_aps, MAX_CPUS};
pub use tlb::service as tlb_service;
pub use tlb::shootdown_all as tlb_shootdown_all;
pub use tlb::shootdown_range as tlb_shootdown_range;
pub use tlb::{shootdown_range_async as tlb_shootdown_async, Ticket as TlbTicket};
pub use trap::cpu_index;

/// Brings up the boot CPU: GDT/TSS, IDT, SSE/AVX, the SYSCALL path, the local APIC; masks
/// the legacy PIC, whose interrupts would otherwise arrive on exception vectors.
pub fn init() -> cpu::Features {
    gdt::init(0, gdt::boot_stacks());
    fault::init();
    let features = cpu::init();
    fpu::init();
    trap::init(0);
    port::outb(0x21, 0xff);
    port::outb(0xa1, 0xff);
    if let Err(e) = apic::init() {
        crate::log!("apic: {e}; no timer interrupts, one CPU");
    }
    features
}

/// Arms this CPU's timer for the absolute TSC value `deadline_tsc` (0 disarms); see
/// [`apic::arm_timer`].
pub fn arm_timer(deadline_tsc: u64) {
    apic::arm_timer(deadline_tsc);
}

/// Sets the user FS base (the kernel never uses FS, so it is written at once).
pub fn set_user_fs_base(base: u64) {
    FsBase::write(VirtAddr::new_truncate(base));
}

/// The user FS base.
pub fn user_fs_base() -> u64 {
    FsBase::read().as_u64()
}

/// Sets the user GS base: while in the kernel it sits in KERNEL_GS_BASE, swapped in on exit.
pub fn set_user_gs_base(base: u64) {
    KernelGsBase::write(VirtAddr::new_truncate(base));
}

/// The user GS base.
pub fn user_gs_base() -> u64 {
    KernelGsBase::read().as_u64()
}

/// The current frame pointer, for backtraces.
pub fn frame_pointer() -> u64 {
    let rbp: u64;
    // SAFETY: reads a register; no memory access.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags))
    };
    rbp
}

extern "C" {
    static __data_start: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __kernel_end: u8;
}

/// Whether `[addr, addr+len)` lies in kernel memory that holds stacks and is mapped (the data
/// and bss segments, the boot stack above its guard page).
pub fn stack_range_contains(addr: u64, len: u64) -> bool {
    let (data, guard, bottom, end) = (
        (&raw const __data_start) as u64,
        (&raw const __stack_guard) as u64,
        (&raw const __stack_bottom) as u64,
        (&raw const __kernel_end) as u64,
    );
    let Some(last) = addr.checked_add(len) else {
        return false;
    };
    (addr >= data && last <= guard)
        || (addr >= bottom && last <= end)
        || smp::on_ap_stack(addr, len)
}
