//! Copies to and from the current address space's user memory.
//!
//! These reach resident pages only; `mm::Faulting` wraps them for a system call so that a
//! copy faults its pages in and tries again. Typed pointers (`crate::user_ptr`) sit on top.

use crate::Errno;

/// The user half of the current address space, byte by byte.
pub trait UserMemory {
    /// Copies `buf.len()` bytes from user address `addr`. `EFAULT` if any byte is outside the
    /// user half or not mapped readable.
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    /// Copies `data` to user address `addr`. `EFAULT` if any byte is outside the user half or not
    /// mapped writable.
    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno>;
    /// Atomically replaces the u32 at user address `addr` with `new` if it holds `expected`;
    /// returns the value it held. `EFAULT` as for [`UserMemory::write_user`].
    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno>;
}
