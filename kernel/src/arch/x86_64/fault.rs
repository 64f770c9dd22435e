//! The IDT and what happens on a trap taken in the kernel: an interrupt (handled), a user-copy
//! fixup, or a readable report (vector, error code, registers, CR2, backtrace) and a stop with
//! a failure status.

use spin::Once;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::VirtAddr;

use super::trap::KernelFrame;
use super::{gdt, interrupt, trap, usercopy};

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Vector of the page fault.
pub const PAGE_FAULT: u64 = 14;

/// Builds the IDT once and loads it on this CPU: every exception and interrupt goes to the
/// common trap entry.
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        let vectors = trap::trap_vectors();
        for (vector, &addr) in vectors.iter().enumerate() {
            let addr = VirtAddr::new(addr);
            // SAFETY: each address is an entry stub from trap.rs that saves the state and
            // handles both user and kernel origins; the double fault gets its own stack.
            unsafe {
                let opts = match vector {
                    8 => idt.double_fault.set_handler_addr(addr),
                    10 => idt.invalid_tss.set_handler_addr(addr),
                    11 => idt.segment_not_present.set_handler_addr(addr),
                    12 => idt.stack_segment_fault.set_handler_addr(addr),
                    13 => idt.general_protection_fault.set_handler_addr(addr),
                    14 => idt.page_fault.set_handler_addr(addr),
                    17 => idt.alignment_check.set_handler_addr(addr),
                    18 => idt.machine_check.set_handler_addr(addr),
                    21 => idt.cp_protection_exception.set_handler_addr(addr),
                    28 => idt.hv_injection_exception.set_handler_addr(addr),
                    29 => idt.vmm_communication_exception.set_handler_addr(addr),
                    30 => idt.security_exception.set_handler_addr(addr),
                    // Reserved vectors (15, 22..=27, 31) cannot be set in the x86_64 crate's
                    // table; those vectors are never raised by the CPU.
                    15 | 22..=27 | 31 => continue,
                    _ => idt[vector as u8].set_handler_addr(addr),
                };
                if vector == 8 {
                    opts.set_stack_index(gdt::DOUBLE_FAULT_IST);
                }
                // int3 and into may be used by user code (Linux's system gates): SIGTRAP and
                // SIGSEGV, not a general protection fault.
                if vector == 3 || vector == 4 {
                    opts.set_privilege_level(x86_64::PrivilegeLevel::Ring3);
                }
            }
        }
        for (vector, addr) in trap::irq_vectors().chain(trap::device_vectors()) {
            // SAFETY: the interrupt stubs from trap.rs handle both user and kernel origins
            // (see `interrupt`).
            unsafe { idt[vector].set_handler_addr(VirtAddr::new(addr)) };
        }
        idt
    });
    idt.load();
}

/// Names of the exception vectors, for reports.
pub fn vector_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "divide error",
        "debug",
        "NMI",
        "breakpoint",
        "overflow",
        "bound range",
        "invalid opcode",
        "device not available",
        "double fault",
        "coprocessor overrun",
        "invalid TSS",
        "segment not present",
        "stack fault",
        "general protection",
        "page fault",
        "reserved",
        "x87 floating point",
        "alignment check",
        "machine check",
        "SIMD floating point",
        "virtualization",
        "control protection",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "reserved",
        "hypervisor injection",
        "VMM communication",
        "security",
        "reserved",
    ];
    NAMES.get(vector as usize).copied().unwrap_or("interrupt")
}

/// Called by `kernel_trap_entry` for every trap taken in ring 0.
#[no_mangle]
extern "C" fn coracle_kernel_trap(frame: &mut KernelFrame) {
    if interrupt::is_interrupt(frame.vector) {
        interrupt::handle_in_kernel(frame.vector);
        return;
    }
    if frame.vector == PAGE_FAULT {
        if let Some(fixup) = usercopy::fixup_for(frame.rip) {
            frame.rip = fixup;
            return;
        }
    }
    let cr2 = Cr2::read_raw();
    crate::panic::report_kernel_fault(frame, cr2);
}
