//! Memory management of a process: its VMAs, demand paging, and the user copies that fault.
//!
//! [`Mm`] (one per process, behind `Process::mm`; processes made with CLONE_VM share one, see
//! `shared`) is the truth about the user half: which ranges are mapped, with what permissions,
//! backed by what. The page tables, reached through
//! the [`Platform`] memory methods, only hold the pages touched so far (the resident set): a
//! mapping costs a VMA until a page of it is touched, when [`handle_page_fault`] allocates and
//! zeroes it (anonymous memory), copies it from the file (private file mappings), or maps the
//! file's own page (shared mappings, whose pages the file and every mapping share).
//!
//! Every page-table change happens with the mm lock held, so threads faulting on several CPUs
//! see one consistent order; a fault that finds its page already mapped (another CPU got there
//! first) just returns. The syscalls live in `sys::mman`, `sys::mremap` and `sys::madvise`;
//! /proc/<pid>/maps reads [`Mm::maps`].

mod fault;
mod reclaim;
mod rmap;
mod shared;
mod uaccess;
mod vmas;

use alloc::collections::BTreeMap;
use alloc::sync::Arc;

use coracle_vfs::Inode;

use crate::{Errno, Perms, Platform};

pub use fault::{
    handle_page_fault, out_of_memory_kill, wait_for_page, Access, FaultResult, BUS_ADRERR,
};
pub use reclaim::release_file_pages;
pub(crate) use rmap::{sync_file, unmap_file_pages};
pub use shared::{MmRef, SharedMm};
pub(crate) use uaccess::Faulting;
pub use uaccess::{read_user, write_user};
pub(crate) use vmas::start_gap;

/// The page size (one name for it in this crate, from the ABI crate).
pub(crate) const PAGE: u64 = coracle_abi::PAGE_SIZE;
/// Linux's stack_guard_gap: 256 pages kept free below a stack that grows down.
pub(crate) const STACK_GUARD_GAP: u64 = 256 * PAGE;
/// Linux's sysctl_max_map_count.
pub(crate) const MAX_MAP_COUNT: usize = 65530;
/// The lowest address a mapping may have (mmap_min_addr).
pub(crate) const MMAP_MIN_ADDR: u64 = coracle_loader::MMAP_MIN_ADDR;
/// The end of the user half (TASK_SIZE).
pub(crate) const USER_TOP: u64 = coracle_loader::USER_TOP;

pub(crate) fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

/// Whether `perms` allow any access at all (PROT_NONE does not).
pub(crate) fn accessible(p: Perms) -> bool {
    p.read || p.write || p.exec
}

pub(crate) const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};

/// What a VMA maps, as /proc/<pid>/maps names it.
#[derive(Clone, Default)]
pub enum VmaName {
    /// Anonymous memory (the heap is recognised by the program break, as Linux does).
    #[default]
    Anon,
    /// The main thread's stack.
    Stack,
    /// Kernel-provided pages with a bracketed name: `[vdso]`, `[vvar]`.
    Special(&'static str),
    /// A file's pages from byte `offset` on; `path` is the one it was opened by. Shared
    /// anonymous memory is an unnamed tmpfs file named `/dev/zero (deleted)`, as on Linux.
    File {
        inode: Arc<dyn Inode>,
        path: Arc<[u8]>,
        offset: u64,
    },
}

impl VmaName {
    /// The name of the part of the VMA that starts `by` bytes further.
    pub(crate) fn advanced(&self, by: u64) -> VmaName {
        match self {
            VmaName::File {
                inode,
                path,
                offset,
            } => VmaName::File {
                inode: inode.clone(),
                path: path.clone(),
                offset: offset + by,
            },
            other => other.clone(),
        }
    }
}

impl PartialEq for VmaName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (VmaName::Anon, VmaName::Anon) | (VmaName::Stack, VmaName::Stack) => true,
            (VmaName::Special(a), VmaName::Special(b)) => a == b,
            (
                VmaName::File {
                    inode: a,
                    offset: x,
                    ..
                },
                VmaName::File {
                    inode: b,
                    offset: y,
                    ..
                },
            ) => Arc::ptr_eq(a, b) && x == y,
            _ => false,
        }
    }
}

impl Eq for VmaName {}

impl core::fmt::Debug for VmaName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VmaName::Anon => f.write_str("Anon"),
            VmaName::Stack => f.write_str("Stack"),
            VmaName::Special(name) => f.write_str(name),
            VmaName::File { path, offset, .. } => f
                .debug_struct("File")
                .field("path", &alloc::string::String::from_utf8_lossy(path))
                .field("offset", offset)
                .finish(),
        }
    }
}

/// One mapped range of the user half; its start is its key in [`Mm`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub perms: Perms,
    /// MAP_SHARED: stores reach the file (only file-backed VMAs are shared).
    pub shared: bool,
    /// PROT_WRITE may be added (VM_MAYWRITE): false for shared maps of files not open for
    /// writing.
    pub may_write: bool,
    /// Grows down on a fault below it (the main stack, MAP_GROWSDOWN).
    pub growsdown: bool,
    /// mlock'ed (VM_LOCKED).
    pub locked: bool,
    /// MADV_DONTFORK (VM_DONTCOPY): a forked child does not get this mapping.
    pub dontfork: bool,
    /// MADV_WIPEONFORK: a forked child gets this mapping zero-filled.
    pub wipeonfork: bool,
    pub name: VmaName,
}

impl Vma {
    /// A private anonymous VMA.
    pub(crate) fn anon(end: u64, perms: Perms) -> Vma {
        Vma {
            end,
            perms,
            shared: false,
            may_write: true,
            growsdown: false,
            locked: false,
            dontfork: false,
            wipeonfork: false,
            name: VmaName::Anon,
        }
    }

    fn file(&self) -> Option<(&Arc<dyn Inode>, u64)> {
        match &self.name {
            VmaName::File { inode, offset, .. } => Some((inode, *offset)),
            _ => None,
        }
    }
}

/// One line of /proc/<pid>/maps.
#[derive(Debug, Clone)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub perms: Perms,
    pub shared: bool,
    pub name: VmaName,
}

/// The user half's layout: VMAs by start address, the program break, where mmap searches, and
/// the shared file pages the mappings hold. A clone is a forked child's copy.
#[derive(Debug, Clone)]
pub struct Mm {
    vmas: BTreeMap<u64, Vma>,
    brk_start: u64,
    brk: u64,
    mmap_top: u64,
    /// The file pages mapped by shared mappings, by user address: the mappings' hold on them,
    /// dropped only after the page is unmapped.
    pinned: BTreeMap<u64, Arc<coracle_vfs::page::Page>>,
    /// mlockall(MCL_FUTURE): new mappings are locked.
    lock_future: bool,
}

impl Mm {
    pub fn new(brk: u64, mmap_top: u64) -> Self {
        Self {
            vmas: BTreeMap::new(),
            brk_start: brk,
            brk,
            mmap_top,
            pinned: BTreeMap::new(),
            lock_future: false,
        }
    }

    /// Records a range the kernel mapped itself (the image).
    pub fn record(&mut self, start: u64, end: u64, perms: Perms) {
        self.record_named(start, end, perms, VmaName::Anon);
    }

    /// Records a range the kernel mapped itself, with its name for /proc/<pid>/maps. The
    /// [`VmaName::Stack`] VMA grows down on touch.
    pub fn record_named(&mut self, start: u64, end: u64, perms: Perms, name: VmaName) {
        let growsdown = name == VmaName::Stack;
        // The kernel's own pages never become writable.
        let may_write = !matches!(name, VmaName::Special(_));
        let vma = Vma {
            growsdown,
            may_write,
            name,
            ..Vma::anon(end, perms)
        };
        self.vmas.insert(start, vma);
    }

    /// The VMAs as `(start, end, perms, name)`, in address order.
    pub fn vmas_named(&self) -> impl Iterator<Item = (u64, u64, Perms, VmaName)> + '_ {
        self.vmas
            .iter()
            .map(|(&s, v)| (s, v.end, v.perms, v.name.clone()))
    }

    /// The VMAs as /proc/<pid>/maps lists them, in address order.
    pub fn maps(&self) -> impl Iterator<Item = MapEntry> + '_ {
        self.vmas.iter().map(|(&start, v)| MapEntry {
            start,
            end: v.end,
            perms: v.perms,
            shared: v.shared,
            name: v.name.clone(),
        })
    }

    /// The program break's start and current value (`start_brk`, `brk`).
    pub fn brk_area(&self) -> (u64, u64) {
        (self.brk_start, self.brk)
    }

    /// The VMAs as `(start, end, perms)`, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = (u64, u64, Perms)> + '_ {
        self.vmas.iter().map(|(&s, v)| (s, v.end, v.perms))
    }

    /// Whether some shared mapping of `inode` may be made writable (Linux's i_mmap_writable,
    /// which makes F_SEAL_WRITE fail with EBUSY).
    pub fn maps_shared_writable(&self, inode: &Arc<dyn Inode>) -> bool {
        self.vmas.values().any(|v| {
            v.shared
                && v.may_write
                && v.file()
                    .is_some_and(|(i, _)| coracle_vfs::inode::same_inode(i, inode))
        })
    }

    /// What backs the word at `addr` for a shared futex (get_futex_key): `EFAULT` without an
    /// accessible mapping there; the identity of the file's page cache and the byte's offset
    /// in the file for a shared file mapping; `None` for private memory, keyed by address.
    pub(crate) fn futex_backing(&self, addr: u64) -> Result<Option<(usize, u64)>, Errno> {
        let (start, v) = self.vma_at(addr).ok_or(Errno::EFAULT)?;
        if !accessible(v.perms) {
            return Err(Errno::EFAULT);
        }
        let (true, Some((inode, offset))) = (v.shared, v.file()) else {
            return Ok(None);
        };
        let object = match inode.cached() {
            Some(cached) => core::ptr::from_ref(cached.page_cache()) as usize,
            None => Arc::as_ptr(inode).cast::<u8>() as usize,
        };
        Ok(Some((object, offset + (addr - start))))
    }

    /// Unmaps `[start, end)` (page-aligned): VMAs are split at the edges, the pages are unmapped
    /// and freed, the shared pages let go of.
    pub(crate) fn unmap_range(
        &mut self,
        k: &mut dyn Platform,
        start: u64,
        end: u64,
    ) -> Result<(), Errno> {
        self.carve(start, end)?;
        self.drop_pages(k, start, end);
        Ok(())
    }

    /// Unmaps the pages of `[start, end)` and lets go of its shared pages, keeping the VMAs.
    pub(crate) fn drop_pages(&mut self, k: &mut dyn Platform, start: u64, end: u64) {
        if start >= end {
            return;
        }
        // The shared pages go with the unmap: the platform holds them until no CPU can
        // reach them.
        let gone: alloc::vec::Vec<u64> = self.pinned.range(start..end).map(|(&a, _)| a).collect();
        let keep = gone.iter().filter_map(|a| self.pinned.remove(a)).collect();
        k.unmap(start, end - start, keep);
    }

    /// Forgets every VMA (the image goes: exit, execve) and hands back the shared pages the
    /// mappings held, for the platform to let go of once the pages are unmapped.
    pub(crate) fn clear(&mut self) -> alloc::vec::Vec<Arc<coracle_vfs::page::Page>> {
        let pinned = core::mem::take(&mut self.pinned);
        *self = Mm::new(0, 0);
        pinned.into_values().collect()
    }

    /// Moves the hold on shared pages of `[from, from+len)` along with their mapping.
    pub(crate) fn move_pinned(&mut self, from: u64, to: u64, len: u64) {
        let moved: alloc::vec::Vec<u64> = self
            .pinned
            .range(from..from + len)
            .map(|(&a, _)| a)
            .collect();
        for a in moved {
            if let Some(p) = self.pinned.remove(&a) {
                self.pinned.insert(to + (a - from), p);
            }
        }
    }
}
