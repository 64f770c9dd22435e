//! Bulk memory operations for whole pages and large copies.
//!
//! Written with `rep stosq` / `rep movsq`: one iteration per 8 bytes. Under software emulation
//! (TCG) each string iteration is emulated separately, so this is 8× fewer than the byte-wise
//! `rep stosb` the compiler's memset uses; on hardware both are fast.

use core::arch::asm;

/// Zeroes the 4 KiB page at `page`.
///
/// # Safety
/// `page` must be 8-byte aligned and valid for writes of 4096 bytes.
pub unsafe fn zero_page(page: *mut u8) {
    // SAFETY: the caller guarantees 4096 writable bytes at `page`; DF is clear per the ABI.
    unsafe {
        asm!("rep stosq", inout("rdi") page => _, inout("rcx") 512u64 => _, in("rax") 0u64,
             options(nostack, preserves_flags))
    }
}

/// Copies `len` bytes from `src` to `dst`, 8 at a time, then the tail.
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `len` bytes, not overlapping.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: the caller guarantees both ranges; the two string instructions together move
    // exactly `len` bytes forward (DF is clear per the ABI).
    unsafe {
        asm!("rep movsq", "mov rcx, {tail}", "rep movsb",
             tail = in(reg) len % 8,
             inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") len / 8 => _,
             options(nostack, preserves_flags))
    }
}
