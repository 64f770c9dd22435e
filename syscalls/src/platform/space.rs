//! Address spaces: the page tables of the current one, and typed handles to all of them.
//!
//! The page tables hold the resident pages of the VMAs that `crate::mm` keeps. Callers hold
//! the process's mm lock, pass page-aligned ranges inside the user half, and only map pages
//! that are not mapped (mapping over a page replaces it). Whatever removes or downgrades a
//! mapping makes sure no CPU uses the old translation before it returns.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Page, Perms};
use crate::Errno;

/// One process's user address space (its page tables), as the kernel keeps it. A handle
/// carries the operations on it, so whoever made it never has to find its own type again.
pub trait UserSpace: Send + Sync {
    /// Maps fresh zeroed pages at `[start, start+len)` with `perms`. `ENOMEM` when memory runs
    /// out (pages mapped before that stay mapped).
    fn map_zeroed(&self, start: u64, len: u64, perms: Perms) -> Result<(), Errno>;
    /// Maps one fresh page at `va` holding `data` (at most a page), the rest zero. `ENOMEM`.
    fn map_copy(&self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno>;
    /// Maps the file page `page` itself at `va`, so stores through the mapping land in the
    /// file. The caller keeps the page alive while it is mapped; unmapping never frees it.
    /// `ENOMEM` when a page table cannot be made.
    fn map_shared(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno>;
    /// Maps the file page `page` at `va` for a private mapping: read-only whatever `perms`
    /// say about writing, so that the first write copies it ([`UserSpace::make_writable`]
    /// copies such a page always: the file keeps its own). The caller keeps the page alive
    /// while it is mapped. `ENOMEM` when a page table cannot be made.
    fn map_file_cow(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno>;
    /// Unmaps `[start, start+len)` (holes are fine), frees the pages it owned once no CPU can
    /// reach them any more, and returns how many pages were mapped. `keep` holds the shared
    /// pages that were mapped there: they are dropped only once no CPU can reach them.
    fn unmap(&self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64;
    /// Lets go of the file pages `pages` held at their user addresses: each is unmapped where
    /// that address still shows it (not where a private mapping's write replaced it with a
    /// copy, which stays), and dropped once no CPU can reach it.
    fn unmap_file_pages(&self, pages: Vec<(u64, Arc<Page>)>);
    /// Sets the permissions of the mapped pages in `[start, start+len)`.
    fn protect(&self, start: u64, len: u64, perms: Perms);
    /// Moves the mapped pages of `[from, from+len)` to the same offsets from `to` (a range
    /// with nothing mapped, not overlapping). `ENOMEM` (and nothing moved) when a page table
    /// cannot be made.
    fn move_pages(&self, from: u64, to: u64, len: u64) -> Result<(), Errno>;
    /// The permissions `va`'s page is mapped with, if it is mapped.
    fn query(&self, va: u64) -> Option<Perms>;
    /// Makes the mapped page at `va` writable with `perms` (a write fault on a page mapped
    /// without write): a page a fork left shared copy-on-write is copied first, unless this
    /// space holds the last reference. `ENOMEM` when no page is left for the copy.
    fn make_writable(&self, va: u64, perms: Perms) -> Result<(), Errno>;
    /// Maps the vDSO's data page at `base` and the vDSO right above it; returns the vDSO's
    /// address and its end, or `None` without a vDSO.
    fn map_vdso(&self, base: u64) -> Option<(u64, u64)>;
    /// A copy for a forked child: pages of shared mappings are shared, private pages
    /// copy-on-write. The caller holds the process's mm lock.
    fn fork(&self) -> Result<Space, Errno>;
    /// Makes the CPU translate user addresses through this space (its CR3).
    fn activate(self: Arc<Self>);
}

/// A handle to one user address space.
pub type Space = Arc<dyn UserSpace>;

/// The current address space's page tables (see [`UserSpace`] for each operation).
pub trait PageTables {
    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno>;
    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno>;
    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno>;
    fn map_file_cow(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno>;
    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64;
    fn protect(&mut self, start: u64, len: u64, perms: Perms);
    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno>;
    fn query(&self, va: u64) -> Option<Perms>;
    fn make_writable(&mut self, va: u64, perms: Perms) -> Result<(), Errno>;
    fn map_vdso(&mut self, base: u64) -> Option<(u64, u64)>;
}

/// Which address space the CPU works on, and new ones.
pub trait AddressSpaces {
    /// The address space the memory methods work on now.
    fn space(&self) -> Space;
    /// A new, empty user half (for execve).
    fn new_space(&mut self) -> Result<Space, Errno>;
    /// Makes the memory methods (and the CPU) work on `space` from now on.
    fn switch_space(&mut self, space: &Space);
}
