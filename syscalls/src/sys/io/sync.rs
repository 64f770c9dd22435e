//! The sync family (fsync, fdatasync, sync, syncfs, sync_file_range) and the advice calls
//! fadvise64 and readahead, which have nothing to do on tmpfs.

use coracle_vfs::types::FileType;
use coracle_vfs::HostDevice;

use crate::{Current, Errno, Platform, SysResult};

/// fsync and fdatasync (`data_only`): the file's dirty pages go back through its
/// filesystem (tmpfs has none), and the device is flushed.
fn sync_file(p: &Current, k: &mut dyn Platform, fd: i32, data_only: bool) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    match file.inode().stat().file_type() {
        FileType::Regular | FileType::Directory => {
            crate::mm::sync_file(p, k, file.inode(), data_only).map(|()| 0)
        }
        _ if file.ops().host_device() == Some(HostDevice::Random) => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn fadvise64(
    p: &mut Current,
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
    p: &mut Current,
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

pub(crate) fn fsync(p: &mut Current, k: &mut dyn Platform, fd: i32) -> SysResult {
    sync_file(p, k, fd, false)
}

pub(crate) fn fdatasync(p: &mut Current, k: &mut dyn Platform, fd: i32) -> SysResult {
    sync_file(p, k, fd, true)
}

pub(crate) fn sync(_p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Ok(0)
}

pub(crate) fn syncfs(p: &mut Current, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    Ok(0)
}

pub(crate) fn sync_file_range(
    p: &mut Current,
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
