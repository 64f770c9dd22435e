//! Page tables: the kernel's own mapping with exact permissions, and user mappings.
//!
//! One address space: the kernel half (direct map at `PHYS_OFFSET`, image at `KERNEL_VMA`) is
//! supervisor-only and shared; the user half holds the application's pages with the
//! USER bit. The kernel image is mapped with 4 KiB pages so that text is read-only and
//! executable, rodata read-only, data and bss read-write and no-execute: nothing is both
//! writable and executable. A guard page below the boot stack stays unmapped.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::mapper::{MapToError, Translate};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

use super::{frame, phys_to_virt, tlb, KERNEL_VMA, PAGE_SIZE, PHYS_OFFSET};
use coracle_syscalls::Perms;

/// Physical address of the live PML4.
static ROOT: Mutex<Option<PhysFrame>> = Mutex::new(None);

struct Frames;

// SAFETY: `frame::alloc_zeroed` returns frames that are unused and zeroed.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frame::alloc_zeroed()
    }
}

fn mapper(root: PhysFrame) -> OffsetPageTable<'static> {
    let table = phys_to_virt(root.start_address().as_u64()) as *mut PageTable;
    // SAFETY: `root` is the live PML4, all of physical memory page tables live in is mapped at
    // PHYS_OFFSET, and callers hold the ROOT lock, so no two mappers alias the table.
    unsafe { OffsetPageTable::new(&mut *table, VirtAddr::new(PHYS_OFFSET)) }
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

    let mut m = mapper(root);
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
            Err(e) => crate::fatal(format_args!("mapping the kernel image at {va:#x}: {e:?}")),
        }
        va += PAGE_SIZE;
    }
    // SAFETY: the new tables map everything the kernel uses from here on (image, stacks, the
    // direct map with the heap and start_info) at the same addresses as before.
    unsafe { Cr3::write(root, Cr3Flags::empty()) };
    *ROOT.lock() = Some(root);
}

fn user_flags(perms: Perms) -> F {
    let mut f = F::PRESENT | F::USER_ACCESSIBLE;
    if perms.write {
        f |= F::WRITABLE;
    }
    if !perms.exec {
        f |= F::NO_EXECUTE;
    }
    f
}

/// Why a user mapping failed.
#[derive(Debug)]
pub struct OutOfMemory;

/// Maps `[start, start+len)` of the user half to fresh zeroed frames; pages already mapped are
/// replaced (their frames freed).
pub fn map_user_zeroed(start: u64, len: u64, perms: Perms) -> Result<(), OutOfMemory> {
    let guard = ROOT.lock();
    let Some(root) = *guard else {
        return Err(OutOfMemory);
    };
    let mut m = mapper(root);
    let table_flags = F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE;
    let mut retired = Vec::new();
    let result = map_zeroed_pages(&mut m, start, len, perms, table_flags, &mut retired);
    drop(guard);
    if !retired.is_empty() {
        tlb::retire(start, len, retired);
    }
    result
}

fn map_zeroed_pages(
    m: &mut OffsetPageTable<'_>,
    start: u64,
    len: u64,
    perms: Perms,
    table_flags: F,
    retired: &mut Vec<PhysFrame>,
) -> Result<(), OutOfMemory> {
    for page in pages(start, len) {
        release(m, page, retired);
        let frame = frame::alloc_zeroed().ok_or(OutOfMemory)?;
        // SAFETY: the page is in the user half and now unmapped; the frame is fresh.
        match unsafe {
            m.map_to_with_table_flags(page, frame, user_flags(perms), table_flags, &mut Frames)
        } {
            Ok(flush) => flush.flush(),
            Err(MapToError::FrameAllocationFailed) => {
                frame::free(frame);
                return Err(OutOfMemory);
            }
            Err(e) => crate::fatal(format_args!(
                "user mapping at {:#x}: {e:?}",
                page.start_address()
            )),
        }
    }
    Ok(())
}

/// Unmaps the user pages in `[start, start+len)` and frees their frames (once no CPU's TLB
/// can reach them).
pub fn unmap_user(start: u64, len: u64) {
    let guard = ROOT.lock();
    let Some(root) = *guard else { return };
    let mut m = mapper(root);
    let mut retired = Vec::new();
    for page in pages(start, len) {
        release(&mut m, page, &mut retired);
    }
    drop(guard);
    if !retired.is_empty() {
        tlb::retire(start, len, retired);
    }
}

/// The 4 KiB pages of `[start, start+len)`.
fn pages(start: u64, len: u64) -> impl Iterator<Item = Page<Size4KiB>> {
    (start..start + len)
        .step_by(PAGE_SIZE as usize)
        .map(|va| Page::containing_address(VirtAddr::new(va)))
}

/// Unmaps `page` if it is mapped and adds its frame to `retired` (to free after the TLB
/// shootdown), unless the frame is the kernel image's (a vDSO page), which is only shared.
fn release(m: &mut OffsetPageTable<'_>, page: Page<Size4KiB>, retired: &mut Vec<PhysFrame>) {
    if let Ok((old, flush)) = m.unmap(page) {
        flush.flush();
        if !kernel_image_frame(old) {
            retired.push(old);
        }
    }
}

/// Whether `frame` holds part of the kernel image. The frame allocator never hands these out:
/// it starts above the image (mm::init).
fn kernel_image_frame(frame: PhysFrame) -> bool {
    frame.start_address().as_u64() < sym(&raw const __kernel_end) - KERNEL_VMA
}

/// Maps `[start, start+len)` of the user half onto the kernel image's own pages at
/// `[kernel_va, kernel_va+len)` (the vDSO and its data page), shared, never written through
/// the user mapping: `perms.write` is refused, later mprotects keep them read-only, and unmapping
/// leaves the frames to the kernel.
pub fn map_user_kernel_pages(
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
    let guard = ROOT.lock();
    let Some(root) = *guard else {
        return Err(OutOfMemory);
    };
    let mut m = mapper(root);
    let table_flags = F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE;
    let mut retired = Vec::new();
    for (i, page) in pages(start, len).enumerate() {
        release(&mut m, page, &mut retired);
        let phys = kernel_va + i as u64 * PAGE_SIZE - KERNEL_VMA;
        let frame = PhysFrame::containing_address(PhysAddr::new(phys));
        // SAFETY: the page is in the user half and now unmapped; the frame is part of the
        // kernel image, which lives as long as the kernel, and the mapping is not writable.
        match unsafe {
            m.map_to_with_table_flags(page, frame, user_flags(perms), table_flags, &mut Frames)
        } {
            Ok(flush) => flush.flush(),
            Err(MapToError::FrameAllocationFailed) => return Err(OutOfMemory),
            Err(e) => crate::fatal(format_args!(
                "user mapping at {:#x}: {e:?}",
                page.start_address()
            )),
        }
    }
    drop(guard);
    if !retired.is_empty() {
        tlb::retire(start, len, retired);
    }
    Ok(())
}

/// Changes the permissions of the mapped user pages in `[start, start+len)`.
pub fn protect_user(start: u64, len: u64, perms: Perms) {
    let guard = ROOT.lock();
    let Some(root) = *guard else { return };
    let mut m = mapper(root);
    for page in pages(start, len) {
        let mut flags = user_flags(perms);
        if m.translate_page(page).is_ok_and(kernel_image_frame) {
            flags.remove(F::WRITABLE);
        }
        // SAFETY: only user pages change, and only their permission bits; the kernel's pages
        // shared with user space stay read-only.
        if let Ok(flush) = unsafe { m.update_flags(page, flags) } {
            flush.flush();
        }
    }
    drop(guard);
    tlb::flush(start, len);
}

/// Copies `data` into mapped user memory at `va` through the direct map, ignoring the pages'
/// write permission (the loader fills read-only text this way). Fails if a page is missing.
pub fn poke_user(va: u64, data: &[u8]) -> Result<(), OutOfMemory> {
    let guard = ROOT.lock();
    let Some(root) = *guard else {
        return Err(OutOfMemory);
    };
    let m = mapper(root);
    let mut done = 0usize;
    while done < data.len() {
        let addr = va + done as u64;
        let phys = m.translate_addr(VirtAddr::new(addr)).ok_or(OutOfMemory)?;
        let n = ((PAGE_SIZE - addr % PAGE_SIZE) as usize).min(data.len() - done);
        // SAFETY: `phys..phys+n` lies within one mapped user frame, reached through the direct
        // map; the frame belongs to the user mapping the caller is filling.
        unsafe {
            crate::arch::mem::copy(
                phys_to_virt(phys.as_u64()) as *mut u8,
                data[done..].as_ptr(),
                n,
            )
        };
        done += n;
    }
    Ok(())
}

/// Kernel stacks mapped after boot (the other CPUs'): PML4 slot 257, next to the direct map,
/// each above an unmapped guard page so an overflow faults instead of corrupting memory.
pub const KERNEL_STACKS: u64 = 0xffff_8080_0000_0000;
const KERNEL_STACKS_END: u64 = KERNEL_STACKS + (1 << 39);
/// The next free address in the kernel stack area (changed under the ROOT lock).
static KERNEL_STACKS_NEXT: AtomicU64 = AtomicU64::new(KERNEL_STACKS);

/// Maps a kernel stack of `size` bytes (rounded up to pages) on fresh zeroed frames, with an
/// unmapped guard page below it. Returns its bottom and top.
pub fn map_kernel_stack(size: u64) -> Result<(u64, u64), OutOfMemory> {
    let guard = ROOT.lock();
    let Some(root) = *guard else {
        return Err(OutOfMemory);
    };
    let size = size.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    let bottom = KERNEL_STACKS_NEXT.load(Ordering::Relaxed) + PAGE_SIZE;
    let top = bottom + size;
    if top > KERNEL_STACKS_END {
        return Err(OutOfMemory);
    }
    KERNEL_STACKS_NEXT.store(top, Ordering::Relaxed);
    let mut m = mapper(root);
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
