//! Physical page frames: a buddy allocator over all free RAM.

use buddy_system_allocator::FrameAllocator;
use spin::Mutex;
use x86_64::structures::paging::{PhysFrame, Size4KiB};
use x86_64::PhysAddr;

use super::{phys_to_virt, PAGE_SIZE};
use crate::pvh::MemRange;

static FRAMES: Mutex<FrameAllocator<32>> = Mutex::new(FrameAllocator::new());

/// Hands every free range to the allocator (frame numbers, not addresses).
pub fn init(free: &[MemRange]) {
    let mut frames = FRAMES.lock();
    for r in free {
        if r.start < r.end {
            frames.add_frame((r.start / PAGE_SIZE) as usize, (r.end / PAGE_SIZE) as usize);
        }
    }
}

/// A fresh zeroed 4 KiB frame, or `None` when memory is exhausted.
pub fn alloc_zeroed() -> Option<PhysFrame<Size4KiB>> {
    let n = FRAMES.lock().alloc(1)?;
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
}
