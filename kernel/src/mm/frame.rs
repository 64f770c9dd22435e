//! Physical page frames: a buddy allocator over all free RAM.

use core::sync::atomic::{AtomicU64, Ordering};

use buddy_system_allocator::FrameAllocator;
use spin::Mutex;
use x86_64::structures::paging::{PhysFrame, Size4KiB};
use x86_64::PhysAddr;

use super::{phys_to_virt, PAGE_SIZE};
use crate::pvh::MemRange;

static FRAMES: Mutex<FrameAllocator<32>> = Mutex::new(FrameAllocator::new());
/// Frames handed to the allocator, and frames currently free (for /proc/meminfo).
static TOTAL: AtomicU64 = AtomicU64::new(0);
static FREE: AtomicU64 = AtomicU64::new(0);

/// (frames managed, frames free).
pub fn stats() -> (u64, u64) {
    (TOTAL.load(Ordering::Relaxed), FREE.load(Ordering::Relaxed))
}

/// Hands every free range to the allocator (frame numbers, not addresses).
pub fn init(free: &[MemRange]) {
    let mut frames = FRAMES.lock();
    for r in free {
        if r.start < r.end {
            frames.add_frame((r.start / PAGE_SIZE) as usize, (r.end / PAGE_SIZE) as usize);
            let n = (r.end - r.start) / PAGE_SIZE;
            TOTAL.fetch_add(n, Ordering::Relaxed);
            FREE.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// A fresh zeroed 4 KiB frame, or `None` when memory is exhausted.
pub fn alloc_zeroed() -> Option<PhysFrame<Size4KiB>> {
    let n = FRAMES.lock().alloc(1)?;
    FREE.fetch_sub(1, Ordering::Relaxed);
    let phys = n as u64 * PAGE_SIZE;
    // SAFETY: the frame was just taken from the allocator, so nothing else uses it, and the
    // direct map covers it read-write, page-aligned.
    unsafe { crate::arch::mem::zero_page(phys_to_virt(phys) as *mut u8) };
    Some(PhysFrame::containing_address(PhysAddr::new(phys)))
}

/// Returns a frame to the allocator.
pub fn free(frame: PhysFrame<Size4KiB>) {
    FRAMES
        .lock()
        .dealloc((frame.start_address().as_u64() / PAGE_SIZE) as usize, 1);
    FREE.fetch_add(1, Ordering::Relaxed);
}
