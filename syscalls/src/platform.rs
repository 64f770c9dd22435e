//! What the syscall layer needs from the kernel, as one small trait.
//!
//! The kernel implements [`Platform`] over real hardware; the tests implement it over plain
//! memory. Methods are the smallest operations the handlers need, so their Linux semantics
//! (errors, flags, struct layouts) stay in this crate.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::Errno;

pub use coracle_loader::Perms;
pub use coracle_vfs::page::Page;

/// A program output stream on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One process's user address space, as the kernel keeps it (its page tables): opaque here,
/// handed back to the platform that made it.
pub type Space = Arc<dyn core::any::Any + Send + Sync>;

/// Kernel services used by the syscall handlers.
pub trait Platform {
    /// Copies `buf.len()` bytes from user address `addr`. `EFAULT` if any byte is outside the
    /// user half or not mapped readable.
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno>;
    /// Copies `data` to user address `addr`. `EFAULT` if any byte is outside the user half or not
    /// mapped writable.
    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno>;

    /// Atomically replaces the u32 at user address `addr` with `new` if it holds `expected`;
    /// returns the value it held. The default is for single-CPU fakes.
    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.read_user(addr, &mut b)?;
        let old = u32::from_le_bytes(b);
        if old == expected {
            self.write_user(addr, &new.to_le_bytes())?;
        }
        Ok(old)
    }

    /// Saves the calling thread's FP/SSE/AVX registers into `area` (for a new thread, which
    /// starts with a copy). The default leaves `area` as it is (the initial state).
    fn save_fpu(&mut self, _area: &mut crate::regs::FpArea) {}

    /// Loads the calling thread's FP/SSE/AVX registers from `area` (a signal handler starts
    /// with the initial state; rt_sigreturn brings back the saved one). The area holds a valid
    /// image for [`Platform::fpu_layout`]: the signal code checks what came from user memory.
    fn load_fpu(&mut self, _area: &crate::regs::FpArea) {}

    /// How the CPU saves FP state (the shape of a signal frame's FP part).
    fn fpu_layout(&self) -> crate::regs::FpuLayout {
        crate::regs::FpuLayout::FXSAVE
    }

    /// Writes program output to the host.
    fn write_stream(&mut self, stream: Stream, data: &[u8]);
    /// Reads the host's stdin (only called when it is forwarded); blocks until at least one byte
    /// or end of input, which returns 0.
    fn read_stdin(&mut self, buf: &mut [u8]) -> usize;

    // ---- The user half's page tables ----
    //
    // The page tables hold the resident pages of the VMAs that `crate::mm` keeps. Callers hold
    // the process's mm lock, pass page-aligned ranges inside the user half, and only map pages
    // that are not mapped (mapping over a page replaces it). Whatever removes or downgrades a
    // mapping makes sure no CPU uses the old translation before it returns.

    /// Maps fresh zeroed pages at `[start, start+len)` with `perms`. `ENOMEM` when memory runs
    /// out (pages mapped before that stay mapped).
    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno>;
    /// Maps one fresh page at `va` holding `data` (at most a page), the rest zero. `ENOMEM`.
    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno>;
    /// Maps the file page `page` itself at `va`, so stores through the mapping land in the
    /// file. The caller keeps the page alive while it is mapped; unmapping never frees it.
    /// `ENOMEM` when a page table cannot be made.
    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno>;
    /// Unmaps `[start, start+len)` (holes are fine), frees the pages it owned once no CPU can
    /// reach them any more, and returns how many pages were mapped. `keep` holds the shared
    /// pages that were mapped there: the platform drops them only once no CPU can reach them.
    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64;
    /// Sets the permissions of the mapped pages in `[start, start+len)`.
    fn protect(&mut self, start: u64, len: u64, perms: Perms);
    /// Moves the mapped pages of `[from, from+len)` to the same offsets from `to` (a range
    /// with nothing mapped, not overlapping). `ENOMEM` (and nothing moved) when a page table
    /// cannot be made.
    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno>;
    /// The permissions `va`'s page is mapped with, if it is mapped.
    fn query(&self, va: u64) -> Option<Perms>;
    /// Makes the mapped page at `va` writable with `perms` (a write fault on a page mapped
    /// without write): a page a fork left shared copy-on-write is copied first, unless this
    /// space holds the last reference. `ENOMEM` when no page is left for the copy.
    fn make_writable(&mut self, va: u64, perms: Perms) -> Result<(), Errno> {
        self.protect(va, 4096, perms);
        Ok(())
    }

    // ---- Address spaces (processes) ----

    /// The address space the memory methods work on now.
    fn space(&self) -> Option<Space> {
        None
    }
    /// A copy of the current user half for a forked child: pages of shared mappings are
    /// shared, private pages copy-on-write. The caller holds the process's mm lock.
    fn fork_space(&mut self) -> Result<Space, Errno> {
        Err(Errno::ENOSYS)
    }
    /// A new, empty user half (for execve).
    fn new_space(&mut self) -> Result<Space, Errno> {
        Err(Errno::ENOSYS)
    }
    /// Makes the memory methods (and the CPU) work on `space` from now on.
    fn switch_space(&mut self, _space: &Space) {}
    /// Unmaps the whole user half of `space` and frees its pages once no CPU can reach them;
    /// `keep` are the shared pages its mappings held, let go of then too.
    fn release_space(&mut self, _space: &Space, _keep: Vec<Arc<Page>>) {}
    /// Unmaps `[start, start+len)` in `space`, which is not the current one (a forked child's,
    /// before it first runs), freeing what only it held.
    fn unmap_in(&mut self, _space: &Space, _start: u64, _len: u64) {}
    /// Maps the vDSO's data page at `base` and the vDSO right above it in the current space;
    /// returns the vDSO's address and its end, or `None` without a vDSO.
    fn map_vdso(&mut self, _base: u64) -> Option<(u64, u64)> {
        None
    }
    /// AT_HWCAP and AT_HWCAP2 for a new program.
    fn hwcaps(&self) -> (u64, u64) {
        (0, 0)
    }

    /// Sets the user FS base (thread pointer).
    fn set_fs_base(&mut self, base: u64);
    /// The user FS base.
    fn fs_base(&self) -> u64;
    /// Sets the user GS base.
    fn set_gs_base(&mut self, base: u64);
    /// The user GS base.
    fn gs_base(&self) -> u64;

    /// CLOCK_REALTIME in nanoseconds since the epoch.
    fn realtime_ns(&self) -> u64;
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC: what moves an absolute wall-clock deadline onto
    /// the monotonic timeline. Exact where the kernel knows it; the default reads the two
    /// clocks (realtime first, so a gap between the reads makes a deadline late, never early).
    fn realtime_offset_ns(&self) -> u64 {
        let real = self.realtime_ns();
        real.saturating_sub(self.monotonic_ns())
    }
    /// CLOCK_MONOTONIC in nanoseconds since boot.
    fn monotonic_ns(&self) -> u64;
    /// Busy or idle wait until CLOCK_MONOTONIC reaches `deadline_ns`.
    fn sleep_until(&mut self, deadline_ns: u64);
    /// Fills `buf` with random bytes.
    fn random(&mut self, buf: &mut [u8]);

    /// Writes one line to the kernel log.
    fn log(&mut self, args: fmt::Arguments<'_>);
    /// Whether per-syscall debug logging is on.
    fn verbose(&self) -> bool {
        false
    }
}
