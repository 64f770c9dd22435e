//! The overlay over an EROFS lower layer on a disk whose reads complete later: copy-up
//! answers `WAIT` while the lower pages are read and, run again, goes on from there.

use super::*;
use crate::block::{BlockDevice, FakeBlock};
use crate::erofs::Erofs;

#[test]
fn copy_up_waits_for_lower_reads_and_resumes() {
    let fake = FakeBlock::new(crate::erofs::tests::image(), true);
    let lower = Erofs::mount(fake.clone() as Arc<dyn BlockDevice>)
        .and_then(|fs| fs.root())
        .unwrap();
    let (clock, upper) = tmpfs();
    let _ = clock;
    let root = new_overlay(lower, upper).unwrap();
    let cx = caller(0, 0, &root);
    fake.set_delayed(true);
    let want: Vec<u8> = (0..8192).map(|i| (i % 253) as u8).collect();
    // Each try looks the file up afresh, as a system call run again does.
    let write = || root.lookup(&cx, b"big")?.write_at(8192, b"end");
    assert_eq!(write(), Err(Errno::WAIT));
    let (reads, _, _) = fake.counts();
    assert_eq!(fake.complete(), 2, "both pages asked for at once");
    assert_eq!(write(), Ok(3));
    assert_eq!(
        fake.counts().0,
        reads,
        "the copy went on without reading again"
    );
    let big = root.lookup(&cx, b"big").unwrap();
    let mut got = contents(&big);
    assert_eq!(got.split_off(8192), b"end");
    assert_eq!(got, want);
    assert_eq!(big.stat().uid, 1000, "owner copied up");
}
