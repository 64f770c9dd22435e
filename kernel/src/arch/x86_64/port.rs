//! Port I/O: the console and exit devices, and PCI configuration space.

use core::arch::asm;

/// Writes one byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: the kernel only names ports of devices it owns (debugcon, debug-exit, COM1, PIC,
    // the PCI configuration ports);
    // a port write has no memory effects visible to Rust.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads one byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as for `outb`; reading a device register has no memory effects visible to Rust.
    unsafe {
        asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

/// Writes a 32-bit value to an I/O port (PCI configuration: 0xcf8/0xcfc).
pub fn outl(port: u16, value: u32) {
    // SAFETY: as for `outb`.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads a 32-bit value from an I/O port.
pub fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: as for `inb`.
    unsafe {
        asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags))
    }
    value
}

/// Writes a whole buffer to one port with a single `rep outsb`: under KVM that is one exit per
/// page instead of one per byte, which is why the console batches its output.
pub fn outsb(port: u16, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    // SAFETY: `rep outsb` reads exactly `data.len()` bytes starting at `data.as_ptr()`, which the
    // slice guarantees are readable; DF is clear (the ABI requires it on function entry).
    unsafe {
        asm!("rep outsb", inout("rsi") data.as_ptr() => _, inout("rcx") data.len() => _,
             in("dx") port, options(nostack, preserves_flags, readonly))
    }
}
