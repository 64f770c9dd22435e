//! read/write and their vector and positional forms, close, dup, fcntl, ioctl, fstat, poll
//! — over the console fds 0-2 until the VFS arrives.

use alloc::vec;

use crate::process::{FdEntry, File};
use crate::sys::stat::console_stat;
use crate::uaccess::{read_cstr, read_iovecs, write_u32, PATH_MAX};
use crate::{Errno, Platform, Process, Stream, SysResult};

/// Largest byte count one read or write moves (MAX_RW_COUNT: INT_MAX rounded down to a page).
const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// How much is copied through the kernel at a time.
const CHUNK: usize = 64 * 1024;

/// Where output to `file` goes, or `EBADF` if the fd is not open for writing. With a terminal,
/// all three fds are the same read-write terminal.
fn output_stream(p: &Process, file: File) -> Result<Stream, Errno> {
    match file {
        File::Stdout => Ok(Stream::Stdout),
        File::Stderr => Ok(Stream::Stderr),
        File::Stdin if p.info.tty => Ok(Stream::Stdout),
        File::Stdin => Err(Errno::EBADF),
    }
}

fn check_readable(p: &Process, file: File) -> Result<(), Errno> {
    match file {
        File::Stdin => Ok(()),
        _ if p.info.tty => Ok(()),
        _ => Err(Errno::EBADF),
    }
}

/// Runs `f` with the process's bounce buffer (CHUNK bytes, allocated once, reused by every
/// console read and write instead of a fresh zeroed buffer per call).
fn with_bounce<T>(p: &mut Process, f: impl FnOnce(&mut Process, &mut [u8]) -> T) -> T {
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let r = f(p, &mut buf);
    p.bounce = buf;
    r
}

/// Writes `count` bytes from user `buf`, chunk by chunk. A fault after some bytes were written
/// returns the count written so far, as Linux does for a partial copy.
fn write_from_user(
    k: &mut dyn Platform,
    chunk: &mut [u8],
    stream: Stream,
    buf: u64,
    count: u64,
) -> SysResult {
    let count = count.min(MAX_RW_COUNT);
    let mut done: u64 = 0;
    while done < count {
        let n = ((count - done) as usize).min(CHUNK);
        let addr = buf.checked_add(done).ok_or(Errno::EFAULT)?;
        if let Err(e) = k.read_user(addr, &mut chunk[..n]) {
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        k.write_stream(stream, &chunk[..n]);
        done += n as u64;
    }
    Ok(done)
}

fn read_to_user(p: &mut Process, k: &mut dyn Platform, buf: u64, count: u64) -> SysResult {
    if count == 0 || p.stdin_eof {
        return Ok(0);
    }
    let want = (count.min(MAX_RW_COUNT) as usize).min(CHUNK);
    with_bounce(p, |p, chunk| read_chunk(p, k, &mut chunk[..want], buf))
}

fn read_chunk(p: &mut Process, k: &mut dyn Platform, chunk: &mut [u8], buf: u64) -> SysResult {
    let n = k.read_stdin(chunk);
    if n == 0 {
        p.stdin_eof = true;
        return Ok(0);
    }
    k.write_user(buf, &chunk[..n])?;
    Ok(n as u64)
}

pub(crate) fn write(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    let stream = output_stream(p, p.fd(fd)?.file)?;
    if count == 0 {
        return Ok(0);
    }
    with_bounce(p, |_, chunk| write_from_user(k, chunk, stream, buf, count))
}

pub(crate) fn read(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    check_readable(p, p.fd(fd)?.file)?;
    read_to_user(p, k, buf, count)
}

pub(crate) fn writev(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    let stream = output_stream(p, p.fd(fd)?.file)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    with_bounce(p, |_, chunk| write_iovecs(k, chunk, stream, &iovs))
}

fn write_iovecs(
    k: &mut dyn Platform,
    chunk: &mut [u8],
    stream: Stream,
    iovs: &[crate::uaccess::IoVec],
) -> SysResult {
    let mut total = 0;
    for v in iovs.iter().filter(|v| v.len > 0) {
        match write_from_user(k, chunk, stream, v.base, v.len) {
            Ok(n) => {
                total += n;
                if n < v.len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total)
}

pub(crate) fn readv(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    check_readable(p, p.fd(fd)?.file)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    // A console read returns what is available; fill the first non-empty buffer only.
    match iovs.iter().find(|v| v.len > 0) {
        Some(v) => read_to_user(p, k, v.base, v.len),
        None => Ok(0),
    }
}

pub(crate) fn pread64(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    _buf: u64,
    _count: u64,
    _off: i64,
) -> SysResult {
    p.fd(fd)?;
    Err(Errno::ESPIPE)
}

pub(crate) fn pwrite64(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
    off: i64,
) -> SysResult {
    // Positional I/O needs a seekable file; the console fds are pipes or terminals.
    pread64(p, k, fd, buf, count, off)
}

pub(crate) fn lseek(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    _offset: i64,
    _whence: i32,
) -> SysResult {
    p.fd(fd)?;
    Err(Errno::ESPIPE)
}

pub(crate) fn close(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    p.fd(fd)?;
    p.fds[fd as usize] = None;
    Ok(0)
}

pub(crate) fn dup(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let entry = p.fd(fd)?;
    let new = p.lowest_free_fd(0)?;
    p.install_fd(
        new,
        FdEntry {
            cloexec: false,
            ..entry
        },
    );
    Ok(new as u64)
}

pub(crate) fn dup2(p: &mut Process, k: &mut dyn Platform, oldfd: i32, newfd: i32) -> SysResult {
    if oldfd == newfd {
        p.fd(oldfd)?;
        return Ok(newfd as u64);
    }
    dup3(p, k, oldfd, newfd, 0)
}

pub(crate) fn dup3(
    p: &mut Process,
    _k: &mut dyn Platform,
    oldfd: i32,
    newfd: i32,
    flags: i32,
) -> SysResult {
    const O_CLOEXEC: i32 = 0o2_000_000;
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let entry = p.fd(oldfd)?;
    if oldfd == newfd {
        return Err(Errno::EINVAL);
    }
    let new = usize::try_from(newfd)
        .ok()
        .filter(|&n| n < crate::process::NOFILE)
        .ok_or(Errno::EBADF)?;
    p.install_fd(
        new,
        FdEntry {
            cloexec: flags & O_CLOEXEC != 0,
            ..entry
        },
    );
    Ok(new as u64)
}

pub(crate) fn fcntl(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    cmd: i32,
    arg: u64,
) -> SysResult {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const FD_CLOEXEC: u64 = 1;
    let entry = p.fd(fd)?;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = usize::try_from(arg as i32).map_err(|_| Errno::EINVAL)?;
            if min >= crate::process::NOFILE {
                return Err(Errno::EINVAL);
            }
            let new = p.lowest_free_fd(min)?;
            p.install_fd(
                new,
                FdEntry {
                    cloexec: cmd == F_DUPFD_CLOEXEC,
                    ..entry
                },
            );
            Ok(new as u64)
        }
        F_GETFD => Ok(u64::from(entry.cloexec)),
        F_SETFD => {
            p.install_fd(
                fd as usize,
                FdEntry {
                    cloexec: arg & FD_CLOEXEC != 0,
                    ..entry
                },
            );
            Ok(0)
        }
        F_GETFL => Ok(match (entry.file, p.info.tty) {
            (_, true) => 2,            // O_RDWR
            (File::Stdin, false) => 0, // O_RDONLY
            _ => 1,                    // O_WRONLY
        }),
        F_SETFL => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn ioctl(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    request: u32,
    arg: u64,
) -> SysResult {
    const TCGETS: u32 = 0x5401;
    const TCSETS: u32 = 0x5402;
    const TCSETSW: u32 = 0x5403;
    const TCSETSF: u32 = 0x5404;
    const TIOCGPGRP: u32 = 0x540f;
    const TIOCSPGRP: u32 = 0x5410;
    const TIOCGWINSZ: u32 = 0x5413;
    const TIOCSWINSZ: u32 = 0x5414;
    const FIONREAD: u32 = 0x541b;
    const FIONBIO: u32 = 0x5421;
    const FIOCLEX: u32 = 0x5451;
    const FIONCLEX: u32 = 0x5450;
    let entry = p.fd(fd)?;
    match request {
        FIOCLEX | FIONCLEX => {
            p.install_fd(
                fd as usize,
                FdEntry {
                    cloexec: request == FIOCLEX,
                    ..entry
                },
            );
            Ok(0)
        }
        FIONBIO => Ok(0),
        FIONREAD => write_u32(k, arg, 0).map(|_| 0),
        _ if !p.info.tty => Err(Errno::ENOTTY),
        TCGETS => k.write_user(arg, &default_termios()).map(|_| 0),
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | TIOCSPGRP => Ok(0),
        TIOCGWINSZ => k.write_user(arg, &winsize(24, 80)).map(|_| 0),
        TIOCGPGRP => write_u32(k, arg, p.info.pid).map(|_| 0),
        _ => Err(Errno::ENOTTY),
    }
}

/// A cooked-mode terminal as a fresh pty has it (`struct termios` of the kernel ABI, 60 bytes).
fn default_termios() -> [u8; 60] {
    let mut t = [0u8; 60];
    let iflag: u32 = 0o2400 | 0o400; // ICRNL | IXON | IUTF8 (approximately a pty's default)
    let oflag: u32 = 0o5; // OPOST | ONLCR
    let cflag: u32 = 0o277; // B38400 | CS8 | CREAD
    let lflag: u32 = 0o105_073; // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    t[0..4].copy_from_slice(&iflag.to_le_bytes());
    t[4..8].copy_from_slice(&oflag.to_le_bytes());
    t[8..12].copy_from_slice(&cflag.to_le_bytes());
    t[12..16].copy_from_slice(&lflag.to_le_bytes());
    // c_cc: VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D, VTIME 0, VMIN 1.
    let cc: [u8; 7] = [3, 0x1c, 0x7f, 0x15, 4, 0, 1];
    t[17..24].copy_from_slice(&cc);
    t
}

fn winsize(rows: u16, cols: u16) -> [u8; 8] {
    let mut w = [0u8; 8];
    w[0..2].copy_from_slice(&rows.to_le_bytes());
    w[2..4].copy_from_slice(&cols.to_le_bytes());
    w
}

pub(crate) fn fstat(p: &mut Process, k: &mut dyn Platform, fd: i32, statbuf: u64) -> SysResult {
    let st = console_stat(p.fd(fd)?.file, p.info.tty);
    k.write_user(statbuf, &st.to_bytes()).map(|_| 0)
}

const AT_EMPTY_PATH: i32 = 0x1000;

pub(crate) fn newfstatat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    statbuf: u64,
    flags: i32,
) -> SysResult {
    let path = read_cstr(k, path, PATH_MAX)?;
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        return fstat(p, k, dirfd, statbuf);
    }
    Err(if path.is_empty() {
        Errno::ENOENT
    } else {
        crate::sys::fs::no_such_path(&path)
    })
}

pub(crate) fn statx(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
    _mask: u32,
    buf: u64,
) -> SysResult {
    let path = read_cstr(k, path, PATH_MAX)?;
    if path.is_empty() && flags & AT_EMPTY_PATH != 0 {
        let st = console_stat(p.fd(dirfd)?.file, p.info.tty);
        return k.write_user(buf, &st.to_statx_bytes()).map(|_| 0);
    }
    Err(if path.is_empty() {
        Errno::ENOENT
    } else {
        crate::sys::fs::no_such_path(&path)
    })
}

/// poll(2) over the console: output fds are always writable, stdin is readable (data or end of
/// file; the host pipe cannot be peeked), closed fds are POLLNVAL.
fn poll_fds(p: &Process, k: &mut dyn Platform, fds: u64, nfds: u64) -> SysResult {
    const POLLIN: u16 = 0x1;
    const POLLOUT: u16 = 0x4;
    const POLLHUP: u16 = 0x10;
    const POLLNVAL: u16 = 0x20;
    if nfds > crate::process::NOFILE as u64 {
        return Err(Errno::EINVAL);
    }
    let mut ready = 0;
    for i in 0..nfds {
        let at = fds.checked_add(i * 8).ok_or(Errno::EFAULT)?;
        let mut pfd = [0u8; 8];
        k.read_user(at, &mut pfd)?;
        let fd = i32::from_le_bytes([pfd[0], pfd[1], pfd[2], pfd[3]]);
        let events = u16::from_le_bytes([pfd[4], pfd[5]]);
        let revents = if fd < 0 {
            0
        } else {
            match p.fd(fd) {
                Err(_) => POLLNVAL,
                Ok(e) => {
                    let mut r = 0;
                    if check_readable(p, e.file).is_ok() {
                        r |= POLLIN & events;
                        if e.file == File::Stdin
                            && p.stdin_eof
                            && !p.info.tty
                            && p.info.stdin_forwarded
                        {
                            r |= POLLHUP;
                        }
                    }
                    if output_stream(p, e.file).is_ok() {
                        r |= POLLOUT & events;
                    }
                    r
                }
            }
        };
        if revents != 0 {
            ready += 1;
        }
        k.write_user(at + 6, &revents.to_le_bytes())?;
    }
    Ok(ready)
}

pub(crate) fn poll(
    p: &mut Process,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    _timeout_ms: i32,
) -> SysResult {
    poll_fds(p, k, fds, nfds)
}

pub(crate) fn ppoll(
    p: &mut Process,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    _tsp: u64,
    _sigmask: u64,
    _size: u64,
) -> SysResult {
    poll_fds(p, k, fds, nfds)
}
