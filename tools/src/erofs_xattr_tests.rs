//! Extended attributes through the writer, from a host directory and from a layer's PAX
//! records: the same bytes every time, accepted by Debian's `fsck.erofs`, shown by a Linux
//! mount (as root) as the source has them, and read back by Coracle's reader.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use coracle_vfs::xattr::XattrOp;

use super::tests::{fsck_ok, image_of, listing, loop_mount, mounted, nix_is_root, walk};
use crate::image::fixture::Layer;
use crate::image::layer::apply;
use crate::image::tree::FsTree;
use crate::root_image::{write_to, Source};
use crate::tempdir::TempDir;
use crate::xattrs::Xattrs;

/// `setcap cap_net_raw+ep`'s `vfs_cap_data` (revision 2).
const CAP_NET_RAW: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];
/// A minimal POSIX ACL (`user::rwx group::r-x other::r-x`) as the xattr holds it.
const ACL: [u8; 28] = [
    2, 0, 0, 0, 1, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 4, 0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0x20, 0, 5,
    0, 0xff, 0xff, 0xff, 0xff,
];

fn set(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("{}: setting {name}: {e}", path.display()));
}

/// A tree whose entries carry attributes in every layout the writer makes: with inline data
/// after them, with data pushed into blocks by them, on an inline and a block directory, on a
/// symlink and a FIFO (root only: `trusted.*`), capabilities and ACLs (root only).
fn sample(root: &Path) {
    let root_only = nix_is_root();
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::write(root.join("ping"), b"\x7fELF ping\n").unwrap();
    fs::write(root.join("big-attrs"), vec![7u8; 1500]).unwrap();
    fs::write(root.join("plain"), b"no attributes\n").unwrap();
    fs::write(root.join("blocks"), vec![3u8; 9000]).unwrap();
    std::os::unix::fs::symlink("ping", root.join("link")).unwrap();
    fs::create_dir(root.join("many")).unwrap();
    for i in 0..300 {
        fs::write(root.join(format!("many/a-longish-file-name-{i:04}")), [1]).unwrap();
    }
    set(&root.join("ping"), "user.mime", b"application/x-executable");
    set(&root.join("ping"), "user.empty", b"");
    set(&root.join("big-attrs"), "user.big", &[b'x'; 3000]);
    set(&root.join("blocks"), "user.b", b"on a file in blocks");
    set(&root.join("dir"), "user.dir", b"inline directory");
    set(&root.join("many"), "user.dir", b"directory in blocks");
    set(root, "user.root", b"the root");
    if root_only {
        set(&root.join("ping"), "security.capability", &CAP_NET_RAW);
        set(&root.join("dir"), "system.posix_acl_default", &ACL);
        set(&root.join("dir/sub"), "system.posix_acl_access", &ACL);
        set(&root.join("link"), "trusted.link", b"on the symlink itself");
    }
}

/// Every entry's attributes (the root's as `.`), by path.
fn host_attrs(root: &Path) -> BTreeMap<String, Xattrs> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    out.insert(".".into(), Xattrs::of_host_file(root).unwrap());
    while let Some(dir) = todo.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                todo.push(p.clone());
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, Xattrs::of_host_file(&p).unwrap());
        }
    }
    out
}

/// The same, as Coracle's reader serves them.
fn reader_attrs(image: Vec<u8>, paths: impl Iterator<Item = String>) -> BTreeMap<String, Xattrs> {
    let (root, cx) = mounted(image);
    let mut out = BTreeMap::new();
    for path in paths {
        let node = walk(&root, &cx, &path);
        let names = node.xattr(XattrOp::List).unwrap();
        let pairs = names
            .split(|&b| b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| (n.to_vec(), node.xattr(XattrOp::Get(n)).unwrap()))
            .collect();
        out.insert(path, Xattrs::new(pairs));
    }
    out
}

/// Mounts `image` with Linux (root only) and gives the attributes and the listing it shows.
fn linux_view(image: &Path, dir: &Path) -> (BTreeMap<String, Xattrs>, Vec<String>) {
    let mnt = dir.join("mnt");
    loop_mount(image, &mnt);
    let view = std::panic::catch_unwind(|| (host_attrs(&mnt), listing(&mnt, !0)));
    let _ = Command::new("umount").arg(&mnt).status();
    view.unwrap()
}

#[test]
fn attributes_of_a_host_tree_round_trip() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    sample(&src);
    let bytes = image_of(&src);
    assert_eq!(bytes, image_of(&src), "the same attributes, the same bytes");
    let want = host_attrs(&src);
    assert_eq!(want["ping"].iter().count(), 2 + usize::from(nix_is_root()));
    // Coracle's reader.
    assert_eq!(reader_attrs(bytes.clone(), want.keys().cloned()), want);
    let img = tmp.path().join("root.erofs");
    fs::write(&img, &bytes).unwrap();
    fsck_ok(&img, None);
    if !nix_is_root() {
        eprintln!("the Linux mount is skipped: mounting a loop device takes root");
        return;
    }
    let (attrs, tree) = linux_view(&img, tmp.path());
    assert_eq!(attrs, want);
    assert_eq!(tree, listing(&src, !0), "inline data after the attributes");
}

/// A layer's `SCHILY.xattr.*` and `LIBARCHIVE.xattr.*` records, a value too big for one
/// block and names EROFS cannot store.
#[test]
fn attributes_of_a_layer_round_trip() {
    let huge = vec![b'h'; 5000];
    let layer = Layer::default()
        .dir("usr", 0o755)
        .pax(&[("SCHILY.xattr.security.capability", &CAP_NET_RAW)])
        .file("usr/ping", 0o755, b"\x7fELF")
        .pax(&[
            ("LIBARCHIVE.xattr.user.a%3Db", b"dmFsdWU="),
            ("SCHILY.xattr.user.huge", &huge),
            ("SCHILY.xattr.system.nfs4_acl", b"not storable"),
            ("SCHILY.xattr.user.too-long", &vec![b'l'; 70000]),
            ("SCHILY.xattr.system.posix_acl_access", &ACL),
            ("GNU.sparse.name", b"ignored"),
        ])
        .file("usr/huge", 0o644, b"tail after big attributes")
        .tar();
    let mut tree = FsTree::default();
    apply(&mut tree, layer.as_slice()).unwrap();
    let (out, _) = write_to(Source::Image(&tree), Cursor::new(Vec::new())).unwrap();
    let bytes = out.into_inner();
    let mut want = BTreeMap::new();
    let pairs = |p: &[(&str, &[u8])]| {
        Xattrs::new(
            p.iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.to_vec()))
                .collect(),
        )
    };
    want.insert(
        "usr/ping".to_string(),
        pairs(&[("security.capability", &CAP_NET_RAW)]),
    );
    want.insert(
        "usr/huge".to_string(),
        pairs(&[
            ("system.posix_acl_access", &ACL),
            ("user.a=b", b"value"),
            ("user.huge", &huge),
        ]),
    );
    want.insert("usr".to_string(), Xattrs::NONE);
    assert_eq!(reader_attrs(bytes.clone(), want.keys().cloned()), want);
    let tmp = TempDir::new().unwrap();
    let img = tmp.path().join("layer.erofs");
    fs::write(&img, &bytes).unwrap();
    fsck_ok(&img, None);
    if nix_is_root() {
        let (attrs, tree) = linux_view(&img, tmp.path());
        for (path, want) in &want {
            assert_eq!(&attrs[path], want, "{path}");
        }
        let sum: u64 = b"tail after big attributes"
            .iter()
            .map(|&b| u64::from(b))
            .sum();
        let line = format!("usr/huge 100644 0:0 25 bytes sum {sum}");
        assert!(tree.contains(&line), "{tree:?}");
    }
}
