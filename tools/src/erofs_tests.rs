//! The writer checked three ways: byte-reproducible, accepted by Debian's `fsck.erofs`, and
//! the same tree as the source when Linux mounts it (as root) and when Coracle's reader in
//! `coracle_vfs::erofs` reads it.

use std::fs;
use std::io::Cursor;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use coracle_vfs::block::{BlockDevice, FakeBlock};
use coracle_vfs::erofs::Erofs;
use coracle_vfs::{Caller, Inode};

use super::*;
use crate::rootfs::Tree;
use crate::tempdir::TempDir;

/// A tree with every kind of entry and every data layout the writer makes.
fn sample(root: &Path) {
    fs::create_dir_all(root.join("etc/deep/er")).unwrap();
    fs::write(root.join("etc/small"), b"hello\n").unwrap();
    fs::write(root.join("empty"), b"").unwrap();
    let big: Vec<u8> = (0..3 * 4096 + 100).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(root.join("big"), &big).unwrap();
    fs::write(root.join("exact"), vec![5u8; 4096]).unwrap();
    fs::write(root.join("midsize"), vec![9u8; 3000]).unwrap();
    fs::hard_link(root.join("big"), root.join("etc/big-link")).unwrap();
    symlink("../big", root.join("etc/link")).unwrap();
    symlink("x".repeat(3000), root.join("longlink")).unwrap();
    fs::create_dir(root.join("many")).unwrap();
    for i in 0..400 {
        fs::write(
            root.join(format!("many/file-with-a-longish-name-{i:04}")),
            [i as u8],
        )
        .unwrap();
    }
    fs::set_permissions(root.join("etc/small"), fs::Permissions::from_mode(0o4755)).unwrap();
    let _ = Command::new("mkfifo").arg(root.join("fifo")).status();
}

pub(super) fn image_of(root: &Path) -> Vec<u8> {
    let tree = Tree::scan(root).unwrap();
    let mut w = ErofsWriter::new(Cursor::new(Vec::new())).unwrap();
    tree.write(&mut w).unwrap();
    let (out, size) = w.finish().unwrap();
    let bytes = out.into_inner();
    assert_eq!(bytes.len() as u64, size);
    bytes
}

#[test]
fn the_same_tree_gives_the_same_bytes() {
    let tmp = TempDir::new().unwrap();
    sample(tmp.path());
    let a = image_of(tmp.path());
    assert_eq!(a, image_of(tmp.path()));
    assert_eq!(a.len() % 4096, 0);
}

pub(super) fn fsck(image: &Path, extract: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new("fsck.erofs");
    if let Some(dir) = extract {
        cmd.arg(format!("--extract={}", dir.display()));
    }
    cmd.arg(image)
        .output()
        .expect("fsck.erofs runs (Debian's erofs-utils, in the README's package list)")
}

/// Runs `fsck.erofs` (extracting into `extract` if given) and asserts that it accepts `image`.
pub(super) fn fsck_ok(image: &Path, extract: Option<&Path>) {
    let out = fsck(image, extract);
    assert!(
        out.status.success(),
        "fsck.erofs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ls -lnR`-like listing of a tree: type, mode, owner, size, link target, content hash.
pub(super) fn listing(root: &Path, mode_mask: u32) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let mut names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for p in names {
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                let data = fs::read(&p).unwrap();
                format!(
                    "{} bytes sum {}",
                    data.len(),
                    data.iter().map(|&b| b as u64).sum::<u64>()
                )
            } else if m.is_dir() {
                todo.push(p.clone());
                format!("dir nlink {}", m.nlink())
            } else {
                "other".into()
            };
            out.push(format!(
                "{rel} {:o} {}:{} {what}",
                m.mode() & mode_mask,
                m.uid(),
                m.gid()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn fsck_erofs_accepts_it_and_extracts_the_same_tree() {
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    sample(&src);
    let img = tmp.path().join("root.erofs");
    fs::write(&img, image_of(&src)).unwrap();
    fsck_ok(&img, None);
    let dst = tmp.path().join("dst");
    fsck_ok(&img, Some(&dst));
    // fsck.erofs 1.5 extracts files, directories and symlinks (not FIFOs), without setuid.
    let keep = |l: &String| !l.starts_with("fifo ");
    let want: Vec<String> = listing(&src, !0o7000).into_iter().filter(keep).collect();
    let got: Vec<String> = listing(&dst, !0o7000).into_iter().filter(keep).collect();
    // Extraction does not recreate hard links or directory link counts: compare the rest.
    let strip = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(|l| l.split(" dir nlink").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(strip(got), strip(want));
}

/// Linux mounts what the writer wrote and shows the same tree (root only: loop devices).
#[test]
fn linux_mounts_it() {
    if !nix_is_root() {
        eprintln!("skipped: mounting a loop device takes root");
        return;
    }
    let tmp = TempDir::new().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    sample(&src);
    let img = tmp.path().join("root.erofs");
    fs::write(&img, image_of(&src)).unwrap();
    let mnt = tmp.path().join("mnt");
    loop_mount(&img, &mnt);
    let got = listing(&mnt, !0);
    let root_ino = fs::metadata(&mnt).map(|m| m.ino());
    let _ = Command::new("umount").arg(&mnt).status();
    // Linux reports the root's nid as its inode number: never the 0 of a deleted entry.
    assert_ne!(root_ino.unwrap(), 0);
    // The root directory's own mode and owner are the source's too, but listing starts
    // below it.
    assert_eq!(got, listing(&src, !0));
}

/// Mounts `image` read-only with Linux on a new directory `mnt` (root only: loop devices).
pub(super) fn loop_mount(image: &Path, mnt: &Path) {
    fs::create_dir(mnt).unwrap();
    let out = Command::new("mount")
        .args(["-t", "erofs", "-o", "loop,ro"])
        .arg(image)
        .arg(mnt)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mount: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(super) fn nix_is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// `image` mounted by Coracle's reader: its root and a root caller.
pub(super) fn mounted(image: Vec<u8>) -> (Arc<dyn Inode>, Caller) {
    let dev: Arc<dyn BlockDevice> = FakeBlock::new(image, true);
    let root = Erofs::mount(dev).unwrap().root().unwrap();
    let cx = Caller {
        pid: 1,
        tid: 1,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: coracle_vfs::cap::DOCKER_DEFAULT,
        umask: 0o22,
        root: root.clone(),
    };
    (root, cx)
}

/// The entry at `path` (`/`-separated, `.` components skipped) below `root`.
pub(super) fn walk(root: &Arc<dyn Inode>, cx: &Caller, path: &str) -> Arc<dyn Inode> {
    path.split('/')
        .filter(|c| *c != ".")
        .fold(root.clone(), |d, c| d.lookup(cx, c.as_bytes()).unwrap())
}

/// Coracle's reader sees the tree the writer was given.
#[test]
fn the_guest_reader_reads_it_back() {
    let tmp = TempDir::new().unwrap();
    sample(tmp.path());
    let (root, cx) = mounted(image_of(tmp.path()));
    let walk = |path: &str| walk(&root, &cx, path);
    let read = |node: &Arc<dyn Inode>| {
        let mut buf = vec![0u8; node.stat().size as usize + 10];
        let mut at = 0;
        loop {
            let n = node.read_at(at as u64, &mut buf[at..]).unwrap();
            if n == 0 {
                break;
            }
            at += n;
        }
        buf.truncate(at);
        buf
    };
    for name in [
        "big",
        "exact",
        "midsize",
        "etc/small",
        "empty",
        "many/file-with-a-longish-name-0399",
    ] {
        let node = walk(name);
        assert_eq!(
            read(&node),
            fs::read(tmp.path().join(name)).unwrap(),
            "{name}"
        );
        let m = fs::metadata(tmp.path().join(name)).unwrap();
        let st = node.stat();
        assert_eq!(
            (st.mode, st.uid, st.gid, st.mtime.sec),
            (m.mode(), m.uid(), m.gid(), m.mtime()),
            "{name}"
        );
    }
    assert_eq!(walk("etc/link").readlink(&cx).unwrap(), b"../big");
    assert_eq!(
        walk("longlink").readlink(&cx).unwrap(),
        "x".repeat(3000).as_bytes()
    );
    let (big, link) = (walk("big").stat(), walk("etc/big-link").stat());
    assert_eq!((big.ino, big.nlink), (link.ino, 2));
    assert_eq!(walk("etc").stat().nlink, 3);
    let mut names = Vec::new();
    let many = walk("many");
    let mut pos = 0;
    while let Some((e, next)) = many.readdir(&cx, pos).unwrap() {
        names.push(String::from_utf8(e.name).unwrap());
        pos = next;
    }
    assert_eq!(names.len(), 402);
    assert_eq!(&names[..3], [".", "..", "file-with-a-longish-name-0000"]);
    assert!(root.lookup(&cx, b"missing").is_err());
    // `.` and `..` name the directory and its parent by their (never 0) inode numbers.
    let dots = |dir: &Arc<dyn Inode>| {
        let (dot, next) = dir.readdir(&cx, 0).unwrap().unwrap();
        let (dotdot, _) = dir.readdir(&cx, next).unwrap().unwrap();
        assert_eq!((&dot.name[..], &dotdot.name[..]), (&b"."[..], &b".."[..]));
        (dot.ino, dotdot.ino)
    };
    let root_ino = root.stat().ino;
    assert_ne!(root_ino, 0);
    assert_eq!(dots(&root), (root_ino, root_ino));
    let (etc, deep) = (walk("etc"), walk("etc/deep"));
    assert_eq!(dots(&deep), (deep.stat().ino, etc.stat().ino));
}
