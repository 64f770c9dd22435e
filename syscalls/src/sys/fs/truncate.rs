//! Sizes: truncate, ftruncate, fallocate.

use coracle_vfs::types::{oflags::*, *};
use coracle_vfs::{Errno, Inode};

use alloc::sync::Arc;

use super::memfd::check_seals;
use coracle_vfs::notify::{self, mask::IN_MODIFY};

use super::{as_origin, check_rofs, lookup_found, read_path, AT_FDCWD};
use crate::mm::{page_up, unmap_file_pages};
use crate::{Current, Platform, SysResult};

/// Sets a regular file's size; pages wholly past a smaller end leave every mapping of the
/// file (truncate_pagecache: private copies too), so a touch there is SIGBUS.
pub(crate) fn set_size(
    p: &Current,
    k: &mut dyn Platform,
    inode: &Arc<dyn Inode>,
    len: u64,
) -> Result<()> {
    let old = inode.stat().size;
    // inode_newsize_ok: growing past RLIMIT_FSIZE raises SIGXFSZ.
    let limit = crate::sys::mman::limit(p, crate::sys::io::RLIMIT_FSIZE);
    if len > old && len > limit {
        crate::signal::raise(p, crate::sys::io::SIGXFSZ);
        return Err(Errno::EFBIG);
    }
    inode.truncate(len)?;
    super::attr::remove_privs(p, inode);
    if len < old {
        if let Some(from) = page_up(len) {
            unmap_file_pages(p, k, inode, from, u64::MAX, true);
        }
    }
    Ok(())
}

pub(crate) fn truncate(p: &mut Current, k: &mut dyn Platform, path: u64, length: i64) -> SysResult {
    let path = read_path(k, path)?;
    let (inode, origin) = lookup_found(p, AT_FDCWD, &path, true, false)?;
    let len = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
    let st = inode.stat();
    match st.file_type() {
        FileType::Directory => return Err(Errno::EISDIR),
        FileType::Regular => {}
        _ => return Err(Errno::EINVAL),
    }
    check_access(&p.caller(), &st, MAY_WRITE)?;
    check_rofs(p, &inode)?;
    set_size(p, k, &inode, len)?;
    notify::child_event(as_origin(&origin), &inode, IN_MODIFY);
    Ok(0)
}

pub(crate) fn ftruncate(p: &mut Current, k: &mut dyn Platform, fd: i32, length: i64) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let len = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
    if !file.writable() || file.inode().stat().file_type() != FileType::Regular {
        return Err(Errno::EINVAL);
    }
    if file.flags() & O_APPEND != 0 {
        return Err(Errno::EPERM);
    }
    check_seals(p, &file, false, || len)?;
    set_size(p, k, file.inode(), len)?;
    file.notify(IN_MODIFY);
    Ok(0)
}

pub(crate) fn fallocate(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    mode: i32,
    offset: i64,
    len: i64,
) -> SysResult {
    const FALLOC_FL_KEEP_SIZE: i32 = 1;
    const FALLOC_FL_PUNCH_HOLE: i32 = 2;
    let file = p.file(fd)?;
    if offset < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    let st = file.inode().stat();
    match st.file_type() {
        FileType::Regular => {}
        FileType::Directory => return Err(Errno::EISDIR),
        FileType::Fifo => return Err(Errno::ESPIPE),
        _ => return Err(Errno::ENODEV),
    }
    if (offset as u64)
        .checked_add(len as u64)
        .is_none_or(|e| e > i64::MAX as u64)
    {
        return Err(Errno::EFBIG);
    }
    let end = (offset + len) as u64;
    let grows = mode & FALLOC_FL_KEEP_SIZE == 0;
    check_seals(p, &file, mode & FALLOC_FL_PUNCH_HOLE != 0, || {
        if grows {
            end
        } else {
            0
        }
    })?;
    match mode {
        0 | FALLOC_FL_KEEP_SIZE => {
            file.inode()
                .allocate(offset as u64, len as u64, mode == FALLOC_FL_KEEP_SIZE)?;
        }
        m if m == FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE => {
            file.inode().punch_hole(offset as u64, len as u64)?;
            // The whole pages of the hole leave the mappings (shmem_fallocate: not the
            // private copies); the partial ones at its edges were zeroed in place.
            let from = page_up(offset as u64).unwrap_or(u64::MAX);
            let to = end & !(crate::mm::PAGE - 1);
            unmap_file_pages(p, k, file.inode(), from, to, false);
        }
        m if m & FALLOC_FL_PUNCH_HOLE != 0 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EOPNOTSUPP),
    }
    Ok(0)
}
