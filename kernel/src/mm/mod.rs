//! Memory: the physical frame allocator, the kernel heap, page tables, user memory access.
//!
//! Physical memory is reached through the direct map at [`PHYS_OFFSET`] (set up by the boot
//! code, 4 GiB, no-execute). Nothing at boot touches memory it does not need: free RAM is only
//! recorded in the buddy allocator, never cleared; a frame is zeroed when it is handed out.

pub mod frame;
pub mod heap;
pub mod pages;
pub mod paging;
pub mod pressure;
pub mod selftest;
pub mod space;
pub mod tlb;
pub mod user;

use crate::pvh::{BootInfo, MemRange, MAX_RANGES};

/// Where all physical memory (up to 4 GiB) is mapped in the kernel half.
pub const PHYS_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Where the kernel image is linked: physical address + KERNEL_VMA.
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;
/// The direct map's extent: frames above it are not used yet.
pub const DIRECT_MAP_SIZE: u64 = 4 << 30;
pub const PAGE_SIZE: u64 = 4096;

/// The kernel-virtual address of physical address `phys`.
pub fn phys_to_virt(phys: u64) -> u64 {
    PHYS_OFFSET + phys
}

extern "C" {
    static __kernel_end: u8;
}

/// Subtracts `hole` from every range of `ranges`.
fn subtract(ranges: &mut [MemRange; MAX_RANGES * 2], len: &mut usize, hole: MemRange) {
    let mut i = 0;
    while i < *len {
        let r = ranges[i];
        if hole.end <= r.start || hole.start >= r.end {
            i += 1;
            continue;
        }
        let left = MemRange {
            start: r.start,
            end: hole.start.max(r.start),
        };
        let right = MemRange {
            start: hole.end.min(r.end),
            end: r.end,
        };
        ranges[i] = left;
        if right.start < right.end && *len < ranges.len() {
            ranges[*len] = right;
            *len += 1;
        }
        i += 1;
    }
}

/// Brings up the heap and the frame allocator from the boot memory map, keeping out of the
/// first MiB, the kernel image, the initrd and the start_info block.
pub fn init(boot: &BootInfo, start_info: u64) {
    let kernel_end = core::ptr::addr_of!(__kernel_end) as u64 - KERNEL_VMA;
    let mut free = [MemRange { start: 0, end: 0 }; MAX_RANGES * 2];
    let mut len = 0;
    for r in &boot.ram[..boot.ram_len] {
        let end = r.end.min(DIRECT_MAP_SIZE);
        let start = (r.start + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        let end = end & !(PAGE_SIZE - 1);
        if start < end {
            free[len] = MemRange { start, end };
            len += 1;
        }
    }
    let page = |a: u64| a & !(PAGE_SIZE - 1);
    let mut holes = [
        MemRange {
            start: 0,
            end: 0x10_0000,
        },
        MemRange {
            start: 0x10_0000,
            end: (kernel_end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1),
        },
        MemRange {
            start: page(start_info),
            end: page(start_info) + PAGE_SIZE,
        },
        MemRange { start: 0, end: 0 },
    ];
    if let Some((start, size)) = boot.initrd {
        holes[3] = MemRange {
            start: page(start),
            end: (start + size + PAGE_SIZE - 1) & !(PAGE_SIZE - 1),
        };
    }
    for hole in holes {
        subtract(&mut free, &mut len, hole);
    }
    heap::init(&mut free[..len]);
    frame::init(&free[..len]);
    pages::init();
}

/// Gives the initrd's pages `[start, end)` (page-aligned physical addresses) to the frame
/// allocator: their contents are unpacked and nothing refers to them any more.
pub fn release_initrd(start: u64, end: u64) {
    frame::add_free(start, end.min(DIRECT_MAP_SIZE));
}
