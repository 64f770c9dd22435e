//! Overlay renames and hard links across layers, with POSIX semantics where Docker's
//! overlay2 differs (renaming a lower directory works; copy-up keeps hard links whole).

use super::*;

#[test]
fn renaming_a_lower_file_moves_it_and_whites_out_the_old_name() {
    let ov = Ov::new(image);
    let ino = ov.get("/etc/motd").unwrap().stat().ino;
    let etc = ov.get("/etc").unwrap();
    let data = ov.get("/data").unwrap();
    etc.rename(b"motd", &data, b"motd2", 0).unwrap();
    assert_eq!(err(ov.get("/etc/motd")), Errno::ENOENT);
    assert_eq!(ov.read("/data/motd2"), b"hello\n");
    assert_eq!(ov.get("/data/motd2").unwrap().stat().ino, ino);
    assert_eq!(ov.ls("/etc"), [".", "..", "passwd"]);
    // Back again: the name replaces the whiteout.
    data.rename(b"motd2", &etc, b"motd", 0).unwrap();
    assert_eq!(ov.read("/etc/motd"), b"hello\n");
    assert_eq!(ov.ls("/etc"), [".", "..", "motd", "passwd"]);
}

#[test]
fn renaming_a_lower_directory_keeps_its_lower_contents() {
    let ov = Ov::new(image);
    let (data, _) = ov.parent("/data/sub");
    let ino = ov.get("/data/sub").unwrap().stat().ino;
    data.rename(b"sub", &ov.root, b"moved", 0).unwrap();
    assert_eq!(ov.read("/moved/deep"), b"deep");
    assert_eq!(ov.get("/moved").unwrap().stat().ino, ino);
    assert_eq!(err(ov.get("/data/sub")), Errno::ENOENT);
    assert_eq!(ov.ls("/data"), [".", "..", "a", "b"]);
    // `..` and the path follow the directory.
    let moved = ov.get("/moved").unwrap();
    assert_eq!(ov.vfs.path_of(&ov.cx, &moved).unwrap(), b"/moved");
    assert_eq!(ov.get("/moved/../etc/motd").map(|_| ()), Ok(()));
    // A whole lower tree moves, and then over a lower directory that is empty.
    assert_eq!(
        err(ov.root.rename(b"empty", &ov.root, b"data", 0)),
        Errno::ENOTEMPTY
    );
    ov.get("/data").unwrap().unlink(b"a").unwrap();
    ov.get("/data").unwrap().unlink(b"b").unwrap();
    ov.root.rename(b"data", &ov.root, b"empty", 0).unwrap();
    assert_eq!(ov.ls("/empty"), [".", ".."]);
    assert_eq!(err(ov.get("/data")), Errno::ENOENT);
    // A directory made where the old name was is opaque.
    ov.root
        .create(b"data", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    assert_eq!(ov.ls("/data"), [".", ".."]);
}

#[test]
fn rename_errors_follow_linux() {
    let ov = Ov::new(image);
    let data = ov.get("/data").unwrap();
    let sub = ov.get("/data/sub").unwrap();
    assert_eq!(err(data.rename(b"sub", &sub, b"x", 0)), Errno::EINVAL);
    assert_eq!(err(ov.root.rename(b"data", &sub, b"x", 0)), Errno::EINVAL);
    assert_eq!(err(data.rename(b"a", &ov.root, b"etc", 0)), Errno::EISDIR);
    assert_eq!(err(ov.root.rename(b"etc", &data, b"a", 0)), Errno::ENOTDIR);
    assert_eq!(
        err(ov.root.rename(b"etc", &ov.root, b"data", 0)),
        Errno::ENOTEMPTY
    );
    let noreplace = RENAME_NOREPLACE;
    assert_eq!(
        err(data.rename(b"a", &data, b"sub", noreplace)),
        Errno::EEXIST
    );
    assert_eq!(err(data.rename(b"nope", &data, b"x", 0)), Errno::ENOENT);
    assert_eq!(
        err(data.rename(b"a", &data, b"x", RENAME_WHITEOUT)),
        Errno::EINVAL
    );
    // a and b are one file: renaming one onto the other does nothing.
    data.rename(b"a", &data, b"b", 0).unwrap();
    assert_eq!(ov.ls("/data"), [".", "..", "a", "b", "sub"]);
    assert_eq!(contents(&ov.lower_get("data/a").unwrap()), b"shared");
}

#[test]
fn rename_replaces_and_exchanges_across_layers() {
    let ov = Ov::new(image);
    let etc = ov.get("/etc").unwrap();
    let new = etc.create(b"new", NewNode::Regular, 0o644, 0, 0).unwrap();
    new.write_at(0, b"N").unwrap();
    etc.rename(b"new", &etc, b"motd", 0).unwrap();
    assert_eq!(ov.read("/etc/motd"), b"N");
    assert_eq!(ov.ls("/etc"), [".", "..", "motd", "passwd"]);
    etc.rename(b"motd", &etc, b"passwd", RENAME_EXCHANGE)
        .unwrap();
    assert_eq!(ov.read("/etc/passwd"), b"N");
    assert_eq!(ov.read("/etc/motd"), b"root:x:0:0\n");
    etc.rename(b"motd", &ov.root, b"data", RENAME_EXCHANGE)
        .unwrap();
    assert_eq!(ov.read("/data"), b"root:x:0:0\n");
    assert_eq!(ov.read("/etc/motd/sub/deep"), b"deep");
}

#[test]
fn hard_links_across_layers_are_one_file() {
    let ov = Ov::new(image);
    let f = ov.get("/etc/passwd").unwrap();
    let ino = f.stat().ino;
    let data = ov.get("/data").unwrap();
    data.link(b"pw", &f).unwrap();
    let pw = ov.get("/data/pw").unwrap();
    assert_eq!(pw.stat().ino, ino);
    assert_eq!(pw.stat().nlink, 2);
    pw.write_at(0, b"X").unwrap();
    assert_eq!(ov.read("/etc/passwd"), b"Xoot:x:0:0\n");
    ov.get("/etc").unwrap().unlink(b"passwd").unwrap();
    assert_eq!(pw.stat().nlink, 1);
    assert_eq!(err(data.link(b"pw", &pw)), Errno::EEXIST);
    assert_eq!(err(data.link(b"d", &ov.get("/etc").unwrap())), Errno::EPERM);
}

#[test]
fn lower_hard_links_stay_one_file_after_copy_up() {
    let ov = Ov::new(image);
    let a = ov.get("/data/a").unwrap();
    let b_ino = ov.get("/data/b").unwrap().stat().ino;
    assert_eq!(a.stat().ino, b_ino);
    assert_eq!(a.stat().nlink, 2);
    a.write_at(0, b"S").unwrap();
    drop(a);
    // Found again by the name that was never copied up, and by the one that was.
    assert_eq!(ov.read("/data/b"), b"Shared");
    assert_eq!(ov.read("/data/a"), b"Shared");
    assert_eq!(ov.get("/data/b").unwrap().stat().nlink, 2);
    ov.get("/data/b").unwrap().write_at(1, b"H").unwrap();
    assert_eq!(ov.read("/data/a"), b"SHared");
    // Removing the lower-only name drops the count; renaming the other keeps the file.
    let data = ov.get("/data").unwrap();
    data.unlink(b"b").unwrap();
    assert_eq!(ov.get("/data/a").unwrap().stat().nlink, 1);
    data.rename(b"a", &ov.root, b"a", 0).unwrap();
    assert_eq!(ov.read("/a"), b"SHared");
    assert_eq!(ov.get("/a").unwrap().stat().ino, b_ino);
    assert_eq!(ov.ls("/data"), [".", "..", "sub"]);
}

#[test]
fn unlinking_one_lower_hard_link_keeps_the_other() {
    let ov = Ov::new(image);
    let data = ov.get("/data").unwrap();
    data.unlink(b"a").unwrap();
    let b = ov.get("/data/b").unwrap();
    assert_eq!(b.stat().nlink, 1);
    assert_eq!(ov.read("/data/b"), b"shared");
    data.rename(b"b", &data, b"c", 0).unwrap();
    assert_eq!(ov.get("/data/c").unwrap().stat().nlink, 1);
    assert_eq!(ov.ls("/data"), [".", "..", "c", "sub"]);
}

#[test]
fn a_file_unlinked_while_open_can_still_change() {
    let ov = Ov::new(image);
    let f = ov.get("/etc/motd").unwrap();
    ov.get("/etc").unwrap().unlink(b"motd").unwrap();
    f.set_mode(0o600).unwrap();
    assert_eq!(f.stat().mode & 0o777, 0o600);
    assert_eq!(contents(&f), b"hello\n");
    assert_eq!(err(ov.get("/etc/motd")), Errno::ENOENT);
}

#[test]
fn o_tmpfile_in_an_overlay_directory_can_be_linked_in() {
    let ov = Ov::new(image);
    let etc = ov.get("/etc").unwrap();
    let f = crate::tmpfs::create_unnamed(&etc, 0o640, 0, 0, true).unwrap();
    assert_eq!((f.stat().nlink, f.stat().dev), (0, ov.root.stat().dev));
    f.write_at(0, b"tmp").unwrap();
    etc.link(b"made", &f).unwrap();
    assert_eq!(ov.read("/etc/made"), b"tmp");
    assert_eq!(ov.get("/etc/made").unwrap().stat().ino, f.stat().ino);
    assert_eq!(f.stat().nlink, 1);
    let once = crate::tmpfs::create_unnamed(&etc, 0o640, 0, 0, false).unwrap();
    assert_eq!(err(etc.link(b"never", &once)), Errno::ENOENT);
}
