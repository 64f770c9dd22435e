//! A file shrinking under its mappings: truncation takes the pages past the new end out of
//! every process's mappings (shared, private, and private copies), so a touch there is SIGBUS;
//! a punched hole takes the file's pages out but leaves private copies.

use crate::nr::*;

use super::fake::*;
use super::mman::{read, touch, write, PROT_RW};
use super::process::{as_proc, fork};
use crate::mm::{Access, FaultResult};
use crate::Current;

const SHARED: u64 = 1;
const PRIVATE: u64 = 2;
const PAGE: u64 = 4096;

fn sigbus(addr: u64) -> FaultResult {
    FaultResult::Signal {
        signo: 7,
        code: crate::mm::BUS_ADRERR,
        addr,
    }
}

/// A memfd of `pages` pages, page i filled with b'a' + i.
fn file(p: &mut Current, k: &mut Fake, pages: u64) -> u64 {
    k.poke(SCRATCH, b"t\0");
    let fd = sys(p, k, SYS_memfd_create, &[SCRATCH, 0]) as u64;
    for i in 0..pages {
        k.poke(SCRATCH, &[b'a' + i as u8; PAGE as usize]);
        assert_eq!(
            sys(p, k, SYS_pwrite64, &[fd, SCRATCH, PAGE, i * PAGE]),
            PAGE as i64
        );
    }
    fd
}

fn map(p: &mut Current, k: &mut Fake, len: u64, flags: u64, fd: u64) -> u64 {
    let a = sys(p, k, SYS_mmap, &[0, len, PROT_RW, flags, fd, 0]);
    assert!(a > 0, "mmap: {a}");
    a as u64
}

#[test]
fn truncation_takes_the_pages_out_of_every_mapping() {
    let (mut p, mut k) = setup();
    let fd = file(&mut p, &mut k, 3);
    let s = map(&mut p, &mut k, 3 * PAGE, SHARED, fd);
    let v = map(&mut p, &mut k, 3 * PAGE, PRIVATE, fd);
    for i in 0..3 {
        assert_eq!(read(&p, &mut k, s + i * PAGE, 1).unwrap(), [b'a' + i as u8]);
        assert_eq!(read(&p, &mut k, v + i * PAGE, 1).unwrap(), [b'a' + i as u8]);
    }
    write(&p, &mut k, v + 2 * PAGE, b"copy").unwrap();
    let (mut child, _) = fork(&mut p, &mut k);
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(read(c, k, s + 2 * PAGE, 1).unwrap(), b"c");
    });

    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd, PAGE + 10]), 0);
    // Before this change the pages stayed mapped and read the old bytes.
    assert_eq!(
        touch(&p, &mut k, s + PAGE + 5, Access::Read),
        FaultResult::Mapped
    );
    assert_eq!(
        read(&p, &mut k, s + PAGE + 9, 2).unwrap(),
        [b'b', 0],
        "the tail of the last page reads zeros"
    );
    assert_eq!(
        touch(&p, &mut k, s + 2 * PAGE, Access::Read),
        sigbus(s + 2 * PAGE)
    );
    assert_eq!(
        touch(&p, &mut k, v + 2 * PAGE + 1, Access::Read),
        sigbus(v + 2 * PAGE + 1),
        "a private copy past the end goes too"
    );
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(
            touch(c, k, s + 2 * PAGE, Access::Write),
            sigbus(s + 2 * PAGE),
            "and the other process's mapping"
        );
        assert_eq!(read(c, k, s, 1).unwrap(), b"a");
    });

    // Grown again, the cut pages are zeros.
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd, 3 * PAGE]), 0);
    assert_eq!(read(&p, &mut k, s + 2 * PAGE, 4).unwrap(), [0; 4]);
    assert_eq!(read(&p, &mut k, v + 2 * PAGE, 4).unwrap(), [0; 4]);
}

#[test]
fn a_punched_hole_reads_zeros_but_private_copies_stay() {
    const PUNCH_KEEP: u64 = 3; // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
    let (mut p, mut k) = setup();
    let fd = file(&mut p, &mut k, 3);
    let s = map(&mut p, &mut k, 3 * PAGE, SHARED, fd);
    let v = map(&mut p, &mut k, 3 * PAGE, PRIVATE, fd);
    for i in 0..3 {
        read(&p, &mut k, s + i * PAGE, 1).unwrap();
        read(&p, &mut k, v + i * PAGE, 1).unwrap();
    }
    write(&p, &mut k, v + 2 * PAGE, b"mine").unwrap();
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_fallocate,
            &[fd, PUNCH_KEEP, PAGE, 2 * PAGE]
        ),
        0
    );
    assert_eq!(read(&p, &mut k, s + PAGE, 1).unwrap(), [0]);
    assert_eq!(read(&p, &mut k, s + 2 * PAGE, 1).unwrap(), [0]);
    assert_eq!(read(&p, &mut k, v + PAGE, 1).unwrap(), [0]);
    assert_eq!(read(&p, &mut k, v + 2 * PAGE, 4).unwrap(), b"mine");
    assert_eq!(read(&p, &mut k, s, 1).unwrap(), b"a");
}
