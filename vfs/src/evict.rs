//! Giving page-cache pages back under memory pressure: the shrinker.
//!
//! A filesystem whose clean pages can be read again from their backing store (EROFS on a
//! block device) makes its files' caches with [`PageCache::evictable`], which registers them
//! here. When the kernel's frame allocator runs low it calls [`Shrinker::shrink`], which
//! drops clean, up-to-date pages that nothing but their cache holds, oldest-used first in
//! the manner of a clock (Linux's active/inactive lists, reduced to one referenced bit per
//! page): each page has a second chance, [`Page::mark_accessed`] set on every use clearing on
//! the first pass of the hand and the page going on the next. A dropped page is read again
//! on its next use, like any page not yet cached.
//!
//! What keeps a page: being dirty (its data would be lost), being filled (the read in
//! flight holds it), or any holder besides the cache: a mapping (until the syscall layer
//! unmaps it under pressure, `coracle_syscalls::mm::release_file_pages`), a read or an
//! execve copying from it, a block request. Holding the page is exactly what makes it stay,
//! so no caller has to announce its use.
//!
//! The shrinker runs from inside an allocation, with whatever locks its caller holds: it only
//! ever try-locks (a busy cache is skipped, a busy shrinker lets the allocation go on) and
//! allocates nothing.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::cache::PageCache;
use crate::page::PageState;

/// The caches whose clean pages may go, and where the clock's hand is.
pub struct Shrinker {
    state: Mutex<Hand>,
}

struct Hand {
    caches: Vec<Weak<PageCache>>,
    /// The cache the hand is in (an index into `caches`) and the page index it points at.
    at: (usize, u64),
}

/// The shrinker of the kernel's page cache.
pub static SHRINKER: Shrinker = Shrinker::new();

impl core::fmt::Debug for Shrinker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shrinker").finish_non_exhaustive()
    }
}

impl Default for Shrinker {
    fn default() -> Self {
        Self::new()
    }
}

impl Shrinker {
    pub const fn new() -> Self {
        Shrinker {
            state: Mutex::new(Hand {
                caches: Vec::new(),
                at: (0, 0),
            }),
        }
    }

    /// Makes `cache`'s clean pages candidates from now on (until the cache is dropped).
    pub fn register(&self, cache: &Arc<PageCache>) {
        let mut hand = self.state.lock();
        // Drop the caches that went, now and then (a power of two: amortised).
        if hand.caches.len() >= 64 && hand.caches.len().is_power_of_two() {
            hand.caches.retain(|w| w.strong_count() > 0);
            hand.at = (0, 0);
        }
        hand.caches.push(Arc::downgrade(cache));
    }

    /// How many caches are registered (dropped ones included until they are swept).
    pub fn caches(&self) -> usize {
        self.state.lock().caches.len()
    }

    /// Drops up to `want` clean pages nothing else holds and returns how many went. The hand
    /// goes round the caches at most twice (a page referenced since the last pass survives
    /// the first); `0` when the shrinker is busy on another CPU.
    pub fn shrink(&self, want: usize) -> usize {
        let Some(mut hand) = self.state.try_lock() else {
            return 0;
        };
        let count = hand.caches.len();
        if count == 0 || want == 0 {
            return 0;
        }
        let (mut slot, mut index) = hand.at;
        if slot >= count {
            (slot, index) = (0, 0);
        }
        let mut freed = 0;
        // Each cache is entered at most twice, plus the partial one the hand starts in.
        for _ in 0..2 * count + 1 {
            if let Some(cache) = hand.caches[slot].upgrade() {
                match sweep(&cache, index, want - freed) {
                    (n, Some(next)) => {
                        hand.at = (slot, next);
                        return freed + n;
                    }
                    (n, None) => freed += n,
                }
            }
            slot = (slot + 1) % count;
            index = 0;
        }
        hand.at = (slot, 0);
        freed
    }
}

/// Moves the hand through `cache` from page `index`, dropping up to `want` pages; returns how
/// many went and, when it stopped early because `want` were dropped, where to go on. A busy
/// cache (locked by the allocation that called the shrinker, or by another CPU) is passed.
fn sweep(cache: &PageCache, mut index: u64, want: usize) -> (usize, Option<u64>) {
    let Some(mut pages) = cache.try_lock() else {
        return (0, None);
    };
    let mut freed = 0;
    loop {
        let Some((&at, page)) = pages.range(index..).next() else {
            return (freed, None);
        };
        index = at + 1;
        if page.take_accessed() {
            continue;
        }
        // Only the cache holds it (no mapping, reader or request): nobody can get another
        // reference without this cache's lock, which is held.
        let alone = Arc::strong_count(page) == 1;
        if alone && !page.is_dirty() && page.state() == PageState::UpToDate {
            pages.remove(&at);
            freed += 1;
            if freed == want {
                return (freed, Some(index));
            }
        }
    }
}
