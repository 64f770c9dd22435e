//! The cpio writer's output read back: by the reader, field for field, and by the unpacker
//! into a tmpfs (names, modes, symbolic links, contents, empty files, long names).

use alloc::string::String;
use alloc::vec;

use super::*;
use crate::cpio::{Archive, Header, Reader};
use crate::unpack::unpack;

/// Data of every length 0..=8 (each padding case twice) and one of several pages.
fn data_of(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + len) as u8).collect()
}

/// A 255-byte name component (NAME_MAX) and a path of 16 such components below `deep`.
fn long_names() -> (String, String) {
    let long: String = "n".repeat(254) + "x";
    let mut deep = String::from("deep");
    for _ in 0..15 {
        deep.push('/');
        deep.push_str(&long);
    }
    (long, deep)
}

#[test]
fn the_reader_gets_back_every_field_the_writer_wrote() {
    let (long, deep) = long_names();
    let big = data_of(3 * 4096 + 5);
    let mut headers = vec![];
    let mut datas: Vec<Vec<u8>> = vec![];
    let names: Vec<String> = (0..=8)
        .map(|n| alloc::format!("f{}", "x".repeat(n)))
        .chain([long.clone(), deep.clone(), String::from("big")])
        .collect();
    for (i, name) in names.iter().enumerate() {
        let data = match name.as_str() {
            "big" => big.clone(),
            _ => data_of(i % 9),
        };
        datas.push(data);
        headers.push(Header {
            name: name.as_bytes(),
            ino: 100 + i as u32,
            mode: 0o100_000 | (0o4000 + i as u32),
            uid: i as u32,
            gid: 1000 + i as u32,
            nlink: 1,
            mtime: 0xfff0_0000 + i as u32,
            filesize: datas[i].len() as u32,
        });
    }
    let mut a = Archive::new();
    for (h, d) in headers.iter().zip(&datas) {
        a.add(h, d).unwrap();
    }
    let bytes = a.finish();
    assert_eq!(bytes.len() % 4, 0);
    let read: Vec<_> = Reader::new(&bytes).map(|e| e.unwrap()).collect();
    assert_eq!(read.len(), headers.len());
    for ((e, h), d) in read.iter().zip(&headers).zip(&datas) {
        assert_eq!(e.name, h.name);
        assert_eq!(
            (e.ino, e.mode, e.uid, e.gid, e.nlink, e.mtime),
            (h.ino, h.mode, h.uid, h.gid, h.nlink, h.mtime)
        );
        assert_eq!(e.data, &d[..]);
    }
}

#[test]
fn the_unpacker_builds_the_tree_the_writer_described() {
    let (long, deep) = long_names();
    let big = data_of(2 * 4096 + 3);
    let mut a = Archive::new();
    a.entry(b"bin", 0o040_755, b"").unwrap();
    a.entry(b"bin/busybox", 0o104_755, &big).unwrap();
    a.entry(b"bin/sh", 0o120_777, b"busybox").unwrap();
    a.entry(b"abs", 0o120_777, b"/bin/busybox").unwrap();
    a.entry(b"tmp", 0o041_777, b"").unwrap();
    a.entry(b"empty", 0o100_600, b"").unwrap();
    a.entry(b"odd", 0o100_644, b"abc").unwrap();
    a.entry(long.as_bytes(), 0o100_640, b"long").unwrap();
    a.entry(deep.as_bytes(), 0o100_400, b"deep").unwrap();
    let fx = Fx::new();
    unpack(&fx.root, &fx.su, &a.finish(), |_| true).unwrap();

    let mode = |path: &str| fx.get(path).unwrap().stat().mode;
    assert_eq!(mode("/bin"), S_IFDIR | 0o755);
    assert_eq!(mode("/tmp"), S_IFDIR | 0o1777);
    assert_eq!(mode("/bin/busybox"), S_IFREG | 0o4755);
    assert_eq!(contents(&fx.get("/bin/busybox").unwrap()), big);
    for (link, target) in [("/bin/sh", &b"busybox"[..]), ("/abs", b"/bin/busybox")] {
        let at = fx.vfs.resolve(&fx.su, &fx.root, link.as_bytes(), false);
        let inode = at.unwrap().inode.unwrap();
        assert_eq!(inode.stat().mode, S_IFLNK | 0o777);
        assert_eq!(inode.readlink(&fx.su).unwrap(), target);
        // Followed, both reach the file.
        assert_eq!(
            fx.get(link).unwrap().stat().ino,
            fx.get("/bin/busybox").unwrap().stat().ino
        );
    }
    let empty = fx.get("/empty").unwrap();
    assert_eq!((empty.stat().mode, empty.stat().size), (S_IFREG | 0o600, 0));
    assert_eq!(contents(&fx.get("/odd").unwrap()), b"abc");
    let long_file = fx.get(&alloc::format!("/{long}")).unwrap();
    assert_eq!(
        (long_file.stat().mode, contents(&long_file)),
        (S_IFREG | 0o640, b"long".to_vec())
    );
    let deep_file = fx.get(&alloc::format!("/{deep}")).unwrap();
    assert_eq!(contents(&deep_file), b"deep");
    assert_eq!(deep_file.stat().mode, S_IFREG | 0o400);
}
