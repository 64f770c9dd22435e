//! read/write and their vector and positional forms (readv, pread64, preadv2...), and lseek.
//!
//! Every form is one run of user bytes ([`UserBufs`]) moved through the bounce buffer by one
//! copy loop; files the kernel serves itself go to [`super::host`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::oflags::*;
use coracle_vfs::types::FileType;
use coracle_vfs::{HostDevice, OpenFile};

use super::host::{host_read, host_write};
use super::{wait_for_file, with_bounce, CHUNK, MAX_RW_COUNT};
use crate::signal::SIGPIPE;
use crate::uaccess::{read_iovecs, IoVec};
use crate::user_ptr::UserSlice;
use crate::{Current, Errno, Platform, SysResult};

/// The user memory a read fills or a write drains: one buffer (read, write) or several
/// (readv, writev), seen as one run of bytes so that every form shares one copy loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserBufs<'a>(&'a [IoVec]);

impl<'a> UserBufs<'a> {
    /// `EFAULT` unless every buffer lies in user space (Linux's access_ok, done before any copy
    /// and also when nothing would be copied).
    fn check(self) -> Result<(), Errno> {
        for v in self.0 {
            UserSlice::new(v.base, v.len)?;
        }
        Ok(())
    }

    /// The buffers.
    pub(crate) fn iovecs(self) -> &'a [IoVec] {
        self.0
    }

    /// The total length (read_iovecs checked that it does not overflow).
    pub(crate) fn len(self) -> u64 {
        self.0.iter().map(|v| v.len).fold(0, u64::saturating_add)
    }

    /// Calls `f(user address, range of the run)` for the pieces of bytes `at..at + len`, in
    /// order, until it fails.
    fn each<E>(
        self,
        at: u64,
        len: usize,
        mut f: impl FnMut(u64, core::ops::Range<usize>) -> Result<(), E>,
    ) -> Result<(), E> {
        let (mut start, end) = (at, at + len as u64);
        let mut base = 0u64;
        for v in self.0 {
            let v_end = base + v.len;
            if start < v_end && start < end {
                let n = (v_end.min(end) - start) as usize;
                let from = (start - at) as usize;
                f(v.base + (start - base), from..from + n)?;
                start += n as u64;
            }
            if start >= end {
                break;
            }
            base = v_end;
        }
        Ok(())
    }

    /// Copies `data` to bytes `at..` of the run.
    pub(crate) fn store(self, k: &mut dyn Platform, at: u64, data: &[u8]) -> Result<(), Errno> {
        self.each(at, data.len(), |addr, range| {
            k.write_user(addr, &data[range])
        })
    }

    /// Copies `data` to bytes `at..` of the run; on a bad buffer, how many bytes were copied
    /// before it (to the page: the piece that faulted is retried a page at a time).
    pub(crate) fn store_counted(
        self,
        k: &mut dyn Platform,
        at: u64,
        data: &[u8],
    ) -> Result<(), (usize, Errno)> {
        self.each(at, data.len(), |addr, range| {
            let from = range.start;
            let Err(e) = k.write_user(addr, &data[range.clone()]) else {
                return Ok(());
            };
            let mut copied = 0;
            while from + copied < range.end {
                let a = addr + copied as u64;
                let n = ((crate::mm::PAGE - a % crate::mm::PAGE) as usize)
                    .min(range.end - from - copied);
                if k.write_user(a, &data[from + copied..from + copied + n])
                    .is_err()
                {
                    break;
                }
                copied += n;
            }
            Err((from + copied, e))
        })
    }

    /// Fills `out` from bytes `at..` of the run; on a bad buffer, how many bytes came before it.
    pub(crate) fn load(
        self,
        k: &dyn Platform,
        at: u64,
        out: &mut [u8],
    ) -> Result<(), (usize, Errno)> {
        self.each(at, out.len(), |addr, range| {
            let from = range.start;
            k.read_user(addr, &mut out[range]).map_err(|e| (from, e))
        })
    }
}

/// The checks read and write share, in Linux's order: the access mode (`allowed`), then for a
/// kernel-served file the offset's seekability (its device is returned), else the offset's
/// sign.
fn rw_checks(
    file: &OpenFile,
    allowed: bool,
    offset: Option<i64>,
) -> Result<Option<HostDevice>, Errno> {
    if !allowed {
        return Err(Errno::EBADF);
    }
    if let Some(dev) = file.ops().host_device() {
        if offset.is_some() && !file.ops().seekable() {
            return Err(Errno::ESPIPE);
        }
        return Ok(Some(dev));
    }
    if offset.is_some_and(|o| o < 0) {
        return Err(Errno::EINVAL);
    }
    Ok(None)
}

/// The checks and the files another layer serves, shared by read and write: a failed check,
/// or the result of a kernel-served device, a terminal, a signalfd (read) or a socket with a
/// timeout (no offset); `None` leaves the call to the generic copy loop.
fn served_elsewhere(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
    dir: Dir,
) -> Option<SysResult> {
    let host = match rw_checks(file, dir.allowed(file), offset).and_then(|h| {
        bufs.check()?;
        Ok(h)
    }) {
        Ok(host) => host,
        Err(e) => return Some(Err(e)),
    };
    if let Some(dev) = host {
        return Some(match dir {
            Dir::Read => host_read(p, k, file, dev, bufs),
            Dir::Write => host_write(p, k, file, dev, bufs),
        });
    }
    if let Some(tf) = crate::tty::file_tty(file) {
        return Some(match (offset, dir) {
            (Some(_), _) => Err(Errno::ESPIPE),
            (None, Dir::Read) => crate::tty::io::read(p, k, file, tf, bufs),
            (None, Dir::Write) => crate::tty::io::write(p, k, file, tf, bufs),
        });
    }
    if dir == Dir::Read {
        if let Some(r) = crate::signal::signalfd::read(p, k, file, bufs) {
            return Some(r);
        }
    }
    if let Some(r) = crate::procfs::mem_rw(p, k, file, bufs, offset, dir == Dir::Write) {
        return Some(r);
    }
    if offset.is_some() {
        return None;
    }
    match dir {
        Dir::Read => crate::sys::net::timed_read(p, k, file, bufs.iovecs()),
        Dir::Write => crate::sys::net::timed_write(p, k, file, bufs.iovecs()),
    }
}

/// Reads up to `count` bytes from `file` to user `buf`, at the file offset or at `offset`.
pub(crate) fn read_file(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
) -> SysResult {
    if let Some(r) = served_elsewhere(p, k, file, bufs, offset, Dir::Read) {
        return r;
    }
    let count = bufs.len().min(MAX_RW_COUNT);
    // A stream (pipe, socket, device) gives what one read returns; a seekable file is read
    // until the request is full or a read comes back short.
    let stream = !file.ops().seekable();
    let mut registered = false;
    with_bounce(p, |p, chunk| {
        let mut done: u64 = 0;
        loop {
            let want = ((count - done) as usize).min(CHUNK);
            let r = match offset {
                None => file.read(&mut chunk[..want]),
                Some(o) => file.pread(o + done as i64, &mut chunk[..want]),
            };
            match r {
                Ok(n) => {
                    if n > 0 {
                        if let Err((copied, e)) = bufs.store_counted(k, done, &chunk[..n]) {
                            // What did not reach the reader stays in the file (a pipe keeps
                            // it, an offset moves back over it), as Linux consumes only
                            // what it copied out; the call returns what was copied.
                            if offset.is_none() {
                                file.give_back(&chunk[copied..n]);
                            }
                            done += copied as u64;
                            return if done == 0 { Err(e) } else { Ok(done) };
                        }
                    }
                    done += n as u64;
                    if n < want || stream || done == count {
                        return Ok(done);
                    }
                }
                Err(Errno::EAGAIN) if done == 0 && !file.nonblocking() => {
                    if let Some(e) = wait_for_file(p, file, &mut registered) {
                        return Err(e);
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            }
        }
    })
}

/// Writes the bytes of `bufs` to `file`, at the file offset or at `offset`. Up to CHUNK bytes
/// go to the file in one write, so a writev of at most PIPE_BUF bytes stays atomic on a pipe;
/// a blocking write that fills a pipe waits and goes on until everything is written.
pub(crate) fn write_file(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
) -> SysResult {
    if let Some(r) = served_elsewhere(p, k, file, bufs, offset, Dir::Write) {
        return r;
    }
    let count = bufs.len().min(MAX_RW_COUNT);
    if file.ops().discards_writes() {
        // /dev/null and /dev/zero never look at the bytes.
        return Ok(count);
    }
    let start = || match offset {
        _ if file.flags() & O_APPEND != 0 => file.inode().stat().size,
        Some(o) => o as u64,
        None => file.offset(),
    };
    if count > 0 {
        crate::sys::fs::check_seals(p, file, true, || start().saturating_add(count))?;
        crate::sys::fs::remove_privs(p, file.inode());
    }
    let count = match fsize_room(p, file) {
        Some(limit) if count > 0 => {
            let room = limit.saturating_sub(start());
            if room == 0 {
                crate::signal::raise(p, SIGXFSZ);
                return Err(Errno::EFBIG);
            }
            count.min(room)
        }
        _ => count,
    };
    let mut registered = false;
    let r = with_bounce(p, |p, chunk| {
        // A blocking write that waited part-way goes on after what it wrote before.
        let mut done: u64 = p.progress.min(count);
        loop {
            let want = ((count - done) as usize).min(CHUNK);
            // After a bad buffer, what came before it is written and the call ends there.
            let (have, fault) = match bufs.load(k, done, &mut chunk[..want]) {
                Ok(()) => (want, None),
                Err((have, e)) => (have, Some(e)),
            };
            if have == 0 && want > 0 {
                return match fault {
                    Some(e) if done == 0 => Err(e),
                    _ => Ok(done),
                };
            }
            let r = match offset {
                None => file.write(&chunk[..have]),
                Some(o) => file.pwrite(o + done as i64, &chunk[..have]),
            };
            match r {
                Ok(n) => {
                    done += n as u64;
                    if done == count || n == 0 || file.ops().record_io() {
                        return Ok(done);
                    }
                    if n < have && file.nonblocking() || n == have && fault.is_some() {
                        return Ok(done);
                    }
                }
                Err(Errno::EAGAIN) if !file.nonblocking() => {
                    match wait_for_file(p, file, &mut registered) {
                        None => {}
                        Some(Errno::WAIT) => {
                            p.progress = done;
                            return Err(Errno::WAIT);
                        }
                        Some(_) if done > 0 => return Ok(done),
                        Some(e) => return Err(e),
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => return Ok(done),
            }
        }
    });
    if r == Err(Errno::EPIPE) {
        crate::signal::raise(p, SIGPIPE);
    }
    r
}

/// RLIMIT_FSIZE's soft limit when `file` is a regular file it binds (generic_write_checks):
/// a write that starts at or past it raises SIGXFSZ and fails with `EFBIG`, one that
/// crosses it is cut short there.
fn fsize_room(p: &Current, file: &OpenFile) -> Option<u64> {
    let limit = crate::sys::mman::limit(p, RLIMIT_FSIZE);
    (limit != u64::MAX && file.inode().stat().file_type() == FileType::Regular).then_some(limit)
}

/// RLIMIT_FSIZE's index in the limits.
pub(crate) const RLIMIT_FSIZE: usize = 1;
/// The signal for a write past RLIMIT_FSIZE.
pub(crate) const SIGXFSZ: u32 = 25;

/// Which way the bytes go: the twins (read/write, pread64/pwrite64, readv/writev,
/// preadv2/pwritev2) differ only in this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

impl Dir {
    /// Whether the file's access mode allows this direction.
    fn allowed(self, file: &OpenFile) -> bool {
        match self {
            Dir::Read => file.readable(),
            Dir::Write => file.writable(),
        }
    }
}

fn transfer(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
    dir: Dir,
) -> SysResult {
    match dir {
        Dir::Read => read_file(p, k, file, bufs, offset),
        Dir::Write => write_file(p, k, file, bufs, offset),
    }
}

/// read, write, and with an offset pread64, pwrite64: one user buffer.
fn one_buffer(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    (base, len): (u64, u64),
    offset: Option<i64>,
    dir: Dir,
) -> SysResult {
    let file = p.file(fd)?;
    // pread64/pwrite64 on a pipe or socket: ESPIPE, unless the mode already forbids the call.
    if offset.is_some() && !file.ops().seekable() && dir.allowed(&file) {
        return Err(Errno::ESPIPE);
    }
    transfer(p, k, &file, UserBufs(&[IoVec { base, len }]), offset, dir)
}

pub(crate) fn read(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    one_buffer(p, k, fd, (buf, count), None, Dir::Read)
}

pub(crate) fn write(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    one_buffer(p, k, fd, (buf, count), None, Dir::Write)
}

pub(crate) fn pread64(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
    offset: i64,
) -> SysResult {
    one_buffer(p, k, fd, (buf, count), Some(offset), Dir::Read)
}

pub(crate) fn pwrite64(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
    offset: i64,
) -> SysResult {
    one_buffer(p, k, fd, (buf, count), Some(offset), Dir::Write)
}

pub(crate) fn readv(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    transfer(p, k, &file, UserBufs(&iovs), None, Dir::Read)
}

pub(crate) fn writev(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    transfer(p, k, &file, UserBufs(&iovs), None, Dir::Write)
}

/// RWF_* flags preadv2/pwritev2 accept.
const RWF_VALID: i32 = 0x1f;
const RWF_APPEND: i32 = 0x10;

pub(crate) fn preadv(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
) -> SysResult {
    vectored_at(p, k, (fd, iov, iovcnt), offset, 0, Dir::Read)
}

pub(crate) fn pwritev(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
) -> SysResult {
    vectored_at(p, k, (fd, iov, iovcnt), offset, 0, Dir::Write)
}

pub(crate) fn preadv2(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
    _pos_h: u64,
    flags: i32,
) -> SysResult {
    vectored_at(p, k, (fd, iov, iovcnt), offset, flags, Dir::Read)
}

pub(crate) fn pwritev2(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
    _pos_h: u64,
    flags: i32,
) -> SysResult {
    vectored_at(p, k, (fd, iov, iovcnt), offset, flags, Dir::Write)
}

/// preadv, pwritev, preadv2, pwritev2: an offset of -1 means the file offset (preadv2(2)).
fn vectored_at(
    p: &mut Current,
    k: &mut dyn Platform,
    (fd, iov, iovcnt): (i32, u64, u64),
    offset: i64,
    flags: i32,
    dir: Dir,
) -> SysResult {
    if flags & !RWF_VALID != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    if !dir.allowed(&file) {
        return Err(Errno::EBADF);
    }
    if dir == Dir::Write
        && flags & RWF_APPEND != 0
        && file.ops().seekable()
        && file.ops().host_device().is_none()
    {
        return write_at_end(p, k, &file, &iovs);
    }
    let at = match offset {
        -1 => None,
        _ if !file.ops().seekable() => return Err(Errno::ESPIPE),
        o if o < 0 => return Err(Errno::EINVAL),
        o => Some(o),
    };
    transfer(p, k, &file, UserBufs(&iovs), at, dir)
}

/// pwritev2 with RWF_APPEND: the bytes go at the end of the file, whatever the offset.
fn write_at_end(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    iovs: &[IoVec],
) -> SysResult {
    let mut data = Vec::new();
    for v in iovs.iter().filter(|v| v.len > 0) {
        let start = data.len();
        data.try_reserve(v.len as usize)
            .map_err(|_| Errno::ENOMEM)?;
        data.resize(start + v.len as usize, 0);
        k.read_user(v.base, &mut data[start..])?;
    }
    crate::sys::fs::check_seals(p, file, true, || {
        file.inode().stat().size + data.len() as u64
    })?;
    file.write_at_end(&data).map(|n| n as u64)
}

pub(crate) fn lseek(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd: i32,
    offset: i64,
    whence: i32,
) -> SysResult {
    let file = p.file(fd)?;
    if file.ops().host_device().is_some() && !file.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    if file.ops().host_device() == Some(HostDevice::Random) {
        return Ok(0);
    }
    file.seek(offset, whence)
}
