use super::*;
use crate::image::fixture::{gzip, zstd, Layer};

fn applied(layers: &[Vec<u8>]) -> Result<FsTree, LayerError> {
    let mut tree = FsTree::default();
    for layer in layers {
        apply(&mut tree, decompress(layer.as_slice()).unwrap())?;
    }
    Ok(tree)
}

fn names(tree: &FsTree) -> Vec<String> {
    tree.iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect()
}

fn data(tree: &FsTree, key: &str) -> Vec<u8> {
    match tree.get(key.as_bytes()) {
        Some(Node::File(f)) => f.data.clone(),
        other => panic!("{key}: {other:?}"),
    }
}

#[test]
fn entries_keep_their_kind_mode_owner_and_mtime() {
    let layer = Layer::default()
        .dir("etc", 0o755)
        .file_owned("etc/shadow", 0o640, 0, 42, b"secret")
        .file("usr/bin/su", 0o4755, b"\x7fELF")
        .dir("tmp", 0o1777)
        .symlink("bin", "usr/bin")
        .hardlink("usr/bin/su2", "usr/bin/su")
        .special("dev/null", tar::EntryType::Char)
        .special("dev/sda", tar::EntryType::Block)
        .special("run/fifo", tar::EntryType::Fifo)
        .tar();
    let tree = applied(&[layer]).unwrap();
    let meta = |k: &str| tree.get(k.as_bytes()).unwrap().meta().clone();
    assert_eq!(
        meta("etc/shadow"),
        Meta {
            perm: 0o640,
            uid: 0,
            gid: 42,
            mtime: 1_700_000_000,
            xattrs: crate::xattrs::Xattrs::NONE,
        }
    );
    assert_eq!(meta("usr/bin/su").perm, 0o4755);
    assert_eq!(meta("tmp").perm, 0o1777);
    // Parents missing from the layer are made as Docker makes them.
    assert_eq!(meta("usr"), Meta::IMPLIED_DIR);
    assert!(matches!(tree.get(b"bin"), Some(Node::Symlink { target, .. }) if target == b"usr/bin"));
    let (Some(Node::File(a)), Some(Node::File(b))) =
        (tree.get(b"usr/bin/su"), tree.get(b"usr/bin/su2"))
    else {
        panic!()
    };
    assert!(Arc::ptr_eq(a, b), "hard links share one inode");
    assert!(matches!(
        tree.get(b"dev/null"),
        Some(Node::Device {
            block: false,
            major: 1,
            minor: 3,
            ..
        })
    ));
    assert!(matches!(
        tree.get(b"dev/sda"),
        Some(Node::Device { block: true, .. })
    ));
    assert!(matches!(tree.get(b"run/fifo"), Some(Node::Fifo(_))));
}

#[test]
fn whiteouts_and_opaque_directories() {
    let lower = Layer::default()
        .file("a/keep", 0o644, b"1")
        .file("a/gone", 0o644, b"2")
        .file("a/sub/deep", 0o644, b"3")
        .file("b/old", 0o644, b"4")
        .file("c", 0o644, b"5")
        .tar();
    let upper = Layer::default()
        .whiteout("a", "gone")
        .whiteout("a", "sub")
        .file("b/new", 0o644, b"6")
        .opaque("b")
        .whiteout("", "c")
        .file("a/.wh..wh.plnk", 0o644, b"")
        .tar();
    let tree = applied(&[lower, upper]).unwrap();
    assert_eq!(names(&tree), ["a", "a/keep", "b", "b/new"]);
}

#[test]
fn replacing_a_directory_with_a_file_and_back() {
    let lower = Layer::default()
        .file("x/inner", 0o644, b"1")
        .file("y", 0o644, b"2")
        .tar();
    let upper = Layer::default()
        .file("x", 0o600, b"now a file")
        .dir("y", 0o700)
        .file("y/z", 0o644, b"3")
        .tar();
    let tree = applied(&[lower, upper]).unwrap();
    assert_eq!(names(&tree), ["x", "y", "y/z"]);
    assert_eq!(data(&tree, "x"), b"now a file");
    // A directory over a directory keeps the lower contents.
    let again = Layer::default().dir("y", 0o755).tar();
    let tree2 = {
        let mut t = tree.clone();
        apply(&mut t, again.as_slice()).unwrap();
        t
    };
    assert_eq!(names(&tree2), ["x", "y", "y/z"]);
    assert_eq!(tree2.get(b"y").unwrap().meta().perm, 0o755);
}

#[test]
fn compressions() {
    let tar = Layer::default().file("f", 0o644, b"payload").tar();
    for stored in [tar.clone(), gzip(&tar), zstd(&tar)] {
        let tree = applied(&[stored]).unwrap();
        assert_eq!(data(&tree, "f"), b"payload");
    }
}

#[test]
fn hostile_names_are_refused_or_contained() {
    let dotdot = Layer::default()
        .raw(b"../../etc/evil", tar::EntryType::Regular, b"", b"x")
        .tar();
    let err = applied(&[dotdot]).unwrap_err().to_string();
    assert!(
        err.contains("../../etc/evil") && err.contains(".."),
        "{err}"
    );

    let inner = Layer::default()
        .raw(b"a/../../b", tar::EntryType::Regular, b"", b"x")
        .tar();
    assert!(applied(&[inner]).is_err());

    // An absolute name is relative to the image's root, as tar takes it.
    let absolute = Layer::default()
        .raw(b"/etc/passwd", tar::EntryType::Regular, b"", b"x")
        .tar();
    assert_eq!(names(&applied(&[absolute]).unwrap()), ["etc", "etc/passwd"]);

    let link_out = Layer::default()
        .raw(b"l", tar::EntryType::Link, b"../../etc/shadow", b"")
        .tar();
    let err = applied(&[link_out]).unwrap_err().to_string();
    assert!(err.contains("\"l\""), "{err}");
    let link_missing = Layer::default()
        .raw(b"l", tar::EntryType::Link, b"etc/shadow", b"")
        .tar();
    let err = applied(&[link_missing]).unwrap_err().to_string();
    assert!(err.contains("not in the image"), "{err}");
}

#[test]
fn writes_through_symlinks_stay_in_the_tree() {
    // An earlier layer's symlink pointing out of the root, absolutely and with `..`: a later
    // entry under it lands inside the tree, where the guest will see it.
    let lower = Layer::default()
        .symlink("esc", "/../../../tmp")
        .symlink("up", "../../..")
        .tar();
    let upper = Layer::default()
        .file("esc/x", 0o644, b"1")
        .file("up/y", 0o644, b"2")
        .tar();
    let tree = applied(&[lower, upper]).unwrap();
    assert_eq!(names(&tree), ["esc", "tmp", "tmp/x", "up", "y"]);
    // A symlink over a file in the parent path is "not a directory".
    let file_parent = Layer::default()
        .file("f", 0o644, b"")
        .file("f/x", 0o644, b"")
        .tar();
    assert!(applied(&[file_parent])
        .unwrap_err()
        .to_string()
        .contains("not a directory"));
    // A symlink loop is an error, not a hang.
    let looped = Layer::default()
        .symlink("a", "b")
        .symlink("b", "a")
        .file("a/x", 0o644, b"")
        .tar();
    assert!(applied(&[looped]).is_err());
}

#[test]
fn damaged_archives_are_errors() {
    let tar = Layer::default().file("f", 0o644, &[7; 5000]).tar();
    assert!(applied(&[tar[..3000].to_vec()]).is_err(), "truncated tar");
    let mut bad_sum = tar.clone();
    bad_sum[0] ^= 1;
    assert!(applied(&[bad_sum]).is_err(), "bad header checksum");
    let gz = gzip(&tar);
    assert!(
        applied(&[gz[..gz.len() / 2].to_vec()]).is_err(),
        "truncated gzip"
    );
}

#[test]
fn decompression_bombs_stop_at_the_limit() {
    let tar = Layer::default()
        .file("zeros", 0o644, &vec![0; 1 << 20])
        .tar();
    let bomb = gzip(&tar);
    assert!(bomb.len() < 10_000);
    let mut tree = FsTree::default();
    let limited = Limited::new(decompress(bomb.as_slice()).unwrap(), 64 << 10);
    let err = apply(&mut tree, limited).unwrap_err().to_string();
    assert!(err.contains("decompression bomb"), "{err}");
}

#[test]
fn layers_pack_into_the_initrd_in_order() {
    let layer = Layer::default()
        .dir("d", 0o750)
        .file("d/f", 0o644, b"data")
        .hardlink("d/g", "d/f")
        .symlink("s", "d/f")
        .special("dev/null", tar::EntryType::Char)
        .file(".coracle/argv", 0o644, b"spoof")
        .tar();
    let tree = applied(&[layer]).unwrap();
    let mut out = crate::cpio::CpioWriter::new(Vec::new());
    tree.write(&mut out).unwrap();
    let bytes = out.finish().unwrap();
    let mut seen = Vec::new();
    for entry in coracle_vfs::cpio::Reader::new(&bytes) {
        let e = entry.unwrap();
        seen.push((
            String::from_utf8_lossy(e.name).into_owned(),
            e.mode,
            e.nlink,
            e.data.to_vec(),
        ));
    }
    let names: Vec<&str> = seen.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, [".", "d", "d/f", "d/g", "dev", "s"]);
    assert_eq!(seen[1].1, 0o040750);
    assert_eq!((seen[2].2, seen[2].3.as_slice()), (2, &b"data"[..]));
    assert_eq!(
        (seen[3].2, seen[3].3.len()),
        (2, 0),
        "the later hard link carries no data"
    );
    assert!(tree
        .skipped_warning()
        .unwrap()
        .contains("dev/null (a character device)"));
}
