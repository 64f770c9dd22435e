//! Pages that leave a file while processes map it (truncate, a punched hole): every mapping of
//! the file lets go of them, in every process, as Linux's unmap_mapping_range does.
//!
//! There is no reverse map from a file to its mappings: the few calls that take pages away
//! walk the processes' VMA lists instead, one mm lock at a time, which costs a truncation of a
//! mapped file a look at every VMA and nothing anywhere else. A later touch of such an address
//! faults the file's page in again: a page the file has (zeros in a hole), or SIGBUS past its
//! end.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::inode::same_inode;
use coracle_vfs::Inode;

use super::{Mm, VmaName, PAGE};
use crate::platform::UserSpace;
use crate::{Current, Platform};

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
            .lock()
            .unmap_file_pages(&*space, inode, from, to, even_cows);
    }
}

impl Mm {
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
