//! What changes a file's pages under every mapping of it: pages that leave the file (truncate,
//! a punched hole) leave every mapping of it, in every process, as Linux's unmap_mapping_range
//! does; a write-back makes the shared writable mappings read-only (page_mkclean), so that the
//! next store marks its page dirty again.
//!
//! There is no reverse map from a file to its mappings: these few calls walk the processes'
//! VMA lists instead, one mm lock at a time, which costs them a look at every VMA and nothing
//! anywhere else. A later touch of an unmapped address faults the file's page in again: a page
//! the file has (zeros in a hole), or SIGBUS past its end.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::inode::same_inode;
use coracle_vfs::Inode;

use super::{Mm, VmaName, PAGE};
use crate::platform::UserSpace;
use crate::{Current, Errno, Platform};

/// Unmaps the pages of file offsets `[from, to)` (page-aligned) of `inode` from every process
/// that maps them. `even_cows`: private copies made by a write go too (truncation, whose
/// pages are gone for good); otherwise only the file's own pages (a punched hole), as in
/// unmap_mapping_range's even_cows.
pub(crate) fn unmap_file_pages(
    p: &Current,
    k: &mut dyn Platform,
    inode: &Arc<dyn Inode>,
    from: u64,
    to: u64,
    even_cows: bool,
) {
    if from >= to {
        return;
    }
    let processes: Vec<_> = p.sys.tree.lock().values().cloned().collect();
    let current = k.space();
    for process in processes {
        let space = if Arc::ptr_eq(&process, &p.process) {
            Some(current.clone())
        } else {
            process.space.lock().clone()
        };
        // A process that has ended has nothing mapped.
        let Some(space) = space else { continue };
        process
            .mm
            .get()
            .lock()
            .unmap_file_pages(&*space, inode, from, to, even_cows);
    }
}

/// Writes `inode`'s dirty pages back and flushes its device (fsync, fdatasync, msync's
/// MS_SYNC, munmap). For a file with a backing store, the shared writable mappings of it are
/// made read-only first (page_mkclean, in every process), so a store made after this
/// write-back faults and marks its page dirty again for the next one.
pub(crate) fn sync_file(
    p: &Current,
    k: &mut dyn Platform,
    inode: &Arc<dyn Inode>,
    data_only: bool,
) -> Result<(), Errno> {
    let tracked = inode
        .cached()
        .is_some_and(|c| c.has_backing_store() && !c.page_cache().dirty().is_empty());
    if tracked {
        let processes: Vec<_> = p.sys.tree.lock().values().cloned().collect();
        let current = k.space();
        for process in processes {
            let space = if Arc::ptr_eq(&process, &p.process) {
                Some(current.clone())
            } else {
                process.space.lock().clone()
            };
            if let Some(space) = space {
                process.mm.get().lock().write_protect_file(&*space, inode);
            }
        }
    }
    inode.sync(data_only)
}

impl Mm {
    /// The files with a backing store that shared writable mappings within `[start, end)`
    /// map (their stores are to be written back when the mappings go).
    pub(crate) fn backed_shared_files(&self, start: u64, end: u64) -> Vec<Arc<dyn Inode>> {
        let mut files: Vec<Arc<dyn Inode>> = Vec::new();
        for (s, _) in self.pieces(start, end) {
            let Some((_, v)) = self.vma_at(s) else {
                continue;
            };
            let VmaName::File { inode, .. } = &v.name else {
                continue;
            };
            let backed = inode.cached().is_some_and(|c| c.has_backing_store());
            if v.shared && v.may_write && backed && !files.iter().any(|f| same_inode(f, inode)) {
                files.push(inode.clone());
            }
        }
        files
    }

    /// Makes this space's shared writable mappings of `inode` read-only in the page tables
    /// (the VMAs keep their permissions: a write fault makes the page writable again).
    fn write_protect_file(&mut self, space: &dyn UserSpace, inode: &Arc<dyn Inode>) {
        for (&start, v) in &self.vmas {
            let VmaName::File { inode: mapped, .. } = &v.name else {
                continue;
            };
            if v.shared && v.perms.write && same_inode(mapped, inode) {
                let perms = crate::Perms {
                    write: false,
                    ..v.perms
                };
                space.protect(start, v.end - start, perms);
            }
        }
    }

    /// [`unmap_file_pages`] for this address space, whose page tables are `space`.
    fn unmap_file_pages(
        &mut self,
        space: &dyn UserSpace,
        inode: &Arc<dyn Inode>,
        from: u64,
        to: u64,
        even_cows: bool,
    ) {
        let ranges: Vec<(u64, u64, bool)> = self
            .vmas
            .iter()
            .filter_map(|(&start, v)| {
                let VmaName::File {
                    inode: mapped,
                    offset,
                    ..
                } = &v.name
                else {
                    return None;
                };
                if !same_inode(mapped, inode) {
                    return None;
                }
                // The VMA's file range, clipped to [from, to), back in user addresses.
                let file_end = offset.checked_add(v.end - start)?;
                let (lo, hi) = (from.max(*offset), to.min(file_end));
                (lo < hi).then(|| (start + (lo - offset), start + (hi - offset), v.shared))
            })
            .collect();
        for (start, end, shared) in ranges {
            if shared || even_cows {
                self.drop_pages_in(space, start, end);
                continue;
            }
            // A private mapping keeps the copies its writes made: only pages still shown from
            // the file (mapped without write: copy-on-write) go.
            let mut page = start;
            while page < end {
                if space.query(page).is_some_and(|perms| !perms.write) {
                    self.drop_pages_in(space, page, page + PAGE);
                }
                page += PAGE;
            }
        }
    }

    /// Unmaps the pages of `[start, end)` from `space` and lets go of the shared ones held
    /// there (as `drop_pages` does for the current space).
    fn drop_pages_in(&mut self, space: &dyn UserSpace, start: u64, end: u64) {
        let gone: Vec<u64> = self.pinned.range(start..end).map(|(&a, _)| a).collect();
        let keep = gone.iter().filter_map(|a| self.pinned.remove(a)).collect();
        space.unmap(start, end - start, keep);
    }
}
