//! Open file descriptions: the shared offset, access modes, O_APPEND, O_PATH, lseek, pread
//! and pwrite, and the offset limits.

use super::*;
use crate::file::{MAX_OFFSET, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET};
use crate::types::oflags::*;

fn file_with(fx: &Fx, data: &[u8]) -> Arc<dyn Inode> {
    mkfile(&fx.root, "f", data)
}

#[test]
fn clones_of_a_description_share_the_offset() {
    let fx = Fx::new();
    file_with(&fx, b"0123456789");
    let a = fx.open("/f", O_RDWR).unwrap();
    let dup = a.clone();
    let mut buf = [0; 3];
    assert_eq!(a.read(&mut buf), Ok(3));
    assert_eq!(dup.read(&mut buf), Ok(3));
    assert_eq!(&buf, b"345");
    assert_eq!(dup.offset(), 6);
    // A second open has its own.
    let other = fx.open("/f", O_RDONLY).unwrap();
    assert_eq!(other.read(&mut buf), Ok(3));
    assert_eq!(&buf, b"012");
    assert_eq!(a.offset(), 6);
    // Writes advance it too.
    assert_eq!(dup.write(b"ab"), Ok(2));
    assert_eq!(a.offset(), 8);
    assert_eq!(contents(&fx.get("/f").unwrap()), b"012345ab89");
    // At the end, reads return 0 and leave the offset.
    assert_eq!(a.seek(0, SEEK_END), Ok(10));
    assert_eq!(a.read(&mut buf), Ok(0));
    assert_eq!(a.offset(), 10);
}

#[test]
fn open_flags_kept_and_setfl() {
    let fx = Fx::new();
    file_with(&fx, b"");
    let f = fx
        .open(
            "/f",
            O_WRONLY | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC | O_NOCTTY,
        )
        .unwrap();
    assert_eq!(f.flags(), O_WRONLY);
    f.set_flags(O_APPEND | O_NONBLOCK | O_RDWR | O_PATH);
    assert_eq!(f.flags(), O_WRONLY | O_APPEND | O_NONBLOCK);
    assert!(f.nonblocking());
    assert!(f.writable() && !f.readable());
    f.set_flags(0);
    assert_eq!(f.flags(), O_WRONLY);
    assert_eq!(f.path(), b"/f");
}

#[test]
fn append_writes_at_the_end_whatever_the_offset() {
    let fx = Fx::new();
    let inode = file_with(&fx, b"abc");
    let f = fx.open("/f", O_RDWR | O_APPEND).unwrap();
    assert_eq!(f.write(b"de"), Ok(2));
    assert_eq!(f.offset(), 5);
    f.seek(0, SEEK_SET).unwrap();
    assert_eq!(f.write(b"f"), Ok(1));
    assert_eq!(f.offset(), 6);
    // Another writer grows the file meanwhile: the next append still lands at the end.
    inode.write_at(6, b"XYZ").unwrap();
    assert_eq!(f.write(b"g"), Ok(1));
    assert_eq!(f.offset(), 10);
    // pwrite with O_APPEND appends too (Linux's documented bug).
    assert_eq!(f.pwrite(0, b"h"), Ok(1));
    assert_eq!(f.offset(), 10);
    assert_eq!(contents(&inode), b"abcdefXYZgh");
}

#[test]
fn access_modes_are_enforced() {
    let fx = Fx::new();
    file_with(&fx, b"abc");
    let mut buf = [0; 3];
    let wo = fx.open("/f", O_WRONLY).unwrap();
    assert_eq!(err(wo.read(&mut buf)), Errno::EBADF);
    assert_eq!(err(wo.pread(0, &mut buf)), Errno::EBADF);
    let ro = fx.open("/f", O_RDONLY).unwrap();
    assert_eq!(err(ro.write(b"x")), Errno::EBADF);
    assert_eq!(err(ro.pwrite(0, b"x")), Errno::EBADF);
    assert_eq!(contents(&fx.get("/f").unwrap()), b"abc");
}

#[test]
fn o_path_allows_nothing_but_holding() {
    let fx = Fx::new();
    file_with(&fx, b"abc");
    let mut buf = [0; 3];
    for path in ["/f", "/mnt"] {
        let p = fx.open(path, O_PATH | O_RDWR).unwrap();
        assert!(p.is_path() && !p.readable() && !p.writable());
        assert_eq!(err(p.read(&mut buf)), Errno::EBADF);
        assert_eq!(err(p.write(b"x")), Errno::EBADF);
        assert_eq!(err(p.pread(0, &mut buf)), Errno::EBADF);
        assert_eq!(err(p.pwrite(0, b"x")), Errno::EBADF);
        assert_eq!(err(p.seek(0, SEEK_SET)), Errno::EBADF);
        assert_eq!(err(p.getdents(&fx.su, |_, _| true)), Errno::EBADF);
    }
    // O_PATH opens even what cannot be opened otherwise.
    symlink(&fx.root, "l", "f");
    let l = fx.vfs.resolve(&fx.su, &fx.root, b"/l", false).unwrap();
    let link = l.inode.unwrap();
    assert!(fx.vfs.open_inode(&fx.su, &link, O_PATH).is_ok());
    assert_eq!(
        err(fx.vfs.open_inode(&fx.su, &link, O_RDONLY)),
        Errno::ELOOP
    );
}

#[test]
fn directories_read_as_eisdir() {
    let fx = Fx::new();
    let d = fx.open("/mnt", O_RDONLY | O_DIRECTORY).unwrap();
    let mut buf = [0; 4];
    assert_eq!(err(d.read(&mut buf)), Errno::EISDIR);
    assert_eq!(err(d.pread(0, &mut buf)), Errno::EISDIR);
}

#[test]
fn lseek_whences() {
    let fx = Fx::new();
    file_with(&fx, b"0123456789");
    let f = fx.open("/f", O_RDONLY).unwrap();
    assert_eq!(f.seek(4, SEEK_SET), Ok(4));
    assert_eq!(f.seek(2, SEEK_CUR), Ok(6));
    assert_eq!(f.seek(-1, SEEK_CUR), Ok(5));
    assert_eq!(f.seek(-3, SEEK_END), Ok(7));
    assert_eq!(f.seek(100, SEEK_END), Ok(110), "past the end is allowed");
    let mut buf = [0; 2];
    assert_eq!(f.read(&mut buf), Ok(0));
    // Negative results and unknown whences are EINVAL and leave the offset.
    assert_eq!(err(f.seek(-1, SEEK_SET)), Errno::EINVAL);
    assert_eq!(err(f.seek(-111, SEEK_CUR)), Errno::EINVAL);
    assert_eq!(err(f.seek(-11, SEEK_END)), Errno::EINVAL);
    assert_eq!(err(f.seek(0, 5)), Errno::EINVAL);
    assert_eq!(err(f.seek(0, -1)), Errno::EINVAL);
    assert_eq!(f.offset(), 110);
    // Up to the largest offset, not past it.
    assert_eq!(f.seek(i64::MAX, SEEK_SET), Ok(MAX_OFFSET));
    assert_eq!(err(f.seek(1, SEEK_CUR)), Errno::EINVAL);
    assert_eq!(err(f.seek(i64::MAX, SEEK_END)), Errno::EINVAL);
    assert_eq!(f.offset(), MAX_OFFSET);
}

#[test]
fn seek_data_and_hole() {
    let fx = Fx::new();
    file_with(&fx, b"0123456789");
    let f = fx.open("/f", O_RDONLY).unwrap();
    // The whole file is data; the only hole is the end.
    assert_eq!(f.seek(3, SEEK_DATA), Ok(3));
    assert_eq!(f.seek(3, SEEK_HOLE), Ok(10));
    assert_eq!(f.offset(), 10);
    for whence in [SEEK_DATA, SEEK_HOLE] {
        assert_eq!(err(f.seek(10, whence)), Errno::ENXIO);
        assert_eq!(err(f.seek(11, whence)), Errno::ENXIO);
        assert_eq!(err(f.seek(-1, whence)), Errno::ENXIO);
    }
    assert_eq!(f.offset(), 10);
    // An empty file has no data at all.
    mkfile(&fx.root, "empty", b"");
    let e = fx.open("/empty", O_RDONLY).unwrap();
    assert_eq!(err(e.seek(0, SEEK_DATA)), Errno::ENXIO);
}

#[test]
fn pread_and_pwrite_leave_the_offset() {
    let fx = Fx::new();
    let inode = file_with(&fx, b"0123456789");
    let f = fx.open("/f", O_RDWR).unwrap();
    f.seek(2, SEEK_SET).unwrap();
    let mut buf = [0; 4];
    assert_eq!(f.pread(5, &mut buf), Ok(4));
    assert_eq!(&buf, b"5678");
    assert_eq!(f.pwrite(12, b"xy"), Ok(2));
    assert_eq!(f.offset(), 2);
    assert_eq!(contents(&inode), b"0123456789\0\0xy");
    assert_eq!(f.pread(100, &mut buf), Ok(0));
    assert_eq!(err(f.pread(-1, &mut buf)), Errno::EINVAL);
    assert_eq!(err(f.pwrite(-1, b"x")), Errno::EINVAL);
    // The offset is checked before the access mode (ksys_pread64 checks it first).
    let wo = fx.open("/f", O_WRONLY).unwrap();
    assert_eq!(err(wo.pread(-1, &mut buf)), Errno::EINVAL);
}

#[test]
fn transfers_past_the_largest_offset() {
    let fx = Fx::new();
    let inode = file_with(&fx, b"");
    let f = fx.open("/f", O_RDWR).unwrap();
    // rw_verify_area: pos + count beyond MAX_LFS_FILESIZE is EINVAL, before the write.
    f.seek(i64::MAX, SEEK_SET).unwrap();
    assert_eq!(err(f.write(b"x")), Errno::EINVAL);
    assert_eq!(f.write(b""), Ok(0), "a null write succeeds anywhere");
    let mut buf = [0; 2];
    assert_eq!(err(f.read(&mut buf)), Errno::EINVAL);
    assert_eq!(err(f.pwrite(i64::MAX - 1, b"xy")), Errno::EINVAL);
    assert_eq!(err(f.pread(i64::MAX - 1, &mut buf)), Errno::EINVAL);
    assert_eq!(f.pread(i64::MAX - 2, &mut buf), Ok(0));
    // Ending exactly at the limit is fine.
    assert_eq!(f.pwrite(i64::MAX - 1, b"z"), Ok(1));
    assert_eq!(inode.stat().size, MAX_OFFSET);
    assert_eq!(inode.stat().blocks, 8);
    // An append to a file that already reaches the limit is EFBIG.
    let app = fx.open("/f", O_WRONLY | O_APPEND).unwrap();
    assert_eq!(err(app.write(b"x")), Errno::EFBIG);
    assert_eq!(inode.stat().size, MAX_OFFSET);
}

#[test]
fn file_writes_through_a_description_move_times() {
    let fx = Fx::new();
    let inode = file_with(&fx, b"");
    let f = fx.open("/f", O_WRONLY).unwrap();
    fx.clock.advance(30);
    f.write(b"x").unwrap();
    assert_eq!(inode.stat().mtime.sec, T0 + 30);
    assert_eq!(inode.stat().ctime.sec, T0 + 30);
}

#[test]
fn open_inode_by_type() {
    let fx = Fx::new();
    let sock = fx
        .root
        .create(b"sock", NewNode::Socket, 0o755, 0, 0)
        .unwrap();
    assert_eq!(
        err(fx.vfs.open_inode(&fx.su, &sock, O_RDONLY)),
        Errno::ENXIO
    );
    let blk = fx
        .root
        .create(b"blk", NewNode::BlockDevice(makedev(8, 0)), 0o600, 0, 0)
        .unwrap();
    assert_eq!(err(fx.vfs.open_inode(&fx.su, &blk, O_RDONLY)), Errno::ENXIO);
    let f = file_with(&fx, b"abc");
    let ops = fx.vfs.open_inode(&fx.su, &f, O_RDONLY).unwrap();
    assert!(ops.seekable());
    assert_eq!(ops.host_device(), None);
    let mut buf = [0; 3];
    assert_eq!(ops.read(0, &mut buf), Ok(3));
}
