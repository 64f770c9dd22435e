//! File syscalls through the dispatcher, on a tmpfs root unpacked from a test initrd.

use crate::nr::*;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use super::fake::*;
use crate::{Current, Errno};

const AT_FDCWD: u64 = -100i64 as u64;
const O_RDONLY: u64 = 0;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const O_CREAT: u64 = 0o100;
const O_EXCL: u64 = 0o200;
const O_TRUNC: u64 = 0o1000;
const O_APPEND: u64 = 0o2000;
const O_NONBLOCK: u64 = 0o4000;
const O_DIRECTORY: u64 = 0o200000;
const O_NOFOLLOW: u64 = 0o400000;
const O_CLOEXEC: u64 = 0o2000000;
const O_PATH: u64 = 0o10000000;

/// Puts a NUL-terminated string at `at` and returns its address.
fn s(k: &mut Fake, at: u64, text: &str) -> u64 {
    let mut b = text.as_bytes().to_vec();
    b.push(0);
    k.poke(at, &b);
    at
}

const P1: u64 = SCRATCH + 3 * PAGE;
const P2: u64 = SCRATCH + 3 * PAGE + 2048;
const P3: u64 = SCRATCH + 2 * PAGE + 2048;
const BUF: u64 = SCRATCH;

fn open(p: &mut Current, k: &mut Fake, path: &str, flags: u64, mode: u64) -> i64 {
    let a = s(k, P1, path);
    sys(p, k, SYS_openat, &[AT_FDCWD, a, flags, mode])
}

fn write_str(p: &mut Current, k: &mut Fake, fd: i64, text: &str) -> i64 {
    k.poke(BUF, text.as_bytes());
    sys(p, k, SYS_write, &[fd as u64, BUF, text.len() as u64])
}

fn read_all(p: &mut Current, k: &mut Fake, fd: i64, n: usize) -> Vec<u8> {
    let r = sys(p, k, SYS_read, &[fd as u64, BUF, n as u64]);
    assert!(r >= 0, "read: {r}");
    k.peek(BUF, r as usize)
}

#[test]
fn create_write_reopen_read() {
    let (mut p, mut k) = setup();
    let fd = open(&mut p, &mut k, "/tmp/a", O_CREAT | O_WRONLY, 0o644);
    assert_eq!(fd, 3, "lowest free fd");
    assert_eq!(write_str(&mut p, &mut k, fd, "hello"), 5);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[fd as u64]), 0);
    let fd = open(&mut p, &mut k, "/tmp/a", O_RDONLY, 0);
    assert_eq!(read_all(&mut p, &mut k, fd, 100), b"hello");
    assert_eq!(read_all(&mut p, &mut k, fd, 100), b"", "end of file");
    // Writing a read-only fd is EBADF.
    assert_eq!(write_str(&mut p, &mut k, fd, "x"), err(Errno::EBADF));
    // O_EXCL on an existing file.
    assert_eq!(
        open(&mut p, &mut k, "/tmp/a", O_CREAT | O_EXCL | O_WRONLY, 0o644),
        err(Errno::EEXIST)
    );
    // The umask (022) applies to the mode.
    let fd2 = open(&mut p, &mut k, "/tmp/b", O_CREAT | O_WRONLY, 0o777);
    assert!(fd2 >= 0);
    let st = s(&mut k, P1, "/tmp/b");
    assert_eq!(sys(&mut p, &mut k, SYS_stat, &[st, BUF]), 0);
    let mode = u32::from_le_bytes(k.peek(BUF + 24, 4).try_into().unwrap());
    assert_eq!(mode, 0o100_755);
}

#[test]
fn append_trunc_and_shared_offsets() {
    let (mut p, mut k) = setup();
    let fd = open(&mut p, &mut k, "/tmp/f", O_CREAT | O_RDWR, 0o600);
    assert_eq!(write_str(&mut p, &mut k, fd, "abcdef"), 6);
    let dup = sys(&mut p, &mut k, SYS_dup, &[fd as u64]);
    // dup shares the offset: seek on one moves the other.
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[dup as u64, 2, 0]), 2);
    assert_eq!(read_all(&mut p, &mut k, fd, 2), b"cd");
    let app = open(&mut p, &mut k, "/tmp/f", O_WRONLY | O_APPEND, 0);
    assert_eq!(write_str(&mut p, &mut k, app, "XY"), 2);
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[fd as u64, 0, 0]), 0);
    assert_eq!(read_all(&mut p, &mut k, fd, 100), b"abcdefXY");
    let t = open(&mut p, &mut k, "/tmp/f", O_WRONLY | O_TRUNC, 0);
    assert!(t >= 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_lseek, &[fd as u64, 0, 2]),
        0,
        "size 0 after O_TRUNC"
    );
    // pread does not move the offset; negative offsets are EINVAL.
    assert_eq!(write_str(&mut p, &mut k, t, "0123456789"), 10);
    assert_eq!(sys(&mut p, &mut k, SYS_pread64, &[fd as u64, BUF, 3, 4]), 3);
    assert_eq!(k.peek(BUF, 3), b"456");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_pread64,
            &[fd as u64, BUF, 3, -1i64 as u64]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[fd as u64, 0, 1]), 0);
}

#[test]
fn path_errors_are_the_linux_errnos() {
    let (mut p, mut k) = setup();
    assert_eq!(
        open(&mut p, &mut k, "/nope", O_RDONLY, 0),
        err(Errno::ENOENT)
    );
    assert_eq!(open(&mut p, &mut k, "", O_RDONLY, 0), err(Errno::ENOENT));
    assert_eq!(
        open(&mut p, &mut k, "/bin/app/x", O_RDONLY, 0),
        err(Errno::ENOTDIR)
    );
    assert_eq!(
        open(&mut p, &mut k, "/tmp", O_WRONLY, 0),
        err(Errno::EISDIR)
    );
    assert_eq!(
        open(&mut p, &mut k, "/bin/app", O_RDONLY | O_DIRECTORY, 0),
        err(Errno::ENOTDIR)
    );
    assert_eq!(
        open(&mut p, &mut k, "/tmp/new/", O_CREAT | O_WRONLY, 0o644),
        err(Errno::EISDIR)
    );
    // A bad path pointer.
    assert_eq!(
        sys(&mut p, &mut k, SYS_openat, &[AT_FDCWD, 0xdead_0000, 0, 0]),
        err(Errno::EFAULT)
    );
    // A path of 5000 bytes.
    k.map(SCRATCH + 4 * PAGE, 2 * PAGE, RW);
    let long = "a/".repeat(2500);
    assert_eq!(
        open(&mut p, &mut k, &long, O_RDONLY, 0),
        err(Errno::ENAMETOOLONG)
    );
    // A 256-byte name.
    let name = format!("/tmp/{}", "n".repeat(256));
    assert_eq!(
        open(&mut p, &mut k, &name, O_RDONLY, 0),
        err(Errno::ENAMETOOLONG)
    );
    // fds out of range.
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[9999, BUF, 1]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_close, &[-1i64 as u64]),
        err(Errno::EBADF)
    );
    // A relative path with a dirfd that is not a directory.
    let a = s(&mut k, P1, "x");
    assert_eq!(
        sys(&mut p, &mut k, SYS_openat, &[1, a, 0, 0]),
        err(Errno::ENOTDIR)
    );
}

#[test]
fn symlink_chains_loop_after_40() {
    let (mut p, mut k) = setup();
    let fd = open(&mut p, &mut k, "/tmp/target", O_CREAT | O_WRONLY, 0o644);
    assert!(fd >= 0);
    // l0 -> target, l1 -> l0, ... l40 -> l39: l39 is 40 links deep, l40 is 41.
    for i in 0..=40 {
        let target = if i == 0 {
            "/tmp/target".to_string()
        } else {
            format!("/tmp/l{}", i - 1)
        };
        let t = s(&mut k, P1, &target);
        let l = s(&mut k, P2, &format!("/tmp/l{i}"));
        assert_eq!(sys(&mut p, &mut k, SYS_symlink, &[t, l]), 0);
    }
    assert!(open(&mut p, &mut k, "/tmp/l39", O_RDONLY, 0) >= 0);
    assert_eq!(
        open(&mut p, &mut k, "/tmp/l40", O_RDONLY, 0),
        err(Errno::ELOOP)
    );
    assert_eq!(
        open(&mut p, &mut k, "/tmp/l0", O_RDONLY | O_NOFOLLOW, 0),
        err(Errno::ELOOP)
    );
    // O_PATH|O_NOFOLLOW opens the link itself.
    assert!(open(&mut p, &mut k, "/tmp/l0", O_PATH | O_NOFOLLOW, 0) >= 0);
    // readlink gives the text, truncated to the buffer.
    let l = s(&mut k, P1, "/tmp/l1");
    assert_eq!(sys(&mut p, &mut k, SYS_readlink, &[l, BUF, 4]), 4);
    assert_eq!(k.peek(BUF, 4), b"/tmp");
    let f = s(&mut k, P1, "/tmp/target");
    assert_eq!(
        sys(&mut p, &mut k, SYS_readlink, &[f, BUF, 4]),
        err(Errno::EINVAL)
    );
}

#[test]
fn directories_mkdir_rmdir_rename_getdents() {
    let (mut p, mut k) = setup();
    let d = s(&mut k, P3, "/tmp/d");
    assert_eq!(sys(&mut p, &mut k, SYS_mkdir, &[d, 0o755]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mkdir, &[d, 0o755]),
        err(Errno::EEXIST)
    );
    let f = open(&mut p, &mut k, "/tmp/d/f", O_CREAT | O_WRONLY, 0o644);
    assert!(f >= 0);
    assert_eq!(sys(&mut p, &mut k, SYS_rmdir, &[d]), err(Errno::ENOTEMPTY));
    let dot = s(&mut k, P1, "/tmp/d/.");
    assert_eq!(sys(&mut p, &mut k, SYS_rmdir, &[dot]), err(Errno::EINVAL));
    let ff = s(&mut k, SCRATCH + 2 * PAGE + 1024, "/tmp/d/f");
    assert_eq!(sys(&mut p, &mut k, SYS_rmdir, &[ff]), err(Errno::ENOTDIR));
    assert_eq!(sys(&mut p, &mut k, SYS_unlink, &[d]), err(Errno::EISDIR));
    // getdents64 lists . .. and f.
    let dfd = open(&mut p, &mut k, "/tmp/d", O_RDONLY | O_DIRECTORY, 0);
    let n = sys(&mut p, &mut k, SYS_getdents64, &[dfd as u64, BUF, 4096]);
    assert!(n > 0);
    let raw = k.peek(BUF, n as usize);
    let mut names = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let reclen = u16::from_le_bytes([raw[at + 16], raw[at + 17]]) as usize;
        let name = &raw[at + 19..at + reclen];
        let end = name.iter().position(|&b| b == 0).unwrap();
        names.push(String::from_utf8(name[..end].to_vec()).unwrap());
        at += reclen;
    }
    assert_eq!(names, [".", "..", "f"]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getdents64, &[dfd as u64, BUF, 4096]),
        0,
        "at the end"
    );
    // A buffer too small for one entry.
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[dfd as u64, 0, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getdents64, &[dfd as u64, BUF, 8]),
        err(Errno::EINVAL)
    );
    // rename into place, and RENAME_NOREPLACE.
    let g = s(&mut k, P2, "/tmp/d/g");
    assert_eq!(sys(&mut p, &mut k, SYS_rename, &[ff, g]), 0);
    assert_eq!(
        open(&mut p, &mut k, "/tmp/d/f", O_RDONLY, 0),
        err(Errno::ENOENT)
    );
    let h = open(&mut p, &mut k, "/tmp/d/h", O_CREAT | O_WRONLY, 0o644);
    assert!(h >= 0);
    let g = s(&mut k, P1, "/tmp/d/g");
    let hh = s(&mut k, P2, "/tmp/d/h");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_renameat2,
            &[AT_FDCWD, g, AT_FDCWD, hh, 1]
        ),
        err(Errno::EEXIST)
    );
    // Moving a directory into itself.
    let inside = s(&mut k, P2, "/tmp/d/sub");
    assert_eq!(
        sys(&mut p, &mut k, SYS_rename, &[d, inside]),
        err(Errno::EINVAL)
    );
}

#[test]
fn cwd_chdir_and_relative_paths() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_getcwd, &[BUF, 100]), 6);
    assert_eq!(k.peek(BUF, 6), b"/work\0");
    let t = s(&mut k, P1, "../tmp");
    assert_eq!(sys(&mut p, &mut k, SYS_chdir, &[t]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_getcwd, &[BUF, 100]), 5);
    assert_eq!(k.peek(BUF, 5), b"/tmp\0");
    let fd = open(&mut p, &mut k, "rel", O_CREAT | O_WRONLY, 0o600);
    assert!(fd >= 0);
    assert!(open(&mut p, &mut k, "/tmp/rel", O_RDONLY, 0) >= 0);
    let app = s(&mut k, P1, "/bin/app");
    assert_eq!(sys(&mut p, &mut k, SYS_chdir, &[app]), err(Errno::ENOTDIR));
    // `..` at the root stays at the root.
    let up = s(&mut k, P1, "/../../..");
    assert_eq!(sys(&mut p, &mut k, SYS_chdir, &[up]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_getcwd, &[BUF, 100]), 2);
}

#[test]
fn pipes_eof_epipe_and_nonblocking() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_pipe2, &[BUF, O_NONBLOCK | O_CLOEXEC]),
        0
    );
    let fds = k.peek(BUF, 8);
    let r = i32::from_le_bytes(fds[..4].try_into().unwrap()) as i64;
    let w = i32::from_le_bytes(fds[4..].try_into().unwrap()) as i64;
    assert_eq!((r, w), (3, 4));
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[r as u64, 1, 0]),
        1,
        "FD_CLOEXEC"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[r as u64, BUF + 64, 10]),
        err(Errno::EAGAIN)
    );
    assert_eq!(write_str(&mut p, &mut k, w, "data"), 4);
    // FIONREAD.
    assert_eq!(
        sys(&mut p, &mut k, SYS_ioctl, &[r as u64, 0x541b, BUF + 128]),
        0
    );
    assert_eq!(k.peek(BUF + 128, 4), 4u32.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[r as u64, BUF + 64, 10]),
        4,
        "a read returns what is there"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_lseek, &[r as u64, 0, 0]),
        err(Errno::ESPIPE)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[w as u64, 1032, 0]), 65536);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[w as u64]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[r as u64, BUF + 64, 10]),
        0,
        "EOF"
    );
    // Writing with no reader: EPIPE once SIGPIPE is ignored.
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[BUF]), 0);
    let fds = k.peek(BUF, 8);
    let r2 = i32::from_le_bytes(fds[..4].try_into().unwrap()) as u64;
    let w2 = i32::from_le_bytes(fds[4..].try_into().unwrap()) as i64;
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[r2]), 0);
    let mut act = [0u8; 32];
    act[..8].copy_from_slice(&1u64.to_le_bytes()); // SIG_IGN
    k.poke(BUF + 256, &act);
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[13, BUF + 256, 0, 8]),
        0
    );
    assert_eq!(write_str(&mut p, &mut k, w2, "x"), err(Errno::EPIPE));
}

#[test]
fn dev_null_zero_full_and_proc_self_fd() {
    let (mut p, mut k) = setup();
    let null = open(&mut p, &mut k, "/dev/null", O_RDWR, 0);
    assert_eq!(read_all(&mut p, &mut k, null, 10), b"");
    assert_eq!(write_str(&mut p, &mut k, null, "gone"), 4);
    let zero = open(&mut p, &mut k, "/dev/zero", O_RDONLY, 0);
    k.poke(BUF, &[1; 8]);
    assert_eq!(read_all(&mut p, &mut k, zero, 8), [0; 8]);
    let full = open(&mut p, &mut k, "/dev/full", O_WRONLY, 0);
    assert_eq!(write_str(&mut p, &mut k, full, "x"), err(Errno::ENOSPC));
    assert_eq!(
        open(&mut p, &mut k, "/dev/tty", O_RDWR, 0),
        err(Errno::ENXIO)
    );
    // fstat of a device gives its rdev.
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[null as u64, BUF]), 0);
    let rdev = u64::from_le_bytes(k.peek(BUF + 40, 8).try_into().unwrap());
    assert_eq!(rdev, coracle_vfs::makedev(1, 3));
}

#[test]
fn fcntl_flags_dup_and_close_range() {
    let (mut p, mut k) = setup();
    let fd = open(
        &mut p,
        &mut k,
        "/tmp/x",
        O_CREAT | O_RDWR | O_CLOEXEC,
        0o600,
    );
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[fd as u64, 1, 0]), 1);
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[fd as u64, 3, 0]) as u64,
        O_RDWR | 0o100000,
        "F_GETFL has O_LARGEFILE, not O_CLOEXEC"
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_fcntl,
            &[fd as u64, 4, O_APPEND | O_NONBLOCK]
        ),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[fd as u64, 3, 0]) as u64,
        O_RDWR | 0o100000 | O_APPEND | O_NONBLOCK
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[fd as u64, 0, 10]),
        10,
        "F_DUPFD >= 10"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_dup2, &[fd as u64, 20]), 20);
    assert_eq!(
        sys(&mut p, &mut k, SYS_dup3, &[fd as u64, fd as u64, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_close_range, &[10, 30, 0]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[10]), err(Errno::EBADF));
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[20]), err(Errno::EBADF));
    assert_eq!(
        sys(&mut p, &mut k, SYS_close_range, &[5, 4, 0]),
        err(Errno::EINVAL)
    );
}

/// A `struct flock` at `at`: type, whence SEEK_SET, start, len, pid 0.
fn flock_at(k: &mut Fake, at: u64, ty: i16, start: i64, len: i64) -> u64 {
    let mut b = [0u8; 32];
    b[0..2].copy_from_slice(&ty.to_le_bytes());
    b[8..16].copy_from_slice(&start.to_le_bytes());
    b[16..24].copy_from_slice(&len.to_le_bytes());
    k.poke(at, &b);
    at
}

#[test]
fn record_locks_ofd_locks_and_flock() {
    let (mut p, mut k) = setup();
    let a = open(&mut p, &mut k, "/tmp/lk", O_CREAT | O_RDWR, 0o600) as u64;
    let b = open(&mut p, &mut k, "/tmp/lk", O_RDWR, 0) as u64;
    let rd = open(&mut p, &mut k, "/tmp/lk", O_RDONLY, 0) as u64;
    const F_GETLK: u64 = 5;
    const F_SETLK: u64 = 6;
    const F_OFD_GETLK: u64 = 36;
    const F_OFD_SETLK: u64 = 37;
    // POSIX locks of one process never conflict with each other.
    let l = flock_at(&mut k, BUF, 1, 0, 10);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[a, F_SETLK, l]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[b, F_SETLK, l]), 0);
    // A write lock needs a writable fd.
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[rd, F_SETLK, l]),
        err(Errno::EBADF)
    );
    // OFD locks of two descriptions conflict, and F_OFD_GETLK reports the holder.
    let l = flock_at(&mut k, BUF, 1, 100, 0);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[a, F_OFD_SETLK, l]), 0);
    let l = flock_at(&mut k, BUF, 0, 150, 5);
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[b, F_OFD_SETLK, l]),
        err(Errno::EAGAIN)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[b, F_OFD_GETLK, l]), 0);
    let got = k.peek(BUF, 32);
    assert_eq!(i16::from_le_bytes([got[0], got[1]]), 1, "F_WRLCK");
    assert_eq!(i64::from_le_bytes(got[8..16].try_into().unwrap()), 100);
    assert_eq!(
        i64::from_le_bytes(got[16..24].try_into().unwrap()),
        0,
        "to EOF"
    );
    assert_eq!(i32::from_le_bytes(got[24..28].try_into().unwrap()), -1);
    // The POSIX view of the same process sees no conflict with its own POSIX locks.
    let l = flock_at(&mut k, BUF, 1, 0, 10);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[a, F_GETLK, l]), 0);
    assert_eq!(
        i16::from_le_bytes(k.peek(BUF, 2).try_into().unwrap()),
        2,
        "F_UNLCK"
    );
    // Closing the holder's description releases its OFD lock.
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[a]), 0);
    let l = flock_at(&mut k, BUF, 0, 150, 5);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[b, F_OFD_SETLK, l]), 0);
    // flock: two descriptions, exclusive and non-blocking.
    const LOCK_EX: u64 = 2;
    const LOCK_NB: u64 = 4;
    const LOCK_UN: u64 = 8;
    assert_eq!(sys(&mut p, &mut k, SYS_flock, &[b, LOCK_EX | LOCK_NB]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_flock, &[rd, LOCK_EX | LOCK_NB]),
        err(Errno::EAGAIN)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_flock, &[b, LOCK_UN]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_flock, &[rd, LOCK_EX | LOCK_NB]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_flock, &[rd, 77]),
        err(Errno::EINVAL)
    );
}
