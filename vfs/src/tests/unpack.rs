//! Unpacking cpio `newc` archives built by the shared writer (`cpio/write.rs`).

use super::*;
use crate::cpio::{Archive, CpioError, Header};
use crate::unpack::{unpack, UnpackError, Unpacked};

const DIR: u32 = 0o040_000;
const REG: u32 = 0o100_000;
const LNK: u32 = 0o120_000;
const FIFO: u32 = 0o010_000;

/// One archive member, as the writer takes it.
#[derive(Clone, Copy)]
struct Member<'a> {
    name: &'a str,
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: u32,
    data: &'a [u8],
}

fn member<'a>(name: &'a str, mode: u32, mtime: u32, data: &'a [u8]) -> Member<'a> {
    Member {
        name,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        nlink: if mode & DIR == DIR { 2 } else { 1 },
        mtime,
        data,
    }
}

/// The two names of a hard-linked file, inode `ino`.
fn hard<'a>(name: &'a str, ino: u32, data: &'a [u8]) -> Member<'a> {
    Member {
        ino,
        nlink: 2,
        ..member(name, REG | 0o640, 500, data)
    }
}

/// A newc archive of `members`, each numbered if it has no inode number, then the trailer,
/// written by the shared writer.
fn archive(members: &[Member<'_>]) -> Vec<u8> {
    let mut out = Archive::new();
    for (i, m) in members.iter().enumerate() {
        let header = Header {
            name: m.name.as_bytes(),
            ino: if m.ino == 0 { 1000 + i as u32 } else { m.ino },
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            nlink: m.nlink,
            mtime: m.mtime,
            filesize: m.data.len() as u32,
        };
        out.add(&header, m.data).unwrap();
    }
    out.finish()
}

fn unpack_all(fx: &Fx, a: &[u8]) -> core::result::Result<Unpacked, UnpackError> {
    unpack(&fx.root, &fx.su, a, |_| true)
}

#[test]
fn unpacks_every_kind_with_metadata() {
    let fx = Fx::new();
    let sh = Member {
        uid: 1,
        gid: 2,
        ..member("bin/sh", REG | 0o4755, 300, b"#!sh")
    };
    let a = archive(&[
        Member {
            uid: 5,
            gid: 6,
            ..member(".", DIR | 0o700, 111, b"")
        },
        member("bin", DIR | 0o755, 200, b""),
        sh,
        member("bin/link", LNK | 0o777, 310, b"sh"),
        member("./pipe", FIFO | 0o600, 320, b""),
        member("/deep/er/file", REG | 0o644, 330, b"x"),
        member("etc", DIR | 0o751, 400, b""),
        member("etc/passwd", REG | 0o644, 410, b"root:x:0:0::/:/bin/sh\n"),
        // Added to bin after bin's own entry: bin keeps its archived mtime.
        member("bin/late", REG | 0o600, 420, b"late"),
    ]);
    let done = unpack_all(&fx, &a).unwrap();
    assert_eq!(
        done,
        Unpacked {
            files: 6,
            dirs: 2,
            links: 0,
            bytes: 4 + 1 + 22 + 4,
        }
    );
    let root = fx.root.stat();
    assert_eq!(root.mode, S_IFDIR | 0o700);
    assert_eq!((root.uid, root.gid, root.mtime.sec), (5, 6, 111));
    let st = fx.get("/bin").unwrap().stat();
    assert_eq!((st.mode, st.mtime.sec), (S_IFDIR | 0o755, 200));
    let sh = fx.get("/bin/sh").unwrap();
    let st = sh.stat();
    assert_eq!(st.mode, S_IFREG | 0o4755);
    assert_eq!(
        (st.uid, st.gid, st.mtime.sec, st.atime.sec),
        (1, 2, 300, 300)
    );
    assert_eq!(contents(&sh), b"#!sh");
    let link = fx
        .vfs
        .resolve(&fx.su, &fx.root, b"/bin/link", false)
        .unwrap();
    let link = link.inode.unwrap();
    assert_eq!(link.readlink(&fx.su).unwrap(), b"sh");
    assert_eq!(link.stat().mtime.sec, 310);
    assert_eq!(fx.get("/bin/link").unwrap().stat().ino, st.ino);
    let pipe = fx.get("/pipe").unwrap();
    assert!(pipe.fifo().is_some());
    assert_eq!(pipe.stat().mode, S_IFIFO | 0o600);
    // Missing parents are made, 0755 and root's.
    let deep = fx.get("/deep").unwrap().stat();
    assert_eq!(deep.mode, S_IFDIR | 0o755);
    assert_eq!(contents(&fx.get("/deep/er/file").unwrap()), b"x");
    let etc = fx.get("/etc").unwrap().stat();
    assert_eq!((etc.mode, etc.mtime.sec), (S_IFDIR | 0o751, 400));
    assert_eq!(fx.get("/bin/late").unwrap().stat().mtime.sec, 420);
}

#[test]
fn hard_links_in_both_conventions() {
    let fx = Fx::new();
    let a = archive(&[
        // Data on the first name, none on the second (what the tool writes).
        hard("h1", 50, b"hard"),
        hard("h2", 50, b""),
        // GNU cpio's newc convention: data on the last name only.
        hard("r1", 60, b""),
        hard("sub/r2", 60, b"rev"),
    ]);
    let done = unpack_all(&fx, &a).unwrap();
    assert_eq!((done.files, done.links, done.bytes), (2, 2, 7));
    let (h1, h2) = (fx.get("/h1").unwrap(), fx.get("/h2").unwrap());
    assert_eq!(h1.stat().ino, h2.stat().ino);
    assert_eq!(h1.stat().nlink, 2);
    assert_eq!(contents(&h2), b"hard");
    let (r1, r2) = (fx.get("/r1").unwrap(), fx.get("/sub/r2").unwrap());
    assert_eq!(r1.stat().ino, r2.stat().ino);
    assert_eq!(r1.stat().nlink, 2);
    assert_eq!(contents(&r1), b"rev");
    assert_eq!(r1.stat().size, 3);
    // Writing the data late does not leave the inode with the time of unpacking.
    assert_eq!(r1.stat().mtime.sec, 500);
    assert_eq!(r1.stat().mode, S_IFREG | 0o640);
}

#[test]
fn dot_dot_names_are_refused() {
    for name in ["../evil", "a/../../evil", "a/.."] {
        let fx = Fx::new();
        let a = archive(&[member(name, REG | 0o644, 1, b"x")]);
        assert_eq!(
            unpack_all(&fx, &a),
            Err(UnpackError::Entry {
                name: name.as_bytes().to_vec(),
                errno: Errno::EINVAL
            }),
            "{name}"
        );
        assert_eq!(names(&fx.root, &fx.su).len(), 3, "only ., .. and mnt");
    }
}

#[test]
fn truncated_and_malformed_archives_are_archive_errors() {
    let fx = Fx::new();
    let good = archive(&[
        member("d", DIR | 0o755, 1, b""),
        member("d/f", REG | 0o644, 1, b"0123456789"),
    ]);
    // Cut inside the second header, inside its data, and before the trailer.
    for cut in [130, good.len() - 130, good.len() - 120] {
        let r = unpack_all(&fx, &good[..cut]);
        assert!(
            matches!(r, Err(UnpackError::Archive(CpioError::Truncated { .. }))),
            "cut at {cut}: {r:?}"
        );
    }
    let end_of_members = good.len() - 124; // the trailer is 110 + 11 + 3 padding bytes
    assert_eq!(
        unpack_all(&fx, &good[..end_of_members]),
        Err(UnpackError::Archive(CpioError::NoTrailer))
    );
    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(
        unpack_all(&fx, &bad),
        Err(UnpackError::Archive(CpioError::BadMagic { offset: 0 }))
    );
    assert!(!std::format!("{}", UnpackError::Archive(CpioError::NoTrailer)).is_empty());
}

#[test]
fn existing_entries_are_replaced_or_kept() {
    let fx = Fx::new();
    let d = mkdir(&fx.root, "d");
    mkfile(&d, "keep", b"");
    mkfile(&fx.root, "f", b"old contents");
    mkdir(&fx.root, "was_dir");
    let a = archive(&[
        // An existing directory stays (with its contents) and takes the new metadata.
        member("d", DIR | 0o711, 7, b""),
        member("f", REG | 0o600, 8, b"new"),
        member("was_dir", REG | 0o600, 9, b"now a file"),
    ]);
    unpack_all(&fx, &a).unwrap();
    assert!(fx.get("/d/keep").is_ok());
    let st = fx.get("/d").unwrap().stat();
    assert_eq!((st.mode, st.mtime.sec), (S_IFDIR | 0o711, 7));
    assert_eq!(contents(&fx.get("/f").unwrap()), b"new");
    assert_eq!(contents(&fx.get("/was_dir").unwrap()), b"now a file");
}

#[test]
fn only_wanted_entries() {
    let fx = Fx::new();
    let a = archive(&[
        member("a", REG | 0o644, 1, b"a"),
        member("b", REG | 0o644, 1, b"b"),
    ]);
    let done = unpack(&fx.root, &fx.su, &a, |n| n == b"b").unwrap();
    assert_eq!(done.files, 1);
    assert_eq!(err(fx.get("/a")), Errno::ENOENT);
    assert!(fx.get("/b").is_ok());
}

#[test]
fn a_file_in_the_way_of_a_parent_is_enotdir() {
    let fx = Fx::new();
    let a = archive(&[
        member("x", REG | 0o644, 1, b""),
        member("x/y", REG | 0o644, 1, b""),
    ]);
    assert_eq!(
        unpack_all(&fx, &a),
        Err(UnpackError::Entry {
            name: b"x/y".to_vec(),
            errno: Errno::ENOTDIR
        })
    );
}
