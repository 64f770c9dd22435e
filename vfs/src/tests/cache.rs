//! The page cache: tmpfs through it, the fake block device, and a file on a disk whose reads
//! complete later and whose dirty pages fsync writes back.

use super::*;
use crate::block::{BlockBuf, BlockDevice, BlockError, FakeBlock, Inject};
use crate::cache::{get_page, CachedFile, Got};
use crate::fakefs::DiskFile;
use crate::page::{Page, PageState, PAGE_SIZE};

fn ready(g: Result<Got>) -> Arc<Page> {
    match g {
        Ok(Got::Ready(p)) => p,
        other => panic!("not ready: {other:?}"),
    }
}

#[test]
fn tmpfs_pages_are_the_cache_and_holes_fill_with_charged_zero_pages() {
    let fx = Fx::with_options(TmpfsOptions {
        max_bytes: 3 * PAGE_SIZE as u64,
        ..TmpfsOptions::default()
    });
    let f = mkfile(&fx.root, "f", b"hello");
    f.truncate(3 * PAGE_SIZE as u64).unwrap();
    let c = f.cached().expect("a tmpfs file has a page cache");
    let p0 = ready(get_page(c, 0));
    let mut b = [0; 5];
    p0.read(0, &mut b);
    assert_eq!(&b, b"hello");
    // The page a mapping gets is the one read and write use.
    p0.write(0, b"HE");
    assert_eq!(&contents(&f)[..5], b"HEllo");
    // A hole becomes a zeroed page, charged to the filesystem; past the end is ENXIO.
    assert_eq!(f.stat().blocks, 8);
    let p2 = ready(get_page(c, 2));
    assert!(p2.is_zero());
    assert_eq!(f.stat().blocks, 16);
    assert_eq!(err(get_page(c, 3)), Errno::ENXIO);
    // The same page every time, until the file lets go of it.
    assert!(Arc::ptr_eq(&p2, &ready(get_page(c, 2))));
    f.truncate(0).unwrap();
    assert!(c.page_cache().is_empty());
    // Directories have no cache.
    assert!(fx.root.cached().is_none());
}

#[test]
fn tmpfs_full_is_enospc_for_a_hole() {
    let fx = Fx::with_options(TmpfsOptions {
        max_bytes: PAGE_SIZE as u64,
        ..TmpfsOptions::default()
    });
    let f = mkfile(&fx.root, "f", b"x");
    f.truncate(2 * PAGE_SIZE as u64).unwrap();
    let c = f.cached().unwrap();
    assert_eq!(err(get_page(c, 1)), Errno::ENOSPC);
    assert!(
        !c.page_cache().contains(1),
        "a failed page leaves the cache"
    );
}

fn disk(bytes: usize) -> (Arc<FakeBlock>, Vec<u8>) {
    let data: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    (FakeBlock::new(data.clone(), false), data)
}

#[test]
fn fake_block_reads_writes_flushes_and_checks_ranges() {
    let (dev, data) = disk(8 * 512);
    assert_eq!(dev.capacity(), 8);
    let page = Page::new_zeroed().unwrap();
    let got: Arc<spin::Mutex<Vec<core::result::Result<(), BlockError>>>> = Arc::default();
    let log = |g: &Arc<spin::Mutex<Vec<_>>>| {
        let g = g.clone();
        alloc::boxed::Box::new(move |r| g.lock().push(r))
    };
    let sector = BlockBuf {
        page: page.clone(),
        offset: 512,
        len: 512,
    };
    dev.read(1, sector, log(&got));
    let mut b = [0; 4];
    page.read(512, &mut b);
    assert_eq!(b, data[512..516]);
    dev.read(0, BlockBuf::page(page.clone()), log(&got));
    page.read(0, &mut b);
    assert_eq!(b, data[..4]);
    // Past the end, or not whole sectors: refused.
    dev.read(2, BlockBuf::page(page.clone()), log(&got));
    let odd = BlockBuf {
        page: page.clone(),
        offset: 100,
        len: 512,
    };
    dev.write(0, odd, log(&got));
    page.write(0, b"new!");
    let one = BlockBuf {
        page: page.clone(),
        offset: 0,
        len: 512,
    };
    dev.write(7, one, log(&got));
    dev.flush(log(&got));
    assert_eq!(
        *got.lock(),
        [
            Ok(()),
            Ok(()),
            Err(BlockError::OutOfRange),
            Err(BlockError::OutOfRange),
            Ok(()),
            Ok(())
        ]
    );
    assert_eq!(&dev.contents()[7 * 512..7 * 512 + 4], b"new!");
    assert_eq!(dev.counts(), (3, 2, 1));
    // A read-only disk refuses writes.
    let ro = FakeBlock::new(std::vec![0; 512], true);
    let one = BlockBuf {
        page,
        offset: 0,
        len: 512,
    };
    ro.write(0, one, log(&got));
    assert_eq!(got.lock().last(), Some(&Err(BlockError::ReadOnly)));
    assert_eq!(Errno::from(BlockError::ReadOnly), Errno::EROFS);
}

#[test]
fn a_page_read_later_waits_then_is_ready() {
    let (dev, data) = disk(3 * PAGE_SIZE);
    dev.set_delayed(true);
    let f = DiskFile::new(dev.clone(), (2 * PAGE_SIZE + 10) as u64);
    let page = match get_page(&*f, 1) {
        Ok(Got::Wait(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(page.state(), PageState::Filling);
    // Asking again while the read is in flight starts no second read.
    assert!(matches!(get_page(&*f, 1), Ok(Got::Wait(p)) if Arc::ptr_eq(&p, &page)));
    assert_eq!(dev.counts().0, 1);
    assert_eq!(dev.complete(), 1);
    let p = ready(get_page(&*f, 1));
    assert!(Arc::ptr_eq(&p, &page));
    let mut b = [0; 8];
    p.read(100, &mut b);
    assert_eq!(b, data[PAGE_SIZE + 100..PAGE_SIZE + 108]);
    assert_eq!(err(get_page(&*f, 3)), Errno::ENXIO);
}

#[test]
fn a_failed_read_is_eio_and_a_later_access_tries_again() {
    let (dev, _) = disk(2 * PAGE_SIZE);
    dev.inject(Inject::ReadAt(9));
    let f = DiskFile::new(dev.clone(), 2 * PAGE_SIZE as u64);
    assert_eq!(err(get_page(&*f, 1)), Errno::EIO);
    assert!(!f.page_cache().contains(1));
    assert_eq!(err(get_page(&*f, 1)), Errno::EIO);
    assert_eq!(dev.counts().0, 2, "each access reads again");
    ready(get_page(&*f, 0));
}

#[test]
fn fsync_writes_dirty_pages_back_and_flushes() {
    let (dev, mut data) = disk(2 * PAGE_SIZE);
    let f = DiskFile::new(dev.clone(), 2 * PAGE_SIZE as u64);
    let inode: Arc<dyn Inode> = f.clone();
    assert_eq!(inode.write_at(PAGE_SIZE as u64 + 3, b"dirty"), Ok(5));
    assert_eq!(dev.contents(), data, "not written before fsync");
    assert_eq!(inode.sync(false), Ok(()));
    data[PAGE_SIZE + 3..PAGE_SIZE + 8].copy_from_slice(b"dirty");
    assert_eq!(dev.contents(), data);
    assert_eq!(dev.counts(), (1, 1, 1), "one page written, one flush");
    // Nothing dirty: only the flush.
    assert_eq!(inode.sync(true), Ok(()));
    assert_eq!(dev.counts(), (1, 1, 2));
}

#[test]
fn a_failed_write_back_is_eio_and_the_page_stays_dirty() {
    let (dev, _) = disk(PAGE_SIZE);
    let f = DiskFile::new(dev.clone(), PAGE_SIZE as u64);
    let inode: Arc<dyn Inode> = f.clone();
    inode.write_at(0, b"x").unwrap();
    dev.inject(Inject::WriteAt(0));
    assert_eq!(inode.sync(false), Err(Errno::EIO));
    assert!(f.page_cache().get(0).unwrap().is_dirty());
    let (dev2, _) = disk(PAGE_SIZE);
    dev2.inject(Inject::Flush);
    let g: Arc<dyn Inode> = DiskFile::new(dev2, PAGE_SIZE as u64);
    assert_eq!(g.sync(false), Err(Errno::EIO));
    // tmpfs has nothing to write back.
    let (_, root) = tmpfs();
    assert_eq!(mkfile(&root, "f", b"data").sync(false), Ok(()));
}
