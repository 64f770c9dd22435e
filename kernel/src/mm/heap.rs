//! The kernel heap: a buddy allocator over a slice of RAM taken at boot.

use buddy_system_allocator::LockedHeap;

use super::{phys_to_virt, PAGE_SIZE};
use crate::pvh::MemRange;

#[global_allocator]
static HEAP: LockedHeap<32> = LockedHeap::empty();

/// Carves the heap out of the first free range large enough: an eighth of RAM, between 2 and
/// 64 MiB. Only free-list heads are written; the memory itself is not touched.
pub fn init(free: &mut [MemRange], total: u64) {
    let size = (total / 8).clamp(2 << 20, 64 << 20) & !(PAGE_SIZE - 1);
    let Some(range) = free.iter_mut().find(|r| r.end - r.start >= size) else {
        crate::fatal(format_args!(
            "not enough memory for the kernel heap ({size} bytes)"
        ));
    };
    let start = phys_to_virt(range.start);
    range.start += size;
    // SAFETY: the range is free RAM (from the boot memory map, minus everything in use), mapped
    // read-write by the direct map, and removed from `free` so the frame allocator never gets it.
    unsafe { HEAP.lock().init(start as usize, size as usize) };
}
