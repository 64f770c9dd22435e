//! Mapped file pages under memory pressure: `release_file_pages` unmaps the clean pages of
//! evictable files from every process (a private mapping's own copies stay, as do pages of
//! files whose cache cannot read them again), the shrinker frees them, and the next touch
//! reads them again with the same bytes.

use std::sync::Arc;
use std::vec::Vec;

use coracle_vfs::block::FakeBlock;
use coracle_vfs::cache::{CachedFile, PageCache};
use coracle_vfs::evict::Shrinker;
use coracle_vfs::fakefs::DiskFile;
use coracle_vfs::{Inode, OpenFile};

use super::fake::*;
use super::mman::{read, write};
use crate::mm::release_file_pages;
use crate::nr::*;
use crate::Current;

const SHARED: u64 = 1;
const PRIVATE: u64 = 2;

fn mmap_fd(p: &mut Current, k: &mut Fake, len: u64, prot: u64, flags: u64, fd: u64) -> u64 {
    let a = sys(p, k, SYS_mmap, &[0, len, prot, flags, fd, 0]);
    assert!(a > 0, "mmap: {a}");
    a as u64
}

fn install(p: &mut Current, inode: Arc<dyn Inode>, flags: u32) -> u64 {
    let ops = p.sys.vfs.open_inode(&p.caller(), &inode, flags).unwrap();
    let file = OpenFile::new(inode, b"/disk".to_vec(), flags, ops);
    p.install(file, false).unwrap() as u64
}

#[test]
fn mapped_clean_file_pages_are_released_freed_and_read_again() {
    let (mut p, mut k) = setup();
    let data: Vec<u8> = (0..3 * PAGE as usize).map(|i| (i % 241) as u8).collect();
    let dev = FakeBlock::new(data.clone(), true);
    let shrinker = Shrinker::new();
    let file = DiskFile::with_cache(dev.clone(), 3 * PAGE, PageCache::evictable_in(&shrinker));
    let fd = install(&mut p, file.clone(), 0);
    let private = mmap_fd(&mut p, &mut k, 3 * PAGE, 3, PRIVATE, fd);
    let shared = mmap_fd(&mut p, &mut k, 3 * PAGE, 1, SHARED, fd);
    // Page 0 shown from the file, page 1 read then written (the process's own copy now).
    assert_eq!(read(&p, &mut k, private, 4).unwrap(), data[..4]);
    assert_eq!(
        read(&p, &mut k, private + PAGE, 4).unwrap(),
        data[PAGE as usize..][..4]
    );
    write(&p, &mut k, private + PAGE, b"mine").unwrap();
    assert_eq!(
        read(&p, &mut k, shared + 2 * PAGE, 4).unwrap(),
        data[2 * PAGE as usize..][..4]
    );
    // A tmpfs file's pages are its data: they stay mapped.
    k.poke(SCRATCH, b"m\0");
    let memfd = sys(&mut p, &mut k, SYS_memfd_create, &[SCRATCH, 0]) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[memfd, PAGE]), 0);
    let anon_file = mmap_fd(&mut p, &mut k, PAGE, 3, SHARED, memfd);
    write(&p, &mut k, anon_file, b"tmpfs").unwrap();

    // Held by the mappings, nothing can go.
    assert_eq!(shrinker.shrink(100), 0);
    assert_eq!(release_file_pages(&p, &mut k), 3);
    assert!(!k.resident(private) && !k.resident(shared + 2 * PAGE));
    assert_eq!(k.peek(private + PAGE, 4), b"mine", "the private copy stays");
    assert_eq!(k.peek(anon_file, 5), b"tmpfs");
    assert_eq!(shrinker.shrink(100), 3);
    assert!(file.page_cache().is_empty());

    // Touched again, the pages are read from the disk with the same bytes.
    let reads = dev.counts().0;
    assert_eq!(read(&p, &mut k, private, 4).unwrap(), data[..4]);
    assert_eq!(
        read(&p, &mut k, shared + 2 * PAGE, 4).unwrap(),
        data[2 * PAGE as usize..][..4]
    );
    assert_eq!(read(&p, &mut k, private + PAGE, 4).unwrap(), b"mine");
    assert_eq!(dev.counts().0, reads + 2);
    // Nothing left to release but what was just mapped again.
    assert_eq!(release_file_pages(&p, &mut k), 2);
}
