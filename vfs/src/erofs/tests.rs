//! Host tests of the EROFS reader over a [`FakeBlock`]: reads that complete later, injected
//! I/O errors, and damaged images (every byte of the metadata changed) that must give errors,
//! never a panic. Images round-tripped through the real writer are tested in `coracle`'s
//! `erofs` tests (with fsck.erofs and a Linux mount).

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::format::*;
use super::Erofs;
use crate::block::{reads_in_flight, BlockDevice, FakeBlock, Inject};
use crate::inode::Inode;
use crate::types::Caller;
use crate::Errno;

const META: u32 = 3;
/// The root directory's nid in [`image`].
pub(crate) const ROOT_NID: u64 = 1;

fn inode(layout: u16, mode: u32, size: u64, raw: u32, nlink: u32) -> [u8; 64] {
    DiskInode {
        layout,
        xattr_icount: 0,
        mode,
        nlink,
        size,
        raw,
        ino: 1,
        uid: 1000,
        gid: 100,
        mtime: 1_700_000_000,
        mtime_nsec: 5,
        extended: true,
    }
    .encode()
}

fn put(img: &mut [u8], nid: u64, inode: &[u8], tail: &[u8]) {
    let at = META as usize * BLOCK_SIZE + nid as usize * SLOT_SIZE;
    img[at..at + 64].copy_from_slice(inode);
    img[at + 64..at + 64 + tail.len()].copy_from_slice(tail);
}

/// `/big` (two plain blocks), `/small` (10 bytes inline), `/sub` (an empty directory),
/// `/link` -> `small`.
pub(crate) fn image() -> Vec<u8> {
    let mut img = vec![0u8; 4 * BLOCK_SIZE];
    // The root at nid 1, as the writer puts it (slot 0 would give it inode number 0).
    let sb = SuperBlock {
        root_nid: ROOT_NID as u16,
        inos: 5,
        build_time: 0,
        build_time_nsec: 0,
        blocks: 4,
        meta_blkaddr: META,
        xattr_blkaddr: 0,
    };
    img[SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE].copy_from_slice(&sb.encode());
    for (i, b) in img[BLOCK_SIZE..3 * BLOCK_SIZE].iter_mut().enumerate() {
        *b = (i % 253) as u8;
    }
    let root = encode_dir(&[
        (b".", ROOT_NID, FT_DIR),
        (b"..", ROOT_NID, FT_DIR),
        (b"big", 6, FT_REG_FILE),
        (b"link", 15, FT_SYMLINK),
        (b"small", 8, FT_REG_FILE),
        (b"sub", 11, FT_DIR),
    ]);
    assert_eq!(root.len(), 1);
    let root = &root[0];
    put(
        &mut img,
        ROOT_NID,
        &inode(LAYOUT_FLAT_INLINE, 0o40755, root.len() as u64, 0, 3),
        root,
    );
    put(
        &mut img,
        6,
        &inode(LAYOUT_FLAT_PLAIN, 0o100644, 8192, 1, 1),
        &[],
    );
    put(
        &mut img,
        8,
        &inode(LAYOUT_FLAT_INLINE, 0o100600, 10, 0, 1),
        b"0123456789",
    );
    let sub = encode_dir(&[(b".", 11, FT_DIR), (b"..", ROOT_NID, FT_DIR)]);
    put(
        &mut img,
        11,
        &inode(LAYOUT_FLAT_INLINE, 0o40700, sub[0].len() as u64, 0, 2),
        &sub[0],
    );
    put(
        &mut img,
        15,
        &inode(LAYOUT_FLAT_INLINE, 0o120777, 5, 0, 1),
        b"small",
    );
    img
}

fn caller(root: &Arc<dyn Inode>) -> Caller {
    Caller {
        pid: 1,
        tid: 1,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: crate::cap::DOCKER_DEFAULT,
        umask: 0o22,
        root: root.clone(),
    }
}

fn read_all(node: &Arc<dyn Inode>) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; node.stat().size as usize];
    let mut at = 0;
    while at < buf.len() {
        match node.read_at(at as u64, &mut buf[at..])? {
            0 => break,
            n => at += n,
        }
    }
    buf.truncate(at);
    Ok(buf)
}

#[test]
fn reads_the_tree() {
    let dev: Arc<dyn BlockDevice> = FakeBlock::new(image(), true);
    let fs = Erofs::mount(dev).unwrap();
    let root = fs.root().unwrap();
    let cx = caller(&root);
    let big = root.lookup(&cx, b"big").unwrap();
    let want: Vec<u8> = (0..8192).map(|i| (i % 253) as u8).collect();
    assert_eq!(read_all(&big).unwrap(), want);
    let small = root.lookup(&cx, b"small").unwrap();
    assert_eq!(read_all(&small).unwrap(), b"0123456789");
    let st = small.stat();
    assert_eq!(
        (st.mode, st.uid, st.gid, st.ino, st.size),
        (0o100600, 1000, 100, 8, 10)
    );
    assert_eq!((st.mtime.sec, st.mtime.nsec), (1_700_000_000, 5));
    assert_eq!(
        root.lookup(&cx, b"link").unwrap().readlink(&cx).unwrap(),
        b"small"
    );
    let sub = root.lookup(&cx, b"sub").unwrap();
    assert!(sub.stat().is_dir());
    assert_eq!(sub.parent().unwrap().1, b"sub");
    assert_eq!(root.lookup(&cx, b"nope").err(), Some(Errno::ENOENT));
    assert_eq!(root.lookup(&cx, b"a").err(), Some(Errno::ENOENT));
    assert_eq!(root.lookup(&cx, b"zzz").err(), Some(Errno::ENOENT));
    let mut names = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = root.readdir(&cx, pos).unwrap() {
        names.push(e.name);
        pos = next;
    }
    assert_eq!(names, [&b"."[..], b"..", b"big", b"link", b"small", b"sub"]);
    // The same file is the same object (its page cache is shared).
    assert!(Arc::ptr_eq(&big, &root.lookup(&cx, b"big").unwrap()));
    // Read-only: writes are EROFS.
    assert_eq!(big.write_at(0, b"x").err(), Some(Errno::EROFS));
    assert_eq!(
        root.create(b"new", crate::types::NewNode::Regular, 0o644, 0, 0)
            .err(),
        Some(Errno::EROFS)
    );
}

#[test]
fn reads_in_flight_make_the_caller_wait() {
    let fake = FakeBlock::new(image(), true);
    fake.set_delayed(true);
    let dev: Arc<dyn BlockDevice> = fake.clone();
    let mounting = Erofs::start(dev);
    assert_eq!(mounting.finish().err(), Some(Errno::WAIT));
    // (Other tests run at the same time: the global count is at least this read.)
    assert!(reads_in_flight() >= 1);
    assert_eq!(fake.complete(), 1);
    let fs = mounting.finish().unwrap();
    assert_eq!(fs.root().err(), Some(Errno::WAIT));
    assert_eq!(fake.complete(), 1);
    let root = fs.root().unwrap();
    let cx = caller(&root);
    let big = root.lookup(&cx, b"big").unwrap();
    let mut buf = [0u8; 8192];
    // Both pages are asked for at once: one wait, then the whole read.
    assert_eq!(big.read_at(0, &mut buf).err(), Some(Errno::WAIT));
    assert_eq!(fake.complete(), 2);
    assert_eq!(big.read_at(0, &mut buf), Ok(8192));
    assert_eq!(buf[300], (300 % 253) as u8);
}

/// execve's case: a system call looks a file up, reads it, gets `WAIT` and drops the inode
/// (nothing holds it while the thread waits); run again, it must find the page it asked for
/// rather than ask again forever.
#[test]
fn a_file_dropped_while_its_read_is_in_flight_keeps_its_page() {
    let fake = FakeBlock::new(image(), true);
    let fs = Erofs::mount(fake.clone()).unwrap();
    let root = fs.root().unwrap();
    let cx = caller(&root);
    fake.set_delayed(true);
    let call = || {
        let big = root.lookup(&cx, b"big")?;
        let mut buf = [0u8; 4096];
        big.read_at(0, &mut buf).map(|_| buf[300])
    };
    assert_eq!(call(), Err(Errno::WAIT));
    assert_eq!(fake.complete(), 1);
    assert_eq!(call(), Ok((300 % 253) as u8));
    assert_eq!(fake.complete(), 0, "the page was not read again");
}

#[test]
fn a_failed_read_is_eio_and_is_tried_again() {
    let fake = FakeBlock::new(image(), true);
    fake.inject(Inject::ReadAt(2 * 8));
    let fs = Erofs::mount(fake.clone()).unwrap();
    let root = fs.root().unwrap();
    let cx = caller(&root);
    let big = root.lookup(&cx, b"big").unwrap();
    let mut buf = [0u8; 8192];
    assert_eq!(big.read_at(0, &mut buf).err(), Some(Errno::EIO));
    // The first page is fine on its own.
    assert_eq!(big.read_at(0, &mut buf[..4096]), Ok(4096));
    assert_eq!(big.read_at(4096, &mut buf[..4096]).err(), Some(Errno::EIO));
    // Metadata errors too: a fresh mount whose metadata block fails.
    let fake = FakeBlock::new(image(), true);
    fake.inject(Inject::ReadAt(u64::from(META) * 8));
    let fs = Erofs::mount(fake).unwrap();
    assert_eq!(fs.root().err(), Some(Errno::EIO));
}

/// Reads everything reachable, ignoring errors: what a damaged image must survive.
pub(crate) fn walk(fs: &Arc<Erofs>) {
    let Ok(root) = fs.root() else { return };
    let cx = caller(&root);
    let mut todo = vec![(root, 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = todo.pop() {
        let mut pos = 0;
        while let Ok(Some((e, next))) = dir.readdir(&cx, pos) {
            seen += 1;
            if next <= pos || seen > 10_000 {
                return;
            }
            pos = next;
            if e.name == b"." || e.name == b".." {
                continue;
            }
            let Ok(node) = dir.lookup(&cx, &e.name) else {
                continue;
            };
            let _ = node.readlink(&cx);
            let mut buf = [0u8; 9000];
            let _ = node.read_at(0, &mut buf);
            let _ = node.read_at(4000, &mut buf);
            let _ = node.xattr(crate::xattr::XattrOp::List);
            let _ = node.xattr(crate::xattr::XattrOp::Get(b"user.mime"));
            if node.stat().is_dir() && depth < 8 {
                todo.push((node, depth + 1));
            }
        }
    }
}

#[test]
fn damaged_images_are_errors_not_panics() {
    let good = image();
    walk(&Erofs::mount(FakeBlock::new(good.clone(), true)).unwrap());
    let interesting = (SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE)
        .chain(META as usize * BLOCK_SIZE..META as usize * BLOCK_SIZE + 17 * SLOT_SIZE);
    for at in interesting {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff, good[at] ^ 0x10] {
            let mut img = good.clone();
            img[at] = value;
            if let Ok(fs) = Erofs::mount(FakeBlock::new(img, true)) {
                walk(&fs);
            }
        }
    }
    // Truncated images.
    for len in [0, 512, 4096, 3 * 4096 + 512] {
        if let Ok(fs) = Erofs::mount(FakeBlock::new(good[..len].to_vec(), true)) {
            walk(&fs);
        }
    }
}
