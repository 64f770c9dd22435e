//! Keeping other CPUs' TLBs honest about user mappings that went away or lost permissions.
//!
//! Threads of a process run on several CPUs at once, so a page unmapped on one CPU may still
//! sit in another CPU's TLB. After changing user page-table entries the kernel asks every
//! other CPU to flush without waiting for it (a CPU that spins on a lock with interrupts off
//! could never answer), and keeps the frames that were unmapped out of the allocator until
//! every CPU has flushed: a stale translation can then only reach a frame nobody else owns.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_syscalls::platform::Page;

use spin::Mutex;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

use super::frame;
use crate::arch::{self, TlbTicket};

/// What was unmapped but may still sit in another CPU's TLB: frames to free, and shared file
/// pages (kernel heap) to let go of.
struct Retired {
    frames: Vec<PhysFrame<Size4KiB>>,
    pages: Vec<Arc<Page>>,
}

/// Retired memory, oldest first.
static RETIRED: Mutex<VecDeque<(TlbTicket, Retired)>> = Mutex::new(VecDeque::new());

/// After unmapping `[start, start+len)`: flushes it everywhere and frees `frames` once every
/// CPU has flushed; the shared file pages `pages` (mapped in the range) are held until then
/// too: a stale translation must not reach heap memory reused for something else.
pub fn retire(start: u64, len: u64, frames: Vec<PhysFrame<Size4KiB>>, pages: Vec<Arc<Page>>) {
    if arch::cpus_online() == 1 {
        x86_64::instructions::tlb::flush_all();
        frames.into_iter().for_each(frame::free);
        drop(pages);
        return;
    }
    let ticket = arch::tlb_shootdown_async(start, len);
    if !frames.is_empty() || !pages.is_empty() {
        RETIRED
            .lock()
            .push_back((ticket, Retired { frames, pages }));
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

/// Frees the retired memory every CPU has flushed by now.
pub fn reclaim() {
    let mut freed = Vec::new();
    {
        let mut retired = RETIRED.lock();
        while retired.front().is_some_and(|(t, _)| t.is_done()) {
            if let Some((_, r)) = retired.pop_front() {
                freed.push(r);
            }
        }
    }
    // Outside the lock: dropping a page may free heap memory.
    for r in freed {
        r.frames.into_iter().for_each(frame::free);
        drop(r.pages);
    }
}
