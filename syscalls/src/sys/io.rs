//! Calls on file descriptors: read/write and their vector and positional forms, lseek, close,
//! dup, fcntl, ioctl, fstat, getdents64, pipes, poll/select, sendfile, copy_file_range, flock,
//! the sync family.
//!
//! Data moves through one reusable kernel bounce buffer, 64 KiB at a time. Files the kernel
//! serves itself (the console, /dev/random) are named by [`HostDevice`] and handled here.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_vfs::file::events::*;
use coracle_vfs::pipe::{pipe_of, Pipe};
use coracle_vfs::types::{oflags::*, FileType, Stat, S_IFIFO};
use coracle_vfs::{HostDevice, Inode, OpenFile, Wake};

use crate::process::{Fd, NOFILE};
use crate::sys::stat::stat_bytes;
use crate::uaccess::{read_iovecs, read_u64, write_u32, write_u64, IoVec};
use crate::user_ptr::UserSlice;
use crate::{Errno, Platform, Process, Stream, SysResult};

/// Largest byte count one read or write moves (MAX_RW_COUNT: INT_MAX rounded down to a page).
pub(crate) const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// How much is copied through the kernel at a time.
pub(crate) const CHUNK: usize = 64 * 1024;
const SIGPIPE: i32 = 13;

/// Runs `f` with the process's bounce buffer (CHUNK bytes, allocated once and reused).
pub(crate) fn with_bounce<T>(p: &mut Process, f: impl FnOnce(&mut Process, &mut [u8]) -> T) -> T {
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let r = f(p, &mut buf);
    p.bounce = buf;
    r
}

/// The step after an operation on `file` found it would block: the first time, register on
/// the file's wait queue and say "try again" (`None`) so a change that raced with the
/// registration is not missed; the second time, wait. A signal ends the wait with
/// ERESTARTSYS.
pub(crate) fn wait_for_file(
    p: &mut Process,
    file: &OpenFile,
    registered: &mut bool,
) -> Option<Errno> {
    if p.resumed() == Some(Wake::Interrupted) {
        return Some(Errno::ERESTARTSYS);
    }
    if *registered {
        return Some(Errno::WAIT);
    }
    *registered = true;
    match file.ops().wait_queue() {
        Some(q) => p.wait_on(q, u64::MAX),
        None => {
            p.begin_wait();
        }
    }
    None
}

// ---- the console and /dev/random ----

fn is_terminal(p: &Process, dev: HostDevice) -> bool {
    match dev {
        HostDevice::Tty => true,
        HostDevice::Stdin | HostDevice::Stdout | HostDevice::Stderr => p.info.tty,
        HostDevice::Random => false,
    }
}

fn host_read(
    p: &mut Process,
    k: &mut dyn Platform,
    dev: HostDevice,
    bufs: UserBufs<'_>,
) -> SysResult {
    let count = bufs.len().min(MAX_RW_COUNT);
    if count == 0 {
        return Ok(0);
    }
    with_bounce(p, |p, chunk| {
        match dev {
            HostDevice::Random => {
                // Random devices fill the whole request, a chunk at a time.
                let mut done = 0u64;
                while done < count {
                    let n = ((count - done) as usize).min(chunk.len());
                    k.random(&mut chunk[..n]);
                    bufs.store(k, done, &chunk[..n])?;
                    done += n as u64;
                }
                Ok(done)
            }
            HostDevice::Stdin | HostDevice::Tty | HostDevice::Stdout | HostDevice::Stderr => {
                if p.stdin_eof {
                    return Ok(0);
                }
                let want = (count as usize).min(chunk.len());
                let n = k.read_stdin(&mut chunk[..want]);
                if n == 0 {
                    p.stdin_eof = true;
                    return Ok(0);
                }
                bufs.store(k, 0, &chunk[..n])?;
                Ok(n as u64)
            }
        }
    })
}

fn host_write(
    p: &mut Process,
    k: &mut dyn Platform,
    dev: HostDevice,
    bufs: UserBufs<'_>,
) -> SysResult {
    let count = bufs.len().min(MAX_RW_COUNT);
    with_bounce(p, |_, chunk| {
        let mut done: u64 = 0;
        while done < count {
            let n = ((count - done) as usize).min(CHUNK);
            let got = match bufs.load(k, done, &mut chunk[..n]) {
                Ok(()) => n,
                Err((0, e)) if done == 0 => return Err(e),
                Err((got, _)) => got,
            };
            match dev {
                // Writing to /dev/random mixes entropy in; the bytes are checked like any write.
                HostDevice::Random => {}
                HostDevice::Stderr => k.write_stream(Stream::Stderr, &chunk[..got]),
                _ => k.write_stream(Stream::Stdout, &chunk[..got]),
            }
            done += got as u64;
            if got < n {
                break;
            }
        }
        Ok(done)
    })
}

/// The user memory a read fills or a write drains: one buffer (read, write) or several
/// (readv, writev), seen as one run of bytes so that every form shares one copy loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserBufs<'a>(&'a [IoVec]);

impl UserBufs<'_> {
    /// `EFAULT` unless every buffer lies in user space (Linux's access_ok, done before any copy
    /// and also when nothing would be copied).
    fn check(self) -> Result<(), Errno> {
        for v in self.0 {
            UserSlice::new(v.base, v.len)?;
        }
        Ok(())
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
    fn load(self, k: &dyn Platform, at: u64, out: &mut [u8]) -> Result<(), (usize, Errno)> {
        self.each(at, out.len(), |addr, range| {
            let from = range.start;
            k.read_user(addr, &mut out[range]).map_err(|e| (from, e))
        })
    }
}

// ---- reads and writes through the VFS ----

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

/// Reads up to `count` bytes from `file` to user `buf`, at the file offset or at `offset`.
pub(crate) fn read_file(
    p: &mut Process,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
) -> SysResult {
    let host = rw_checks(file, file.readable(), offset)?;
    bufs.check()?;
    if let Some(dev) = host {
        return host_read(p, k, dev, bufs);
    }
    if let Some(r) = crate::signal::signalfd::read(p, k, file, bufs) {
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
    p: &mut Process,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
) -> SysResult {
    let host = rw_checks(file, file.writable(), offset)?;
    bufs.check()?;
    if let Some(dev) = host {
        return host_write(p, k, dev, bufs);
    }
    let count = bufs.len().min(MAX_RW_COUNT);
    if file.ops().discards_writes() {
        // /dev/null and /dev/zero never look at the bytes.
        return Ok(count);
    }
    if count > 0 {
        crate::sys::fs::check_seals(p, file, true, || {
            let start = match offset {
                _ if file.flags() & O_APPEND != 0 => file.inode().stat().size,
                Some(o) => o as u64,
                None => file.offset(),
            };
            start.saturating_add(count)
        })?;
    }
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
        crate::sys::signal::raise(p, k, SIGPIPE)?;
    }
    r
}

/// One user buffer as a run of bytes.
fn one(base: u64, len: u64) -> [IoVec; 1] {
    [IoVec { base, len }]
}

pub(crate) fn read(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    read_file(p, k, &file, UserBufs(&one(buf, count)), None)
}

pub(crate) fn write(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    write_file(p, k, &file, UserBufs(&one(buf, count)), None)
}

pub(crate) fn pread64(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
    offset: i64,
) -> SysResult {
    let file = p.file(fd)?;
    if !file.ops().seekable() && file.readable() {
        return Err(Errno::ESPIPE);
    }
    read_file(p, k, &file, UserBufs(&one(buf, count)), Some(offset))
}

pub(crate) fn pwrite64(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    count: u64,
    offset: i64,
) -> SysResult {
    let file = p.file(fd)?;
    if !file.ops().seekable() && file.writable() {
        return Err(Errno::ESPIPE);
    }
    write_file(p, k, &file, UserBufs(&one(buf, count)), Some(offset))
}

pub(crate) fn readv(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    read_file(p, k, &file, UserBufs(&iovs), None)
}

pub(crate) fn writev(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
) -> SysResult {
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    write_file(p, k, &file, UserBufs(&iovs), None)
}

/// RWF_* flags preadv2/pwritev2 accept.
const RWF_VALID: i32 = 0x1f;
const RWF_APPEND: i32 = 0x10;

fn vec_offset(file: &OpenFile, offset: i64, allow_current: bool) -> Result<Option<i64>, Errno> {
    if offset == -1 && allow_current {
        return Ok(None);
    }
    if !file.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    if offset < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(offset))
}

pub(crate) fn preadv(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
) -> SysResult {
    preadv2(p, k, fd, iov, iovcnt, offset, 0, 0)
}

pub(crate) fn pwritev(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
) -> SysResult {
    pwritev2(p, k, fd, iov, iovcnt, offset, 0, 0)
}

pub(crate) fn preadv2(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
    _pos_h: u64,
    flags: i32,
) -> SysResult {
    if flags & !RWF_VALID != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let at = vec_offset(&file, offset, flags != 0 || offset == -1)?;
    read_file(p, k, &file, UserBufs(&iovs), at)
}

pub(crate) fn pwritev2(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    iovcnt: u64,
    offset: i64,
    _pos_h: u64,
    flags: i32,
) -> SysResult {
    if flags & !RWF_VALID != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let file = p.file(fd)?;
    let iovs = read_iovecs(k, iov, iovcnt)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if flags & RWF_APPEND != 0 && file.ops().seekable() && file.ops().host_device().is_none() {
        let mut data = Vec::new();
        for v in iovs.iter().filter(|v| v.len > 0) {
            let start = data.len();
            data.try_reserve(v.len as usize)
                .map_err(|_| Errno::ENOMEM)?;
            data.resize(start + v.len as usize, 0);
            k.read_user(v.base, &mut data[start..])?;
        }
        crate::sys::fs::check_seals(p, &file, true, || {
            file.inode().stat().size + data.len() as u64
        })?;
        return file.write_at_end(&data).map(|n| n as u64);
    }
    let at = vec_offset(&file, offset, offset == -1)?;
    write_file(p, k, &file, UserBufs(&iovs), at)
}

pub(crate) fn lseek(
    p: &mut Process,
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

// ---- the fd table ----

pub(crate) fn close(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let slot = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
    let old = p.shared.files.lock().remove(slot).ok_or(Errno::EBADF)?;
    release_posix_locks(p, &old.file);
    // The description (and a pipe end with it) closes here, outside the table lock.
    drop(old);
    // Its OFD and flock locks may have gone with it.
    p.sys.lock_waiters.wake_everyone();
    Ok(0)
}

/// Closing any fd of a file drops the process's POSIX locks on it.
fn release_posix_locks(p: &Process, file: &OpenFile) {
    let st = file.inode().stat();
    p.sys
        .locks
        .lock()
        .release_process((st.dev, st.ino), p.shared.pid);
}

pub(crate) fn close_range(
    p: &mut Process,
    _k: &mut dyn Platform,
    first: u32,
    last: u32,
    flags: u32,
) -> SysResult {
    const CLOSE_RANGE_UNSHARE: u32 = 2;
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    if flags & !(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let mut closed = Vec::new();
    let mut files = p.shared.files.lock();
    let end = (last as usize).min(files.len().saturating_sub(1));
    for fd in first as usize..=end {
        if flags & CLOSE_RANGE_CLOEXEC != 0 {
            let _ = files.set_cloexec(fd as i32, true);
        } else if let Some(f) = files.remove(fd) {
            closed.push(f);
        }
    }
    drop(files);
    for f in &closed {
        release_posix_locks(p, &f.file);
    }
    drop(closed);
    Ok(0)
}

fn dup_to_lowest(p: &Process, fd: i32, min: usize, cloexec: bool) -> SysResult {
    let limit = p.fd_limit();
    let mut files = p.shared.files.lock();
    let file = files.file(fd)?;
    files
        .install_lowest(min, limit, Fd { file, cloexec })
        .map(|n| n as u64)
}

pub(crate) fn dup(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    dup_to_lowest(p, fd, 0, false)
}

pub(crate) fn dup2(p: &mut Process, k: &mut dyn Platform, oldfd: i32, newfd: i32) -> SysResult {
    if oldfd == newfd {
        p.file(oldfd)?;
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
    if flags & !(O_CLOEXEC as i32) != 0 {
        return Err(Errno::EINVAL);
    }
    let limit = p.fd_limit();
    let mut files = p.shared.files.lock();
    let file = files.file(oldfd)?;
    if oldfd == newfd {
        return Err(Errno::EINVAL);
    }
    let new = usize::try_from(newfd)
        .ok()
        .filter(|&n| n < limit)
        .ok_or(Errno::EBADF)?;
    let old = files.set(
        new,
        Fd {
            file,
            cloexec: flags & O_CLOEXEC as i32 != 0,
        },
    )?;
    drop(files);
    if let Some(old) = &old {
        release_posix_locks(p, &old.file);
    }
    drop(old);
    Ok(new as u64)
}

/// `struct flock` of x86_64 (32 bytes): l_type, l_whence, l_start, l_len, l_pid.
const F_RDLCK: i16 = 0;
const F_WRLCK: i16 = 1;
const F_UNLCK: i16 = 2;

fn record_lock(
    p: &mut Process,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    cmd: i32,
    arg: u64,
) -> SysResult {
    use crate::locks::Owner;
    const F_GETLK: i32 = 5;
    const F_SETLKW: i32 = 7;
    const F_OFD_GETLK: i32 = 36;
    const F_OFD_SETLKW: i32 = 38;
    let mut raw = [0u8; 32];
    k.read_user(arg, &mut raw)?;
    let l_type = i16::from_le_bytes([raw[0], raw[1]]);
    let whence = i16::from_le_bytes([raw[2], raw[3]]);
    let l_start = i64::from_le_bytes(raw[8..16].try_into().unwrap_or_default());
    let l_len = i64::from_le_bytes(raw[16..24].try_into().unwrap_or_default());
    let l_pid = i32::from_le_bytes([raw[24], raw[25], raw[26], raw[27]]);
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    if !(F_RDLCK..=F_UNLCK).contains(&l_type) {
        return Err(Errno::EINVAL);
    }
    let ofd = (36..=38).contains(&cmd);
    if ofd && l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let base: i128 = match whence {
        0 => 0,
        1 => i128::from(file.offset()),
        2 => i128::from(file.inode().stat().size),
        _ => return Err(Errno::EINVAL),
    };
    let start = base + i128::from(l_start);
    let (start, end) = match l_len {
        0 => (start, i128::from(u64::MAX)),
        n if n > 0 => (start, start + i128::from(n)),
        n => (start + i128::from(n), start),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = (start as u64, end.min(i128::from(u64::MAX)) as u64);
    let st = file.inode().stat();
    let key = (st.dev, st.ino);
    let owner = if ofd {
        Owner::file(file)
    } else {
        Owner::Process(p.shared.pid)
    };
    let mut locks = p.sys.locks.lock();
    if cmd == F_GETLK || cmd == F_OFD_GETLK {
        if l_type == F_UNLCK {
            return Err(Errno::EINVAL);
        }
        match locks.test(key, &owner, start, end, l_type == F_WRLCK) {
            None => raw[0..2].copy_from_slice(&F_UNLCK.to_le_bytes()),
            Some(c) => {
                let t = if c.write { F_WRLCK } else { F_RDLCK };
                raw[0..2].copy_from_slice(&t.to_le_bytes());
                raw[2..4].copy_from_slice(&0i16.to_le_bytes());
                raw[8..16].copy_from_slice(&(c.start as i64).to_le_bytes());
                let len = if c.end == u64::MAX {
                    0
                } else {
                    (c.end - c.start) as i64
                };
                raw[16..24].copy_from_slice(&len.to_le_bytes());
                raw[24..28].copy_from_slice(&c.pid.to_le_bytes());
            }
        }
        drop(locks);
        k.write_user(arg, &raw)?;
        return Ok(0);
    }
    let kind = match l_type {
        F_RDLCK if !file.readable() => return Err(Errno::EBADF),
        F_WRLCK if !file.writable() => return Err(Errno::EBADF),
        F_UNLCK => None,
        t => Some(t == F_WRLCK),
    };
    let wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
    match locks.set(key, owner.clone(), start, end, kind) {
        Ok(()) => {
            drop(locks);
            p.sys.lock_waiters.wake_everyone();
            Ok(0)
        }
        Err(_) if wait && p.resumed() == Some(Wake::Interrupted) => Err(Errno::ERESTARTSYS),
        Err(_) if wait => {
            drop(locks);
            // Register, then try once more: an unlock in between is not missed.
            let sys = p.sys.clone();
            p.wait_on(&sys.lock_waiters, u64::MAX);
            let again = sys.locks.lock().set(key, owner, start, end, kind);
            match again {
                Ok(()) => Ok(0),
                Err(_) => Err(Errno::WAIT),
            }
        }
        Err(_) => Err(Errno::EAGAIN),
    }
}

pub(crate) fn fcntl(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    cmd: i32,
    arg: u64,
) -> SysResult {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_SETOWN: i32 = 8;
    const F_GETOWN: i32 = 9;
    const F_SETSIG: i32 = 10;
    const F_GETSIG: i32 = 11;
    const F_GETOWN_EX: i32 = 16;
    const F_SETLEASE: i32 = 1024;
    const F_GETLEASE: i32 = 1025;
    const F_NOTIFY: i32 = 1026;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const F_SETPIPE_SZ: i32 = 1031;
    const F_GETPIPE_SZ: i32 = 1032;
    const F_ADD_SEALS: i32 = 1033;
    const F_GET_SEALS: i32 = 1034;
    const FD_CLOEXEC: u64 = 1;
    let entry = p.shared.files.lock().get(fd)?;
    let file = &entry.file;
    let path_only = file.is_path();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = usize::try_from(arg as i32).map_err(|_| Errno::EINVAL)?;
            if min >= p.fd_limit() {
                return Err(Errno::EINVAL);
            }
            dup_to_lowest(p, fd, min, cmd == F_DUPFD_CLOEXEC)
        }
        F_GETFD => Ok(u64::from(entry.cloexec)),
        F_SETFD => {
            p.shared
                .files
                .lock()
                .set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(u64::from(file.flags())),
        F_SETFL if path_only => Err(Errno::EBADF),
        F_SETFL => {
            file.set_flags(arg as u32);
            Ok(0)
        }
        5..=7 | 36..=38 => record_lock(p, k, file, cmd, arg),
        _ if path_only => Err(Errno::EBADF),
        F_GETOWN | F_GETSIG | F_GETLEASE => Ok(if cmd == F_GETLEASE { F_UNLCK as u64 } else { 0 }),
        F_SETOWN | F_SETSIG | F_GETOWN_EX => Ok(0),
        F_SETLEASE | F_NOTIFY => Err(Errno::EINVAL),
        F_GETPIPE_SZ => pipe_of(file.ops())
            .map(|pipe| pipe.capacity() as u64)
            .ok_or(Errno::EBADF),
        F_SETPIPE_SZ => {
            let pipe = pipe_of(file.ops()).ok_or(Errno::EBADF)?;
            let privileged = p.shared.uid == 0;
            pipe.set_capacity(arg as u32 as usize, privileged)
                .map(|n| n as u64)
        }
        F_ADD_SEALS | F_GET_SEALS => crate::sys::fs::seals(p, file, cmd == F_ADD_SEALS, arg as u32),
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
    const FIOASYNC: u32 = 0x5452;
    const FIOCLEX: u32 = 0x5451;
    const FIONCLEX: u32 = 0x5450;
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let terminal = file.ops().host_device().is_some_and(|d| is_terminal(p, d));
    match request {
        FIOCLEX | FIONCLEX => {
            p.shared.files.lock().set_cloexec(fd, request == FIOCLEX)?;
            Ok(0)
        }
        FIONBIO | FIOASYNC => {
            let mut v = [0u8; 4];
            k.read_user(arg, &mut v)?;
            let on = u32::from_le_bytes(v) != 0;
            let bit = if request == FIONBIO {
                O_NONBLOCK
            } else {
                O_ASYNC
            };
            let flags = file.flags();
            file.set_flags(if on { flags | bit } else { flags & !bit });
            Ok(0)
        }
        FIONREAD => {
            let n = if let Some(n) = file.ops().readable_bytes() {
                n as u64
            } else {
                let st = file.inode().stat();
                match st.file_type() {
                    // i_size - f_pos, negative past the end, as Linux reports it.
                    FileType::Regular => {
                        st.size.wrapping_sub(file.offset()) as i64 as i32 as u32 as u64
                    }
                    _ if file.ops().host_device().is_some() => 0,
                    _ => return Err(Errno::ENOTTY),
                }
            };
            write_u32(k, arg, n as u32).map(|_| 0)
        }
        _ if !terminal => Err(Errno::ENOTTY),
        TCGETS => k.write_user(arg, &default_termios()).map(|_| 0),
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | TIOCSPGRP => Ok(0),
        TIOCGWINSZ => k.write_user(arg, &winsize(24, 80)).map(|_| 0),
        TIOCGPGRP => write_u32(k, arg, p.shared.pid).map(|_| 0),
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
    let st = p.file(fd)?.inode().stat();
    k.write_user(statbuf, &stat_bytes(&st)).map(|_| 0)
}

pub(crate) fn getdents64(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    dirp: u64,
    count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    if file.inode().is_removed() && !file.is_path() {
        return Err(Errno::ENOENT);
    }
    let cx = p.caller();
    let cap = count.min(MAX_RW_COUNT) as usize;
    let start = file.offset();
    let mut out: Vec<u8> = Vec::new();
    let mut too_small = false;
    file.getdents(&cx, |e, next| {
        let reclen = (19 + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > cap {
            too_small = out.is_empty();
            return false;
        }
        let start = out.len();
        out.resize(start + reclen, 0);
        let rec = &mut out[start..];
        rec[0..8].copy_from_slice(&e.ino.to_le_bytes());
        rec[8..16].copy_from_slice(&next.to_le_bytes());
        rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
        rec[18] = e.kind.dirent_type();
        rec[19..19 + e.name.len()].copy_from_slice(&e.name);
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    if let Err(e) = k.write_user(dirp, &out) {
        // Nothing was delivered: the next call starts from the same entry, as on Linux.
        file.seek(start as i64, coracle_vfs::file::SEEK_SET)?;
        return Err(e);
    }
    Ok(out.len() as u64)
}

// ---- pipes ----

/// The inode of a pipe made by pipe(2) (on pipefs).
struct PipeInode {
    ino: u64,
    pipe: Arc<Pipe>,
}

impl Inode for PipeInode {
    fn stat(&self) -> Stat {
        Stat {
            dev: 0xd,
            ino: self.ino,
            mode: S_IFIFO | 0o600,
            nlink: 1,
            blksize: 4096,
            ..Stat::default()
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn fifo(&self) -> Option<Arc<Pipe>> {
        Some(self.pipe.clone())
    }
}

pub(crate) fn pipe2(p: &mut Process, k: &mut dyn Platform, fds: u64, flags: i32) -> SysResult {
    static NEXT_INO: AtomicU64 = AtomicU64::new(20000);
    const O_NOTIFICATION_PIPE: u32 = O_EXCL;
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let pipe = Pipe::new();
    let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
    let inode: Arc<dyn Inode> = Arc::new(PipeInode {
        ino,
        pipe: pipe.clone(),
    });
    let path = alloc::format!("pipe:[{ino}]").into_bytes();
    let status = flags & (O_NONBLOCK | O_DIRECT);
    let reader = OpenFile::new(
        inode.clone(),
        path.clone(),
        O_RDONLY | status,
        pipe.open_reader(),
    );
    let writer = OpenFile::new(inode, path, O_WRONLY | status, pipe.open_writer());
    let cloexec = flags & O_CLOEXEC != 0;
    let limit = p.fd_limit();
    let (r, w) = {
        let mut files = p.shared.files.lock();
        let r = files.install_lowest(
            0,
            limit,
            Fd {
                file: reader,
                cloexec,
            },
        )?;
        match files.install_lowest(
            0,
            limit,
            Fd {
                file: writer,
                cloexec,
            },
        ) {
            Ok(w) => (r, w),
            Err(e) => {
                files.remove(r);
                return Err(e);
            }
        }
    };
    let mut pair = [0u8; 8];
    pair[..4].copy_from_slice(&(r as u32).to_le_bytes());
    pair[4..].copy_from_slice(&(w as u32).to_le_bytes());
    if let Err(e) = k.write_user(fds, &pair) {
        let mut files = p.shared.files.lock();
        files.remove(r);
        files.remove(w);
        return Err(e);
    }
    Ok(0)
}

pub(crate) fn pipe(p: &mut Process, k: &mut dyn Platform, fds: u64) -> SysResult {
    pipe2(p, k, fds, 0)
}

// ---- readiness ----

/// The poll(2) events of an open file now, as any process sees them (epoll uses this).
pub(crate) fn poll_file(file: &OpenFile) -> u32 {
    match file.ops().host_device() {
        Some(HostDevice::Random) | None => file.ops().poll(),
        Some(_) => {
            let mut r = 0;
            if file.readable() {
                // Data or end of file: the host pipe cannot be peeked.
                r |= POLLIN | POLLRDNORM;
            }
            if file.writable() {
                r |= POLLOUT | POLLWRNORM;
            }
            r
        }
    }
}

/// The poll(2) events of `fd` now (POLLNVAL if it is not open).
fn readiness(p: &Process, fd: i32) -> u32 {
    let Ok(file) = p.file(fd) else {
        return POLLNVAL;
    };
    if file.is_path() {
        return POLLNVAL;
    }
    let mut r = poll_file(&file);
    let console = matches!(file.ops().host_device(), Some(d) if d != HostDevice::Random);
    if console && file.readable() && p.stdin_eof && !p.info.tty && p.info.stdin_forwarded {
        r |= POLLHUP;
    }
    r
}

/// The wait of every "until something is ready" call (poll, select, epoll_wait): `check`
/// counts what is ready (and reports it to the caller); while that is 0, a signal ends the
/// wait with EINTR (as poll, select and epoll_wait do even with SA_RESTART) and the deadline
/// (CLOCK_MONOTONIC ns) with 0; otherwise `register` puts the thread on the wait queues, and
/// `check` runs once more (so a change between the two is not missed) before the thread
/// waits.
pub(crate) fn wait_ready(
    p: &mut Process,
    k: &mut dyn Platform,
    deadline: Option<u64>,
    register: impl FnOnce(&mut Process),
    mut check: impl FnMut(&Process, &mut dyn Platform) -> Result<u64, Errno>,
) -> SysResult {
    let n = check(p, k)?;
    if n > 0 {
        return Ok(n);
    }
    match p.resumed() {
        Some(Wake::Interrupted) => return Err(Errno::EINTR),
        Some(Wake::TimedOut) => return Ok(0),
        _ => {}
    }
    if deadline.is_some_and(|d| d <= k.monotonic_ns()) {
        return Ok(0);
    }
    p.begin_wait();
    register(p);
    let n = check(p, k)?;
    if n > 0 {
        return Ok(n);
    }
    if let Some(d) = deadline {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// Registers the thread on the wait queues of `fds`' files.
fn register_fds(p: &mut Process, fds: &[i32]) {
    for &fd in fds {
        if let Ok(file) = p.file(fd) {
            if let Some(q) = file.ops().wait_queue() {
                p.wait_on(q, u64::MAX);
            }
        }
    }
}

fn poll_fds(
    p: &mut Process,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    deadline: Option<u64>,
) -> SysResult {
    if nfds > NOFILE as u64 {
        return Err(Errno::EINVAL);
    }
    let mut table = vec![0u8; nfds as usize * 8];
    k.read_user(fds, &mut table)?;
    let watched: Vec<i32> = table
        .chunks(8)
        .map(|rec| i32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]))
        .filter(|&fd| fd >= 0)
        .collect();
    wait_ready(
        p,
        k,
        deadline,
        |p| register_fds(p, &watched),
        |p, k| {
            let mut ready = 0;
            for rec in table.chunks_mut(8) {
                let fd = i32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
                let events = u32::from(u16::from_le_bytes([rec[4], rec[5]]));
                let revents = if fd < 0 {
                    0
                } else {
                    readiness(p, fd) & (events | POLLERR | POLLHUP | POLLNVAL)
                };
                if revents != 0 {
                    ready += 1;
                }
                rec[6..8].copy_from_slice(&(revents as u16).to_le_bytes());
            }
            k.write_user(fds, &table)?;
            Ok(ready)
        },
    )
}

/// The deadline `ns` from now, fixed on the call's first run (a re-run after a wait keeps it).
fn deadline_after(p: &mut Process, k: &dyn Platform, ns: u64) -> Option<u64> {
    p.call_deadline(|| Some(k.monotonic_ns().saturating_add(ns)))
}

pub(crate) fn poll(
    p: &mut Process,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    timeout_ms: i32,
) -> SysResult {
    let deadline = if timeout_ms < 0 {
        None
    } else {
        deadline_after(p, k, timeout_ms as u64 * 1_000_000)
    };
    poll_fds(p, k, fds, nfds, deadline)
}

/// Reads a `struct timespec` timeout: `None` for a null pointer (wait forever).
fn read_timeout(k: &dyn Platform, tsp: u64) -> Result<Option<u64>, Errno> {
    if tsp == 0 {
        return Ok(None);
    }
    let sec = read_u64(k, tsp)? as i64;
    let nsec = read_u64(k, tsp + 8)? as i64;
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(
        (sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(nsec as u64),
    ))
}

pub(crate) fn ppoll(
    p: &mut Process,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    tsp: u64,
    sigmask: u64,
    size: u64,
) -> SysResult {
    let deadline = read_timeout(k, tsp)?.and_then(|ns| deadline_after(p, k, ns));
    crate::signal::set_call_mask(p, k, sigmask, size)?;
    poll_fds(p, k, fds, nfds, deadline)
}

fn select_fds(
    p: &mut Process,
    k: &mut dyn Platform,
    nfds: i32,
    sets: [u64; 3],
    deadline: Option<u64>,
) -> SysResult {
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let nfds = (nfds as usize).min(NOFILE);
    let words = nfds.div_ceil(64);
    let mut input = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, addr) in input.iter_mut().zip(sets) {
        if addr != 0 {
            for (i, w) in set.iter_mut().enumerate() {
                *w = read_u64(k, addr + i as u64 * 8)?;
            }
        }
    }
    // Every fd named must be open.
    let mut watched = Vec::new();
    for fd in 0..nfds {
        let named = input.iter().any(|s| s[fd / 64] & (1 << (fd % 64)) != 0);
        if named {
            if p.file(fd as i32).is_err() {
                return Err(Errno::EBADF);
            }
            watched.push(fd as i32);
        }
    }
    let write_sets = |k: &mut dyn Platform, out: &[Vec<u64>; 3]| -> Result<(), Errno> {
        for (set, addr) in out.iter().zip(sets) {
            if addr != 0 {
                for (i, w) in set.iter().enumerate() {
                    write_u64(k, addr + i as u64 * 8, *w)?;
                }
            }
        }
        Ok(())
    };
    // The sets are both the input and the result: they are written only when the call
    // returns (a call that waits runs again from scratch and reads them again).
    let n = wait_ready(
        p,
        k,
        deadline,
        |p| register_fds(p, &watched),
        |p, k| {
            let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
            let mut count = 0;
            for fd in 0..nfds {
                let (w, b) = (fd / 64, 1u64 << (fd % 64));
                if !input.iter().any(|s| s[w] & b != 0) {
                    continue;
                }
                let r = readiness(p, fd as i32);
                let hits = [
                    r & (POLLIN | POLLRDNORM | POLLHUP | POLLERR) != 0,
                    r & (POLLOUT | POLLWRNORM | POLLERR) != 0,
                    r & POLLPRI != 0,
                ];
                for i in 0..3 {
                    if input[i][w] & b != 0 && hits[i] {
                        out[i][w] |= b;
                        count += 1;
                    }
                }
            }
            if count > 0 {
                write_sets(k, &out)?;
            }
            Ok(count)
        },
    )?;
    if n == 0 {
        // Timed out: nothing is ready.
        write_sets(
            k,
            &[vec![0u64; words], vec![0u64; words], vec![0u64; words]],
        )?;
    }
    Ok(n)
}

pub(crate) fn select(
    p: &mut Process,
    k: &mut dyn Platform,
    nfds: i32,
    readfds: u64,
    writefds: u64,
    exceptfds: u64,
    timeout: u64,
) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let sec = read_u64(k, timeout)? as i64;
        let usec = read_u64(k, timeout + 8)? as i64;
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        deadline_after(
            p,
            k,
            (sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(usec as u64 * 1000),
        )
    };
    let n = select_fds(p, k, nfds, [readfds, writefds, exceptfds], deadline)?;
    if let (Some(d), true) = (deadline, timeout != 0) {
        // Linux writes back the time left.
        let left = d.saturating_sub(k.monotonic_ns());
        write_u64(k, timeout, left / 1_000_000_000)?;
        write_u64(k, timeout + 8, (left % 1_000_000_000) / 1000)?;
    }
    Ok(n)
}

pub(crate) fn pselect6(
    p: &mut Process,
    k: &mut dyn Platform,
    nfds: i32,
    readfds: u64,
    writefds: u64,
    exceptfds: u64,
    timeout: u64,
    sigmask: u64,
) -> SysResult {
    let deadline = read_timeout(k, timeout)?.and_then(|ns| deadline_after(p, k, ns));
    // The last argument points at { const sigset_t *ss; size_t ss_len; }.
    if sigmask != 0 {
        let ss = read_u64(k, sigmask)?;
        let len = read_u64(k, sigmask + 8)?;
        crate::signal::set_call_mask(p, k, ss, len)?;
    }
    select_fds(p, k, nfds, [readfds, writefds, exceptfds], deadline)
}

// ---- copies between files ----

/// Moves up to `count` bytes from `input` (at `in_off` or its offset) to `output`.
fn copy_between(
    p: &mut Process,
    k: &mut dyn Platform,
    input: &Arc<OpenFile>,
    mut in_off: Option<u64>,
    output: &Arc<OpenFile>,
    mut out_off: Option<u64>,
    count: u64,
) -> Result<(u64, Option<u64>, Option<u64>), Errno> {
    let count = count.min(MAX_RW_COUNT);
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let mut done = 0u64;
    let mut result = Ok(());
    while done < count {
        let want = ((count - done) as usize).min(CHUNK);
        let n = match in_off {
            Some(o) => input.pread(o as i64, &mut buf[..want]),
            None => input.read(&mut buf[..want]),
        };
        let n = match n {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                if done == 0 {
                    result = Err(e);
                }
                break;
            }
        };
        let w = match out_off {
            Some(o) => output.pwrite(o as i64, &buf[..n]),
            None => output.write(&buf[..n]),
        };
        match w {
            Ok(w) => {
                done += w as u64;
                if let Some(o) = in_off.as_mut() {
                    *o += w as u64;
                }
                if let Some(o) = out_off.as_mut() {
                    *o += w as u64;
                }
                if w < n {
                    break;
                }
            }
            Err(e) => {
                if done == 0 {
                    result = Err(e);
                }
                break;
            }
        }
        if n < want {
            break;
        }
    }
    p.bounce = buf;
    if result == Err(Errno::EPIPE) {
        crate::sys::signal::raise(p, k, SIGPIPE)?;
    }
    result.map(|()| (done, in_off, out_off))
}

pub(crate) fn sendfile(
    p: &mut Process,
    k: &mut dyn Platform,
    out_fd: i32,
    in_fd: i32,
    offset: u64,
    count: u64,
) -> SysResult {
    let input = p.file(in_fd)?;
    let output = p.file(out_fd)?;
    if !input.readable() || !output.writable() {
        return Err(Errno::EBADF);
    }
    if output.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    // The input must be a file with an offset (not a pipe or the console).
    if !input.ops().seekable() || input.ops().host_device().is_some() {
        return Err(Errno::EINVAL);
    }
    if output.ops().host_device().is_some() {
        return copy_to_host(p, k, &input, offset, &output, count);
    }
    let in_off = if offset == 0 {
        None
    } else {
        let o = read_u64(k, offset)? as i64;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    };
    let (n, in_off, _) = copy_between(p, k, &input, in_off, &output, None, count)?;
    if let Some(o) = in_off {
        write_u64(k, offset, o)?;
    }
    Ok(n)
}

/// sendfile to the console: through the host stream.
fn copy_to_host(
    p: &mut Process,
    k: &mut dyn Platform,
    input: &Arc<OpenFile>,
    offset: u64,
    output: &Arc<OpenFile>,
    count: u64,
) -> SysResult {
    let dev = output.ops().host_device().unwrap_or(HostDevice::Stdout);
    let stream = if dev == HostDevice::Stderr {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let mut pos = if offset == 0 {
        None
    } else {
        let o = read_u64(k, offset)? as i64;
        Some(u64::try_from(o).map_err(|_| Errno::EINVAL)?)
    };
    let count = count.min(MAX_RW_COUNT);
    let done = with_bounce(p, |_, buf| {
        let mut done = 0u64;
        while done < count {
            let want = ((count - done) as usize).min(CHUNK);
            let n = match pos {
                Some(o) => input.pread(o as i64, &mut buf[..want]),
                None => input.read(&mut buf[..want]),
            };
            match n {
                Ok(0) => break,
                Ok(n) => {
                    if dev != HostDevice::Random {
                        k.write_stream(stream, &buf[..n]);
                    }
                    done += n as u64;
                    if let Some(o) = pos.as_mut() {
                        *o += n as u64;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(done)
    })?;
    if let Some(o) = pos {
        write_u64(k, offset, o)?;
    }
    Ok(done)
}

pub(crate) fn copy_file_range(
    p: &mut Process,
    k: &mut dyn Platform,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let input = p.file(fd_in)?;
    let output = p.file(fd_out)?;
    if !input.readable() || !output.writable() || output.flags() & O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let (si, so) = (input.inode().stat(), output.inode().stat());
    if si.is_dir() || so.is_dir() {
        return Err(Errno::EISDIR);
    }
    if si.file_type() != FileType::Regular || so.file_type() != FileType::Regular {
        return Err(Errno::EINVAL);
    }
    let read_off = |k: &dyn Platform, ptr: u64| -> Result<Option<u64>, Errno> {
        if ptr == 0 {
            return Ok(None);
        }
        let o = read_u64(k, ptr)? as i64;
        u64::try_from(o).map(Some).map_err(|_| Errno::EINVAL)
    };
    let in_off = read_off(k, off_in)?;
    let out_off = read_off(k, off_out)?;
    // Overlapping ranges of one file are refused.
    if si.dev == so.dev && si.ino == so.ino {
        let a = in_off.unwrap_or_else(|| input.offset());
        let b = out_off.unwrap_or_else(|| output.offset());
        if a < b.saturating_add(len) && b < a.saturating_add(len) {
            return Err(Errno::EINVAL);
        }
    }
    let (n, in_off, out_off) = copy_between(p, k, &input, in_off, &output, out_off, len)?;
    if let Some(o) = in_off {
        write_u64(k, off_in, o)?;
    }
    if let Some(o) = out_off {
        write_u64(k, off_out, o)?;
    }
    Ok(n)
}

// ---- locks and syncing ----

pub(crate) fn flock(p: &mut Process, _k: &mut dyn Platform, fd: i32, op: i32) -> SysResult {
    const LOCK_SH: i32 = 1;
    const LOCK_EX: i32 = 2;
    const LOCK_NB: i32 = 4;
    const LOCK_UN: i32 = 8;
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let kind = match op & !LOCK_NB {
        LOCK_SH => Some(false),
        LOCK_EX => Some(true),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let st = file.inode().stat();
    let owner = crate::locks::Owner::file(&file);
    let sys = p.sys.clone();
    if sys
        .locks
        .lock()
        .flock((st.dev, st.ino), owner.clone(), kind)
    {
        sys.lock_waiters.wake_everyone();
        Ok(0)
    } else if op & LOCK_NB != 0 {
        Err(Errno::EAGAIN)
    } else if p.resumed() == Some(Wake::Interrupted) {
        Err(Errno::ERESTARTSYS)
    } else {
        p.wait_on(&sys.lock_waiters, u64::MAX);
        if sys.locks.lock().flock((st.dev, st.ino), owner, kind) {
            Ok(0)
        } else {
            Err(Errno::WAIT)
        }
    }
}

fn sync_file(p: &Process, fd: i32) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    match file.inode().stat().file_type() {
        FileType::Regular | FileType::Directory => Ok(0),
        _ if file.ops().host_device() == Some(HostDevice::Random) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn fadvise64(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    _offset: i64,
    len: i64,
    advice: i32,
) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    if !file.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    if len < 0 || !(0..=5).contains(&advice) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub(crate) fn readahead(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    offset: i64,
    _count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if offset < 0 || file.inode().stat().file_type() != FileType::Regular {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

pub(crate) fn fsync(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    sync_file(p, fd)
}

pub(crate) fn fdatasync(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    sync_file(p, fd)
}

pub(crate) fn sync(_p: &mut Process, _k: &mut dyn Platform) -> SysResult {
    Ok(0)
}

pub(crate) fn syncfs(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    Ok(0)
}

pub(crate) fn sync_file_range(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    offset: i64,
    nbytes: i64,
    flags: u32,
) -> SysResult {
    if flags & !7 != 0 || offset < 0 || nbytes < 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    match file.inode().stat().file_type() {
        FileType::Regular | FileType::Directory | FileType::BlockDevice => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}

/// An open file description for a fresh object, installed at the lowest free fd.
pub(crate) fn install_new(
    p: &Process,
    inode: Arc<dyn Inode>,
    path: Vec<u8>,
    flags: u32,
    ops: Box<dyn coracle_vfs::FileOps>,
) -> SysResult {
    let file = OpenFile::new(inode, path, flags, ops);
    p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
}
