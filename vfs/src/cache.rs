//! The page cache: each regular file's pages by page index, shared by `read`/`write`, file
//! mappings and exec, and filled or written back by the file's filesystem.
//!
//! A filesystem whose files can be mapped gives each file a [`PageCache`] and implements
//! [`CachedFile`] for it: tmpfs keeps file data only here (a missing page is a hole and
//! fills with zeros); a filesystem on a block device reads a missing page from its device
//! (maybe completing later, from an interrupt) and writes dirty pages back on `fsync`.
//! The memory manager reaches a file's pages only through [`get_page`] and the sync calls
//! only through [`write_back`], so neither knows which filesystem a file is on.
//!
//! A filesystem that can read its pages again makes its caches [`PageCache::evictable`]:
//! their clean pages go under memory pressure (`crate::evict`) and are read again when next
//! needed, through [`get_page`] as if they had never been there.
//!
//! Lock order: a filesystem may hold its inode's lock while it takes the cache's; the cache
//! never calls the filesystem with its own lock held.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::{Mutex, MutexGuard};

use crate::page::{Page, PageState, PAGE_SIZE};
use crate::types::Result;
use crate::Errno;

/// One file's pages by page index.
#[derive(Debug, Default)]
pub struct PageCache {
    pages: Mutex<BTreeMap<u64, Arc<Page>>>,
    /// Clean pages may be dropped under memory pressure ([`crate::evict`]): the filesystem
    /// reads them again from its backing store.
    evictable: bool,
}

impl PageCache {
    /// A cache whose pages stay until the file lets go of them (tmpfs: they are the data).
    pub const fn new() -> Self {
        PageCache {
            pages: Mutex::new(BTreeMap::new()),
            evictable: false,
        }
    }

    /// A cache whose clean pages the kernel's shrinker ([`crate::evict::SHRINKER`]) may drop
    /// under memory pressure: for a filesystem that can read them again.
    pub fn evictable() -> Arc<Self> {
        Self::evictable_in(&crate::evict::SHRINKER)
    }

    /// [`PageCache::evictable`] with the pages given to `shrinker` (tests use their own).
    pub fn evictable_in(shrinker: &crate::evict::Shrinker) -> Arc<Self> {
        let cache = Arc::new(PageCache {
            pages: Mutex::new(BTreeMap::new()),
            evictable: true,
        });
        shrinker.register(&cache);
        cache
    }

    /// Whether clean pages may leave under memory pressure (and mappings of them be undone
    /// to let them go: a later touch faults them in again).
    pub fn is_evictable(&self) -> bool {
        self.evictable
    }

    /// The pages, unless another holds the lock (for the shrinker, which must not wait).
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, BTreeMap<u64, Arc<Page>>>> {
        self.pages.try_lock()
    }

    /// The page at `index`, if cached.
    pub fn get(&self, index: u64) -> Option<Arc<Page>> {
        self.pages.lock().get(&index).cloned()
    }

    /// Whether a page is cached at `index` (mincore's view of the file).
    pub fn contains(&self, index: u64) -> bool {
        self.pages.lock().contains_key(&index)
    }

    /// How many pages are cached.
    pub fn len(&self) -> usize {
        self.pages.lock().len()
    }

    /// Whether no page is cached.
    pub fn is_empty(&self) -> bool {
        self.pages.lock().is_empty()
    }

    /// The cached pages, for a filesystem that keeps its data here (tmpfs) to change.
    pub fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Page>>> {
        self.pages.lock()
    }

    /// The dirty pages, in index order.
    pub fn dirty(&self) -> Vec<(u64, Arc<Page>)> {
        self.pages
            .lock()
            .iter()
            .filter(|(_, p)| p.is_dirty())
            .map(|(&i, p)| (i, p.clone()))
            .collect()
    }
}

/// What a filesystem does for the cached pages of one of its files.
pub trait CachedFile: Send + Sync {
    /// The file's cache.
    fn page_cache(&self) -> &PageCache;
    /// The file's size in bytes.
    fn cached_size(&self) -> u64;
    /// Starts filling `page` (new in the cache at `index`, zeroed, [`PageState::Filling`])
    /// from the backing store; the filesystem calls [`Page::finish_fill`] when the data is
    /// there, now or later. An error here means nothing was started: the page leaves the
    /// cache and the caller gets the error.
    fn fill_page(&self, index: u64, page: &Arc<Page>) -> Result<()>;
    /// Writes the dirty page at `index` to the backing store.
    fn write_page(&self, index: u64, page: &Arc<Page>) -> Result<()>;
    /// Makes what was written durable (the device's cache flush).
    fn flush(&self) -> Result<()>;
    /// Whether the file's pages have a backing store to be written to (false for tmpfs,
    /// whose pages are the data): the memory manager then tracks stores through shared
    /// mappings page by page, so that each write-back sees the ones made after the last.
    fn has_backing_store(&self) -> bool;
}

/// A page of a file, as [`get_page`] finds it.
#[derive(Debug, Clone)]
pub enum Got {
    /// Up to date: use it.
    Ready(Arc<Page>),
    /// Being filled: wait on its [`Page::waiters`] and ask again.
    Wait(Arc<Page>),
}

/// The page of `file` at page index `index` for a mapping or a read, made and filled if it is
/// not cached. `ENXIO` when the page lies wholly past the end of the file (a mapping's
/// SIGBUS), `EIO` when filling it failed (the failed page leaves the cache, so a later access
/// tries again), `ENOMEM` without memory for it, or what the filesystem says (tmpfs:
/// `ENOSPC` when it is full).
pub fn get_page(file: &dyn CachedFile, index: u64) -> Result<Got> {
    if index >= file.cached_size().div_ceil(PAGE_SIZE as u64) {
        return Err(Errno::ENXIO);
    }
    let cache = file.page_cache();
    let page = {
        let mut pages = cache.pages.lock();
        match pages.get(&index) {
            Some(p) => {
                p.mark_accessed();
                return judge(cache, index, p.clone());
            }
            None => {
                let page = Page::new_filling()?;
                pages.insert(index, page.clone());
                page
            }
        }
    };
    if let Err(e) = file.fill_page(index, &page) {
        forget(cache, index, &page);
        page.finish_fill(Err(e));
        return Err(e);
    }
    judge(cache, index, page)
}

/// What the page found at `index` means for the caller.
fn judge(cache: &PageCache, index: u64, page: Arc<Page>) -> Result<Got> {
    match page.state() {
        PageState::UpToDate => Ok(Got::Ready(page)),
        PageState::Filling => Ok(Got::Wait(page)),
        PageState::Failed => {
            forget(cache, index, &page);
            Err(Errno::EIO)
        }
    }
}

/// Drops `page` from the cache at `index`, if it is still the one there.
fn forget(cache: &PageCache, index: u64, page: &Arc<Page>) {
    let mut pages = cache.pages.lock();
    if pages.get(&index).is_some_and(|p| Arc::ptr_eq(p, page)) {
        pages.remove(&index);
    }
}

/// Writes every dirty page of `file` back through its filesystem, then flushes (fsync). A page
/// that fails stays dirty; the first error is returned (EIO from the device).
pub fn write_back(file: &dyn CachedFile, data_only: bool) -> Result<()> {
    let _ = data_only; // No metadata is kept apart from the data yet: fdatasync is fsync.
    let mut first_err = None;
    for (index, page) in file.page_cache().dirty() {
        if page.take_dirty() {
            if let Err(e) = file.write_page(index, &page) {
                page.set_dirty();
                first_err.get_or_insert(e);
            }
        }
    }
    let flushed = file.flush();
    match first_err {
        Some(e) => Err(e),
        None => flushed,
    }
}
