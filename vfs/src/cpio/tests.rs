extern crate std;

use std::format;
use std::vec::Vec;

use super::*;

/// Builds one newc entry by the format's definition.
fn entry(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let fields = [
        1,
        mode,
        0,
        0,
        1,
        7,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    v.extend_from_slice(b"070701");
    for f in fields {
        v.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    v.extend_from_slice(name.as_bytes());
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend_from_slice(data);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn archive(entries: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    for (n, m, d) in entries {
        v.extend(entry(n, *m, d));
    }
    v.extend(entry("TRAILER!!!", 0, b""));
    v
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
    let mut a = archive(&[("a", 0o100644, b"xyz")]);
    let cut = a.len() - entry("TRAILER!!!", 0, b"").len();
    a.truncate(cut);
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
