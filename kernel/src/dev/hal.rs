//! virtio-drivers' `Hal` over the kernel's frames: DMA memory from the frame allocator,
//! device registers and buffers through the direct map.
//!
//! Kernel memory is physically contiguous wherever the direct map or the kernel image maps it
//! (both are linear), so sharing a buffer there is an address translation. A buffer anywhere
//! else (an AP's kernel stack, mapped page by page) is bounced through DMA pages and copied
//! back on unshare. Device register ranges must lie in the direct map's uncached top GiB.

use alloc::collections::BTreeMap;
use core::ptr::NonNull;

use spin::Mutex;
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::mm::{frame, phys_to_virt, DIRECT_MAP_SIZE, KERNEL_VMA, PAGE_SIZE, PHYS_OFFSET};

/// The start of the uncached part of the direct map (see `arch::x86_64::boot`).
pub const UNCACHED_START: u64 = 3 << 30;

/// Bounce buffers in use: physical address -> pages.
static BOUNCES: Mutex<BTreeMap<u64, usize>> = Mutex::new(BTreeMap::new());

/// The kernel's virtio HAL.
#[derive(Debug)]
pub struct KernelHal;

/// The physical address of kernel-virtual `va` if it lies in a linear mapping.
fn linear_phys(va: u64, len: u64) -> Option<u64> {
    let end = va.checked_add(len)?;
    if va >= PHYS_OFFSET && end <= PHYS_OFFSET + DIRECT_MAP_SIZE {
        return Some(va - PHYS_OFFSET);
    }
    extern "C" {
        static __kernel_end: u8;
    }
    let image_end = (&raw const __kernel_end) as u64;
    (va >= KERNEL_VMA && end <= image_end).then(|| va - KERNEL_VMA)
}

fn pages_for(len: usize) -> usize {
    len.div_ceil(PAGE_SIZE as usize).max(1)
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned frames that nothing else uses until
// `dma_dealloc`; `mmio_phys_to_virt` maps device registers through the uncached direct map;
// `share` returns the physical address of exactly the buffer's bytes (or of a bounce copy).
unsafe impl Hal for KernelHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match frame::alloc_contiguous_zeroed(pages) {
            Some(phys) => (
                phys,
                NonNull::new(phys_to_virt(phys) as *mut u8).unwrap_or(NonNull::dangling()),
            ),
            // virtio-drivers turns a zero address into its DmaError.
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, _vaddr: NonNull<u8>, pages: usize) -> i32 {
        frame::free_contiguous(paddr, pages);
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        let end = paddr.saturating_add(size as u64);
        if paddr < UNCACHED_START || end > DIRECT_MAP_SIZE {
            crate::fatal(format_args!(
                "device registers at {paddr:#x} (+{size:#x}) are outside the uncached direct map"
            ));
        }
        NonNull::new(phys_to_virt(paddr) as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let va = buffer.as_ptr() as *mut u8 as u64;
        let len = buffer.len();
        if let Some(phys) = linear_phys(va, len as u64) {
            return phys;
        }
        let pages = pages_for(len);
        let Some(phys) = frame::alloc_contiguous_zeroed(pages) else {
            crate::fatal(format_args!(
                "out of memory for a {len}-byte DMA bounce buffer"
            ));
        };
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the caller promises `buffer` is valid for reads of `len` bytes; the
            // bounce pages are fresh and at least `len` bytes long.
            unsafe { crate::arch::mem::copy(phys_to_virt(phys) as *mut u8, va as *const u8, len) };
        }
        BOUNCES.lock().insert(phys, pages);
        phys
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let Some(pages) = BOUNCES.lock().remove(&paddr) else {
            return; // a linear buffer: nothing to undo
        };
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the caller promises `buffer` is valid for writes of its length, which
            // the bounce copy (made by `share` for this buffer) holds.
            unsafe {
                crate::arch::mem::copy(
                    buffer.as_ptr() as *mut u8,
                    phys_to_virt(paddr) as *const u8,
                    buffer.len(),
                )
            };
        }
        frame::free_contiguous(paddr, pages);
    }
}
