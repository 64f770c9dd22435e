//! Page tables: the kernel's own mapping with exact permissions, and user address spaces.
//!
//! The kernel half (direct map at `PHYS_OFFSET`, image at `KERNEL_VMA`, other CPUs' stacks) is
//! supervisor-only and shared; the user half of an [`AddressSpace`] holds a process's resident
//! pages with the USER bit (see `space`). The kernel image is mapped with 4 KiB pages so that
//! text is read-only and executable, rodata read-only, data and bss read-write and no-execute:
//! nothing is both writable and executable. A guard page below the boot stack stays unmapped.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::{
    mapper::MapToError, FrameAllocator, Mapper, OffsetPageTable, Page, PageTable,
    PageTableFlags as F, PhysFrame, Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

pub use super::space::{AddressSpace, OutOfMemory};
use super::{frame, phys_to_virt, KERNEL_VMA, PAGE_SIZE, PHYS_OFFSET};
use coracle_syscalls::Perms;

/// The address space the kernel booted into; the first process runs in it.
static BOOT_SPACE: Once<Arc<AddressSpace>> = Once::new();

struct Frames;

// SAFETY: `frame::alloc_zeroed` returns frames that are unused and zeroed.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frame::alloc_zeroed()
    }
}

/// A mapper over `root`.
///
/// # Safety
/// `root` must be a PML4 nothing else references while the mapper lives (the boot space's
/// lock is held, or nothing else runs yet).
unsafe fn mapper(root: &mut PageTable) -> OffsetPageTable<'_> {
    // SAFETY: all of physical memory page tables live in is mapped at PHYS_OFFSET; exclusivity
    // is the caller's promise.
    unsafe { OffsetPageTable::new(root, VirtAddr::new(PHYS_OFFSET)) }
}

extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __stack_guard: u8;
    static __stack_bottom: u8;
    static __kernel_end: u8;
}

fn sym(s: *const u8) -> u64 {
    s as u64
}

/// Replaces the boot page tables with the kernel's own: the direct map is kept, the kernel
/// image is remapped page by page with exact permissions, the identity map is dropped.
pub fn init() {
    let (text, text_end, ro_end, guard, stack_bottom, end) = (
        sym(&raw const __text_start),
        sym(&raw const __text_end),
        sym(&raw const __rodata_end),
        sym(&raw const __stack_guard),
        sym(&raw const __stack_bottom),
        sym(&raw const __kernel_end),
    );
    // SAFETY: CR4.PGE only makes global pages survive CR3 reloads; enabling it is always sound.
    unsafe { Cr4::update(|f| f.insert(Cr4Flags::PAGE_GLOBAL)) };
    let root = frame::alloc_zeroed()
        .unwrap_or_else(|| crate::fatal(format_args!("no memory for page tables")));
    let (boot_root, _) = Cr3::read();
    let boot = phys_to_virt(boot_root.start_address().as_u64()) as *const PageTable;
    let new = phys_to_virt(root.start_address().as_u64()) as *mut PageTable;
    // SAFETY: both tables are live page-table frames in the direct map; the new one is not in
    // use yet. Entry 256 is the boot direct map, which stays valid (it lies in the reserved
    // boot region).
    unsafe { (&mut *new)[256] = (&(*boot))[256].clone() };

    // SAFETY: the new PML4 is not in use yet and nothing else references it.
    let mut m = unsafe { mapper(&mut *new) };
    let mut va = text;
    while va < end {
        let flags = if va < text_end {
            F::PRESENT | F::GLOBAL
        } else if va < ro_end {
            F::PRESENT | F::GLOBAL | F::NO_EXECUTE
        } else if (guard..stack_bottom).contains(&va) {
            va += PAGE_SIZE;
            continue;
        } else {
            F::PRESENT | F::GLOBAL | F::WRITABLE | F::NO_EXECUTE
        };
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let frame = PhysFrame::containing_address(PhysAddr::new(va - KERNEL_VMA));
        // SAFETY: maps the kernel image onto its own physical pages, as the boot tables did.
        let result = unsafe {
            m.map_to_with_table_flags(page, frame, flags, F::PRESENT | F::WRITABLE, &mut Frames)
        };
        match result {
            Ok(flush) => flush.ignore(),
            Err(MapToError::FrameAllocationFailed) => crate::fatal(format_args!(
                "out of memory: no free page for the page tables of the kernel image (at \
                 {va:#x}); give the VM more memory (-m)"
            )),
            Err(e) => crate::fatal(format_args!("mapping the kernel image at {va:#x}: {e:?}")),
        }
        va += PAGE_SIZE;
    }
    // SAFETY: the new tables map everything the kernel uses from here on (image, stacks, the
    // direct map with the heap and start_info) at the same addresses as before.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
    BOOT_SPACE.call_once(|| Arc::new(AddressSpace::wrap(root)));
}

/// The address space the kernel booted into (and the first process runs in).
pub fn boot_space() -> Arc<AddressSpace> {
    BOOT_SPACE
        .get()
        .cloned()
        .unwrap_or_else(|| crate::fatal(format_args!("paging is not initialised")))
}

/// Maps fresh zeroed pages in the boot address space (kernel self tests).
pub fn map_user_zeroed(start: u64, len: u64, perms: Perms) -> Result<(), OutOfMemory> {
    boot_space().map_zeroed(start, len, perms)
}

/// Unmaps user pages of the boot address space.
pub fn unmap_user(start: u64, len: u64) {
    boot_space().unmap(start, len, alloc::vec::Vec::new());
}

/// Copies into mapped user memory of the boot address space, ignoring permissions.
pub fn poke_user(va: u64, data: &[u8]) -> Result<(), OutOfMemory> {
    boot_space().poke(va, data)
}

/// Maps `[start, start+len)` of the user half onto the kernel image's own pages at
/// `[kernel_va, kernel_va+len)` (the vDSO and its data page), shared and never writable:
/// `perms.write` is refused, later mprotects keep them read-only, unmapping leaves the frames
/// to the kernel.
pub fn map_user_kernel_pages(
    space: &AddressSpace,
    start: u64,
    kernel_va: u64,
    len: u64,
    perms: Perms,
) -> Result<(), OutOfMemory> {
    let image = sym(&raw const __text_start)..sym(&raw const __kernel_end);
    if perms.write
        || !image.contains(&kernel_va)
        || kernel_va.checked_add(len).is_none_or(|end| end > image.end)
    {
        return Err(OutOfMemory);
    }
    let mut off = 0;
    while off < len {
        let phys = PhysAddr::new(kernel_va + off - KERNEL_VMA);
        space.map_kernel_page(start + off, phys, perms)?;
        off += PAGE_SIZE;
    }
    Ok(())
}

/// Kernel stacks mapped after boot (the other CPUs'): PML4 slot 257, next to the direct map,
/// each above an unmapped guard page so an overflow faults instead of corrupting memory.
pub const KERNEL_STACKS: u64 = 0xffff_8080_0000_0000;
const KERNEL_STACKS_END: u64 = KERNEL_STACKS + (1 << 39);
/// The next free address in the kernel stack area (changed under the boot space's lock).
static KERNEL_STACKS_NEXT: AtomicU64 = AtomicU64::new(KERNEL_STACKS);

/// Maps a kernel stack of `size` bytes (rounded up to pages) on fresh zeroed frames, with an
/// unmapped guard page below it. Returns its bottom and top.
pub fn map_kernel_stack(size: u64) -> Result<(u64, u64), OutOfMemory> {
    boot_space().with_root(|root| map_kernel_stack_in(root, size))
}

fn map_kernel_stack_in(root: &mut PageTable, size: u64) -> Result<(u64, u64), OutOfMemory> {
    let size = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let bottom = KERNEL_STACKS_NEXT.load(Ordering::Relaxed) + PAGE_SIZE;
    let top = bottom + size;
    if top > KERNEL_STACKS_END {
        return Err(OutOfMemory);
    }
    KERNEL_STACKS_NEXT.store(top, Ordering::Relaxed);
    // SAFETY: the boot space's lock is held (`with_root`).
    let mut m = unsafe { mapper(root) };
    let flags = F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::GLOBAL;
    for page in pages(bottom, size) {
        let frame = frame::alloc_zeroed().ok_or(OutOfMemory)?;
        // SAFETY: the page lies in the kernel stack area, which only this function maps, at an
        // address never handed out before; the frame is fresh.
        match unsafe {
            m.map_to_with_table_flags(page, frame, flags, F::PRESENT | F::WRITABLE, &mut Frames)
        } {
            // A page never mapped before has no TLB entry to flush.
            Ok(flush) => flush.ignore(),
            Err(_) => {
                frame::free(frame);
                return Err(OutOfMemory);
            }
        }
    }
    Ok((bottom, top))
}

/// The 4 KiB pages of `[start, start+len)`.
fn pages(start: u64, len: u64) -> impl Iterator<Item = Page<Size4KiB>> {
    (start..start + len)
        .step_by(PAGE_SIZE as usize)
        .map(|va| Page::containing_address(VirtAddr::new(va)))
}
