//! Path-based calls before the VFS exists: only the working directory and /proc/self/exe are
//! known; every other path does not exist.

use crate::uaccess::{read_cstr, PATH_MAX};
use crate::{Errno, Platform, Process, SysResult};

/// The errno for a path that is not there: ENOENT.
pub(crate) fn no_such_path(_path: &[u8]) -> Errno {
    Errno::ENOENT
}

fn read_path(k: &dyn Platform, path: u64) -> Result<alloc::vec::Vec<u8>, Errno> {
    let path = read_cstr(k, path, PATH_MAX)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    Ok(path)
}

pub(crate) fn openat(
    _p: &mut Process,
    k: &mut dyn Platform,
    _dirfd: i32,
    path: u64,
    _flags: i32,
    _mode: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    Err(no_such_path(&path))
}

pub(crate) fn open(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    flags: i32,
    mode: u32,
) -> SysResult {
    const AT_FDCWD: i32 = -100;
    openat(p, k, AT_FDCWD, path, flags, mode)
}

pub(crate) fn stat(_p: &mut Process, k: &mut dyn Platform, path: u64, _statbuf: u64) -> SysResult {
    let path = read_path(k, path)?;
    Err(no_such_path(&path))
}

pub(crate) fn lstat(p: &mut Process, k: &mut dyn Platform, path: u64, statbuf: u64) -> SysResult {
    stat(p, k, path, statbuf)
}

fn check_access(p: &Process, path: &[u8], mode: i32) -> SysResult {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if path == p.info.exe.as_slice() || path == b"/" || path == p.info.cwd.as_slice() {
        return Ok(0);
    }
    Err(no_such_path(path))
}

pub(crate) fn access(p: &mut Process, k: &mut dyn Platform, path: u64, mode: i32) -> SysResult {
    let path = read_path(k, path)?;
    check_access(p, &path, mode)
}

pub(crate) fn faccessat(
    p: &mut Process,
    k: &mut dyn Platform,
    _dirfd: i32,
    path: u64,
    mode: i32,
) -> SysResult {
    let path = read_path(k, path)?;
    check_access(p, &path, mode)
}

pub(crate) fn faccessat2(
    p: &mut Process,
    k: &mut dyn Platform,
    _dirfd: i32,
    path: u64,
    mode: i32,
    flags: i32,
) -> SysResult {
    const VALID: i32 = 0x200 | 0x100 | 0x1000; // AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH
    if flags & !VALID != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(k, path)?;
    check_access(p, &path, mode)
}

pub(crate) fn getcwd(p: &mut Process, k: &mut dyn Platform, buf: u64, size: u64) -> SysResult {
    let mut cwd = p.info.cwd.clone();
    cwd.push(0);
    if (size as usize) < cwd.len() {
        return Err(Errno::ERANGE);
    }
    k.write_user(buf, &cwd)?;
    Ok(cwd.len() as u64)
}

fn do_readlink(p: &Process, k: &mut dyn Platform, path: u64, buf: u64, bufsiz: u64) -> SysResult {
    let path = read_path(k, path)?;
    if bufsiz as i64 <= 0 {
        return Err(Errno::EINVAL);
    }
    if path == b"/proc/self/exe" || path == alloc::format!("/proc/{}/exe", p.info.pid).as_bytes() {
        let n = p.info.exe.len().min(bufsiz as usize);
        k.write_user(buf, &p.info.exe[..n])?;
        return Ok(n as u64);
    }
    if path == p.info.exe.as_slice() {
        return Err(Errno::EINVAL); // a regular file, not a symlink
    }
    Err(no_such_path(&path))
}

pub(crate) fn readlink(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult {
    do_readlink(p, k, path, buf, bufsiz)
}

pub(crate) fn readlinkat(
    p: &mut Process,
    k: &mut dyn Platform,
    _dirfd: i32,
    path: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult {
    do_readlink(p, k, path, buf, bufsiz)
}
