//! A user address space: the user half of one PML4, changed page by page for the syscall
//! layer's VMAs (see `coracle_syscalls::mm`), which decide what is mapped where.
//!
//! Callers serialise changes per process (the mm lock); the space's own lock only keeps Rust's
//! aliasing rules. Whatever a change takes away is shot down from every CPU's TLB, and its
//! frame (or page table, or shared page) is let go of only once every CPU has flushed
//! ([`tlb::retire`]).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_syscalls::platform::Page;

use spin::Mutex;
use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{PageTable, PageTableFlags as F, PhysFrame};
use x86_64::PhysAddr;

use super::{frame, phys_to_virt, tlb, DIRECT_MAP_SIZE, PAGE_SIZE, PHYS_OFFSET};
use coracle_syscalls::Perms;

/// Software bit: the page is a file page (the page cache holds it); never freed here.
const BORROWED: F = F::BIT_9;
/// Software bit: the page is kept but PROT_NONE (PRESENT is clear).
const PROT_NONE: F = F::BIT_10;
/// Software bit: the page is the kernel image's (the vDSO): borrowed and never writable.
const KERNEL_IMAGE: F = F::BIT_11;
/// Software bit: a private page a fork left shared between address spaces, or (with
/// BORROWED) a file page a private mapping shows: mapped without WRITABLE whatever its
/// permissions; the first write copies it ([`AddressSpace::make_writable`]).
const COW: F = F::BIT_52;
/// The flags of a user page table that holds other tables.
const TABLE: F = F::PRESENT.union(F::WRITABLE).union(F::USER_ACCESSIBLE);
/// End of the user half.
const USER_END: u64 = 0x0000_8000_0000_0000;
/// Frames (and tables) retired in one batch, after one shootdown.
const BATCH: usize = 512;

/// No memory for a page or a page table.
#[derive(Debug)]
pub struct OutOfMemory;

/// The flags of a user page with `perms`; no access at all is a kept, not-present page.
fn leaf_flags(perms: Perms, borrowed: bool) -> F {
    let mut f = if perms.read || perms.write || perms.exec {
        F::PRESENT | F::USER_ACCESSIBLE
    } else {
        PROT_NONE
    };
    if perms.write {
        f |= F::WRITABLE;
    }
    if !perms.exec {
        f |= F::NO_EXECUTE;
    }
    if borrowed {
        f |= BORROWED;
    }
    f
}

fn in_use(e: &PageTableEntry) -> bool {
    e.flags().intersects(F::PRESENT | PROT_NONE)
}

/// The page table at physical address `phys`.
///
/// # Safety
/// `phys` must be a page-table frame of a space whose lock the caller holds, so that no other
/// reference to the table exists while the result lives.
unsafe fn table<'a>(phys: PhysAddr) -> &'a mut PageTable {
    // SAFETY: page tables live in RAM below 4 GiB, which the direct map covers read-write;
    // exclusivity is the caller's promise.
    unsafe { &mut *(phys_to_virt(phys.as_u64()) as *mut PageTable) }
}

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * (level - 1))) & 511) as usize
}

/// The span of memory one entry at `level` maps (level 1 = a page table's entry).
fn span(level: u32) -> u64 {
    1 << (12 + 9 * (level - 1))
}

/// Frames to free (and shared pages to let go of) once the TLBs forget `[lo, hi)`.
struct Reclaim {
    frames: Vec<PhysFrame>,
    pages: Vec<Arc<Page>>,
    lo: u64,
    hi: u64,
}

impl Reclaim {
    fn new() -> Self {
        Self {
            frames: Vec::new(),
            pages: Vec::new(),
            lo: u64::MAX,
            hi: 0,
        }
    }

    /// Notes that the translation of `[va, va+len)` went away (and `frame` with it, if owned).
    fn add(&mut self, va: u64, len: u64, frame: Option<PhysFrame>) {
        self.lo = self.lo.min(va);
        self.hi = self.hi.max(va + len);
        if let Some(f) = frame {
            self.frames.push(f);
            if self.frames.len() >= BATCH {
                self.finish();
            }
        }
    }

    /// Shoots the range down everywhere; what was collected goes once every CPU flushed.
    fn finish(&mut self) {
        if self.lo < self.hi {
            let frames = core::mem::take(&mut self.frames);
            let pages = core::mem::take(&mut self.pages);
            tlb::retire(self.lo, self.hi - self.lo, frames, pages);
        }
        self.lo = u64::MAX;
        self.hi = 0;
    }

    /// Shoots the range down everywhere (a permission cut or a move: nothing to free).
    fn flush(&mut self) {
        if self.lo < self.hi {
            tlb::flush(self.lo, self.hi - self.lo);
        }
        self.lo = u64::MAX;
        self.hi = 0;
    }
}

/// One process's page tables.
#[derive(Debug)]
pub struct AddressSpace {
    root: Mutex<PhysFrame>,
}

impl AddressSpace {
    /// The space whose PML4 is `root` (already holding the kernel half).
    pub(super) fn wrap(root: PhysFrame) -> Self {
        Self {
            root: Mutex::new(root),
        }
    }

    /// A new space with an empty user half over the kernel half of the boot space.
    pub fn new() -> Result<Self, OutOfMemory> {
        let root = frame::alloc_zeroed().ok_or(OutOfMemory)?;
        super::paging::boot_space().with_root(|boot| {
            // SAFETY: the frame is fresh, so nothing else references it.
            let new = unsafe { table(root.start_address()) };
            // The kernel half (direct map, kernel stacks, image) is the same in every space;
            // its tables are shared, never freed, and only filled in before processes start.
            for i in 256..512 {
                new[i] = boot[i].clone();
            }
        });
        Ok(Self::wrap(root))
    }

    /// Makes this the address space of the calling CPU.
    pub fn activate(&self) {
        let root = *self.root.lock();
        let (current, _) = x86_64::registers::control::Cr3::read();
        if current != root {
            // SAFETY: every space maps the kernel half identically (see `new`), so the kernel
            // code, stack and data in use stay where they are; the caller keeps the space
            // alive while it is loaded (the CPU's platform holds it).
            unsafe {
                x86_64::registers::control::Cr3::write(
                    root,
                    x86_64::registers::control::Cr3Flags::empty(),
                )
            };
        }
    }

    /// A copy of the user half for a forked child: shared file pages (and the vDSO) are mapped
    /// in both, private pages are shared copy-on-write (read-only in both, one more reference
    /// on the frame). The caller holds the process's mm lock.
    pub fn fork(&self) -> Result<AddressSpace, OutOfMemory> {
        let child = AddressSpace::new()?;
        let mut failed = false;
        let mut reclaim = Reclaim::new();
        self.with_root(|root| {
            child.with_root(|croot| {
                for_each_leaf(root, 0, USER_END, |va, e| {
                    if failed {
                        return;
                    }
                    let Ok(Some(ce)) = leaf_entry(croot, va, true) else {
                        failed = true;
                        return;
                    };
                    let mut flags = e.flags();
                    if !flags.contains(BORROWED) {
                        frame::share(frame_of(e));
                        if flags.contains(F::WRITABLE) {
                            reclaim.add(va, PAGE_SIZE, None);
                        }
                        flags.remove(F::WRITABLE);
                        flags |= COW;
                        e.set_flags(flags);
                    }
                    ce.set_addr(e.addr(), flags);
                });
            });
        });
        // The parent's pages lost WRITABLE: no CPU may keep a writable translation.
        reclaim.flush();
        if failed {
            // Dropping the child gives back what it took (the frame references too).
            return Err(OutOfMemory);
        }
        Ok(child)
    }

    /// Gives `va`'s page the permissions `perms` including write, copying it first if a fork
    /// left it shared copy-on-write (the last holder takes it over as it is).
    pub fn make_writable(&self, va: u64, perms: Perms) -> Result<(), OutOfMemory> {
        let mut reclaim = Reclaim::new();
        let result = self.with_root(|root| {
            let Some(e) = leaf_entry(root, va, false)? else {
                return Ok(());
            };
            if !in_use(e) {
                return Ok(());
            }
            let flags = e.flags();
            if !flags.contains(COW) {
                let mut new = leaf_flags(perms, flags.contains(BORROWED));
                new |= flags & KERNEL_IMAGE;
                if flags.contains(KERNEL_IMAGE) {
                    new.remove(F::WRITABLE);
                }
                e.set_flags(new);
                return Ok(());
            }
            let old = frame_of(e);
            // A file page is the file's: a private mapping always writes to its own copy.
            let borrowed = flags.contains(BORROWED);
            if borrowed || frame::is_shared(old) {
                let copy = frame::alloc_zeroed().ok_or(OutOfMemory)?;
                // SAFETY: both frames are in the direct map; `copy` is fresh and the shared
                // frame is only read (no holder writes it while it is shared).
                unsafe {
                    crate::arch::mem::copy(
                        phys_to_virt(copy.start_address().as_u64()) as *mut u8,
                        phys_to_virt(old.start_address().as_u64()) as *const u8,
                        PAGE_SIZE as usize,
                    )
                };
                e.set_addr(copy.start_address(), leaf_flags(perms, false));
                // Other CPUs running this process may still read the old frame: it loses
                // this space's reference only once they flushed. (A file page stays with
                // the mapping's hold on it, which outlives the mapping.)
                reclaim.add(va, PAGE_SIZE, (!borrowed).then_some(old));
            } else {
                e.set_flags(leaf_flags(perms, false));
            }
            Ok(())
        });
        reclaim.finish();
        result
    }

    /// Runs `f` on the PML4 with the space locked.
    pub(super) fn with_root<T>(&self, f: impl FnOnce(&mut PageTable) -> T) -> T {
        let root = self.root.lock();
        // SAFETY: the lock is held for the whole use of the table.
        f(unsafe { table(root.start_address()) })
    }

    /// Maps fresh zeroed frames at `[start, start+len)`; what was mapped there is replaced.
    pub fn map_zeroed(&self, start: u64, len: u64, perms: Perms) -> Result<(), OutOfMemory> {
        let mut va = start;
        while va < start + len {
            let frame = frame::alloc_zeroed().ok_or(OutOfMemory)?;
            self.set_leaf(va, frame.start_address(), leaf_flags(perms, false))
                .inspect_err(|_| frame::free(frame))?;
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// Maps a fresh frame at `va` holding `data` (at most a page), the rest zero.
    pub fn map_copy(&self, va: u64, data: &[u8], perms: Perms) -> Result<(), OutOfMemory> {
        let frame = frame::alloc_zeroed().ok_or(OutOfMemory)?;
        let n = data.len().min(PAGE_SIZE as usize);
        // SAFETY: the frame is fresh (nobody else uses it) and the direct map covers it; `n`
        // bytes fit in it and `data` has them.
        unsafe {
            crate::arch::mem::copy(
                phys_to_virt(frame.start_address().as_u64()) as *mut u8,
                data.as_ptr(),
                n,
            )
        };
        self.set_leaf(va, frame.start_address(), leaf_flags(perms, false))
            .inspect_err(|_| frame::free(frame))
    }

    /// Maps the kernel-heap page at kernel address `kaddr` at `va` (shared, never freed here).
    pub fn map_borrowed(&self, va: u64, kaddr: u64, perms: Perms) -> Result<(), OutOfMemory> {
        let in_direct_map = (PHYS_OFFSET..PHYS_OFFSET + DIRECT_MAP_SIZE).contains(&kaddr);
        if !in_direct_map || !kaddr.is_multiple_of(PAGE_SIZE) {
            crate::fatal(format_args!(
                "a shared page at {kaddr:#x} is not in the direct map"
            ));
        }
        let phys = PhysAddr::new(kaddr - PHYS_OFFSET);
        self.set_leaf(va, phys, leaf_flags(perms, true))
    }

    /// Maps the file page at kernel address `kaddr` at `va` for a private mapping: read-only
    /// and copy-on-write whatever `perms` say about writing (never freed here).
    pub fn map_file_cow(&self, va: u64, kaddr: u64, perms: Perms) -> Result<(), OutOfMemory> {
        let in_direct_map = (PHYS_OFFSET..PHYS_OFFSET + DIRECT_MAP_SIZE).contains(&kaddr);
        if !in_direct_map || !kaddr.is_multiple_of(PAGE_SIZE) {
            crate::fatal(format_args!(
                "a file page at {kaddr:#x} is not in the direct map"
            ));
        }
        let read_only = Perms {
            write: false,
            ..perms
        };
        let phys = PhysAddr::new(kaddr - PHYS_OFFSET);
        self.set_leaf(va, phys, leaf_flags(read_only, true) | COW)
    }

    /// Maps the kernel image's page at physical `phys` at `va`, never writable, never freed.
    pub fn map_kernel_page(
        &self,
        va: u64,
        phys: PhysAddr,
        perms: Perms,
    ) -> Result<(), OutOfMemory> {
        let flags = leaf_flags(
            Perms {
                write: false,
                ..perms
            },
            true,
        ) | KERNEL_IMAGE;
        self.set_leaf(va, phys, flags)
    }

    /// Points the entry of `va` at `phys`, making page tables as needed; a page that was
    /// there is unmapped (and freed) first.
    fn set_leaf(&self, va: u64, phys: PhysAddr, flags: F) -> Result<(), OutOfMemory> {
        let mut reclaim = Reclaim::new();
        let result = self.with_root(|root| {
            let e = leaf_entry(root, va, true)?.ok_or(OutOfMemory)?;
            if in_use(e) {
                let old = (!e.flags().contains(BORROWED)).then(|| frame_of(e));
                e.set_unused();
                reclaim.add(va, PAGE_SIZE, old);
            }
            e.set_addr(phys, flags);
            Ok(())
        });
        reclaim.finish();
        result
    }

    /// Unmaps `[start, start+len)` and frees what it owned (once every CPU flushed), including
    /// page tables left empty; `keep` (the shared pages that were mapped there) is held until
    /// then too. Returns how many pages were mapped.
    pub fn unmap(&self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        let end = (start + len).min(USER_END);
        let mut reclaim = Reclaim::new();
        reclaim.pages = keep;
        let mut count = 0;
        self.with_root(|root| {
            for_each_leaf(root, start, end, |va, e| {
                let owned = (!e.flags().contains(BORROWED)).then(|| frame_of(e));
                e.set_unused();
                reclaim.add(va, PAGE_SIZE, owned);
                count += 1;
            });
            prune(root, 4, 0, start, end, &mut reclaim);
        });
        reclaim.finish();
        count
    }

    /// Unmaps each file page of `pages` where its user address still shows it (a private
    /// copy a write made stays) and holds them all until every CPU has flushed.
    pub fn unmap_file_pages(&self, pages: Vec<(u64, Arc<Page>)>) {
        let mut reclaim = Reclaim::new();
        self.with_root(|root| {
            for (va, page) in &pages {
                let Ok(Some(e)) = leaf_entry(root, *va, false) else {
                    continue;
                };
                let f = e.flags();
                let shows = in_use(e)
                    && f.contains(BORROWED)
                    && !f.contains(KERNEL_IMAGE)
                    && phys_to_virt(e.addr().as_u64()) == page.addr();
                if shows {
                    e.set_unused();
                }
                // Even a page no longer shown here may sit in a TLB from before the copy.
                reclaim.add(*va, PAGE_SIZE, None);
            }
        });
        reclaim.pages = pages.into_iter().map(|(_, p)| p).collect();
        reclaim.finish();
    }

    /// Sets the permissions of the pages in use in `[start, start+len)`.
    pub fn protect(&self, start: u64, len: u64, perms: Perms) {
        let mut reclaim = Reclaim::new();
        self.with_root(|root| {
            for_each_leaf(root, start, start + len, |va, e| {
                let old = e.flags();
                let mut new = leaf_flags(perms, old.contains(BORROWED));
                if old.contains(KERNEL_IMAGE) {
                    new.remove(F::WRITABLE);
                    new |= KERNEL_IMAGE;
                }
                if old.contains(COW) {
                    // Still shared with another space: the first write copies it.
                    new.remove(F::WRITABLE);
                    new |= COW;
                }
                e.set_flags(new);
                // Only a removal needs the TLBs told: a stale looser entry would let an access
                // through; a stale stricter one only causes a fault that finds the page mapped.
                let downgrade = old.contains(F::PRESENT)
                    && (!new.contains(F::PRESENT)
                        || (old.contains(F::WRITABLE) && !new.contains(F::WRITABLE))
                        || (!old.contains(F::NO_EXECUTE) && new.contains(F::NO_EXECUTE)));
                if downgrade {
                    reclaim.add(va, PAGE_SIZE, None);
                }
            });
        });
        reclaim.flush();
    }

    /// Moves the pages in use in `[from, from+len)` to the same offsets from `to` (where
    /// nothing is mapped). Makes every page table first, so running out of memory moves
    /// nothing.
    pub fn move_pages(&self, from: u64, to: u64, len: u64) -> Result<(), OutOfMemory> {
        let mut reclaim = Reclaim::new();
        let result = self.with_root(|root| {
            let mut used = Vec::new();
            for_each_leaf(root, from, from + len, |va, _| used.push(va));
            for &va in &used {
                leaf_entry(root, to + (va - from), true)?;
            }
            for &va in &used {
                let (addr, flags) = match leaf_entry(root, va, false) {
                    Ok(Some(e)) => {
                        let moved = (e.addr(), e.flags());
                        e.set_unused();
                        moved
                    }
                    _ => continue,
                };
                if let Ok(Some(e)) = leaf_entry(root, to + (va - from), false) {
                    e.set_addr(addr, flags);
                }
                reclaim.add(va, PAGE_SIZE, None);
            }
            Ok(())
        });
        reclaim.flush();
        result
    }

    /// The permissions `va`'s page has, if one is in use there.
    pub fn query(&self, va: u64) -> Option<Perms> {
        self.with_root(|root| {
            let e = leaf_entry(root, va, false).ok().flatten()?;
            let f = e.flags();
            if f.contains(F::PRESENT) {
                Some(Perms {
                    read: true,
                    write: f.contains(F::WRITABLE),
                    exec: !f.contains(F::NO_EXECUTE),
                })
            } else if f.contains(PROT_NONE) {
                Some(Perms {
                    read: false,
                    write: false,
                    exec: false,
                })
            } else {
                None
            }
        })
    }

    /// Copies `data` into mapped user memory at `va` through the direct map, ignoring the
    /// pages' permissions (the loader fills read-only text this way). Fails if a page is
    /// missing.
    pub fn poke(&self, va: u64, data: &[u8]) -> Result<(), OutOfMemory> {
        self.with_root(|root| {
            let mut done = 0usize;
            while done < data.len() {
                let addr = va + done as u64;
                let e = leaf_entry(root, addr, false)?.ok_or(OutOfMemory)?;
                if !in_use(e) {
                    return Err(OutOfMemory);
                }
                let phys = e.addr().as_u64() + addr % PAGE_SIZE;
                let n = ((PAGE_SIZE - addr % PAGE_SIZE) as usize).min(data.len() - done);
                // SAFETY: `phys..phys+n` lies within one mapped user frame, reached through
                // the direct map; the frame belongs to the user mapping the caller is filling.
                unsafe {
                    crate::arch::mem::copy(phys_to_virt(phys) as *mut u8, data[done..].as_ptr(), n)
                };
                done += n;
            }
            Ok(())
        })
    }
}

impl Drop for AddressSpace {
    /// Gives back the whole user half and the PML4. No CPU has the space loaded any more
    /// (a CPU's platform holds it while it is), and the user half's frames go through the
    /// shootdown like any unmap.
    fn drop(&mut self) {
        self.unmap(0, USER_END, Vec::new());
        frame::free(*self.root.get_mut());
    }
}

fn frame_of(e: &PageTableEntry) -> PhysFrame {
    PhysFrame::containing_address(e.addr())
}

/// The page-table entry of `va`: `None` when a table on the way is missing (and not
/// `create`d). `va` must be in the user half.
fn leaf_entry(
    root: &mut PageTable,
    va: u64,
    create: bool,
) -> Result<Option<&mut PageTableEntry>, OutOfMemory> {
    if va >= USER_END {
        return Ok(None);
    }
    let mut t: &mut PageTable = root;
    for level in [4, 3, 2] {
        let e = &mut t[index(va, level)];
        if e.is_unused() {
            if !create {
                return Ok(None);
            }
            let new = frame::alloc_zeroed().ok_or(OutOfMemory)?;
            e.set_addr(new.start_address(), TABLE);
        }
        let next = e.addr();
        // SAFETY: a user-half entry above the leaf level points to a page table of this
        // space, whose lock the caller holds (every caller runs inside `with_root`).
        t = unsafe { table(next) };
    }
    Ok(Some(&mut t[index(va, 1)]))
}

/// Calls `f` for every page entry in use in `[start, end)`, in address order, skipping
/// missing tables whole.
fn for_each_leaf(
    root: &mut PageTable,
    start: u64,
    end: u64,
    mut f: impl FnMut(u64, &mut PageTableEntry),
) {
    let mut va = start;
    'pages: while va < end {
        let mut t: &mut PageTable = root;
        for level in [4, 3, 2] {
            let e = &t[index(va, level)];
            if e.is_unused() {
                va = (va & !(span(level) - 1)) + span(level);
                continue 'pages;
            }
            let next = e.addr();
            // SAFETY: as in `leaf_entry`: a table of this space, under its lock.
            t = unsafe { table(next) };
        }
        let e = &mut t[index(va, 1)];
        if in_use(e) {
            f(va, e);
        }
        va += PAGE_SIZE;
    }
}

/// Frees the page tables under `t` (a table at `level`, mapping from `base`) whose whole
/// span lies in `[start, end)`: every entry in them was just cleared.
fn prune(t: &mut PageTable, level: u32, base: u64, start: u64, end: u64, reclaim: &mut Reclaim) {
    if level < 2 {
        return;
    }
    let s = span(level);
    let first = index(start.max(base), level);
    let last = index((end - 1).min(base + 512 * s - 1), level);
    for i in first..=last {
        let e_base = base + i as u64 * s;
        let e = &mut t[i];
        if e.is_unused() {
            continue;
        }
        let child = e.addr();
        // SAFETY: as in `leaf_entry`: a table of this space, under its lock.
        prune(
            unsafe { table(child) },
            level - 1,
            e_base,
            start,
            end,
            reclaim,
        );
        if start <= e_base && e_base + s <= end {
            e.set_unused();
            reclaim.add(e_base, s, Some(PhysFrame::containing_address(child)));
        }
    }
}
