//! Keeping other CPUs' TLBs honest about user mappings that went away or lost permissions.
//!
//! Threads of a process run on several CPUs at once, so a page unmapped on one CPU may still
//! sit in another CPU's TLB. After changing user page-table entries the kernel asks every
//! other CPU to flush without waiting for it (a CPU that spins on a lock with interrupts off
//! could never answer), and keeps the frames that were unmapped out of the allocator until
//! every CPU has flushed: a stale translation can then only reach a frame nobody else owns.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use spin::Mutex;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

use super::frame;
use crate::arch::{self, TlbTicket};

/// Frames unmapped but possibly still in another CPU's TLB, oldest first.
static RETIRED: Mutex<VecDeque<(TlbTicket, Vec<PhysFrame<Size4KiB>>)>> =
    Mutex::new(VecDeque::new());

/// After unmapping `[start, start+len)`: flushes it everywhere and frees `frames` once every
/// CPU has flushed.
pub fn retire(start: u64, len: u64, frames: Vec<PhysFrame<Size4KiB>>) {
    if arch::cpus_online() == 1 {
        x86_64::instructions::tlb::flush_all();
        frames.into_iter().for_each(frame::free);
        return;
    }
    let ticket = arch::tlb_shootdown_async(start, len);
    if !frames.is_empty() {
        RETIRED.lock().push_back((ticket, frames));
    }
    reclaim();
}

/// After reducing permissions in `[start, start+len)` (no frames freed): flushes everywhere.
pub fn flush(start: u64, len: u64) {
    if arch::cpus_online() == 1 {
        x86_64::instructions::tlb::flush_all();
        return;
    }
    let _ = arch::tlb_shootdown_async(start, len);
}

/// Frees the retired frames every CPU has flushed by now.
pub fn reclaim() {
    let mut freed = Vec::new();
    {
        let mut retired = RETIRED.lock();
        while retired.front().is_some_and(|(t, _)| t.is_done()) {
            if let Some((_, frames)) = retired.pop_front() {
                freed.extend(frames);
            }
        }
    }
    freed.into_iter().for_each(frame::free);
}
