//! tmpfs namespace operations: creating each kind of node, lookup, unlink, rmdir, link, link
//! counts, directory sizes, timestamps, the size and inode limits and O_TMPFILE.

use super::*;
use crate::inode::TimeChange;
use crate::tmpfs::create_unnamed;

#[test]
fn creates_every_kind_of_node() {
    let (_, root) = tmpfs();
    let cases = [
        (NewNode::Regular, FileType::Regular, S_IFREG | 0o640, 0),
        (NewNode::Directory, FileType::Directory, S_IFDIR | 0o640, 0),
        (NewNode::Fifo, FileType::Fifo, S_IFIFO | 0o640, 0),
        (
            NewNode::CharDevice(makedev(1, 3)),
            FileType::CharDevice,
            S_IFCHR | 0o640,
            makedev(1, 3),
        ),
        (
            NewNode::BlockDevice(makedev(8, 1)),
            FileType::BlockDevice,
            S_IFBLK | 0o640,
            makedev(8, 1),
        ),
        (NewNode::Socket, FileType::Socket, S_IFSOCK | 0o640, 0),
        // Symlinks are always 0777 whatever mode is asked for.
        (
            NewNode::Symlink(b"target".to_vec()),
            FileType::Symlink,
            S_IFLNK | 0o777,
            0,
        ),
    ];
    for (i, (node, kind, mode, rdev)) in cases.into_iter().enumerate() {
        let name = std::format!("n{i}");
        let made = root.create(name.as_bytes(), node, 0o640, 7, 8).unwrap();
        let st = made.stat();
        assert_eq!(st.file_type(), kind, "{name}");
        assert_eq!(st.mode, mode, "{name}");
        assert_eq!(st.rdev, rdev, "{name}");
        assert_eq!((st.uid, st.gid), (7, 8), "{name}");
        assert_eq!(st.dev, root.stat().dev);
        assert_ne!(st.ino, root.stat().ino);
        let found = root.lookup(&caller(0, 0, &root), name.as_bytes()).unwrap();
        assert_eq!(found.stat().ino, st.ino);
    }
    assert_eq!(
        root.lookup(&caller(0, 0, &root), b"n6")
            .unwrap()
            .readlink(&caller(0, 0, &root))
            .unwrap(),
        b"target"
    );
    assert!(root
        .lookup(&caller(0, 0, &root), b"n2")
        .unwrap()
        .fifo()
        .is_some());
}

#[test]
fn create_refuses_an_existing_name() {
    let (_, root) = tmpfs();
    mkfile(&root, "f", b"");
    mkdir(&root, "d");
    for name in [&b"f"[..], b"d"] {
        for node in [NewNode::Regular, NewNode::Directory, NewNode::Fifo] {
            assert_eq!(err(root.create(name, node, 0o644, 0, 0)), Errno::EEXIST);
        }
    }
}

#[test]
fn lookup_errors() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let f = mkfile(&root, "f", b"x");
    assert_eq!(err(root.lookup(&cx, b"missing")), Errno::ENOENT);
    assert_eq!(err(f.lookup(&cx, b"x")), Errno::ENOTDIR);
    // Directory operations on a file say ENOTDIR too.
    assert_eq!(
        err(f.create(b"x", NewNode::Regular, 0, 0, 0)),
        Errno::ENOTDIR
    );
    assert_eq!(err(f.readdir(&cx, 0)), Errno::ENOTDIR);
}

#[test]
fn unlink_and_rmdir_errors() {
    let (_, root) = tmpfs();
    let d = mkdir(&root, "d");
    mkfile(&d, "inner", b"");
    mkfile(&root, "f", b"");
    assert_eq!(err(root.unlink(b"missing")), Errno::ENOENT);
    assert_eq!(err(root.unlink(b"d")), Errno::EISDIR);
    assert_eq!(err(root.rmdir(b"missing")), Errno::ENOENT);
    assert_eq!(err(root.rmdir(b"f")), Errno::ENOTDIR);
    assert_eq!(err(root.rmdir(b"d")), Errno::ENOTEMPTY);
    // Nothing changed.
    let cx = caller(0, 0, &root);
    assert!(root.lookup(&cx, b"d").is_ok() && root.lookup(&cx, b"f").is_ok());

    d.unlink(b"inner").unwrap();
    root.rmdir(b"d").unwrap();
    assert_eq!(err(root.lookup(&cx, b"d")), Errno::ENOENT);
    assert!(d.is_removed());
    assert_eq!(d.stat().nlink, 0);
    // A removed directory takes no new entries.
    assert_eq!(
        err(d.create(b"x", NewNode::Regular, 0, 0, 0)),
        Errno::ENOENT
    );
    root.unlink(b"f").unwrap();
    assert_eq!(err(root.lookup(&cx, b"f")), Errno::ENOENT);
}

#[test]
fn unlinked_open_file_keeps_its_data() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"still here");
    root.unlink(b"f").unwrap();
    assert_eq!(f.stat().nlink, 0);
    assert_eq!(contents(&f), b"still here");
}

#[test]
fn hard_links_count_and_refuse_directories_and_other_filesystems() {
    let fx = Fx::new();
    let f = mkfile(&fx.root, "f", b"data");
    let d = mkdir(&fx.root, "d");
    assert_eq!(f.stat().nlink, 1);
    d.link(b"g", &f).unwrap();
    fx.root.link(b"h", &f).unwrap();
    assert_eq!(f.stat().nlink, 3);
    let g = d.lookup(&fx.su, b"g").unwrap();
    assert_eq!(g.stat().ino, f.stat().ino);
    assert_eq!(contents(&g), b"data");

    assert_eq!(err(fx.root.link(b"d2", &d)), Errno::EPERM);
    assert_eq!(err(fx.mnt.link(b"f", &f)), Errno::EXDEV);
    // EXDEV comes before the directory check, as in Linux (do_linkat before vfs_link).
    assert_eq!(err(fx.mnt.link(b"d", &d)), Errno::EXDEV);
    assert_eq!(err(fx.root.link(b"h", &f)), Errno::EEXIST);
    // The name is checked before the target (vfs_link's may_create first).
    assert_eq!(err(fx.root.link(b"h", &d)), Errno::EEXIST);
    assert_eq!(err(f.link(b"x", &f)), Errno::ENOTDIR);

    fx.root.unlink(b"f").unwrap();
    d.unlink(b"g").unwrap();
    assert_eq!(f.stat().nlink, 1);
    fx.root.unlink(b"h").unwrap();
    assert_eq!(f.stat().nlink, 0);
    // A file whose last name is gone cannot be linked back.
    assert_eq!(err(fx.root.link(b"back", &f)), Errno::ENOENT);
}

#[test]
fn directory_nlink_is_two_plus_subdirectories() {
    let (_, root) = tmpfs();
    assert_eq!(root.stat().nlink, 2, "a filesystem's root too");
    let d = mkdir(&root, "d");
    assert_eq!(d.stat().nlink, 2);
    assert_eq!(root.stat().nlink, 3);
    let root_links = root.stat().nlink;
    mkdir(&d, "a");
    mkdir(&d, "b");
    mkfile(&d, "f", b"");
    symlink(&d, "l", "a");
    assert_eq!(d.stat().nlink, 4);
    d.rmdir(b"a").unwrap();
    assert_eq!(d.stat().nlink, 3);
    d.unlink(b"f").unwrap();
    assert_eq!(d.stat().nlink, 3);
    assert_eq!(root.stat().nlink, root_links);
}

#[test]
fn directory_size_is_40_plus_20_per_entry() {
    let (_, root) = tmpfs();
    let d = mkdir(&root, "d");
    assert_eq!(d.stat().size, 40);
    for i in 0..5 {
        mkfile(&d, &std::format!("f{i}"), b"");
    }
    mkdir(&d, "sub");
    assert_eq!(d.stat().size, 40 + 20 * 6);
    d.unlink(b"f0").unwrap();
    d.rmdir(b"sub").unwrap();
    assert_eq!(d.stat().size, 40 + 20 * 4);
    assert_eq!(d.stat().blocks, 0);
}

#[test]
fn file_blocks_count_eight_per_page_touched() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    assert_eq!(f.stat().blocks, 0);
    f.write_at(0, b"x").unwrap();
    assert_eq!((f.stat().size, f.stat().blocks), (1, 8));
    f.write_at(4095, b"yz").unwrap(); // straddles pages 0 and 1
    assert_eq!((f.stat().size, f.stat().blocks), (4097, 16));
    f.write_at(10 * 4096, b"z").unwrap(); // page 10 only
    assert_eq!(f.stat().blocks, 24);
    assert_eq!(f.stat().blksize, 4096);
}

#[test]
fn symlink_size_is_its_target_length() {
    let (_, root) = tmpfs();
    let short = symlink(&root, "s", "abc");
    assert_eq!((short.stat().size, short.stat().blocks), (3, 0));
    let long_target = "x".repeat(200);
    let long = symlink(&root, "l", &long_target);
    assert_eq!((long.stat().size, long.stat().blocks), (200, 8));
}

#[test]
fn write_moves_mtime_and_ctime_not_atime() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    let before = f.stat();
    clock.advance(10);
    f.write_at(0, b"abc").unwrap();
    let st = f.stat();
    assert_eq!(st.mtime.sec, T0 + 10);
    assert_eq!(st.ctime.sec, T0 + 10);
    assert_eq!(st.atime, before.atime);
    assert_eq!(st.btime, before.btime);
}

#[test]
fn chmod_and_chown_move_only_ctime() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    let before = f.stat();
    clock.advance(5);
    f.set_mode(0o4711).unwrap();
    let st = f.stat();
    assert_eq!(st.mode, S_IFREG | 0o4711);
    assert_eq!(st.ctime.sec, T0 + 5);
    assert_eq!((st.mtime, st.atime), (before.mtime, before.atime));
    clock.advance(5);
    f.set_owner(Some(3), None).unwrap();
    let st = f.stat();
    assert_eq!((st.uid, st.gid), (3, 0));
    assert_eq!(st.ctime.sec, T0 + 10);
    assert_eq!(st.mtime, before.mtime);
}

#[test]
fn set_times_omit_now_and_set() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    let t = Timespec { sec: 1000, nsec: 5 };
    clock.advance(3);
    f.set_times(TimeChange::Set(t), TimeChange::Omit).unwrap();
    let st = f.stat();
    assert_eq!(st.atime, t);
    assert_eq!(st.mtime.sec, T0);
    assert_eq!(st.ctime.sec, T0 + 3);
    clock.advance(3);
    f.set_times(TimeChange::Omit, TimeChange::Now).unwrap();
    let st = f.stat();
    assert_eq!(st.atime, t);
    assert_eq!(st.mtime.sec, T0 + 6);
    assert_eq!(st.ctime.sec, T0 + 6);
    // Both UTIME_OMIT: nothing changes, not even ctime (do_utimes returns early).
    clock.advance(3);
    f.set_times(TimeChange::Omit, TimeChange::Omit).unwrap();
    assert_eq!(f.stat(), st);
}

#[test]
fn relatime_moves_atime_only_when_stale() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"data");
    let mut buf = [0; 4];
    // atime == mtime: the first read moves it.
    clock.advance(1);
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(f.stat().atime.sec, T0 + 1);
    // Now newer than mtime and ctime: a second read leaves it.
    clock.advance(1);
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(f.stat().atime.sec, T0 + 1);
    // A write makes it stale again.
    clock.advance(1);
    f.write_at(0, b"D").unwrap();
    clock.advance(1);
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(f.stat().atime.sec, T0 + 4);
    // A day later it moves even without a change.
    clock.advance(24 * 60 * 60);
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(f.stat().atime.sec, clock.now_sec());
}

#[test]
fn create_and_remove_move_the_parents_times() {
    let (clock, root) = tmpfs();
    let d = mkdir(&root, "d");
    clock.advance(7);
    mkfile(&d, "f", b"");
    assert_eq!(d.stat().mtime.sec, T0 + 7);
    assert_eq!(d.stat().ctime.sec, T0 + 7);
    clock.advance(7);
    d.unlink(b"f").unwrap();
    assert_eq!(d.stat().mtime.sec, T0 + 14);
}

#[test]
fn setgid_directory_passes_its_group_on() {
    let (_, root) = tmpfs();
    let d = root
        .create(b"d", NewNode::Directory, 0o2775, 0, 50)
        .unwrap();
    let f = d.create(b"f", NewNode::Regular, 0o644, 1000, 1000).unwrap();
    assert_eq!(f.stat().gid, 50);
    let sub = d
        .create(b"s", NewNode::Directory, 0o755, 1000, 1000)
        .unwrap();
    assert_eq!(sub.stat().gid, 50);
    assert_eq!(sub.stat().mode & S_ISGID, S_ISGID);
}

#[test]
fn enospc_when_the_byte_limit_is_reached() {
    let fx = Fx::with_options(TmpfsOptions {
        max_bytes: 2 * 4096,
        ..TmpfsOptions::default()
    });
    let f = mkfile(&fx.root, "f", b"");
    // Three pages asked for, two fit: a short write, then ENOSPC.
    assert_eq!(f.write_at(0, &[1; 3 * 4096]), Ok(2 * 4096));
    assert_eq!(err(f.write_at(2 * 4096, b"x")), Errno::ENOSPC);
    // Overwriting allocated pages still works.
    assert_eq!(f.write_at(0, b"yy"), Ok(2));
    let sfs = f.statfs();
    assert_eq!((sfs.blocks, sfs.bfree), (2, 0));
    assert_eq!(err(f.allocate(2 * 4096, 4096, false)), Errno::ENOSPC);
    // Freeing pages makes room again.
    f.truncate(0).unwrap();
    assert_eq!(f.statfs().bfree, 2);
    assert_eq!(f.write_at(0, &[1; 4096]), Ok(4096));
    // Dropping the last reference to an unlinked file frees its pages.
    fx.root.unlink(b"f").unwrap();
    drop(f);
    assert_eq!(fx.root.statfs().bfree, 2);
}

#[test]
fn enospc_when_the_inode_limit_is_reached() {
    let fx = Fx::with_options(TmpfsOptions {
        max_inodes: 4, // the root, /mnt and two more
        ..TmpfsOptions::default()
    });
    mkfile(&fx.root, "a", b"");
    mkdir(&fx.root, "b");
    for node in [NewNode::Regular, NewNode::Directory, NewNode::Fifo] {
        assert_eq!(err(fx.root.create(b"c", node, 0o644, 0, 0)), Errno::ENOSPC);
    }
    assert_eq!(
        err(create_unnamed(&fx.root, 0o600, 0, 0, true)),
        Errno::ENOSPC
    );
    assert_eq!(fx.root.statfs().ffree, 0);
    // Hard links take no inode.
    let a = fx.root.lookup(&fx.su, b"a").unwrap();
    fx.root.link(b"a2", &a).unwrap();
    fx.root.rmdir(b"b").unwrap();
    mkfile(&fx.root, "c", b"");
}

#[test]
fn tmpfile_can_be_linked_once() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let t = create_unnamed(&root, 0o600, 0, 0, true).unwrap();
    assert_eq!(t.stat().nlink, 0);
    assert_eq!(t.stat().mode, S_IFREG | 0o600);
    t.write_at(0, b"tmp").unwrap();
    assert!(!names(&root, &cx).iter().any(|n| n.starts_with(b"t")));
    // A failed link does not use the one link up.
    mkfile(&root, "taken", b"");
    assert_eq!(err(root.link(b"taken", &t)), Errno::EEXIST);
    root.link(b"named", &t).unwrap();
    assert_eq!(t.stat().nlink, 1);
    assert_eq!(contents(&root.lookup(&cx, b"named").unwrap()), b"tmp");
    // Once linked and unlinked again, it is an ordinary deleted file.
    root.unlink(b"named").unwrap();
    assert_eq!(err(root.link(b"again", &t)), Errno::ENOENT);
}

#[test]
fn tmpfile_with_excl_is_never_linkable() {
    let (_, root) = tmpfs();
    let t = create_unnamed(&root, 0o600, 0, 0, false).unwrap();
    assert_eq!(err(root.link(b"x", &t)), Errno::ENOENT);
    let f = mkfile(&root, "f", b"");
    assert_eq!(err(create_unnamed(&f, 0o600, 0, 0, true)), Errno::ENOTDIR);
}

#[test]
fn statfs_reports_tmpfs() {
    let (_, root) = tmpfs();
    let s = root.statfs();
    assert_eq!(s.fs_type, TMPFS_MAGIC);
    assert_eq!(s.bsize, 4096);
    assert_eq!(s.namelen, 255);
    assert_eq!(s.blocks, (1 << 30) / 4096);
}

#[test]
fn each_tmpfs_has_its_own_device_number() {
    let (_, a) = tmpfs();
    let (_, b) = tmpfs();
    assert_ne!(a.stat().dev, b.stat().dev);
    assert_eq!(major(a.stat().dev), 0);
    assert_eq!(a.stat().ino, 1);
}
