//! Overlay copy-up, whiteouts, merged listings, stable inode numbers, injected errors.

use super::*;
use crate::inode::TimeChange;
use crate::types::oflags::*;

#[test]
fn reads_come_from_the_lower_layer_until_a_write_copies_up() {
    let ov = Ov::new(image);
    let f = ov.get("/etc/passwd").unwrap();
    let before = f.stat();
    assert_eq!(ov.read("/etc/passwd"), b"root:x:0:0\n");
    assert_eq!(before.uid, 7);
    assert_eq!(
        before.dev,
        ov.root.stat().dev,
        "one st_dev for the whole overlay"
    );
    assert_ne!(before.dev, ov.lower.stat().dev);
    ov.clock.advance(5);
    assert_eq!(f.write_at(0, b"toor"), Ok(4));
    let after = f.stat();
    assert_eq!(
        (after.dev, after.ino),
        (before.dev, before.ino),
        "stable across copy-up"
    );
    assert_eq!((after.uid, after.gid, after.mode), (7, 8, before.mode));
    assert_eq!(ov.read("/etc/passwd"), b"toor:x:0:0\n");
    assert_eq!(
        contents(&ov.lower_get("etc/passwd").unwrap()),
        b"root:x:0:0\n"
    );
    // Looked up again, it is the same object.
    assert_eq!(ov.get("/etc/passwd").unwrap().stat().ino, before.ino);
}

#[test]
fn copy_up_keeps_times_and_leaves_the_parent_times_alone() {
    let ov = Ov::new(image);
    let etc = ov.get("/etc").unwrap();
    let etc_before = etc.stat();
    let f = ov.get("/etc/motd").unwrap();
    let before = f.stat();
    ov.clock.advance(50);
    f.set_mode(0o600).unwrap();
    let after = f.stat();
    assert_eq!(after.mode & 0o7777, 0o600);
    assert_eq!((after.atime, after.mtime), (before.atime, before.mtime));
    assert_eq!(etc.stat().mtime, etc_before.mtime);
    assert_eq!(ov.read("/etc/motd"), b"hello\n");
    assert_eq!(
        ov.lower_get("etc/motd").unwrap().stat().mode & 0o7777,
        0o644
    );
}

#[test]
fn opening_for_truncation_copies_no_data_and_mapping_sees_the_upper_pages() {
    let ov = Ov::new(image);
    let f = ov.get("/bin/sh").unwrap();
    assert!(f.cached().is_some(), "a lower tmpfs file can be mapped");
    ov.vfs.open_inode(&ov.cx, &f, O_WRONLY | O_TRUNC).unwrap();
    f.truncate(0).unwrap();
    assert_eq!(f.stat().size, 0);
    f.write_at(0, b"new").unwrap();
    let cached = f.cached().unwrap();
    assert_eq!(cached.cached_size(), 3);
    let crate::cache::Got::Ready(page) = crate::cache::get_page(cached, 0).unwrap() else {
        panic!("tmpfs pages are always ready");
    };
    let mut buf = [0; 3];
    page.read(0, &mut buf);
    assert_eq!(&buf, b"new");
    assert_eq!(contents(&ov.lower_get("bin/sh").unwrap()), b"\x7fELF...");
}

#[test]
fn an_open_for_reading_copies_nothing() {
    let ov = Ov::new(image);
    let f = ov.get("/etc/motd").unwrap();
    ov.vfs.open_inode(&ov.cx, &f, O_RDONLY).unwrap();
    let up = ov.root.statfs();
    assert_eq!(up.fs_type, crate::overlay::OVERLAYFS_SUPER_MAGIC);
    assert_eq!(up.bfree, up.blocks, "nothing written to the upper layer");
    ov.vfs.open_inode(&ov.cx, &f, O_RDWR).unwrap();
    assert!(
        ov.root.statfs().bfree < up.blocks,
        "copied up on a writable open"
    );
}

#[test]
fn unlinking_a_lower_file_whites_it_out() {
    let ov = Ov::new(image);
    let etc = ov.get("/etc").unwrap();
    let ino = ov.get("/etc/motd").unwrap().stat().ino;
    etc.unlink(b"motd").unwrap();
    assert_eq!(err(ov.get("/etc/motd")), Errno::ENOENT);
    assert_eq!(ov.ls("/etc"), [".", "..", "passwd"]);
    assert!(
        ov.lower_get("etc/motd").is_ok(),
        "the lower layer is untouched"
    );
    assert_eq!(err(etc.unlink(b"motd")), Errno::ENOENT);
    // A new file over the whiteout is a new object.
    let f = etc.create(b"motd", NewNode::Regular, 0o600, 0, 0).unwrap();
    assert_eq!(f.stat().size, 0);
    assert_ne!(f.stat().ino, ino);
    assert_eq!(ov.ls("/etc"), [".", "..", "motd", "passwd"]);
}

#[test]
fn removing_a_lower_directory_and_making_it_again_hides_the_old_contents() {
    let ov = Ov::new(image);
    let data = ov.get("/data").unwrap();
    assert_eq!(err(data.rmdir(b"sub")), Errno::ENOTEMPTY);
    assert_eq!(err(data.unlink(b"sub")), Errno::EISDIR);
    let sub = ov.get("/data/sub").unwrap();
    sub.unlink(b"deep").unwrap();
    assert_eq!(ov.ls("/data/sub"), [".", ".."]);
    data.rmdir(b"sub").unwrap();
    assert!(sub.is_removed());
    assert_eq!(err(ov.get("/data/sub")), Errno::ENOENT);
    let again = data
        .create(b"sub", NewNode::Directory, 0o700, 0, 0)
        .unwrap();
    assert_eq!(
        ov.ls("/data/sub"),
        [".", ".."],
        "opaque: the lower deep is gone"
    );
    assert_eq!(again.stat().mode & 0o7777, 0o700);
    assert_eq!(err(ov.get("/data/sub/deep")), Errno::ENOENT);
    // A lower directory that is empty goes at once.
    ov.root.rmdir(b"empty").unwrap();
    assert_eq!(err(ov.get("/empty")), Errno::ENOENT);
}

#[test]
fn merged_listings_show_each_name_once_with_stat_inode_numbers() {
    let ov = Ov::new(image);
    let etc = ov.get("/etc").unwrap();
    etc.create(b"new", NewNode::Regular, 0o644, 0, 0).unwrap();
    ov.get("/etc/passwd").unwrap().write_at(0, b"x").unwrap();
    etc.unlink(b"motd").unwrap();
    let mut pos = 0;
    let mut seen = Vec::new();
    while let Some((e, next)) = etc.readdir(&ov.cx, pos).unwrap() {
        let name = std::string::String::from_utf8(e.name.clone()).unwrap();
        let st = match name.as_str() {
            "." => etc.stat(),
            ".." => ov.root.stat(),
            n => etc.lookup(&ov.cx, n.as_bytes()).unwrap().stat(),
        };
        assert_eq!(e.ino, st.ino, "d_ino of {name}");
        seen.push(name);
        pos = next;
    }
    seen.sort();
    assert_eq!(seen, [".", "..", "new", "passwd"]);
    // The overlay's own work entries never show.
    assert_eq!(
        ov.ls("/"),
        [".", "..", "bin", "data", "empty", "etc", "link"]
    );
    // The link count of a merged directory counts its subdirectories.
    assert_eq!(ov.root.stat().nlink, 2 + 4);
    ov.root
        .create(b"d2", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    assert_eq!(ov.root.stat().nlink, 2 + 5);
    ov.root.rmdir(b"empty").unwrap();
    assert_eq!(ov.root.stat().nlink, 2 + 4);
}

#[test]
fn symlinks_and_ownership_copy_up() {
    let ov = Ov::new(image);
    let l = ov.get("/link").unwrap();
    l.set_owner(Some(5), Some(6)).unwrap();
    assert_eq!(l.readlink(&ov.cx).unwrap(), b"etc/passwd");
    assert_eq!((l.stat().uid, l.stat().gid), (5, 6));
    assert_eq!(ov.lower_get("link").unwrap().stat().uid, 0);
    let d = ov.get("/data/sub").unwrap();
    d.set_times(
        TimeChange::Omit,
        TimeChange::Set(Timespec { sec: 9, nsec: 0 }),
    )
    .unwrap();
    assert_eq!(d.stat().mtime.sec, 9);
    assert_eq!(
        ov.read("/data/sub/deep"),
        b"deep",
        "a copied-up directory still merges"
    );
}

#[test]
fn a_lower_read_error_fails_the_write_and_leaves_nothing_half_copied() {
    let ov = Ov::new(image);
    let f = ov.get("/etc/passwd").unwrap();
    ov.faults.read.store(true, Ordering::Relaxed);
    assert_eq!(err(f.write_at(0, b"x")), Errno::EIO);
    assert_eq!(ov.ls("/etc"), [".", "..", "motd", "passwd"]);
    ov.faults.read.store(false, Ordering::Relaxed);
    assert_eq!(ov.read("/etc/passwd"), b"root:x:0:0\n");
    f.write_at(0, b"x").unwrap();
    assert_eq!(ov.read("/etc/passwd"), b"xoot:x:0:0\n");
}

#[test]
fn lower_lookup_and_listing_errors_reach_the_caller() {
    let ov = Ov::new(image);
    ov.faults.lookup.store(true, Ordering::Relaxed);
    assert_eq!(err(ov.get("/etc/motd")), Errno::EIO);
    assert_eq!(err(ov.root.unlink(b"link")), Errno::EIO);
    ov.faults.lookup.store(false, Ordering::Relaxed);
    ov.faults.readdir.store(true, Ordering::Relaxed);
    assert_eq!(err(ov.get("/etc").unwrap().readdir(&ov.cx, 2)), Errno::EIO);
    assert_eq!(err(ov.root.rmdir(b"empty")), Errno::EIO);
    ov.faults.readdir.store(false, Ordering::Relaxed);
    ov.root.rmdir(b"empty").unwrap();
}

#[test]
fn a_full_upper_layer_is_enospc_and_changes_nothing() {
    let (clock, lower) = tmpfs();
    image(&lower);
    mkfile(&lower, "big", &[1u8; 3 * 4096]);
    let upper = new_tmpfs(
        clock,
        TmpfsOptions {
            max_bytes: 2 * 4096,
            ..TmpfsOptions::default()
        },
    );
    let root = new_overlay(lower, upper).unwrap();
    let cx = caller(0, 0, &root);
    let big = root.lookup(&cx, b"big").unwrap();
    assert_eq!(err(big.write_at(0, b"x")), Errno::ENOSPC);
    assert_eq!(big.stat().size, 3 * 4096);
    let names = names_str(&root, &cx);
    assert_eq!(names.iter().filter(|n| *n == "big").count(), 1);
}

/// The subdirectories a merged directory lists, counted the slow way.
fn listed_dirs(dir: &Arc<dyn Inode>, cx: &Caller) -> u64 {
    let mut n = 0;
    let mut pos = 2;
    while let Some((e, next)) = dir.readdir(cx, pos).unwrap() {
        n += u64::from(e.kind == FileType::Directory);
        pos = next;
    }
    n
}

/// A merged directory's link count comes from the lower directory's count and the upper
/// entries alone: each change of what a name shows (a lower directory removed, replaced by
/// a file, a file replaced by a directory, a directory renamed away or in) keeps it equal to
/// 2 + the subdirectories the listing shows.
#[test]
fn merged_link_counts_follow_every_kind_of_change() {
    let ov = Ov::new(|root| {
        image(root);
        mkdir(root, "gone");
        mkdir(root, "tofile");
        mkfile(root, "todir", b"x");
    });
    let check = |what: &str| {
        let st = ov.root.stat();
        assert_eq!(st.nlink, 2 + listed_dirs(&ov.root, &ov.cx), "after {what}");
    };
    check("nothing");
    ov.root.rmdir(b"gone").unwrap();
    check("rmdir of a lower directory (a whiteout)");
    ov.root.rmdir(b"tofile").unwrap();
    ov.root
        .create(b"tofile", NewNode::Regular, 0o644, 0, 0)
        .unwrap();
    check("a file over a removed lower directory");
    ov.root.unlink(b"todir").unwrap();
    ov.root
        .create(b"todir", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    check("a directory over a removed lower file");
    ov.root
        .create(b"gone", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    check("a new (opaque) directory over a whiteout");
    let data = ov.get("/data").unwrap();
    data.rename(b"sub", &ov.root, b"moved", 0).unwrap();
    check("a lower subdirectory renamed into the directory");
    assert_eq!(data.stat().nlink, 2 + listed_dirs(&data, &ov.cx));
    ov.root.rename(b"empty", &data, b"empty", 0).unwrap();
    check("a lower directory renamed away");
    assert_eq!(data.stat().nlink, 2 + listed_dirs(&data, &ov.cx));
}
