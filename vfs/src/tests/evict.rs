//! The shrinker over a file on a fake disk: clean pages go and are read again with the same
//! bytes; dirty pages, pages being read and pages someone holds (a mapping) stay; recently
//! used pages outlive the others; a cache locked by the allocation that asked is passed over.

use super::*;
use crate::block::FakeBlock;
use crate::cache::{get_page, CachedFile, Got, PageCache};
use crate::evict::Shrinker;
use crate::fakefs::DiskFile;
use crate::page::{PageState, PAGE_SIZE};

/// A file of `pages` pages on a fake disk of numbered bytes, its cache given to a shrinker of
/// its own (the kernel's would see every other test's caches).
fn file(pages: usize) -> (Shrinker, Arc<FakeBlock>, Arc<DiskFile>, Vec<u8>) {
    let data: Vec<u8> = (0..pages * PAGE_SIZE).map(|i| (i % 251) as u8).collect();
    let dev = FakeBlock::new(data.clone(), false);
    let shrinker = Shrinker::new();
    let cache = PageCache::evictable_in(&shrinker);
    let f = DiskFile::with_cache(dev.clone(), data.len() as u64, cache);
    (shrinker, dev, f, data)
}

/// Brings every page of `f` into its cache (and lets go of them).
fn read_all(f: &DiskFile) {
    for i in 0..f.cached_size().div_ceil(PAGE_SIZE as u64) {
        assert!(matches!(get_page(f, i), Ok(Got::Ready(_))));
    }
}

fn read_whole(f: &Arc<DiskFile>) -> Vec<u8> {
    let inode: Arc<dyn Inode> = f.clone();
    let mut out = alloc::vec![0; f.cached_size() as usize];
    let mut at = 0;
    while at < out.len() {
        at += inode.read_at(at as u64, &mut out[at..]).unwrap();
    }
    out
}

#[test]
fn clean_pages_go_and_are_read_again_with_the_same_bytes() {
    let (shrinker, dev, f, data) = file(8);
    assert_eq!(read_whole(&f), data);
    assert_eq!(dev.counts().0, 8);
    // New pages have their second chance: the hand clears them first, then takes them.
    assert_eq!(shrinker.shrink(100), 8);
    assert!(f.page_cache().is_empty());
    assert_eq!(read_whole(&f), data, "read again from the disk");
    assert_eq!(dev.counts().0, 16);
    // A plain cache (tmpfs's: the pages are the data) is never registered.
    let plain = DiskFile::new(dev.clone(), PAGE_SIZE as u64);
    read_all(&plain);
    assert_eq!(shrinker.caches(), 1);
    assert!(!plain.page_cache().is_evictable() && f.page_cache().is_evictable());
}

#[test]
fn dirty_pages_stay_until_written_back() {
    let (shrinker, _dev, f, _) = file(3);
    let inode: Arc<dyn Inode> = f.clone();
    read_all(&f);
    inode.write_at(PAGE_SIZE as u64 + 5, b"new").unwrap();
    assert_eq!(shrinker.shrink(100), 2);
    assert!(f.page_cache().contains(1), "the dirty page stays");
    let mut b = [0; 3];
    inode.read_at(PAGE_SIZE as u64 + 5, &mut b).unwrap();
    assert_eq!(&b, b"new");
    inode.sync(false).unwrap();
    assert_eq!(shrinker.shrink(100), 1, "clean once written back");
    inode.read_at(PAGE_SIZE as u64 + 5, &mut b).unwrap();
    assert_eq!(&b, b"new", "read back from the disk");
}

#[test]
fn pages_being_read_or_held_stay() {
    let (shrinker, dev, f, data) = file(2);
    dev.set_delayed(true);
    let Ok(Got::Wait(filling)) = get_page(&*f, 0) else {
        panic!("the read is in flight")
    };
    drop(filling);
    // Only the read in flight holds it now besides the cache, and it is being filled.
    assert_eq!(shrinker.shrink(100), 0);
    assert_eq!(shrinker.shrink(100), 0);
    assert_eq!(dev.complete(), 1);
    let Ok(Got::Ready(mapped)) = get_page(&*f, 0) else {
        panic!("read")
    };
    assert_eq!(mapped.state(), PageState::UpToDate);
    // A holder (a mapping, a copy in progress) keeps it.
    assert_eq!(shrinker.shrink(100), 0);
    assert_eq!(shrinker.shrink(100), 0);
    assert!(f.page_cache().contains(0));
    let mut b = [0; 4];
    mapped.read(0, &mut b);
    assert_eq!(b, data[..4]);
    drop(mapped);
    assert_eq!(shrinker.shrink(100), 1);
}

#[test]
fn the_hand_takes_pages_not_used_since_it_last_passed() {
    let (shrinker, _dev, f, _) = file(4);
    read_all(&f);
    // The first pass clears every page's mark, the second takes page 0.
    assert_eq!(shrinker.shrink(1), 1);
    assert!(!f.page_cache().contains(0));
    // Page 1 is used again: the hand passes it and takes page 2.
    assert!(matches!(get_page(&*f, 1), Ok(Got::Ready(_))));
    assert_eq!(shrinker.shrink(1), 1);
    assert!(f.page_cache().contains(1) && !f.page_cache().contains(2));
    assert!(f.page_cache().contains(3));
}

#[test]
fn a_locked_cache_is_passed_over_and_dropped_caches_are_forgotten() {
    let (shrinker, _dev, f, _) = file(2);
    read_all(&f);
    {
        // The allocation that runs the shrinker may hold this very cache's lock.
        let _held = f.page_cache().lock();
        assert_eq!(shrinker.shrink(100), 0);
    }
    assert_eq!(shrinker.shrink(100), 2);
    drop(f);
    assert_eq!(shrinker.shrink(100), 0);
}
