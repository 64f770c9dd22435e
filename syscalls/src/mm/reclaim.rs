//! Letting go of mapped file pages under memory pressure, so the page cache's shrinker
//! (`coracle_vfs::evict`) can free them: Linux's reclaim unmaps a page through its reverse
//! map (try_to_unmap) before it frees it.
//!
//! A mapping holds its file pages (`Mm::pinned`), so the shrinker never takes them. When it
//! cannot free enough, the kernel calls [`release_file_pages`] at a point where no lock is
//! held: every process's clean pages of files whose cache can read them again are unmapped
//! (the clock's referenced bit stands in for the page tables' accessed bits: a page still in
//! use is faulted in again at once, finds itself in the cache and is marked used, so the
//! shrinker keeps it). Locked mappings (mlock) keep theirs; so does a private mapping's copy
//! of a page it wrote, which is the process's own memory, not the file's.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::page::Page;

use super::{Mm, VmaName};
use crate::platform::UserSpace;
use crate::{Current, Platform};

/// Unmaps the clean pages of evictable files from every process's mappings; returns how
/// many mappings of pages went. The pages stay cached until the shrinker takes them.
pub fn release_file_pages(p: &Current, k: &mut dyn Platform) -> usize {
    let processes: Vec<_> = p.sys.tree.lock().values().cloned().collect();
    let current = k.space();
    let mut released = 0;
    for process in processes {
        let space = if Arc::ptr_eq(&process, &p.process) {
            Some(current.clone())
        } else {
            process.space.lock().clone()
        };
        // A process that has ended has nothing mapped.
        let Some(space) = space else { continue };
        released += process.mm.get().lock().release_file_pages(&*space);
    }
    released
}

impl Mm {
    /// [`release_file_pages`] for this address space, whose page tables are `space`.
    pub(crate) fn release_file_pages(&mut self, space: &dyn UserSpace) -> usize {
        let mut gone: Vec<(u64, Arc<Page>)> = Vec::new();
        for (&start, v) in &self.vmas {
            let VmaName::File { inode, .. } = &v.name else {
                continue;
            };
            let evictable = inode
                .cached()
                .is_some_and(|c| c.page_cache().is_evictable());
            if !evictable || v.locked {
                continue;
            }
            for (&va, page) in self.pinned.range(start..v.end) {
                if !page.is_dirty() {
                    gone.push((va, page.clone()));
                }
            }
        }
        for (va, _) in &gone {
            self.pinned.remove(va);
        }
        let count = gone.len();
        if count > 0 {
            space.unmap_file_pages(gone);
        }
        count
    }
}
