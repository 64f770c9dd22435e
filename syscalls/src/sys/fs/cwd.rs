//! The process's place in the tree: getcwd, chdir, fchdir, chroot, and umask.

use alloc::sync::Arc;

use coracle_vfs::types::*;
use coracle_vfs::{Errno, Inode};

use super::{lookup, AT_FDCWD};
use crate::{Current, Platform, SysResult};

pub(crate) fn getcwd(p: &mut Current, k: &mut dyn Platform, buf: u64, size: u64) -> SysResult {
    let cx = p.caller();
    let cwd = p.process.fs.lock().cwd.clone();
    let mut path = p.sys.vfs.path_of(&cx, &cwd)?;
    path.push(0);
    if path.len() > PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if (size as usize) < path.len() {
        return Err(Errno::ERANGE);
    }
    k.write_user(buf, &path)?;
    Ok(path.len() as u64)
}

fn set_cwd(p: &Current, dir: Arc<dyn Inode>) -> SysResult {
    let st = dir.stat();
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_access(&p.caller(), &st, MAY_EXEC)?;
    p.process.fs.lock().cwd = dir;
    Ok(0)
}

pub(crate) fn chdir(p: &mut Current, k: &mut dyn Platform, path: u64) -> SysResult {
    let dir = lookup(p, k, AT_FDCWD, path, true, false)?;
    set_cwd(p, dir)
}

pub(crate) fn fchdir(p: &mut Current, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let dir = p.file(fd)?.inode().clone();
    set_cwd(p, dir)
}

pub(crate) fn chroot(p: &mut Current, k: &mut dyn Platform, path: u64) -> SysResult {
    let dir = lookup(p, k, AT_FDCWD, path, true, false)?;
    let st = dir.stat();
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_access(&p.caller(), &st, MAY_EXEC)?;
    if !p.process.creds.lock().capable(coracle_vfs::cap::SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    p.process.fs.lock().root = dir;
    Ok(0)
}

pub(crate) fn umask(p: &mut Current, _k: &mut dyn Platform, mask: u32) -> SysResult {
    let mut fs = p.process.fs.lock();
    let old = fs.umask;
    fs.umask = mask & 0o777;
    Ok(u64::from(old))
}
