//! Directory listing: order, positions that survive changes during a listing, the `..` entry,
//! getdents through an open directory, and a directory of 100,000 entries.

use super::*;
use crate::file::{SEEK_CUR, SEEK_END, SEEK_SET};
use crate::types::oflags::*;

#[test]
fn dot_and_dotdot_then_newest_first() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let d = mkdir(&root, "d");
    for n in ["a", "b", "c"] {
        mkfile(&d, n, b"");
    }
    mkdir(&d, "e");
    assert_eq!(names_str(&d, &cx), [".", "..", "e", "c", "b", "a"]);
    // Types and inode numbers are the entries'.
    let (dot, _) = d.readdir(&cx, 0).unwrap().unwrap();
    assert_eq!((dot.ino, dot.kind), (d.stat().ino, FileType::Directory));
    let (e, _) = d.readdir(&cx, 2).unwrap().unwrap();
    assert_eq!(e.kind, FileType::Directory);
    assert_eq!(e.ino, d.lookup(&cx, b"e").unwrap().stat().ino);
    let (_, after_e) = d.readdir(&cx, 2).unwrap().unwrap();
    let (c, _) = d.readdir(&cx, after_e).unwrap().unwrap();
    assert_eq!((c.name.as_slice(), c.kind), (&b"c"[..], FileType::Regular));
}

#[test]
fn dotdot_is_the_parent_and_the_root_is_its_own() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let a = mkdir(&root, "a");
    let b = mkdir(&a, "b");
    let dotdot = |d: &Arc<dyn Inode>| {
        let (e, next) = d.readdir(&cx, 1).unwrap().unwrap();
        assert_eq!((e.name.as_slice(), next), (&b".."[..], 2));
        e.ino
    };
    assert_eq!(dotdot(&b), a.stat().ino);
    assert_eq!(dotdot(&a), root.stat().ino);
    assert_eq!(dotdot(&root), root.stat().ino);
}

#[test]
fn a_renamed_entry_lists_as_new() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    mkfile(&root, "a", b"");
    mkfile(&root, "b", b"");
    root.rename(b"a", &root, b"z", 0).unwrap();
    assert_eq!(names_str(&root, &cx), [".", "..", "z", "b"]);
}

#[test]
fn positions_stay_valid_while_entries_come_and_go() {
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    for n in ["a", "b", "c", "d", "e"] {
        mkfile(&root, n, b"");
    }
    // Read ".", "..", "e".
    let mut pos = 0;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (e, next) = root.readdir(&cx, pos).unwrap().unwrap();
        seen.push(e.name);
        pos = next;
    }
    // Remove the next two, one already listed, and add one: the listing goes on with what is
    // left, each entry once.
    root.unlink(b"d").unwrap();
    root.unlink(b"c").unwrap();
    root.unlink(b"e").unwrap();
    mkfile(&root, "new", b"");
    while let Some((e, next)) = root.readdir(&cx, pos).unwrap() {
        seen.push(e.name);
        pos = next;
    }
    let seen: Vec<&[u8]> = seen.iter().map(|n| n.as_slice()).collect();
    assert_eq!(seen, [&b"."[..], b"..", b"e", b"b", b"a"]);
    // At the end it stays at the end.
    assert_eq!(root.readdir(&cx, pos).unwrap(), None);
    assert_eq!(root.readdir(&cx, u64::MAX).unwrap(), None);
}

#[test]
fn getdents_resumes_after_a_full_buffer() {
    let fx = Fx::new();
    let d = mkdir(&fx.root, "d");
    for i in 0..10 {
        mkfile(&d, &std::format!("f{i}"), b"");
    }
    let dir = fx.open("/d", O_RDONLY | O_DIRECTORY).unwrap();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        calls += 1;
        let mut batch = Vec::new();
        // A "buffer" with room for three entries: the fourth is refused.
        dir.getdents(&fx.su, |e, _next| {
            if batch.len() == 3 {
                return false;
            }
            batch.push(e.name.clone());
            true
        })
        .unwrap();
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    assert_eq!(calls, 5, "12 entries in batches of 3, then an empty call");
    let expect: Vec<Vec<u8>> = names(&d, &fx.su);
    assert_eq!(all, expect);
    assert_eq!(all.len(), 12);

    // Rewinding starts over; SEEK_CUR reports the position; SEEK_END is refused.
    assert_eq!(dir.seek(0, SEEK_SET), Ok(0));
    let mut first = None;
    dir.getdents(&fx.su, |e, _| {
        first = Some(e.name.clone());
        false
    })
    .unwrap();
    assert_eq!(first.as_deref(), Some(&b"."[..]));
    assert_eq!(
        dir.seek(0, SEEK_CUR),
        Ok(0),
        "a refused entry is not consumed"
    );
    assert_eq!(err(dir.seek(0, SEEK_END)), Errno::EINVAL);
}

#[test]
fn getdents_reports_each_entrys_next_position() {
    let fx = Fx::new();
    let d = mkdir(&fx.root, "d");
    mkfile(&d, "x", b"");
    mkfile(&d, "y", b"");
    let dir = fx.open("/d", O_RDONLY).unwrap();
    let mut offs = Vec::new();
    dir.getdents(&fx.su, |e, next| {
        offs.push((e.name.clone(), next));
        true
    })
    .unwrap();
    assert_eq!(offs.len(), 4);
    // Seeking to an entry's d_off resumes right after it.
    let (_, after_y) = offs[2].clone();
    assert_eq!(dir.seek(after_y as i64, SEEK_SET), Ok(after_y));
    let mut rest = Vec::new();
    dir.getdents(&fx.su, |e, _| {
        rest.push(e.name.clone());
        true
    })
    .unwrap();
    assert_eq!(rest, [b"x".to_vec()]);
}

#[test]
fn getdents_on_a_file_is_enotdir() {
    let fx = Fx::new();
    mkfile(&fx.root, "f", b"");
    let f = fx.open("/f", O_RDONLY).unwrap();
    assert_eq!(err(f.getdents(&fx.su, |_, _| true)), Errno::ENOTDIR);
}

#[test]
fn readdir_moves_atime_under_relatime() {
    let (clock, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let d = mkdir(&root, "d");
    clock.advance(5);
    names(&d, &cx);
    assert_eq!(d.stat().atime.sec, T0 + 5);
    assert_eq!(d.stat().mtime.sec, T0);
}

#[test]
fn a_directory_of_100000_entries() {
    const N: usize = 100_000;
    let (_, root) = tmpfs();
    let cx = caller(0, 0, &root);
    let d = mkdir(&root, "big");
    for i in 0..N {
        d.create(
            std::format!("entry-{i}").as_bytes(),
            NewNode::Regular,
            0o644,
            0,
            0,
        )
        .unwrap();
    }
    assert_eq!(d.stat().size, 40 + 20 * N as u64);
    for i in (0..N).step_by(997) {
        let name = std::format!("entry-{i}");
        assert!(d.lookup(&cx, name.as_bytes()).is_ok(), "{name}");
    }
    assert_eq!(err(d.lookup(&cx, b"entry-100000")), Errno::ENOENT);
    let listed = names(&d, &cx);
    assert_eq!(listed.len(), N + 2);
    assert_eq!(listed[2], std::format!("entry-{}", N - 1).into_bytes());
    assert_eq!(listed[N + 1], b"entry-0");
    for i in 0..N {
        d.unlink(std::format!("entry-{i}").as_bytes()).unwrap();
    }
    assert_eq!(names(&d, &cx).len(), 2);
    assert_eq!(d.stat().size, 40);
    root.rmdir(b"big").unwrap();
}
