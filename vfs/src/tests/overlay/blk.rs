//! The overlay over an EROFS lower layer on a disk whose reads complete later: copy-up
//! answers `WAIT` while the lower pages are read and, run again, goes on from there.

use alloc::vec;

use super::*;
use crate::block::{BlockDevice, FakeBlock};
use crate::erofs::Erofs;

/// An overlay of a fresh tmpfs over the test EROFS image on a fake disk whose reads complete
/// when the test says so (`FakeBlock::set_delayed`): the disk, the root, and root's caller.
fn over_erofs() -> (Arc<FakeBlock>, Arc<dyn Inode>, Caller) {
    let fake = FakeBlock::new(crate::erofs::tests::image(), true);
    let lower = Erofs::mount(fake.clone() as Arc<dyn BlockDevice>)
        .and_then(|fs| fs.root())
        .unwrap();
    let (_clock, upper) = tmpfs();
    let root = new_overlay(lower, upper).unwrap();
    let cx = caller(0, 0, &root);
    (fake, root, cx)
}

#[test]
fn copy_up_waits_for_lower_reads_and_resumes() {
    let (fake, root, cx) = over_erofs();
    fake.set_delayed(true);
    let want: Vec<u8> = (0..8192).map(|i| (i % 253) as u8).collect();
    // Each try looks the file up afresh, as a system call run again does.
    let write = || root.lookup(&cx, b"big")?.write_at(8192, b"end");
    assert_eq!(write(), Err(Errno::WAIT));
    let (reads, _, _) = fake.counts();
    assert_eq!(fake.complete(), 2, "both pages asked for at once");
    assert_eq!(write(), Ok(3));
    assert_eq!(
        fake.counts().0,
        reads,
        "the copy went on without reading again"
    );
    let big = root.lookup(&cx, b"big").unwrap();
    let mut got = contents(&big);
    assert_eq!(got.split_off(8192), b"end");
    assert_eq!(got, want);
    assert_eq!(big.stat().uid, 1000, "owner copied up");
}

/// Every entry of a directory: (name, `d_ino`).
fn entries(dir: &Arc<dyn Inode>, cx: &Caller) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = dir.readdir(cx, pos).unwrap() {
        out.push((e.name, e.ino));
        pos = next;
    }
    out
}

/// Merged listings over an EROFS lower layer start with `.` and `..`, named by the inode
/// numbers `stat` gives the directory and its parent (as overlayfs lists them), never 0
/// (which readdir callers such as busybox `ls -a` skip as a deleted entry): before any
/// change, once a directory is copied up, and with a whiteout in it.
#[test]
fn merged_listings_over_erofs_have_dot_and_dotdot() {
    let (_, root, cx) = over_erofs();
    let check = |dir: &Arc<dyn Inode>, parent: &Arc<dyn Inode>, rest: &[&str]| {
        let got = entries(dir, &cx);
        let (ino, up) = (dir.stat().ino, parent.stat().ino);
        assert!(ino != 0 && up != 0, "inode numbers {ino} {up}");
        let mut want: Vec<(Vec<u8>, u64)> = vec![(b".".to_vec(), ino), (b"..".to_vec(), up)];
        for (name, _) in &got[2.min(got.len())..] {
            let i = dir.lookup(&cx, name).unwrap().stat().ino;
            assert_ne!(i, 0, "{:?}", core::str::from_utf8(name));
            want.push((name.clone(), i));
        }
        assert_eq!(got, want);
        let mut names: Vec<&[u8]> = got[2..].iter().map(|(n, _)| &n[..]).collect();
        names.sort();
        let rest: Vec<&[u8]> = rest.iter().map(|n| n.as_bytes()).collect();
        assert_eq!(names, rest);
    };
    let sub = root.lookup(&cx, b"sub").unwrap();
    check(&root, &root, &["big", "link", "small", "sub"]);
    check(&sub, &root, &[]);
    // Copied up (a new name in it) and with a whiteout of a lower file in the root.
    sub.create(b"new", NewNode::Regular, 0o644, 0, 0).unwrap();
    root.unlink(b"small").unwrap();
    check(&sub, &root, &["new"]);
    check(&root, &root, &["big", "link", "sub"]);
}

/// An EROFS lower file without xattrs: none to read, and setting one copies the file up.
#[test]
fn xattrs_over_erofs_are_set_on_the_upper_copy() {
    let (_, root, cx) = over_erofs();
    let small = root.lookup(&cx, b"small").unwrap();
    let get = |n: &Arc<dyn Inode>| n.xattr(crate::xattr::XattrOp::Get(b"user.k"));
    assert_eq!(get(&small), Err(Errno::ENODATA));
    assert_eq!(small.xattr(crate::xattr::XattrOp::List), Ok(Vec::new()));
    let set = crate::xattr::XattrOp::Set {
        name: b"user.k",
        value: b"v",
        flags: 0,
    };
    small.xattr(set).unwrap();
    assert_eq!(get(&root.lookup(&cx, b"small").unwrap()).unwrap(), b"v");
    assert_eq!(contents(&small), b"0123456789");
}
