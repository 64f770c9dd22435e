//! Page tables: the kernel's own mapping with exact permissions, and user address spaces.
//!
//! The kernel half (direct map at `PHYS_OFFSET`, image at `KERNEL_VMA`) is supervisor-only and
//! shared; the user half of an [`AddressSpace`] holds a process's resident pages with the USER
//! bit. The kernel image is mapped with 4 KiB pages so that text is read-only and executable,
//! rodata read-only, data and bss read-write and no-execute: nothing is both writable and
//! executable. A guard page below the boot stack stays unmapped.
//!
//! User page-table entries use two software bits: [`BORROWED`] marks a page the kernel heap
//! owns (a tmpfs file page mapped shared), which unmapping must not free; [`PROT_NONE`] marks a
//! page kept but made inaccessible (PRESENT clear), as Linux's _PAGE_PROTNONE.

use alloc::sync::Arc;

use spin::Once;
use x86_64::registers::control::{Cr3, Cr3Flags, Cr4, Cr4Flags};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags as F, PhysFrame,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

pub use super::space::AddressSpace;
use super::{frame, phys_to_virt, KERNEL_VMA, PAGE_SIZE, PHYS_OFFSET};

/// The address space the kernel booted into; the first process uses it.
static BOOT_SPACE: Once<Arc<AddressSpace>> = Once::new();

struct Frames;

// SAFETY: `frame::alloc_zeroed` returns frames that are unused and zeroed.
unsafe impl FrameAllocator<Size4KiB> for Frames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        frame::alloc_zeroed()
    }
}

fn mapper(root: PhysFrame) -> OffsetPageTable<'static> {
    let table = phys_to_virt(root.start_address().as_u64()) as *mut PageTable;
    // SAFETY: `root` is a live PML4, all of physical memory page tables live in is mapped at
    // PHYS_OFFSET, and it is only used during `init`, before anything else can see the table.
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
    BOOT_SPACE.call_once(|| Arc::new(AddressSpace::wrap(root)));
}

/// The address space the kernel booted into (and the first process runs in).
pub fn boot_space() -> Arc<AddressSpace> {
    BOOT_SPACE
        .get()
        .cloned()
        .unwrap_or_else(|| crate::fatal(format_args!("paging is not initialised")))
}
