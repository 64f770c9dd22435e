//! The sync family (fsync, fdatasync, sync, syncfs, sync_file_range) and the advice calls
//! fadvise64 and readahead, which have nothing to do on tmpfs: their argument and file-type
//! checks are Linux's (LTP readahead01 and sync_file_range01 walk every kind of descriptor).

use coracle_vfs::types::{FileType, S_IFBLK, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG};
use coracle_vfs::{HostDevice, OpenFile};

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

/// The file-type bits of an open file's inode: anonymous inodes (sockets, eventfd, epoll...)
/// have none, so they are neither regular files nor anything else.
fn type_bits(file: &OpenFile) -> u32 {
    file.inode().stat().mode & S_IFMT
}

/// fadvise64 (generic_fadvise): `ESPIPE` only on pipes and FIFOs; any other file takes the
/// advice (there is nothing to do for it here), a negative length or an unknown advice is
/// `EINVAL`.
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
    if type_bits(&file) == S_IFIFO {
        return Err(Errno::ESPIPE);
    }
    if len < 0 || !(0..=5).contains(&advice) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// readahead (ksys_readahead): a descriptor open for reading (`EBADF`) of a regular file or
/// block device (`EINVAL`, anonymous inodes included); then fadvise's WILLNEED, whose only
/// check is the count taken as a signed length. A negative offset is no error.
pub(crate) fn readahead(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd: i32,
    _offset: i64,
    count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    if !matches!(type_bits(&file), S_IFREG | S_IFBLK) || (count as i64) < 0 {
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

/// sync_file_range (ksys_sync_file_range): the descriptor first (`EBADF`), then the flags
/// and the range, whose end must not pass the largest offset (`EINVAL`), then the file type:
/// regular files, directories, block devices and symlinks; anything else `ESPIPE`.
pub(crate) fn sync_file_range(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd: i32,
    offset: i64,
    nbytes: i64,
    flags: u32,
) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let end = offset.checked_add(nbytes);
    if flags & !7 != 0 || offset < 0 || end.is_none_or(|e| e < 0) {
        return Err(Errno::EINVAL);
    }
    match type_bits(&file) {
        S_IFREG | S_IFDIR | S_IFBLK | S_IFLNK => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}
