//! tmpfs rename: plain moves, replacing, the errors in Linux's order, RENAME_NOREPLACE and
//! RENAME_EXCHANGE, and the link counts and parents that follow a directory around.

use super::*;

fn ino(dir: &Arc<dyn Inode>, name: &str) -> Result<u64> {
    dir.lookup(&caller(0, 0, dir), name.as_bytes())
        .map(|i| i.stat().ino)
}

#[test]
fn plain_rename_within_and_across_directories() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "a", b"1");
    let d = mkdir(&root, "d");
    clock.advance(4);
    root.rename(b"a", &root, b"b", 0).unwrap();
    assert_eq!(err(ino(&root, "a")), Errno::ENOENT);
    assert_eq!(ino(&root, "b"), Ok(f.stat().ino));
    assert_eq!(f.stat().ctime.sec, T0 + 4);
    assert_eq!(root.stat().mtime.sec, T0 + 4);
    clock.advance(4);
    root.rename(b"b", &d, b"c", 0).unwrap();
    assert_eq!(ino(&d, "c"), Ok(f.stat().ino));
    assert_eq!(err(ino(&root, "b")), Errno::ENOENT);
    assert_eq!(d.stat().mtime.sec, T0 + 8);
    assert_eq!(root.stat().mtime.sec, T0 + 8);
    assert_eq!(d.stat().size, 60);
}

#[test]
fn rename_replaces_a_file() {
    let (_, root) = tmpfs();
    let a = mkfile(&root, "a", b"new");
    let b = mkfile(&root, "b", b"old");
    root.rename(b"a", &root, b"b", 0).unwrap();
    assert_eq!(ino(&root, "b"), Ok(a.stat().ino));
    assert_eq!(err(ino(&root, "a")), Errno::ENOENT);
    assert_eq!(b.stat().nlink, 0);
    assert_eq!(contents(&b), b"old", "the replaced file lives while open");
    assert_eq!(root.stat().size, 40 + 20);
}

#[test]
fn rename_replaces_an_empty_directory() {
    let (_, root) = tmpfs();
    let p = mkdir(&root, "p");
    let a = mkdir(&p, "a");
    let b = mkdir(&p, "b");
    mkfile(&a, "inside", b"");
    assert_eq!(p.stat().nlink, 4);
    p.rename(b"a", &p, b"b", 0).unwrap();
    assert_eq!(ino(&p, "b"), Ok(a.stat().ino));
    assert_eq!(p.stat().nlink, 3);
    assert!(b.is_removed());
    assert_eq!(b.stat().nlink, 0);
    assert!(ino(&a, "inside").is_ok());
}

#[test]
fn rename_errors() {
    let (_, root) = tmpfs();
    let d = mkdir(&root, "d");
    let full = mkdir(&root, "full");
    mkfile(&full, "x", b"");
    mkfile(&root, "f", b"");
    let sub = mkdir(&d, "sub");
    assert_eq!(err(root.rename(b"missing", &root, b"z", 0)), Errno::ENOENT);
    assert_eq!(err(root.rename(b"d", &root, b"full", 0)), Errno::ENOTEMPTY);
    assert_eq!(err(root.rename(b"f", &root, b"d", 0)), Errno::EISDIR);
    assert_eq!(err(root.rename(b"d", &root, b"f", 0)), Errno::ENOTDIR);
    // A directory into its own subtree.
    assert_eq!(err(root.rename(b"d", &sub, b"x", 0)), Errno::EINVAL);
    assert_eq!(err(root.rename(b"d", &d, b"x", 0)), Errno::EINVAL);
    // ... which Linux reports before looking at the target (the trap check in do_renameat2).
    mkfile(&sub, "file", b"");
    mkdir(&sub, "nonempty");
    mkfile(
        &sub.lookup(&caller(0, 0, &root), b"nonempty").unwrap(),
        "y",
        b"",
    );
    assert_eq!(err(root.rename(b"d", &sub, b"file", 0)), Errno::EINVAL);
    assert_eq!(err(root.rename(b"d", &sub, b"nonempty", 0)), Errno::EINVAL);
    // A target that is an ancestor of the source: ENOTEMPTY, whatever the source is.
    mkfile(&sub, "deep", b"");
    assert_eq!(err(sub.rename(b"deep", &root, b"d", 0)), Errno::ENOTEMPTY);
    assert_eq!(
        err(sub.rename(b"nonempty", &root, b"d", 0)),
        Errno::ENOTEMPTY
    );
    // Nothing moved.
    assert!(ino(&root, "d").is_ok() && ino(&root, "f").is_ok());
    assert_eq!(d.stat().nlink, 3);
}

#[test]
fn rename_across_filesystems_is_exdev() {
    let fx = Fx::new();
    mkfile(&fx.root, "f", b"");
    assert_eq!(err(fx.root.rename(b"f", &fx.mnt, b"f", 0)), Errno::EXDEV);
    // A file as the new directory, on the same filesystem, is no directory at all.
    let file = fx.get("/f").unwrap();
    assert_eq!(err(fx.root.rename(b"f", &file, b"g", 0)), Errno::ENOTDIR);
}

#[test]
fn rename_into_a_removed_directory_is_enoent() {
    let (_, root) = tmpfs();
    mkfile(&root, "f", b"");
    let gone = mkdir(&root, "gone");
    root.rmdir(b"gone").unwrap();
    assert_eq!(err(root.rename(b"f", &gone, b"f", 0)), Errno::ENOENT);
}

#[test]
fn noreplace_refuses_an_existing_target() {
    let (_, root) = tmpfs();
    let a = mkfile(&root, "a", b"");
    mkfile(&root, "b", b"");
    assert_eq!(
        err(root.rename(b"a", &root, b"b", RENAME_NOREPLACE)),
        Errno::EEXIST
    );
    // Even onto itself or another name of the same inode (EEXIST comes first in Linux).
    assert_eq!(
        err(root.rename(b"a", &root, b"a", RENAME_NOREPLACE)),
        Errno::EEXIST
    );
    root.link(b"a2", &a).unwrap();
    assert_eq!(
        err(root.rename(b"a", &root, b"a2", RENAME_NOREPLACE)),
        Errno::EEXIST
    );
    root.rename(b"a", &root, b"c", RENAME_NOREPLACE).unwrap();
    assert_eq!(ino(&root, "c"), Ok(a.stat().ino));
}

#[test]
fn rename_onto_the_same_inode_is_a_no_op() {
    let (clock, root) = tmpfs();
    let a = mkfile(&root, "a", b"");
    root.link(b"b", &a).unwrap();
    let before = (root.stat(), a.stat());
    clock.advance(1);
    root.rename(b"a", &root, b"b", 0).unwrap();
    root.rename(b"a", &root, b"a", 0).unwrap();
    let d = mkdir(&root, "d");
    root.rename(b"d", &root, b"d", 0).unwrap();
    assert_eq!(ino(&root, "a"), Ok(a.stat().ino));
    assert_eq!(ino(&root, "b"), Ok(a.stat().ino));
    assert_eq!(a.stat(), before.1);
    assert_eq!(root.stat().nlink, before.0.nlink + 1);
    assert_eq!(d.stat().nlink, 2);
}

#[test]
fn moving_a_directory_updates_link_counts_and_parent() {
    let fx = Fx::new();
    let a = mkdir(&fx.root, "a");
    let b = mkdir(&fx.root, "b");
    let d = mkdir(&a, "d");
    assert_eq!((a.stat().nlink, b.stat().nlink), (3, 2));
    a.rename(b"d", &b, b"moved", 0).unwrap();
    assert_eq!((a.stat().nlink, b.stat().nlink), (2, 3));
    // `..` and getcwd follow it.
    assert_eq!(d.readdir(&fx.su, 1).unwrap().unwrap().0.ino, b.stat().ino);
    assert_eq!(fx.vfs.path_of(&fx.su, &d).unwrap(), b"/b/moved");
}

#[test]
fn exchange_swaps_two_files() {
    let (_, root) = tmpfs();
    let a = mkfile(&root, "a", b"A");
    let b = mkfile(&root, "b", b"B");
    root.rename(b"a", &root, b"b", RENAME_EXCHANGE).unwrap();
    assert_eq!(ino(&root, "a"), Ok(b.stat().ino));
    assert_eq!(ino(&root, "b"), Ok(a.stat().ino));
    assert_eq!((a.stat().nlink, b.stat().nlink), (1, 1));
    assert_eq!(root.stat().size, 40 + 40);
}

#[test]
fn exchange_file_and_directory_across_directories() {
    let fx = Fx::new();
    let p = mkdir(&fx.root, "p");
    let q = mkdir(&fx.root, "q");
    let f = mkfile(&p, "f", b"");
    let d = mkdir(&q, "d");
    assert_eq!((p.stat().nlink, q.stat().nlink), (2, 3));
    p.rename(b"f", &q, b"d", RENAME_EXCHANGE).unwrap();
    assert_eq!(ino(&p, "f"), Ok(d.stat().ino));
    assert_eq!(ino(&q, "d"), Ok(f.stat().ino));
    // The directory moved from q to p.
    assert_eq!((p.stat().nlink, q.stat().nlink), (3, 2));
    assert_eq!(fx.vfs.path_of(&fx.su, &d).unwrap(), b"/p/f");
    assert_eq!(d.readdir(&fx.su, 1).unwrap().unwrap().0.ino, p.stat().ino);
    assert_eq!(f.stat().nlink, 1);
    assert_eq!(d.stat().nlink, 2);
}

#[test]
fn exchange_two_directories_across_parents_keeps_counts() {
    let fx = Fx::new();
    let p = mkdir(&fx.root, "p");
    let q = mkdir(&fx.root, "q");
    let a = mkdir(&p, "a");
    let b = mkdir(&q, "b");
    p.rename(b"a", &q, b"b", RENAME_EXCHANGE).unwrap();
    assert_eq!((p.stat().nlink, q.stat().nlink), (3, 3));
    assert_eq!(fx.vfs.path_of(&fx.su, &a).unwrap(), b"/q/b");
    assert_eq!(fx.vfs.path_of(&fx.su, &b).unwrap(), b"/p/a");
}

#[test]
fn exchange_errors() {
    let (_, root) = tmpfs();
    let d = mkdir(&root, "d");
    let sub = mkdir(&d, "sub");
    mkfile(&root, "f", b"");
    assert_eq!(
        err(root.rename(b"f", &root, b"missing", RENAME_EXCHANGE)),
        Errno::ENOENT
    );
    assert_eq!(
        err(root.rename(b"missing", &root, b"f", RENAME_EXCHANGE)),
        Errno::ENOENT
    );
    // Neither may end up inside itself.
    assert_eq!(
        err(root.rename(b"d", &d, b"sub", RENAME_EXCHANGE)),
        Errno::EINVAL
    );
    assert_eq!(
        err(d.rename(b"sub", &root, b"d", RENAME_EXCHANGE)),
        Errno::EINVAL
    );
    assert_eq!(ino(&d, "sub"), Ok(sub.stat().ino));
    // Exchanging a name with itself changes nothing.
    root.rename(b"f", &root, b"f", RENAME_EXCHANGE).unwrap();
    assert!(ino(&root, "f").is_ok());
}
