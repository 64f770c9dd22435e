//! The kernel heap: a buddy allocator over a slice of RAM taken at boot.

use buddy_system_allocator::LockedHeap;

use super::{phys_to_virt, PAGE_SIZE};
use crate::pvh::MemRange;

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();
static HEAP_SIZE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// (heap bytes, heap bytes in use).
pub fn stats() -> (u64, u64) {
    let used = HEAP.lock().stats_alloc_actual() as u64;
    (HEAP_SIZE.load(core::sync::atomic::Ordering::Relaxed), used)
}

/// Carves the heap out of the largest free range: half of RAM (at least 2 MiB), since tmpfs
/// keeps file contents on the heap for now. Only free-list heads are written; the memory
/// itself is not touched.
pub fn init(free: &mut [MemRange], total: u64) {
    let largest = free.iter().map(|r| r.end - r.start).max().unwrap_or(0);
    let size = (total / 2).max(2 << 20).min(largest) & !(PAGE_SIZE - 1);
    let Some(range) = free.iter_mut().find(|r| r.end - r.start >= size) else {
        crate::fatal(format_args!(
            "not enough memory for the kernel heap ({size} bytes)"
        ));
    };
    let start = phys_to_virt(range.start);
    range.start += size;
    HEAP_SIZE.store(size, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the range is free RAM (from the boot memory map, minus everything in use), mapped
    // read-write by the direct map, and removed from `free` so the frame allocator never gets it.
    unsafe { HEAP.lock().init(start as usize, size as usize) };
}
