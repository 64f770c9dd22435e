//! Checked access to user memory: the only place the kernel reads or writes user addresses.
//!
//! A range must lie entirely in the user half (below the canonical hole) — which keeps kernel
//! addresses out — and every byte must be mapped: a missing page turns into `EFAULT` through
//! the copy routine's fault fixup (arch::usercopy), never a kernel fault.
//!
//! The kernel runs with interrupts off, so a TLB shootdown another CPU asked for (an munmap,
//! an mprotect, a copy-on-write break by another thread) waits here until this CPU next
//! enters user mode or idles. A copy through a translation that request was meant to drop
//! would reach the old frame (kept out of the allocator until every CPU flushed): a signal
//! frame written there, say, while the program then reads the new page. So every access first
//! answers the requests already made ([`crate::arch::tlb_service`], one load when there are
//! none), as Linux's kernel, running with interrupts on, has answered the flush IPI by then.

use coracle_syscalls::Errno;

use crate::arch::usercopy;

/// End of the user half: the first non-canonical address.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

fn check(addr: u64, len: usize) -> Result<(), Errno> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// Copies `buf.len()` bytes from user address `addr`.
pub fn read(addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
    if buf.is_empty() {
        return Ok(());
    }
    check(addr, buf.len())?;
    crate::arch::tlb_service();
    // SAFETY: `buf` is a valid kernel buffer of that length; the user side was range-checked
    // and faults are caught by the copy's fixup.
    unsafe { usercopy::copy(buf.as_mut_ptr(), addr as *const u8, buf.len()) }
        .map_err(|()| Errno::EFAULT)
}

/// Copies `data` to user address `addr`. Needs the pages mapped writable for the user:
/// the kernel runs with CR0.WP, so a read-only user page faults here as it would for the app.
pub fn write(addr: u64, data: &[u8]) -> Result<(), Errno> {
    if data.is_empty() {
        return Ok(());
    }
    check(addr, data.len())?;
    crate::arch::tlb_service();
    // SAFETY: as for `read`, with the directions swapped.
    unsafe { usercopy::copy(addr as *mut u8, data.as_ptr(), data.len()) }
        .map_err(|()| Errno::EFAULT)
}

/// Atomically replaces the u32 at user address `addr` with `new` if it holds `expected`;
/// returns the value it held. Other CPUs' threads may be changing the word at the same time
/// (a futex), so this is one locked instruction, not a read and a write.
pub fn cmpxchg_u32(addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
    check(addr, 4)?;
    crate::arch::tlb_service();
    usercopy::cmpxchg_u32(addr, expected, new).map_err(|()| Errno::EFAULT)
}
