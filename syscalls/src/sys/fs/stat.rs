//! The stat family: stat, lstat, fstat, newfstatat, statx, statfs, fstatfs.

use coracle_vfs::types::*;
use coracle_vfs::Errno;

use super::{
    lookup, lookup_at_flags, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE,
    AT_SYMLINK_NOFOLLOW,
};
use crate::sys::stat::{user_stat, user_statfs, user_statx};
use crate::uaccess::write_struct;
use crate::{Current, Platform, SysResult};

fn mnt_id(st: &Stat) -> u64 {
    u64::from(minor(st.dev))
}

pub(crate) fn stat(p: &mut Current, k: &mut dyn Platform, path: u64, statbuf: u64) -> SysResult {
    let st = lookup(p, k, AT_FDCWD, path, true, false)?.stat();
    write_struct(k, statbuf, &user_stat(&st)).map(|_| 0)
}

pub(crate) fn lstat(p: &mut Current, k: &mut dyn Platform, path: u64, statbuf: u64) -> SysResult {
    let st = lookup(p, k, AT_FDCWD, path, false, false)?.stat();
    write_struct(k, statbuf, &user_stat(&st)).map(|_| 0)
}

pub(crate) fn newfstatat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    statbuf: u64,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let st = lookup_at_flags(p, k, dirfd, path, flags)?.stat();
    write_struct(k, statbuf, &user_stat(&st)).map(|_| 0)
}

pub(crate) fn statx(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
    mask: u32,
    buf: u64,
) -> SysResult {
    const STATX_RESERVED: u32 = 0x8000_0000;
    let valid = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE;
    if flags & !valid != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if mask & STATX_RESERVED != 0 {
        return Err(Errno::EINVAL);
    }
    let st = lookup_at_flags(p, k, dirfd, path, flags)?.stat();
    write_struct(k, buf, &user_statx(&st, mnt_id(&st))).map(|_| 0)
}

pub(crate) fn statfs(p: &mut Current, k: &mut dyn Platform, path: u64, buf: u64) -> SysResult {
    let s = lookup(p, k, AT_FDCWD, path, true, false)?.statfs();
    write_struct(k, buf, &user_statfs(&s)).map(|_| 0)
}

pub(crate) fn fstatfs(p: &mut Current, k: &mut dyn Platform, fd: i32, buf: u64) -> SysResult {
    let s = p.file(fd)?.inode().statfs();
    write_struct(k, buf, &user_statfs(&s)).map(|_| 0)
}

pub(crate) fn fstat(p: &mut Current, k: &mut dyn Platform, fd: i32, statbuf: u64) -> SysResult {
    let st = p.file(fd)?.inode().stat();
    write_struct(k, statbuf, &user_stat(&st)).map(|_| 0)
}
