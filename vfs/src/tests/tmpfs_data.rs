//! tmpfs file contents: sparse files, truncation, hole punching and preallocation.

use super::*;

const GIB: u64 = 1 << 30;

#[test]
fn sparse_file_at_one_gib() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    assert_eq!(f.write_at(GIB, b"end"), Ok(3));
    let st = f.stat();
    assert_eq!(st.size, GIB + 3);
    assert_eq!(st.blocks, 8);
    let mut buf = [0xaa; 8192];
    assert_eq!(f.read_at(0, &mut buf), Ok(8192));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(f.read_at(GIB - 4096, &mut buf[..4096]), Ok(4096));
    assert!(buf[..4096].iter().all(|&b| b == 0));
    let mut tail = [0; 10];
    assert_eq!(f.read_at(GIB - 2, &mut tail), Ok(5));
    assert_eq!(&tail[..5], b"\0\0end");
    assert_eq!(f.read_at(GIB + 3, &mut tail), Ok(0));
    assert_eq!(f.read_at(u64::MAX, &mut tail), Ok(0));
}

#[test]
fn truncate_down_then_up_reads_zeros_in_the_old_tail() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", &[7; 10000]);
    assert_eq!(f.stat().blocks, 24);
    f.truncate(100).unwrap();
    assert_eq!((f.stat().size, f.stat().blocks), (100, 8));
    f.truncate(10000).unwrap();
    assert_eq!(f.stat().size, 10000);
    assert_eq!(f.stat().blocks, 8, "growing allocates nothing");
    let data = contents(&f);
    assert!(data[..100].iter().all(|&b| b == 7));
    assert!(data[100..].iter().all(|&b| b == 0));
}

#[test]
fn truncate_to_a_page_boundary_keeps_the_last_page_intact() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", &[3; 3 * 4096]);
    f.truncate(4096).unwrap();
    assert_eq!(f.stat().blocks, 8);
    assert!(contents(&f).iter().all(|&b| b == 3));
}

#[test]
fn truncate_moves_mtime_and_ctime() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"abc");
    clock.advance(9);
    f.truncate(1).unwrap();
    assert_eq!(f.stat().mtime.sec, T0 + 9);
    assert_eq!(f.stat().ctime.sec, T0 + 9);
}

#[test]
fn punch_hole_zeroes_and_frees_whole_pages() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", &[9; 4 * 4096]);
    // From the middle of page 0 to the middle of page 3: pages 1 and 2 go.
    f.punch_hole(100, 3 * 4096).unwrap();
    let st = f.stat();
    assert_eq!(st.size, 4 * 4096, "punching keeps the size");
    assert_eq!(st.blocks, 16);
    let data = contents(&f);
    assert!(data[..100].iter().all(|&b| b == 9));
    assert!(data[100..3 * 4096 + 100].iter().all(|&b| b == 0));
    assert!(data[3 * 4096 + 100..].iter().all(|&b| b == 9));
}

#[test]
fn punch_hole_in_a_huge_sparse_file_is_quick() {
    // Regression: zeroing walked every page index of the range, present or not.
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"head");
    f.truncate(1 << 62).unwrap();
    f.write_at((1 << 62) - 4, b"tail").unwrap();
    f.punch_hole(2, 1 << 62).unwrap();
    assert_eq!(f.stat().size, 1 << 62);
    assert_eq!(f.stat().blocks, 8, "the last page was wholly punched");
    let mut buf = [0xff; 4];
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"he\0\0");
    f.read_at((1 << 62) - 4, &mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\0");
}

#[test]
fn allocate_grows_the_size_unless_keep_size() {
    let (clock, root) = tmpfs();
    let f = mkfile(&root, "f", b"abc");
    clock.advance(2);
    f.allocate(0, 3 * 4096, true).unwrap();
    let st = f.stat();
    assert_eq!((st.size, st.blocks), (3, 24));
    assert_eq!(st.ctime.sec, T0 + 2);
    assert_eq!(st.mtime.sec, T0);
    assert_eq!(contents(&f), b"abc");
    // Reads stop at the size even with pages allocated beyond it.
    let mut buf = [0; 10];
    assert_eq!(f.read_at(0, &mut buf), Ok(3));

    f.allocate(4096, 5 * 4096, false).unwrap();
    let st = f.stat();
    assert_eq!((st.size, st.blocks), (6 * 4096, 48));
    let data = contents(&f);
    assert_eq!(&data[..3], b"abc");
    assert!(data[3..].iter().all(|&b| b == 0));
    // Allocating what exists changes nothing but ctime.
    f.allocate(0, 4096, false).unwrap();
    assert_eq!(f.stat().size, 6 * 4096);
}

#[test]
fn punch_hole_frees_pages_allocated_past_the_end() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    f.allocate(0, 2 * 4096, true).unwrap();
    assert_eq!((f.stat().size, f.stat().blocks), (0, 16));
    f.punch_hole(0, 2 * 4096).unwrap();
    assert_eq!(f.stat().blocks, 0);
    assert_eq!(f.statfs().bfree, f.statfs().blocks);
}

#[test]
fn allocating_more_than_the_filesystem_holds_fails_quickly() {
    let (_, root) = tmpfs();
    let f = mkfile(&root, "f", b"");
    assert_eq!(err(f.allocate(0, 1 << 62, false)), Errno::ENOSPC);
    assert_eq!((f.stat().size, f.stat().blocks), (0, 0));
    assert_eq!(err(f.allocate(u64::MAX, 2, false)), Errno::EFBIG);
}

#[test]
fn file_operations_on_a_directory_say_eisdir() {
    let (_, root) = tmpfs();
    let d = mkdir(&root, "d");
    let mut buf = [0; 1];
    assert_eq!(err(d.read_at(0, &mut buf)), Errno::EISDIR);
    assert_eq!(err(d.write_at(0, b"x")), Errno::EISDIR);
    assert_eq!(err(d.truncate(0)), Errno::EISDIR);
    let l = symlink(&root, "l", "d");
    assert_eq!(err(l.read_at(0, &mut buf)), Errno::EINVAL);
}
