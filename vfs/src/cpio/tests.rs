extern crate std;

use std::vec::Vec;

use super::*;

/// The members of `entries` (mtime 7), without the trailer, written by the shared writer.
fn members(entries: &[(&str, u32, &[u8])]) -> Archive {
    let mut a = Archive::new();
    for (name, mode, data) in entries {
        let header = Header {
            name: name.as_bytes(),
            ino: a.new_ino(),
            mode: *mode,
            uid: 0,
            gid: 0,
            nlink: 1,
            mtime: 7,
            filesize: data.len() as u32,
        };
        a.add(&header, data).unwrap();
    }
    a
}

fn archive(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    members(entries).finish()
}

#[test]
fn reads_entries_in_order_with_data() {
    let a = archive(&[
        ("bin", 0o040755, b""),
        ("./bin/hello", 0o100755, b"abcde"),
        ("x", 0o100644, b"1"),
    ]);
    let es: Vec<_> = Reader::new(&a).map(|e| e.unwrap()).collect();
    assert_eq!(es.len(), 3);
    assert!(es[0].is_dir());
    assert_eq!(es[1].name, b"bin/hello");
    assert_eq!(es[1].data, b"abcde");
    assert!(es[1].is_file());
    assert_eq!(es[1].mtime, 7);
    assert_eq!(Reader::find(&a, b"/x").unwrap().unwrap().data, b"1");
    assert_eq!(Reader::find(&a, b"nope").unwrap(), None);
}

#[test]
fn missing_trailer_is_an_error() {
    let a = members(&[("a", 0o100644, b"xyz")]).bytes().to_vec();
    let last = Reader::new(&a).last().unwrap();
    assert_eq!(last, Err(CpioError::NoTrailer));
}

#[test]
fn bad_magic_and_bad_hex_are_errors() {
    let mut a = archive(&[("a", 0o100644, b"xyz")]);
    a[0] = b'1';
    assert_eq!(
        Reader::new(&a).next(),
        Some(Err(CpioError::BadMagic { offset: 0 }))
    );
    let mut b = archive(&[("a", 0o100644, b"xyz")]);
    b[10] = b'g';
    assert!(matches!(
        Reader::new(&b).next(),
        Some(Err(CpioError::BadField { .. }))
    ));
}

#[test]
fn huge_sizes_are_truncation_not_panic() {
    let mut a = archive(&[("a", 0o100644, b"xyz")]);
    // filesize field (index 6) = ffffffff
    a[6 + 6 * 8..14 + 6 * 8].copy_from_slice(b"ffffffff");
    assert!(matches!(
        Reader::new(&a).next(),
        Some(Err(CpioError::Truncated { .. }))
    ));
    let mut b = archive(&[("a", 0o100644, b"xyz")]);
    b[6 + 11 * 8..14 + 11 * 8].copy_from_slice(b"ffffffff");
    assert!(matches!(
        Reader::new(&b).next(),
        Some(Err(CpioError::Truncated { .. }))
    ));
}

#[test]
fn name_without_nul_is_refused() {
    let mut a = archive(&[("ab", 0o100644, b"")]);
    a[110 + 2] = b'c'; // overwrite the NUL
    assert!(matches!(
        Reader::new(&a).next(),
        Some(Err(CpioError::BadName { .. }))
    ));
}

#[test]
fn every_truncation_and_byte_flip_is_handled() {
    let a = archive(&[("dir", 0o040755, b""), ("dir/f", 0o100644, b"hello world")]);
    for len in 0..a.len() {
        for e in Reader::new(&a[..len]) {
            let _ = e;
        }
    }
    for i in 0..a.len() {
        let mut b = a.clone();
        b[i] ^= 0xff;
        for e in Reader::new(&b) {
            let _ = e;
        }
    }
}

#[test]
fn lower_case_hex_is_read_too() {
    // GNU cpio writes upper case, other writers lower case: the kernel takes both.
    let mut a = archive(&[("f", 0o100644, b"data")]);
    a[..110].make_ascii_lowercase();
    let e = Reader::new(&a).next().unwrap().unwrap();
    assert_eq!((e.mode, e.data), (0o100644, &b"data"[..]));
}

#[test]
fn the_writer_refuses_what_newc_cannot_hold() {
    let mut a = Archive::new();
    assert_eq!(a.entry(b"", 0o100644, b""), Err(WriteError::BadName));
    assert_eq!(a.entry(b"a\0b", 0o100644, b""), Err(WriteError::BadName));
    let mut h = Header::TRAILER;
    h.filesize = 3;
    assert_eq!(a.add(&h, b"ab"), Err(WriteError::WrongSize));
    assert!(a.bytes().is_empty());
}
