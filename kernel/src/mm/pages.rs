//! File pages in frames: the kernel's [`FrameSource`] for `coracle_vfs::page`, so the page
//! cache takes its memory from the frame allocator (not the heap) and user mappings map the
//! very frames the cache holds.

use coracle_vfs::page::{FrameSource, PAGE_SIZE};
use x86_64::structures::paging::PhysFrame;
use x86_64::PhysAddr;

use super::{frame, phys_to_virt, DIRECT_MAP_SIZE, PHYS_OFFSET};

/// The frame allocator as a source of file pages; frames are named by their direct-map
/// address.
struct Frames;

static FRAMES: Frames = Frames;

/// Makes the page cache take its pages from the frame allocator (once, at boot, before any
/// file is made).
pub fn init() {
    coracle_vfs::page::set_frame_source(&FRAMES);
}

/// Panics unless `[frame + offset, frame + offset + len)` lies within one direct-map frame:
/// the page code only passes ranges inside its page, so this is a kernel bug if it fires.
fn check(frame: u64, offset: usize, len: usize) {
    let in_map = (PHYS_OFFSET..PHYS_OFFSET + DIRECT_MAP_SIZE).contains(&frame);
    let aligned = frame.is_multiple_of(PAGE_SIZE as u64);
    let inside = offset.checked_add(len).is_some_and(|e| e <= PAGE_SIZE);
    assert!(in_map && aligned && inside, "bad file page range");
}

impl FrameSource for Frames {
    fn alloc_zeroed(&self) -> Option<u64> {
        frame::alloc_zeroed().map(|f| phys_to_virt(f.start_address().as_u64()))
    }

    fn free(&self, frame: u64) {
        check(frame, 0, 0);
        frame::free(PhysFrame::containing_address(PhysAddr::new(
            frame - PHYS_OFFSET,
        )));
    }

    fn read(&self, frame: u64, offset: usize, buf: &mut [u8]) {
        check(frame, offset, buf.len());
        // SAFETY: the range lies inside a frame the page owns (checked above), reached through
        // the direct map; a program may store to it concurrently, which only makes the bytes
        // read some mix of old and new, as on Linux.
        unsafe {
            crate::arch::mem::copy(
                buf.as_mut_ptr(),
                (frame + offset as u64) as *const u8,
                buf.len(),
            )
        };
    }

    fn write(&self, frame: u64, offset: usize, data: &[u8]) {
        check(frame, offset, data.len());
        // SAFETY: as in `read`: inside the page's own frame, through the direct map.
        unsafe {
            crate::arch::mem::copy(
                (frame + offset as u64) as *mut u8,
                data.as_ptr(),
                data.len(),
            )
        };
    }

    fn zero(&self, frame: u64, from: usize, to: usize) {
        check(frame, from, to.saturating_sub(from));
        if from < to {
            // SAFETY: as in `write`.
            unsafe { core::ptr::write_bytes((frame + from as u64) as *mut u8, 0, to - from) };
        }
    }
}
