//! The kernel heap: a buddy allocator that starts small and grows from the frame allocator.
//!
//! File data lives in frames (the page cache, `mm::pages`), so the heap holds only the
//! kernel's own objects and starts at [`INITIAL`]. When it runs low it takes a run of
//! contiguous frames; it does so before it is empty ([`LOW_WATER`]), because the frame
//! allocator keeps its free lists on this heap and the heap never waits for the frame
//! allocator's lock (it may be inside it).
//!
//! The buddy heap cannot shrink, so [`reclaim`] gives memory back the other way round: it
//! allocates whole free grow-sized blocks from the heap and hands their frames to the frame
//! allocator. They stay "allocated" in the heap for good, so it never touches them again;
//! the frame allocator may later give them back to [`grow`] as a new region.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use buddy_system_allocator::Heap;
use spin::Mutex;

use super::{frame, phys_to_virt, PAGE_SIZE};
use crate::pvh::MemRange;

/// The heap at boot.
const INITIAL: u64 = 256 << 10;
/// Grow when less than this is free.
const LOW_WATER: u64 = 128 << 10;
/// Grow by at least this many frames (as a power of two: 2^6 = 256 KiB).
const GROW_ORDER: u32 = 6;
/// How often an allocation that cannot be served tries a busy frame allocator.
const BUSY_TRIES: u32 = 100_000;

struct KernelHeap(Mutex<Heap<32>>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(Mutex::new(Heap::empty()));
static HEAP_SIZE: AtomicU64 = AtomicU64::new(0);
/// Bytes [`reclaim`] handed back: allocated in the heap's eyes, not in use.
static RECLAIMED: AtomicU64 = AtomicU64::new(0);
/// The heap's memory at boot, as a kernel address range (reclaimed blocks from it are new
/// frames for the frame allocator, the others are frames it had).
static BOOT_START: AtomicU64 = AtomicU64::new(0);

/// The heap's size at boot (what it took from RAM before the frame allocator had it).
static BOOT_SIZE: AtomicU64 = AtomicU64::new(0);

/// The heap's memory at boot; what it grew by later came from the frame allocator.
pub fn boot_size() -> u64 {
    BOOT_SIZE.load(Ordering::Relaxed)
}

/// (heap bytes, heap bytes in use).
pub fn stats() -> (u64, u64) {
    let used = HEAP.0.lock().stats_alloc_actual() as u64;
    let reclaimed = RECLAIMED.load(Ordering::Relaxed);
    (
        HEAP_SIZE.load(Ordering::Relaxed),
        used.saturating_sub(reclaimed),
    )
}

/// Carves the first [`INITIAL`] bytes of the heap out of the largest free range. Only
/// free-list heads are written; the memory itself is not touched.
pub fn init(free: &mut [MemRange]) {
    let largest = free.iter().map(|r| r.end - r.start).max().unwrap_or(0);
    let size = INITIAL.min(largest) & !(PAGE_SIZE - 1);
    let Some(range) = free
        .iter_mut()
        .find(|r| r.end - r.start >= size && size > 0)
    else {
        crate::fatal(format_args!(
            "not enough memory for the kernel heap ({INITIAL} bytes)"
        ));
    };
    let start = phys_to_virt(range.start);
    range.start += size;
    HEAP_SIZE.store(size, Ordering::Relaxed);
    BOOT_SIZE.store(size, Ordering::Relaxed);
    BOOT_START.store(start, Ordering::Relaxed);
    // SAFETY: the range is free RAM (from the boot memory map, minus everything in use), mapped
    // read-write by the direct map, and removed from `free` so the frame allocator never gets it.
    unsafe { HEAP.0.lock().init(start as usize, size as usize) };
}

/// Takes at least `bytes` (and at least 2^[`GROW_ORDER`] frames) of frames for the heap
/// and adds them; false when the frame allocator has none or is busy. Called without the
/// heap's lock: the frame allocator may allocate from the heap meanwhile.
/// `patient`: when the frame allocator is busy, try again a while (another CPU holds it for
/// a moment; if this CPU holds it, the heap's reserve serves the allocation instead).
fn grow(bytes: usize, patient: bool) -> bool {
    let frames = (bytes as u64).div_ceil(PAGE_SIZE).max(1);
    let order = frames.next_power_of_two().trailing_zeros().max(GROW_ORDER);
    let mut tries = if patient { BUSY_TRIES } else { 1 };
    let phys = loop {
        match frame::try_alloc_contiguous(order) {
            Ok(Some(phys)) => break phys,
            Ok(None) => return false,
            Err(frame::Busy) => {
                tries -= 1;
                if tries == 0 {
                    return false;
                }
                core::hint::spin_loop();
            }
        }
    };
    let size = PAGE_SIZE << order;
    let start = phys_to_virt(phys);
    // SAFETY: the frames were just taken from the frame allocator, so only the heap uses
    // them from now on; the direct map covers them read-write.
    unsafe {
        HEAP.0
            .lock()
            .add_to_heap(start as usize, (start + size) as usize)
    };
    HEAP_SIZE.fetch_add(size, Ordering::Relaxed);
    true
}

/// Free heap memory [`reclaim`] leaves in the heap, so it does not have to grow right away.
const KEEP: u64 = 4 * LOW_WATER;

/// Hands free heap memory back to the frame allocator, in blocks of 2^[`GROW_ORDER`] frames,
/// until `frames` frames went back or the heap has no more to spare; returns the frames given.
/// Called when frames run short (`frame::alloc_zeroed`): kernel objects a program made and
/// freed again (files, inodes, processes) leave their memory in the heap otherwise.
pub fn reclaim(frames: u64) -> u64 {
    let bytes = PAGE_SIZE << GROW_ORDER;
    let Ok(layout) = Layout::from_size_align(bytes as usize, bytes as usize) else {
        return 0;
    };
    let mut given = 0;
    while given < frames {
        let block = {
            let mut heap = HEAP.0.lock();
            let free = (heap.stats_total_bytes() - heap.stats_alloc_actual()) as u64;
            if free < bytes + KEEP {
                break;
            }
            heap.alloc(layout).ok()
        };
        let Some(block) = block else { break };
        let start = block.as_ptr() as u64;
        let phys = start - super::PHYS_OFFSET;
        let boot = BOOT_START.load(Ordering::Relaxed);
        RECLAIMED.fetch_add(bytes, Ordering::Relaxed);
        HEAP_SIZE.fetch_sub(bytes, Ordering::Relaxed);
        if (boot..boot + BOOT_SIZE.load(Ordering::Relaxed)).contains(&start) {
            // RAM the frame allocator never had: it is counted as heap at boot.
            BOOT_SIZE.fetch_sub(bytes, Ordering::Relaxed);
            frame::add_free(phys, phys + bytes);
        } else {
            frame::free_contiguous(phys, 1 << GROW_ORDER);
        }
        given += 1 << GROW_ORDER;
    }
    given
}

// SAFETY: every block handed out comes from the buddy heap, which never hands out
// overlapping blocks, under its lock.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (block, low) = {
            let mut heap = self.0.lock();
            let block = heap.alloc(layout).ok();
            let free = (heap.stats_total_bytes() - heap.stats_alloc_actual()) as u64;
            (block, free < LOW_WATER)
        };
        if let Some(p) = block {
            if low {
                // Best effort: a busy frame allocator leaves it to a later allocation.
                grow(0, false);
            }
            return p.as_ptr();
        }
        if !grow(layout.size().max(layout.align()), true) {
            return core::ptr::null_mut();
        }
        self.0
            .lock()
            .alloc(layout)
            .map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
            unsafe { self.0.lock().dealloc(p, layout) };
        }
    }
}
