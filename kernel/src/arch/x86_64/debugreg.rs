//! The debug registers: a traced thread's hardware breakpoints (DR0-DR3, DR7) are armed only
//! while it runs in user mode, so that the kernel's own accesses to a watched user address
//! never fire, and DR6 is read and cleared after a debug exception from user mode.

use core::arch::asm;

/// DR6's value with no status bit set (its reserved bits read as 1).
const DR6_CLEAR: u64 = 0xffff_0ff0;

/// Loads the breakpoint addresses and then DR7, which enables them.
pub fn arm(addr: &[u64; 4], dr7: u64) {
    // SAFETY: writing DR0-DR3 and DR7 in ring 0 only changes which user accesses raise #DB,
    // which the trap path handles (vector 1 from user mode becomes a SIGTRAP); `disarm` runs
    // before any kernel code touches user memory.
    unsafe {
        asm!("mov dr0, {}", in(reg) addr[0], options(nostack, preserves_flags));
        asm!("mov dr1, {}", in(reg) addr[1], options(nostack, preserves_flags));
        asm!("mov dr2, {}", in(reg) addr[2], options(nostack, preserves_flags));
        asm!("mov dr3, {}", in(reg) addr[3], options(nostack, preserves_flags));
        asm!("mov dr7, {}", in(reg) dr7, options(nostack, preserves_flags));
    }
}

/// Turns every breakpoint off.
pub fn disarm() {
    // SAFETY: clearing DR7 disables all hardware breakpoints; nothing depends on them.
    unsafe {
        asm!("mov dr7, {}", in(reg) 0u64, options(nostack, preserves_flags));
    }
}

/// DR6 after a debug exception, cleared for the next one (the CPU never clears it).
pub fn take_status() -> u64 {
    let status: u64;
    // SAFETY: reading and writing DR6 in ring 0 has no effect but on the status bits.
    unsafe {
        asm!("mov {}, dr6", out(reg) status, options(nostack, preserves_flags));
        asm!("mov dr6, {}", in(reg) DR6_CLEAR, options(nostack, preserves_flags));
    }
    status
}
