//! Host tests of the reader's extended attributes: inline and shared entries, the inline data
//! that follows them, damaged bodies (an `EIO` for the attribute calls only, never a panic),
//! reads that complete later, and the overlay showing them and copying them up.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use super::format::*;
use super::xattrs::{self, encode, ibody_size};
use super::Erofs;
use crate::block::{BlockDevice, FakeBlock};
use crate::inode::Inode;
use crate::xattr::XattrOp;
use crate::Errno;

const SHARED: u32 = 1;
const META: u32 = 2;
const ROOT: u64 = 1;
/// A file with inline attributes, one shared attribute and inline data.
const CAP: u64 = 16;
/// A directory with attributes.
const DIR: u64 = 32;
/// A file whose attribute entry runs past its body.
const BROKEN: u64 = 48;
/// A file without attributes.
const PLAIN: u64 = 64;

/// A `vfs_cap_data` (revision 2) giving cap_net_raw, as `setcap cap_net_raw+ep` writes it.
pub(super) const CAP_NET_RAW: [u8; 20] = [
    0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn inode(mode: u32, size: u64, icount: u16) -> [u8; 64] {
    DiskInode {
        layout: LAYOUT_FLAT_INLINE,
        xattr_icount: icount,
        mode,
        nlink: 1,
        size,
        raw: 0,
        ino: 1,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
        mtime_nsec: 0,
        extended: true,
    }
    .encode()
}

/// Puts inode `nid` with its attribute body and inline data.
fn put(img: &mut [u8], nid: u64, mode: u32, body: &(Vec<u8>, u16), data: &[u8]) {
    let at = META as usize * BLOCK_SIZE + nid as usize * SLOT_SIZE;
    let (body, icount) = body;
    assert_eq!(body.len(), ibody_size(*icount));
    let disk = inode(mode, data.len() as u64, *icount);
    let mut bytes = disk.to_vec();
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(data);
    img[at..at + bytes.len()].copy_from_slice(&bytes);
}

/// The attribute body of `attrs` with shared ids `ids` in its header.
fn body_with_shared(attrs: &[(&[u8], &[u8])], ids: &[u32]) -> (Vec<u8>, u16) {
    let (inline, _) = encode(attrs).unwrap();
    let mut body = vec![0u8; xattrs::HEADER_SIZE];
    body[4] = ids.len() as u8;
    for id in ids {
        body.extend_from_slice(&id.to_le_bytes());
    }
    body.extend_from_slice(&inline[xattrs::HEADER_SIZE..]);
    let icount = ((body.len() - xattrs::HEADER_SIZE) / 4 + 1) as u16;
    (body, icount)
}

pub(super) fn image() -> Vec<u8> {
    let mut img = vec![0u8; 3 * BLOCK_SIZE];
    let sb = SuperBlock {
        root_nid: ROOT as u16,
        inos: 5,
        blocks: 3,
        meta_blkaddr: META,
        xattr_blkaddr: SHARED,
        ..SuperBlock::default()
    };
    img[SUPER_OFFSET..SUPER_OFFSET + SUPER_SIZE].copy_from_slice(&sb.encode());
    // One shared entry, id 2 (8 bytes into the shared area).
    let (shared, _) = encode(&[(b"user.shared", b"by many")]).unwrap();
    let at = SHARED as usize * BLOCK_SIZE + 8;
    let entry = &shared[xattrs::HEADER_SIZE..];
    img[at..at + entry.len()].copy_from_slice(entry);
    let root = encode_dir(&[
        (b".", ROOT, FT_DIR),
        (b"..", ROOT, FT_DIR),
        (b"broken", BROKEN, FT_REG_FILE),
        (b"cap", CAP, FT_REG_FILE),
        (b"dir", DIR, FT_DIR),
        (b"plain", PLAIN, FT_REG_FILE),
    ]);
    put(&mut img, ROOT, 0o40755, &(Vec::new(), 0), &root[0]);
    let cap = body_with_shared(
        &[
            (b"security.capability", &CAP_NET_RAW),
            (b"user.empty", b""),
            (b"user.mime", b"text/plain"),
        ],
        &[2],
    );
    put(&mut img, CAP, 0o100755, &cap, b"#!/bin/ping\n");
    let dir = encode_dir(&[(b".", DIR, FT_DIR), (b"..", ROOT, FT_DIR)]);
    let acl = [2u8, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff];
    let dir_attrs = encode(&[(b"system.posix_acl_default", &acl), (b"trusted.t", b"1")]);
    put(&mut img, DIR, 0o40755, &dir_attrs.unwrap(), &dir[0]);
    let (mut broken, icount) = encode(&[(b"user.a", b"1234")]).unwrap();
    // The value's size says 200 bytes: past the body.
    broken[xattrs::HEADER_SIZE + 2] = 200;
    put(&mut img, BROKEN, 0o100644, &(broken, icount), b"data");
    put(&mut img, PLAIN, 0o100644, &(Vec::new(), 0), b"plain");
    img
}

fn mount(img: Vec<u8>) -> (Arc<FakeBlock>, Arc<dyn Inode>) {
    let fake = FakeBlock::new(img, true);
    let root = Erofs::mount(fake.clone() as Arc<dyn BlockDevice>)
        .and_then(|fs| fs.root())
        .unwrap();
    (fake, root)
}

fn list(node: &Arc<dyn Inode>) -> Result<Vec<String>, Errno> {
    let names = node.xattr(XattrOp::List)?;
    Ok(names
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8(n.to_vec()).unwrap())
        .collect())
}

fn read(node: &Arc<dyn Inode>) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let n = node.read_at(0, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn inline_and_shared_attributes_are_read() {
    let (_, root) = mount(image());
    let cx = crate::tests::caller(0, 0, &root);
    let cap = root.lookup(&cx, b"cap").unwrap();
    // Inline entries in their order, then the shared one (Linux's listing order).
    assert_eq!(
        list(&cap).unwrap(),
        [
            "security.capability",
            "user.empty",
            "user.mime",
            "user.shared"
        ]
    );
    let get = |n: &Arc<dyn Inode>, name: &[u8]| n.xattr(XattrOp::Get(name));
    assert_eq!(get(&cap, b"security.capability").unwrap(), CAP_NET_RAW);
    assert_eq!(get(&cap, b"user.mime").unwrap(), b"text/plain");
    assert_eq!(get(&cap, b"user.empty").unwrap(), b"");
    assert_eq!(get(&cap, b"user.shared").unwrap(), b"by many");
    assert_eq!(get(&cap, b"user.none"), Err(Errno::ENODATA));
    assert_eq!(get(&cap, b"mime"), Err(Errno::ENODATA));
    // The inline data follows the attributes.
    assert_eq!(read(&cap), b"#!/bin/ping\n");
    let dir = root.lookup(&cx, b"dir").unwrap();
    assert_eq!(
        list(&dir).unwrap(),
        ["system.posix_acl_default", "trusted.t"]
    );
    assert_eq!(crate::tests::names_str(&dir, &cx), [".", ".."]);
    let plain = root.lookup(&cx, b"plain").unwrap();
    assert_eq!(list(&plain).unwrap(), Vec::<&str>::new());
    assert_eq!(get(&plain, b"user.x"), Err(Errno::ENODATA));
    // Read-only.
    let set = XattrOp::Set {
        name: b"user.x",
        value: b"1",
        flags: 0,
    };
    assert_eq!(cap.xattr(set), Err(Errno::EROFS));
    assert_eq!(cap.xattr(XattrOp::Remove(b"user.mime")), Err(Errno::EROFS));
}

#[test]
fn a_damaged_body_is_eio_for_the_attributes_only() {
    let (_, root) = mount(image());
    let cx = crate::tests::caller(0, 0, &root);
    let broken = root.lookup(&cx, b"broken").unwrap();
    assert_eq!(list(&broken), Err(Errno::EIO));
    assert_eq!(broken.xattr(XattrOp::Get(b"user.a")), Err(Errno::EIO));
    assert_eq!(read(&broken), b"data");
    // A shared id past the device.
    let mut img = image();
    let at = META as usize * BLOCK_SIZE + CAP as usize * SLOT_SIZE + 64 + xattrs::HEADER_SIZE;
    img[at..at + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let (_, root) = mount(img);
    let cap = root.lookup(&cx, b"cap").unwrap();
    assert_eq!(list(&cap), Err(Errno::EIO));
    assert_eq!(read(&cap), b"#!/bin/ping\n");
}

#[test]
fn every_damaged_byte_of_the_attributes_is_survived() {
    let good = image();
    let areas = [
        SHARED as usize * BLOCK_SIZE..SHARED as usize * BLOCK_SIZE + 40,
        META as usize * BLOCK_SIZE + CAP as usize * SLOT_SIZE
            ..META as usize * BLOCK_SIZE + (CAP as usize + 4) * SLOT_SIZE,
        META as usize * BLOCK_SIZE + DIR as usize * SLOT_SIZE
            ..META as usize * BLOCK_SIZE + (DIR as usize + 4) * SLOT_SIZE,
    ];
    for at in areas.into_iter().flatten() {
        for value in [0x00, 0x01, 0x7f, 0x80, 0xff, good[at] ^ 0x10] {
            let mut img = good.clone();
            img[at] = value;
            if let Ok(fs) = Erofs::mount(FakeBlock::new(img, true)) {
                super::tests::walk(&fs);
            }
        }
    }
}

#[test]
fn attributes_in_another_block_are_waited_for_with_the_inode() {
    let fake = FakeBlock::new(image(), true);
    let fs = Erofs::mount(fake.clone() as Arc<dyn BlockDevice>).unwrap();
    let root = fs.root().unwrap();
    let cx = crate::tests::caller(0, 0, &root);
    fake.set_delayed(true);
    // The inode's block is cached; the shared entry's block is not.
    assert_eq!(root.lookup(&cx, b"cap").err(), Some(Errno::WAIT));
    assert_eq!(fake.complete(), 1);
    let cap = root.lookup(&cx, b"cap").unwrap();
    assert_eq!(cap.xattr(XattrOp::Get(b"user.shared")).unwrap(), b"by many");
}

/// Through the overlay: the lower file's attributes show, and a change copies them all up.
#[test]
fn the_overlay_shows_them_and_copies_them_up() {
    let (_, lower) = mount(image());
    let (_clock, upper) = crate::tests::tmpfs();
    let root = crate::overlay::new_overlay(lower, upper).unwrap();
    let cx = crate::tests::caller(0, 0, &root);
    let cap = root.lookup(&cx, b"cap").unwrap();
    let caps = cap.xattr(XattrOp::Get(b"security.capability"));
    assert_eq!(caps.unwrap(), CAP_NET_RAW);
    cap.xattr(XattrOp::Set {
        name: b"user.new",
        value: b"up",
        flags: 0,
    })
    .unwrap();
    let cap = root.lookup(&cx, b"cap").unwrap();
    let mut names = list(&cap).unwrap();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "security.capability",
            "user.empty",
            "user.mime",
            "user.new",
            "user.shared"
        ]
    );
    assert_eq!(
        cap.xattr(XattrOp::Get(b"security.capability")).unwrap(),
        CAP_NET_RAW
    );
    assert_eq!(read(&cap), b"#!/bin/ping\n");
}

#[test]
fn names_map_to_prefix_indexes() {
    assert_eq!(xattrs::split_name(b"user.mime"), Some((1, &b"mime"[..])));
    assert_eq!(
        xattrs::split_name(b"system.posix_acl_access"),
        Some((2, &b""[..]))
    );
    assert_eq!(xattrs::split_name(b"system.posix_acl_accessx"), None);
    assert_eq!(
        xattrs::split_name(b"security.selinux"),
        Some((6, &b"selinux"[..]))
    );
    assert_eq!(xattrs::split_name(b"system.foo"), None);
    assert_eq!(
        encode(&[(b"bogus.x", b"1")]),
        Err(xattrs::EncodeError::Namespace)
    );
    assert_eq!(encode(&[]), Ok((Vec::new(), 0)));
    // 12 header bytes, then 4 + 4 ("mime") + 1 padded to 12: icount 1 + 3.
    let (body, icount) = encode(&[(b"user.mime", b"x")]).unwrap();
    assert_eq!((body.len(), icount), (24, 4));
    assert_eq!(&body[12..16], &[4, 1, 1, 0]);
}
