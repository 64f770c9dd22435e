//! Physical page frames: a buddy allocator over all free RAM, and the reference counts of
//! frames that several address spaces map copy-on-write after a fork.

use alloc::collections::BTreeMap;
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

/// Frames mapped by more than one address space (copy-on-write after fork): frame number to
/// the number of references beyond the first. A frame not in the map has one owner.
static SHARED: Mutex<BTreeMap<u64, u32>> = Mutex::new(BTreeMap::new());

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

/// Frames single-frame allocations leave free: 1/64 of memory, at least 128 KiB (a few-MiB
/// VM must still fit a program: the memory floors of tools/tests/vm.rs). Only the heap
/// grows into them (`try_alloc_contiguous`), so when programs have taken every other frame
/// (their pages, file data, page tables) the kernel's own objects still have room, and the
/// calls that make them fail with an errno (`syscalls::kmem`) before the heap runs dry.
fn reserve() -> u64 {
    (TOTAL.load(Ordering::Relaxed) / 64).max((128 << 10) / PAGE_SIZE)
}

/// A fresh zeroed 4 KiB frame, or `None` when memory is exhausted (down to the reserve).
/// Clean page-cache pages go back first (`super::pressure`) when free frames run low.
pub fn alloc_zeroed() -> Option<PhysFrame<Size4KiB>> {
    let total = TOTAL.load(Ordering::Relaxed);
    if FREE.load(Ordering::Relaxed) <= super::pressure::low_mark(total, reserve()) {
        super::pressure::on_low();
    }
    if FREE.load(Ordering::Relaxed) <= reserve() {
        // What programs freed may still sit in the heap: take it back first.
        super::heap::reclaim(reserve());
        if FREE.load(Ordering::Relaxed) <= reserve() {
            return None;
        }
    }
    let n = FRAMES.lock().alloc(1)?;
    FREE.fetch_sub(1, Ordering::Relaxed);
    let phys = n as u64 * PAGE_SIZE;
    // SAFETY: the frame was just taken from the allocator, so nothing else uses it, and the
    // direct map covers it read-write, page-aligned.
    unsafe { crate::arch::mem::zero_page(phys_to_virt(phys) as *mut u8) };
    Some(PhysFrame::containing_address(PhysAddr::new(phys)))
}

/// Adds a reference to `frame` (a fork maps it in one more address space).
pub fn share(frame: PhysFrame<Size4KiB>) {
    *SHARED
        .lock()
        .entry(frame.start_address().as_u64() / PAGE_SIZE)
        .or_insert(0) += 1;
}

/// Whether more than one address space holds `frame`.
pub fn is_shared(frame: PhysFrame<Size4KiB>) -> bool {
    SHARED
        .lock()
        .contains_key(&(frame.start_address().as_u64() / PAGE_SIZE))
}

/// Drops one reference to `frame`; the last one returns it to the allocator.
pub fn free(frame: PhysFrame<Size4KiB>) {
    {
        let mut shared = SHARED.lock();
        let n = frame.start_address().as_u64() / PAGE_SIZE;
        if let Some(extra) = shared.get_mut(&n) {
            *extra -= 1;
            if *extra == 0 {
                shared.remove(&n);
            }
            return;
        }
    }
    FRAMES
        .lock()
        .dealloc((frame.start_address().as_u64() / PAGE_SIZE) as usize, 1);
    FREE.fetch_add(1, Ordering::Relaxed);
}

/// The frame allocator's lock is held (maybe by the caller itself).
#[derive(Debug)]
pub struct Busy;

/// `2^order` contiguous frames (for the heap to grow by): `Ok(None)` when there are none,
/// `Err(Busy)` when the allocator is locked. The heap grows from inside an allocation, which
/// may be the frame allocator's own (its free lists live on the heap), so it never waits for
/// the lock.
pub fn try_alloc_contiguous(order: u32) -> Result<Option<u64>, Busy> {
    let count = 1usize << order;
    let Some(n) = FRAMES.try_lock().ok_or(Busy)?.alloc(count) else {
        return Ok(None);
    };
    FREE.fetch_sub(count as u64, Ordering::Relaxed);
    Ok(Some(n as u64 * PAGE_SIZE))
}

/// Hands the frames of `[start, end)` (page-aligned physical addresses, RAM nothing uses any
/// more: the unpacked initrd) to the allocator.
pub fn add_free(start: u64, end: u64) {
    if start < end {
        FRAMES
            .lock()
            .add_frame((start / PAGE_SIZE) as usize, (end / PAGE_SIZE) as usize);
        let n = (end - start) / PAGE_SIZE;
        TOTAL.fetch_add(n, Ordering::Relaxed);
        FREE.fetch_add(n, Ordering::Relaxed);
    }
}

/// `pages` physically contiguous zeroed frames (for device DMA), as the physical address of
/// the first, or `None` when memory is exhausted or too fragmented.
pub fn alloc_contiguous_zeroed(pages: usize) -> Option<u64> {
    let n = FRAMES.lock().alloc(pages)?;
    FREE.fetch_sub(pages as u64, Ordering::Relaxed);
    let phys = n as u64 * PAGE_SIZE;
    for i in 0..pages as u64 {
        // SAFETY: the frames were just taken from the allocator, so nothing else uses them,
        // and the direct map covers them read-write, page-aligned.
        unsafe { crate::arch::mem::zero_page(phys_to_virt(phys + i * PAGE_SIZE) as *mut u8) };
    }
    Some(phys)
}

/// Returns `pages` frames from [`alloc_contiguous_zeroed`] at physical `phys`.
pub fn free_contiguous(phys: u64, pages: usize) {
    FRAMES.lock().dealloc((phys / PAGE_SIZE) as usize, pages);
    FREE.fetch_add(pages as u64, Ordering::Relaxed);
}
