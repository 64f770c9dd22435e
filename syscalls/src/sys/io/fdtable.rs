//! The fd table: close, close_range, dup, dup2, dup3, and installing a fresh open file.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::oflags::*;
use coracle_vfs::{Inode, OpenFile};

use crate::process::Fd;
use crate::{Current, Errno, Platform, SysResult};

pub(crate) fn close(p: &mut Current, k: &mut dyn Platform, fd: i32) -> SysResult {
    // A socket's close that waits out SO_LINGER runs again here, its fd already gone.
    if let Some(r) = crate::sys::net::linger::resume(p, k) {
        return r;
    }
    let slot = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
    let old = p.process.files.lock().remove(slot).ok_or(Errno::EBADF)?;
    release_posix_locks(p, &old.file);
    if crate::sys::net::linger::wanted(&old.file) {
        return crate::sys::net::linger::start(p, k, old.file);
    }
    // The description (and a pipe end with it) closes here, outside the table lock.
    drop(old);
    // Its OFD and flock locks may have gone with it.
    p.sys.lock_waiters.wake_everyone();
    Ok(0)
}

/// Closing any fd of a file drops the process's POSIX locks on it, and its notification
/// registration when the file is a message queue (filp_close: flush, locks_remove_posix).
fn release_posix_locks(p: &Current, file: &OpenFile) {
    crate::sys::ipc::mqueue::flush(file, p.process.pid);
    let st = file.inode().stat();
    p.sys
        .locks
        .lock()
        .release_process((st.dev, st.ino), p.process.pid);
}

pub(crate) fn close_range(
    p: &mut Current,
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
    let mut files = p.process.files.lock();
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

pub(super) fn dup_to_lowest(p: &Current, fd: i32, min: usize, cloexec: bool) -> SysResult {
    let limit = p.fd_limit();
    let mut files = p.process.files.lock();
    let file = files.file(fd)?;
    files
        .install_lowest(min, limit, Fd { file, cloexec })
        .map(|n| n as u64)
}

pub(crate) fn dup(p: &mut Current, _k: &mut dyn Platform, fd: i32) -> SysResult {
    dup_to_lowest(p, fd, 0, false)
}

pub(crate) fn dup2(p: &mut Current, k: &mut dyn Platform, oldfd: i32, newfd: i32) -> SysResult {
    if oldfd == newfd {
        p.file(oldfd)?;
        return Ok(newfd as u64);
    }
    dup3(p, k, oldfd, newfd, 0)
}

pub(crate) fn dup3(
    p: &mut Current,
    _k: &mut dyn Platform,
    oldfd: i32,
    newfd: i32,
    flags: i32,
) -> SysResult {
    if flags & !(O_CLOEXEC as i32) != 0 {
        return Err(Errno::EINVAL);
    }
    let limit = p.fd_limit();
    let mut files = p.process.files.lock();
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

/// An open file description for a fresh object, installed at the lowest free fd.
pub(crate) fn install_new(
    p: &Current,
    inode: Arc<dyn Inode>,
    path: Vec<u8>,
    flags: u32,
    ops: Box<dyn coracle_vfs::FileOps>,
) -> SysResult {
    let file = OpenFile::new(inode, path, flags, ops);
    p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
}
