//! access, faccessat, faccessat2: the permission check with the real or effective ids.

use coracle_vfs::types::*;
use coracle_vfs::Errno;

use super::{
    fd_target, read_path, start_dir, AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW,
};
use crate::{Current, Platform, SysResult};

fn do_access(
    p: &Current,
    k: &dyn Platform,
    dirfd: i32,
    path: u64,
    mode: i32,
    flags: i32,
) -> SysResult {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    // Without AT_EACCESS the whole lookup runs with the real ids (access_override_creds).
    let cx = if flags & AT_EACCESS == 0 {
        let (umask, root) = {
            let fs = p.process.fs.lock();
            (fs.umask, fs.root.clone())
        };
        p.process
            .creds()
            .for_access()
            .caller(p.process.pid, p.tid, umask, root)
    } else {
        p.caller()
    };
    let path = read_path(k, path)?;
    let inode = if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        fd_target(p, dirfd)?
    } else {
        let base = start_dir(p, dirfd, &path)?;
        let l = p
            .sys
            .vfs
            .resolve(&cx, &base, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
        l.inode.ok_or(Errno::ENOENT)?
    };
    if mode == 0 {
        return Ok(0);
    }
    check_access(&cx, &inode.stat(), mode as u32)?;
    Ok(0)
}

pub(crate) fn access(p: &mut Current, k: &mut dyn Platform, path: u64, mode: i32) -> SysResult {
    do_access(p, k, AT_FDCWD, path, mode, 0)
}

pub(crate) fn faccessat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: i32,
) -> SysResult {
    do_access(p, k, dirfd, path, mode, 0)
}

pub(crate) fn faccessat2(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: i32,
    flags: i32,
) -> SysResult {
    do_access(p, k, dirfd, path, mode, flags)
}
