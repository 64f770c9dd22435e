//! Calls that take paths: open and its variants, the stat family, access, the cwd, making and
//! removing names (mkdir, mknod, unlink, rmdir, rename, link, symlink), readlink, ownership
//! and modes, times, truncate and fallocate, statfs, memfd_create, mount.
//!
//! Paths are resolved by the VFS from the caller's root or cwd, or from a directory fd for the
//! `*at` calls. The checks Linux makes here (flag validity, `.`/`..` as a last component,
//! permissions on the parent directory, the sticky bit) are made here, in Linux's order.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::inode::same_inode;
use coracle_vfs::tmpfs::{create_unnamed, new_tmpfs, TmpfsOptions};
use coracle_vfs::types::{oflags::*, *};
use coracle_vfs::{Caller, Errno, Inode, Lookup, OpenFile, TimeChange};
use core::result::Result;

use crate::sys::io::install_new;
use crate::sys::stat::{stat_bytes, statfs_bytes, statx_bytes};
use crate::uaccess::{read_cstr, read_u64};
use crate::{Platform, Process, SysResult};

pub(crate) const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: i32 = 0x100;
const AT_REMOVEDIR: i32 = 0x200;
const AT_EACCESS: i32 = 0x200;
const AT_SYMLINK_FOLLOW: i32 = 0x400;
const AT_NO_AUTOMOUNT: i32 = 0x800;
const AT_EMPTY_PATH: i32 = 0x1000;
const AT_STATX_SYNC_TYPE: i32 = 0x6000;

/// Reads a path argument (may be empty; callers decide what empty means).
pub(crate) fn read_path(k: &dyn Platform, ptr: u64) -> Result<Vec<u8>, Errno> {
    read_cstr(k, ptr, PATH_MAX)
}

/// The directory relative paths start from: the cwd, or the directory open at `dirfd`.
pub(crate) fn start_dir(p: &Process, dirfd: i32, path: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(p.shared.fs.lock().root.clone());
    }
    if dirfd == AT_FDCWD {
        return Ok(p.shared.fs.lock().cwd.clone());
    }
    let dir = p.file(dirfd)?.inode().clone();
    if !dir.stat().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(dir)
}

/// What `dirfd` itself names (for AT_EMPTY_PATH): the file open there, or the cwd.
pub(crate) fn fd_target(p: &Process, dirfd: i32) -> Result<Arc<dyn Inode>, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(p.shared.fs.lock().cwd.clone());
    }
    Ok(p.file(dirfd)?.inode().clone())
}

/// Resolves a path argument to an existing object.
fn lookup(
    p: &Process,
    k: &dyn Platform,
    dirfd: i32,
    path: u64,
    follow: bool,
    empty_path: bool,
) -> Result<Arc<dyn Inode>, Errno> {
    let path = read_path(k, path)?;
    lookup_bytes(p, dirfd, &path, follow, empty_path)
}

fn lookup_bytes(
    p: &Process,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_path: bool,
) -> Result<Arc<dyn Inode>, Errno> {
    if path.is_empty() {
        return if empty_path {
            fd_target(p, dirfd)
        } else {
            Err(Errno::ENOENT)
        };
    }
    let base = start_dir(p, dirfd, path)?;
    let cx = p.caller();
    let l = p.sys.vfs.resolve(&cx, &base, path, follow)?;
    l.inode.ok_or(Errno::ENOENT)
}

/// Resolves a path argument of an `*at` call whose `flags` were checked to hold only
/// AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH and harmless bits.
fn lookup_at_flags(
    p: &Process,
    k: &dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
) -> Result<Arc<dyn Inode>, Errno> {
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    lookup(p, k, dirfd, path, follow, flags & AT_EMPTY_PATH != 0)
}

/// Resolves all but the last component of a path argument (for calls that create or remove).
fn lookup_parent(
    p: &Process,
    cx: &Caller,
    dirfd: i32,
    path: &[u8],
    follow: bool,
) -> Result<Lookup, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let base = start_dir(p, dirfd, path)?;
    p.sys.vfs.resolve_parent(cx, &base, path, follow)
}

/// `EROFS` if `inode` is on a read-only mount.
fn check_rofs(p: &Process, inode: &Arc<dyn Inode>) -> Result<(), Errno> {
    if p.sys.vfs.is_readonly(inode) {
        Err(Errno::EROFS)
    } else {
        Ok(())
    }
}

/// Write and search permission on the directory a name is added to or removed from.
fn may_modify_dir(cx: &Caller, dir: &Arc<dyn Inode>) -> Result<(), Errno> {
    if dir.is_removed() {
        return Err(Errno::ENOENT);
    }
    check_access(cx, &dir.stat(), MAY_WRITE | MAY_EXEC)
}

/// The sticky-bit rule for removing or renaming `victim` out of `dir`.
fn may_delete(cx: &Caller, dir: &Arc<dyn Inode>, victim: &Arc<dyn Inode>) -> Result<(), Errno> {
    may_modify_dir(cx, dir)?;
    let ds = dir.stat();
    if ds.mode & S_ISVTX != 0 && cx.uid != 0 {
        let vs = victim.stat();
        if cx.uid != ds.uid && cx.uid != vs.uid {
            return Err(Errno::EPERM);
        }
    }
    Ok(())
}

/// Whether a filesystem is mounted on `dir`.
fn is_mountpoint(p: &Process, dir: &Arc<dyn Inode>) -> bool {
    let st = dir.stat();
    p.sys.vfs.mounts().iter().any(|m| {
        m.mountpoint.as_ref().is_some_and(|mp| {
            let s = mp.stat();
            s.dev == st.dev && s.ino == st.ino
        }) || (m.mountpoint.is_some() && same_inode(&m.root, dir))
    })
}

// ---- open ----

/// `open`/`openat`/`openat2` with decoded arguments.
fn do_open(
    p: &mut Process,
    dirfd: i32,
    path: &[u8],
    flags: u32,
    mode: u32,
    scope: u32,
) -> SysResult {
    let mut flags = flags & VALID;
    if flags & O_PATH != 0 {
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    }
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let cx = p.caller();
    let acc = flags & O_ACCMODE;
    // RESOLVE_IN_ROOT and RESOLVE_BENEATH scope even absolute paths to the dirfd.
    let scoped = scope & (coracle_vfs::RESOLVE_IN_ROOT | coracle_vfs::RESOLVE_BENEATH) != 0;
    let base = start_dir(p, dirfd, if scoped { b"." } else { path })?;
    let vfs = p.sys.vfs.clone();
    if flags & O_TMPFILE == O_TMPFILE {
        if acc == O_RDONLY || flags & O_CREAT != 0 {
            return Err(Errno::EINVAL);
        }
        let l = vfs.resolve(&cx, &base, path, true)?;
        let dir = l.inode.clone().ok_or(Errno::ENOENT)?;
        if !dir.stat().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        may_modify_dir(&cx, &dir)?;
        let perms = mode & 0o7777 & !cx.umask;
        let inode = create_unnamed(&dir, perms, cx.uid, cx.gid, flags & O_EXCL == 0)?;
        let mut name = vfs.path_of(&cx, &dir)?;
        if name != b"/" {
            name.push(b'/');
        }
        name.extend_from_slice(alloc::format!("#{} (deleted)", inode.stat().ino).as_bytes());
        let ops = vfs.open_inode(&cx, &inode, flags)?;
        return install_new(p, inode, name, (flags & !O_TMPFILE) | O_LARGEFILE, ops);
    }
    if flags & O_CREAT != 0 && flags & O_DIRECTORY != 0 {
        return Err(Errno::EINVAL);
    }
    let (l, created) = if flags & O_CREAT != 0 {
        let follow = flags & (O_EXCL | O_NOFOLLOW) == 0;
        let l = vfs.resolve_parent(&cx, &base, path, follow)?;
        if l.trailing_slash {
            return Err(Errno::EISDIR);
        }
        match &l.inode {
            Some(_) if flags & O_EXCL != 0 => return Err(Errno::EEXIST),
            Some(i) if i.stat().is_dir() => return Err(Errno::EISDIR),
            Some(_) => (l, false),
            None => {
                if l.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                may_modify_dir(&cx, &l.dir)?;
                check_rofs(p, &l.dir)?;
                let perms = mode & 0o7777 & !cx.umask;
                let inode = l
                    .dir
                    .create(&l.name, NewNode::Regular, perms, cx.uid, cx.gid)?;
                (
                    Lookup {
                        inode: Some(inode),
                        ..l
                    },
                    true,
                )
            }
        }
    } else {
        let follow = flags & O_NOFOLLOW == 0;
        (vfs.resolve_with(&cx, &base, path, follow, scope)?, false)
    };
    let inode = l.inode.clone().ok_or(Errno::ENOENT)?;
    let st = inode.stat();
    let kind = st.file_type();
    if flags & O_DIRECTORY != 0 && kind != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    if kind == FileType::Symlink && flags & O_PATH == 0 {
        return Err(Errno::ELOOP);
    }
    if kind == FileType::Directory && (acc != O_RDONLY || flags & O_TRUNC != 0) {
        return Err(Errno::EISDIR);
    }
    if !created && flags & O_PATH == 0 {
        let mut mask = 0;
        if acc == O_RDONLY || acc == O_RDWR {
            mask |= MAY_READ;
        }
        if acc != O_RDONLY || flags & O_TRUNC != 0 {
            mask |= MAY_WRITE;
        }
        check_access(&cx, &st, mask)?;
        if mask & MAY_WRITE != 0 && kind == FileType::Regular {
            check_rofs(p, &inode)?;
        }
    }
    let fifo = match kind {
        FileType::Fifo if flags & O_PATH == 0 => inode.fifo(),
        _ => None,
    };
    let ops = match fifo {
        Some(pipe) => crate::sys::fifo::open_fifo(p, &pipe, flags)?,
        None => vfs.open_inode(&cx, &inode, flags)?,
    };
    if flags & O_TRUNC != 0 && !created && kind == FileType::Regular && flags & O_PATH == 0 {
        inode.truncate(0)?;
    }
    let name = vfs.path_in(&cx, &l);
    let status = if flags & O_PATH != 0 {
        flags
    } else {
        flags | O_LARGEFILE
    };
    install_new(p, inode, name, status, ops)
}

pub(crate) fn openat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
    mode: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    do_open(p, dirfd, &path, flags as u32, mode, 0)
}

pub(crate) fn open(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    flags: i32,
    mode: u32,
) -> SysResult {
    openat(p, k, AT_FDCWD, path, flags, mode)
}

pub(crate) fn creat(p: &mut Process, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
    openat(
        p,
        k,
        AT_FDCWD,
        path,
        (O_CREAT | O_WRONLY | O_TRUNC) as i32,
        mode,
    )
}

pub(crate) fn openat2(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    how: u64,
    size: u64,
) -> SysResult {
    const OPEN_HOW_SIZE: u64 = 24;
    const RESOLVE_ALL: u64 = 0x3f;
    if size < OPEN_HOW_SIZE {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let flags = read_u64(k, how)?;
    let mode = read_u64(k, how + 8)?;
    let resolve = read_u64(k, how + 16)?;
    // Bytes past the struct we know must be zero (E2BIG otherwise).
    let mut rest = alloc::vec![0u8; (size - OPEN_HOW_SIZE) as usize];
    k.read_user(how + OPEN_HOW_SIZE, &mut rest)?;
    if rest.iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    if flags & !u64::from(VALID) != 0 || resolve & !RESOLVE_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let creating =
        flags & u64::from(O_CREAT) != 0 || flags & u64::from(O_TMPFILE) == u64::from(O_TMPFILE);
    if (mode != 0 && !creating) || mode & !0o7777 != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(k, path)?;
    do_open(p, dirfd, &path, flags as u32, mode as u32, resolve as u32)
}

// ---- stat ----

fn mnt_id(st: &Stat) -> u64 {
    u64::from(minor(st.dev))
}

pub(crate) fn stat(p: &mut Process, k: &mut dyn Platform, path: u64, statbuf: u64) -> SysResult {
    let st = lookup(p, k, AT_FDCWD, path, true, false)?.stat();
    k.write_user(statbuf, &stat_bytes(&st)).map(|_| 0)
}

pub(crate) fn lstat(p: &mut Process, k: &mut dyn Platform, path: u64, statbuf: u64) -> SysResult {
    let st = lookup(p, k, AT_FDCWD, path, false, false)?.stat();
    k.write_user(statbuf, &stat_bytes(&st)).map(|_| 0)
}

pub(crate) fn newfstatat(
    p: &mut Process,
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
    k.write_user(statbuf, &stat_bytes(&st)).map(|_| 0)
}

pub(crate) fn statx(
    p: &mut Process,
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
    k.write_user(buf, &statx_bytes(&st, mnt_id(&st))).map(|_| 0)
}

pub(crate) fn statfs(p: &mut Process, k: &mut dyn Platform, path: u64, buf: u64) -> SysResult {
    let s = lookup(p, k, AT_FDCWD, path, true, false)?.statfs();
    k.write_user(buf, &statfs_bytes(&s)).map(|_| 0)
}

pub(crate) fn fstatfs(p: &mut Process, k: &mut dyn Platform, fd: i32, buf: u64) -> SysResult {
    let s = p.file(fd)?.inode().statfs();
    k.write_user(buf, &statfs_bytes(&s)).map(|_| 0)
}

// ---- access and the cwd ----

fn do_access(
    p: &Process,
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
    let inode = lookup(
        p,
        k,
        dirfd,
        path,
        flags & AT_SYMLINK_NOFOLLOW == 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    if mode == 0 {
        return Ok(0);
    }
    check_access(&p.caller(), &inode.stat(), mode as u32)?;
    Ok(0)
}

pub(crate) fn access(p: &mut Process, k: &mut dyn Platform, path: u64, mode: i32) -> SysResult {
    do_access(p, k, AT_FDCWD, path, mode, 0)
}

pub(crate) fn faccessat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: i32,
) -> SysResult {
    do_access(p, k, dirfd, path, mode, 0)
}

pub(crate) fn faccessat2(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: i32,
    flags: i32,
) -> SysResult {
    do_access(p, k, dirfd, path, mode, flags)
}

pub(crate) fn getcwd(p: &mut Process, k: &mut dyn Platform, buf: u64, size: u64) -> SysResult {
    let cx = p.caller();
    let cwd = p.shared.fs.lock().cwd.clone();
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

fn set_cwd(p: &Process, dir: Arc<dyn Inode>) -> SysResult {
    let st = dir.stat();
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_access(&p.caller(), &st, MAY_EXEC)?;
    p.shared.fs.lock().cwd = dir;
    Ok(0)
}

pub(crate) fn chdir(p: &mut Process, k: &mut dyn Platform, path: u64) -> SysResult {
    let dir = lookup(p, k, AT_FDCWD, path, true, false)?;
    set_cwd(p, dir)
}

pub(crate) fn fchdir(p: &mut Process, _k: &mut dyn Platform, fd: i32) -> SysResult {
    let dir = p.file(fd)?.inode().clone();
    set_cwd(p, dir)
}

pub(crate) fn chroot(p: &mut Process, k: &mut dyn Platform, path: u64) -> SysResult {
    let dir = lookup(p, k, AT_FDCWD, path, true, false)?;
    let st = dir.stat();
    if !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_access(&p.caller(), &st, MAY_EXEC)?;
    if p.shared.uid != 0 {
        return Err(Errno::EPERM);
    }
    p.shared.fs.lock().root = dir;
    Ok(0)
}

pub(crate) fn umask(p: &mut Process, _k: &mut dyn Platform, mask: u32) -> SysResult {
    let mut fs = p.shared.fs.lock();
    let old = fs.umask;
    fs.umask = mask & 0o777;
    Ok(u64::from(old))
}

// ---- making names ----

/// Resolves where a new name goes: `EEXIST` if it exists, `ENOENT` for a trailing slash
/// (except for mkdir), checks permission on the directory.
fn new_name(
    p: &Process,
    cx: &Caller,
    dirfd: i32,
    path: &[u8],
    is_mkdir: bool,
) -> Result<Lookup, Errno> {
    let l = lookup_parent(p, cx, dirfd, path, false)?;
    if l.inode.is_some() {
        return Err(Errno::EEXIST);
    }
    if l.trailing_slash && !is_mkdir {
        return Err(Errno::ENOENT);
    }
    may_modify_dir(cx, &l.dir)?;
    check_rofs(p, &l.dir)?;
    Ok(l)
}

pub(crate) fn mkdirat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    let cx = p.caller();
    let l = new_name(p, &cx, dirfd, &path, true)?;
    let perms = mode & 0o1777 & !cx.umask;
    l.dir
        .create(&l.name, NewNode::Directory, perms, cx.uid, cx.gid)?;
    Ok(0)
}

pub(crate) fn mkdir(p: &mut Process, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
    mkdirat(p, k, AT_FDCWD, path, mode)
}

pub(crate) fn mknodat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
    dev: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    let cx = p.caller();
    let rdev = makedev((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    let node = match mode & S_IFMT {
        0 | S_IFREG => NewNode::Regular,
        S_IFIFO => NewNode::Fifo,
        S_IFSOCK => NewNode::Socket,
        S_IFCHR | S_IFBLK => {
            if cx.uid != 0 {
                return Err(Errno::EPERM);
            }
            if mode & S_IFMT == S_IFCHR {
                NewNode::CharDevice(rdev)
            } else {
                NewNode::BlockDevice(rdev)
            }
        }
        S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    };
    let l = new_name(p, &cx, dirfd, &path, false)?;
    let perms = mode & 0o7777 & !cx.umask;
    l.dir.create(&l.name, node, perms, cx.uid, cx.gid)?;
    Ok(0)
}

pub(crate) fn mknod(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    mode: u32,
    dev: u32,
) -> SysResult {
    mknodat(p, k, AT_FDCWD, path, mode, dev)
}

pub(crate) fn symlinkat(
    p: &mut Process,
    k: &mut dyn Platform,
    target: u64,
    dirfd: i32,
    path: u64,
) -> SysResult {
    let target = read_path(k, target)?;
    let path = read_path(k, path)?;
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    let cx = p.caller();
    let l = new_name(p, &cx, dirfd, &path, false)?;
    l.dir
        .create(&l.name, NewNode::Symlink(target), 0o777, cx.uid, cx.gid)?;
    Ok(0)
}

pub(crate) fn symlink(p: &mut Process, k: &mut dyn Platform, target: u64, path: u64) -> SysResult {
    symlinkat(p, k, target, AT_FDCWD, path)
}

pub(crate) fn linkat(
    p: &mut Process,
    k: &mut dyn Platform,
    olddirfd: i32,
    oldpath: u64,
    newdirfd: i32,
    newpath: u64,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = lookup(
        p,
        k,
        olddirfd,
        oldpath,
        flags & AT_SYMLINK_FOLLOW != 0,
        flags & AT_EMPTY_PATH != 0,
    )?;
    let newpath = read_path(k, newpath)?;
    if old.stat().is_dir() {
        return Err(Errno::EPERM);
    }
    let cx = p.caller();
    let l = new_name(p, &cx, newdirfd, &newpath, false)?;
    l.dir.link(&l.name, &old)?;
    Ok(0)
}

pub(crate) fn link(p: &mut Process, k: &mut dyn Platform, oldpath: u64, newpath: u64) -> SysResult {
    linkat(p, k, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)
}

// ---- removing and renaming ----

fn do_rmdir(p: &Process, dirfd: i32, path: &[u8]) -> SysResult {
    let cx = p.caller();
    let l = lookup_parent(p, &cx, dirfd, path, false)?;
    match l.name.as_slice() {
        b"." => return Err(Errno::EINVAL),
        b".." => return Err(Errno::ENOTEMPTY),
        b"" => return Err(Errno::EBUSY),
        _ => {}
    }
    let victim = l.inode.clone().ok_or(Errno::ENOENT)?;
    if !victim.stat().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_delete(&cx, &l.dir, &victim)?;
    check_rofs(p, &l.dir)?;
    if is_mountpoint(p, &victim) || same_inode(&victim, &cx.root) {
        return Err(Errno::EBUSY);
    }
    l.dir.rmdir(&l.name)?;
    Ok(0)
}

fn do_unlink(p: &Process, dirfd: i32, path: &[u8]) -> SysResult {
    let cx = p.caller();
    let l = lookup_parent(p, &cx, dirfd, path, false)?;
    if !l.has_name() {
        return Err(Errno::EISDIR);
    }
    let victim = l.inode.clone().ok_or(Errno::ENOENT)?;
    let is_dir = victim.stat().is_dir();
    if l.trailing_slash && !is_dir {
        return Err(Errno::ENOTDIR);
    }
    if is_dir {
        return Err(Errno::EISDIR);
    }
    may_delete(&cx, &l.dir, &victim)?;
    check_rofs(p, &l.dir)?;
    l.dir.unlink(&l.name)?;
    Ok(0)
}

pub(crate) fn rmdir(p: &mut Process, k: &mut dyn Platform, path: u64) -> SysResult {
    let path = read_path(k, path)?;
    do_rmdir(p, AT_FDCWD, &path)
}

pub(crate) fn unlink(p: &mut Process, k: &mut dyn Platform, path: u64) -> SysResult {
    let path = read_path(k, path)?;
    do_unlink(p, AT_FDCWD, &path)
}

pub(crate) fn unlinkat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
) -> SysResult {
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(k, path)?;
    if flags & AT_REMOVEDIR != 0 {
        do_rmdir(p, dirfd, &path)
    } else {
        do_unlink(p, dirfd, &path)
    }
}

pub(crate) fn renameat2(
    p: &mut Process,
    k: &mut dyn Platform,
    olddirfd: i32,
    oldpath: u64,
    newdirfd: i32,
    newpath: u64,
    flags: u32,
) -> SysResult {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0
        || (flags & RENAME_EXCHANGE != 0 && flags & (RENAME_NOREPLACE | RENAME_WHITEOUT) != 0)
    {
        return Err(Errno::EINVAL);
    }
    let oldpath = read_path(k, oldpath)?;
    let newpath = read_path(k, newpath)?;
    let cx = p.caller();
    let old = lookup_parent(p, &cx, olddirfd, &oldpath, false)?;
    let new = lookup_parent(p, &cx, newdirfd, &newpath, false)?;
    if !old.has_name() || !new.has_name() {
        return Err(Errno::EBUSY);
    }
    let src = old.inode.clone().ok_or(Errno::ENOENT)?;
    let src_dir = src.stat().is_dir();
    if flags & RENAME_NOREPLACE != 0 && new.inode.is_some() {
        return Err(Errno::EEXIST);
    }
    if (old.trailing_slash || new.trailing_slash) && !src_dir {
        return Err(Errno::ENOTDIR);
    }
    let (sd, nd) = (old.dir.stat(), new.dir.stat());
    if sd.dev != nd.dev {
        return Err(Errno::EXDEV);
    }
    may_delete(&cx, &old.dir, &src)?;
    match &new.inode {
        Some(dst) => may_delete(&cx, &new.dir, dst)?,
        None => may_modify_dir(&cx, &new.dir)?,
    }
    check_rofs(p, &old.dir)?;
    if is_mountpoint(p, &src) || new.inode.as_ref().is_some_and(|d| is_mountpoint(p, d)) {
        return Err(Errno::EBUSY);
    }
    if flags & RENAME_WHITEOUT != 0 && cx.uid != 0 {
        return Err(Errno::EPERM);
    }
    old.dir
        .rename(&old.name, &new.dir, &new.name, flags & !RENAME_WHITEOUT)?;
    if flags & RENAME_WHITEOUT != 0 {
        // The old name becomes a whiteout: a character device 0:0.
        old.dir
            .create(&old.name, NewNode::CharDevice(0), 0, cx.uid, cx.gid)?;
    }
    Ok(0)
}

pub(crate) fn renameat(
    p: &mut Process,
    k: &mut dyn Platform,
    olddirfd: i32,
    oldpath: u64,
    newdirfd: i32,
    newpath: u64,
) -> SysResult {
    renameat2(p, k, olddirfd, oldpath, newdirfd, newpath, 0)
}

pub(crate) fn rename(
    p: &mut Process,
    k: &mut dyn Platform,
    oldpath: u64,
    newpath: u64,
) -> SysResult {
    renameat2(p, k, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)
}

// ---- symlinks ----

pub(crate) fn readlinkat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult {
    let path = read_path(k, path)?;
    if bufsiz as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let inode = lookup_bytes(p, dirfd, &path, false, true)?;
    if path.is_empty() && inode.stat().file_type() != FileType::Symlink {
        return Err(Errno::ENOENT);
    }
    let text = inode.readlink(&p.caller())?;
    let n = text.len().min(bufsiz as usize);
    k.write_user(buf, &text[..n])?;
    Ok(n as u64)
}

pub(crate) fn readlink(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult {
    readlinkat(p, k, AT_FDCWD, path, buf, bufsiz)
}

// ---- modes, owners, times ----

fn owner_or_root(cx: &Caller, st: &Stat) -> Result<(), Errno> {
    if cx.uid == 0 || cx.uid == st.uid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

fn do_chmod(p: &Process, inode: &Arc<dyn Inode>, mode: u32) -> SysResult {
    let cx = p.caller();
    let st = inode.stat();
    owner_or_root(&cx, &st)?;
    check_rofs(p, inode)?;
    let mut mode = mode & MODE_BITS;
    // Only members of the file's group may keep set-group-ID.
    if cx.uid != 0 && !cx.in_group(st.gid) {
        mode &= !S_ISGID;
    }
    inode.set_mode(mode)?;
    Ok(0)
}

pub(crate) fn fchmodat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
) -> SysResult {
    let inode = lookup(p, k, dirfd, path, true, false)?;
    do_chmod(p, &inode, mode)
}

pub(crate) fn fchmodat2(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let inode = lookup_at_flags(p, k, dirfd, path, flags)?;
    if inode.stat().file_type() == FileType::Symlink {
        return Err(Errno::EOPNOTSUPP);
    }
    do_chmod(p, &inode, mode)
}

pub(crate) fn chmod(p: &mut Process, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
    fchmodat(p, k, AT_FDCWD, path, mode)
}

pub(crate) fn fchmod(p: &mut Process, _k: &mut dyn Platform, fd: i32, mode: u32) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    do_chmod(p, &file.inode().clone(), mode)
}

fn do_chown(p: &Process, inode: &Arc<dyn Inode>, uid: u32, gid: u32) -> SysResult {
    let cx = p.caller();
    let st = inode.stat();
    let (uid, gid) = (
        (uid != u32::MAX).then_some(uid),
        (gid != u32::MAX).then_some(gid),
    );
    check_rofs(p, inode)?;
    if cx.uid != 0 {
        let uid_ok = uid.is_none_or(|u| u == st.uid);
        let gid_ok = gid.is_none_or(|g| cx.uid == st.uid && cx.in_group(g));
        if !uid_ok || !gid_ok {
            return Err(Errno::EPERM);
        }
    }
    inode.set_owner(uid, gid)?;
    // chown clears set-user-ID, and set-group-ID when group-executable, of non-directories.
    if !st.is_dir() && st.file_type() != FileType::Symlink {
        let mut mode = st.mode & MODE_BITS;
        mode &= !S_ISUID;
        if mode & 0o010 != 0 {
            mode &= !S_ISGID;
        }
        if mode != st.mode & MODE_BITS {
            inode.set_mode(mode)?;
        }
    }
    Ok(0)
}

pub(crate) fn fchownat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    uid: u32,
    gid: u32,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let inode = lookup_at_flags(p, k, dirfd, path, flags)?;
    do_chown(p, &inode, uid, gid)
}

pub(crate) fn chown(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    uid: u32,
    gid: u32,
) -> SysResult {
    fchownat(p, k, AT_FDCWD, path, uid, gid, 0)
}

pub(crate) fn lchown(
    p: &mut Process,
    k: &mut dyn Platform,
    path: u64,
    uid: u32,
    gid: u32,
) -> SysResult {
    fchownat(p, k, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW)
}

pub(crate) fn fchown(
    p: &mut Process,
    _k: &mut dyn Platform,
    fd: i32,
    uid: u32,
    gid: u32,
) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    do_chown(p, &file.inode().clone(), uid, gid)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

fn decode_time(sec: i64, nsec: i64) -> Result<TimeChange, Errno> {
    match nsec {
        UTIME_NOW => Ok(TimeChange::Now),
        UTIME_OMIT => Ok(TimeChange::Omit),
        0..=999_999_999 => Ok(TimeChange::Set(Timespec {
            sec,
            nsec: nsec as u32,
        })),
        _ => Err(Errno::EINVAL),
    }
}

fn set_times(p: &Process, inode: &Arc<dyn Inode>, a: TimeChange, m: TimeChange) -> SysResult {
    let cx = p.caller();
    let st = inode.stat();
    if a == TimeChange::Omit && m == TimeChange::Omit {
        return Ok(0);
    }
    check_rofs(p, inode)?;
    let explicit = matches!(a, TimeChange::Set(_)) || matches!(m, TimeChange::Set(_));
    if explicit {
        owner_or_root(&cx, &st)?;
    } else if cx.uid != 0 && cx.uid != st.uid {
        check_access(&cx, &st, MAY_WRITE)?;
    }
    inode.set_times(a, m)?;
    Ok(0)
}

pub(crate) fn utimensat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    times: u64,
    flags: i32,
) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let (a, m) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let a = decode_time(read_u64(k, times)? as i64, read_u64(k, times + 8)? as i64)?;
        let m = decode_time(
            read_u64(k, times + 16)? as i64,
            read_u64(k, times + 24)? as i64,
        )?;
        (a, m)
    };
    let inode = if path == 0 {
        // futimens: the fd itself.
        if dirfd == AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        p.file(dirfd)?.inode().clone()
    } else {
        lookup_at_flags(p, k, dirfd, path, flags)?
    };
    set_times(p, &inode, a, m)
}

/// utimes/futimesat: `struct timeval[2]` (microseconds) or null for now.
fn timevals(k: &dyn Platform, times: u64) -> Result<(TimeChange, TimeChange), Errno> {
    if times == 0 {
        return Ok((TimeChange::Now, TimeChange::Now));
    }
    let mut out = [TimeChange::Now; 2];
    for (i, t) in out.iter_mut().enumerate() {
        let sec = read_u64(k, times + i as u64 * 16)? as i64;
        let usec = read_u64(k, times + i as u64 * 16 + 8)? as i64;
        if !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        *t = TimeChange::Set(Timespec {
            sec,
            nsec: (usec * 1000) as u32,
        });
    }
    Ok((out[0], out[1]))
}

pub(crate) fn futimesat(
    p: &mut Process,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    times: u64,
) -> SysResult {
    let (a, m) = timevals(k, times)?;
    let inode = lookup(p, k, dirfd, path, true, false)?;
    set_times(p, &inode, a, m)
}

pub(crate) fn utimes(p: &mut Process, k: &mut dyn Platform, path: u64, times: u64) -> SysResult {
    futimesat(p, k, AT_FDCWD, path, times)
}

pub(crate) fn utime(p: &mut Process, k: &mut dyn Platform, path: u64, times: u64) -> SysResult {
    let (a, m) = if times == 0 {
        (TimeChange::Now, TimeChange::Now)
    } else {
        let at = read_u64(k, times)? as i64;
        let mt = read_u64(k, times + 8)? as i64;
        (
            TimeChange::Set(Timespec { sec: at, nsec: 0 }),
            TimeChange::Set(Timespec { sec: mt, nsec: 0 }),
        )
    };
    let inode = lookup(p, k, AT_FDCWD, path, true, false)?;
    set_times(p, &inode, a, m)
}

// ---- sizes ----

pub(crate) fn truncate(p: &mut Process, k: &mut dyn Platform, path: u64, length: i64) -> SysResult {
    let inode = lookup(p, k, AT_FDCWD, path, true, false)?;
    let len = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
    let st = inode.stat();
    match st.file_type() {
        FileType::Directory => return Err(Errno::EISDIR),
        FileType::Regular => {}
        _ => return Err(Errno::EINVAL),
    }
    check_access(&p.caller(), &st, MAY_WRITE)?;
    check_rofs(p, &inode)?;
    inode.truncate(len)?;
    Ok(0)
}

pub(crate) fn ftruncate(p: &mut Process, _k: &mut dyn Platform, fd: i32, length: i64) -> SysResult {
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
    file.inode().truncate(len)?;
    Ok(0)
}

pub(crate) fn fallocate(
    p: &mut Process,
    _k: &mut dyn Platform,
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
        }
        m if m & FALLOC_FL_PUNCH_HOLE != 0 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EOPNOTSUPP),
    }
    Ok(0)
}

// ---- memfd and seals ----

pub(crate) fn memfd_create(
    p: &mut Process,
    k: &mut dyn Platform,
    name: u64,
    flags: u32,
) -> SysResult {
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_HUGETLB: u32 = 4;
    const MFD_NOEXEC_SEAL: u32 = 8;
    const MFD_EXEC: u32 = 0x10;
    const F_SEAL_SEAL: u32 = 1;
    let name = read_cstr(k, name, 250).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & MFD_HUGETLB != 0
        || (flags & MFD_NOEXEC_SEAL != 0 && flags & MFD_EXEC != 0)
    {
        return Err(Errno::EINVAL);
    }
    let cx = p.caller();
    let dir = p.sys.memfd_dir();
    let inode = create_unnamed(&dir, 0o777, cx.uid, cx.gid, false)?;
    let st = inode.stat();
    const F_SEAL_EXEC: u32 = 0x20;
    let seals = if flags & MFD_NOEXEC_SEAL != 0 {
        F_SEAL_EXEC
    } else if flags & MFD_ALLOW_SEALING != 0 {
        0
    } else {
        F_SEAL_SEAL
    };
    if flags & MFD_NOEXEC_SEAL != 0 {
        inode.set_mode(0o666)?;
    }
    p.sys.seals.lock().insert((st.dev, st.ino), seals);
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let mut oflags = O_RDWR | O_LARGEFILE;
    if flags & MFD_CLOEXEC != 0 {
        oflags |= O_CLOEXEC;
    }
    let ops = p.sys.vfs.open_inode(&cx, &inode, oflags)?;
    install_new(p, inode, path, oflags, ops)
}

/// Seal bits.
pub(crate) const F_SEAL_SHRINK: u32 = 2;
pub(crate) const F_SEAL_GROW: u32 = 4;
pub(crate) const F_SEAL_WRITE: u32 = 8;
pub(crate) const F_SEAL_FUTURE_WRITE: u32 = 0x10;

/// The seals of `file` (0 for files that are not memfds).
pub(crate) fn seals_of(p: &Process, file: &OpenFile) -> u32 {
    let table = p.sys.seals.lock();
    if table.is_empty() {
        return 0;
    }
    let st = file.inode().stat();
    table.get(&(st.dev, st.ino)).copied().unwrap_or(0)
}

/// Whether the seals allow changing `file` to end at `new_end` (writes and truncation):
/// `EPERM` if not.
pub(crate) fn check_seals(
    p: &Process,
    file: &OpenFile,
    write: bool,
    new_end: impl FnOnce() -> u64,
) -> Result<(), Errno> {
    let seals = seals_of(p, file);
    if seals == 0 {
        return Ok(());
    }
    // Only sealed files pay for working out where the change ends.
    let new_end = new_end();
    let size = file.inode().stat().size;
    if write && seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
        return Err(Errno::EPERM);
    }
    if (new_end > size && seals & F_SEAL_GROW != 0)
        || (!write && new_end < size && seals & F_SEAL_SHRINK != 0)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// F_ADD_SEALS / F_GET_SEALS on memfds.
pub(crate) fn seals(p: &Process, file: &OpenFile, add: bool, seals: u32) -> SysResult {
    const F_SEAL_SEAL: u32 = 1;
    const ALL: u32 = 0x3f;
    let st = file.inode().stat();
    let mut table = p.sys.seals.lock();
    let cur = table.get_mut(&(st.dev, st.ino)).ok_or(Errno::EINVAL)?;
    if !add {
        return Ok(u64::from(*cur));
    }
    if seals & !ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if !file.writable() {
        return Err(Errno::EPERM);
    }
    if *cur & F_SEAL_SEAL != 0 {
        return Err(Errno::EPERM);
    }
    // A shared mapping that may write would bypass the seal (mapping_deny_writable).
    if seals & F_SEAL_WRITE != 0 && p.shared.mm.lock().maps_shared_writable(file.inode()) {
        return Err(Errno::EBUSY);
    }
    *cur |= seals;
    Ok(0)
}

// ---- mount ----

pub(crate) fn mount(
    p: &mut Process,
    k: &mut dyn Platform,
    source: u64,
    target: u64,
    fstype: u64,
    flags: u64,
    data: u64,
) -> SysResult {
    const MS_REMOUNT: u64 = 32;
    const MS_BIND: u64 = 4096;
    const MS_MOVE: u64 = 8192;
    if p.shared.uid != 0 {
        return Err(Errno::EPERM);
    }
    let target_inode = lookup(p, k, AT_FDCWD, target, true, false)?;
    if !target_inode.stat().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if flags & (MS_REMOUNT | MS_BIND | MS_MOVE) != 0 {
        k.log(format_args!(
            "mount with flags {flags:#x} (remount, bind, move) is not supported"
        ));
        return Err(Errno::EINVAL);
    }
    let fstype = if fstype == 0 {
        return Err(Errno::EINVAL);
    } else {
        read_cstr(k, fstype, 4096)?
    };
    let source = if source == 0 {
        b"none".to_vec()
    } else {
        read_cstr(k, source, 4096)?
    };
    let options = if data == 0 {
        Vec::new()
    } else {
        read_cstr(k, data, 4096)?
    };
    let root = match fstype.as_slice() {
        b"tmpfs" => {
            let mut opts = TmpfsOptions::default();
            for opt in options.split(|&b| b == b',') {
                if let Some(v) = opt.strip_prefix(b"mode=") {
                    opts.root_mode = parse_octal(v).ok_or(Errno::EINVAL)?;
                } else if let Some(v) = opt.strip_prefix(b"size=") {
                    opts.max_bytes = parse_size(v, p.sys.info.mem_total()).ok_or(Errno::EINVAL)?;
                }
            }
            new_tmpfs(p.sys.clock(), opts)
        }
        b"proc" => crate::procfs::new_procfs(Arc::downgrade(&p.sys)),
        b"sysfs" => crate::procfs::new_sysfs(Arc::downgrade(&p.sys)),
        _ => return Err(Errno::ENODEV),
    };
    let mut shown = b"rw,relatime".to_vec();
    if !options.is_empty() {
        shown.push(b',');
        shown.extend_from_slice(&options);
    }
    const MS_RDONLY: u64 = 1;
    if flags & MS_RDONLY != 0 {
        shown = [b"ro".as_slice(), &shown[2..]].concat();
    }
    p.sys
        .vfs
        .mount(&target_inode, root.clone(), &fstype, &source, &shown)?;
    if flags & MS_RDONLY != 0 {
        p.sys.vfs.set_readonly(&root, true);
    }
    Ok(0)
}

pub(crate) fn umount2(p: &mut Process, k: &mut dyn Platform, target: u64, flags: i32) -> SysResult {
    const MNT_FORCE: i32 = 1;
    const MNT_DETACH: i32 = 2;
    const MNT_EXPIRE: i32 = 4;
    const UMOUNT_NOFOLLOW: i32 = 8;
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
        || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
    {
        return Err(Errno::EINVAL);
    }
    if p.shared.uid != 0 {
        return Err(Errno::EPERM);
    }
    let root = lookup(p, k, AT_FDCWD, target, flags & UMOUNT_NOFOLLOW == 0, false)?;
    if !p.sys.vfs.is_mount_root(&root) {
        return Err(Errno::EINVAL);
    }
    // A busy mount (the cwd or root of the process inside it) refuses without MNT_DETACH.
    let dev = root.stat().dev;
    let fs = p.shared.fs.lock().clone();
    let open_inside = p
        .shared
        .files
        .lock()
        .iter()
        .any(|(_, f)| f.file.inode().stat().dev == dev);
    if flags & MNT_DETACH == 0
        && (open_inside || fs.cwd.stat().dev == dev || fs.root.stat().dev == dev)
    {
        return Err(Errno::EBUSY);
    }
    p.sys.vfs.unmount(&root)?;
    Ok(0)
}

fn parse_octal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 11 {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &c| {
        (b'0'..=b'7')
            .contains(&c)
            .then(|| acc * 8 + u32::from(c - b'0'))
    })
}

fn parse_size(v: &[u8], mem: u64) -> Option<u64> {
    let (num, mult) = match v.last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        b'%' => (&v[..v.len() - 1], 0),
        _ => (v, 1),
    };
    let n = core::str::from_utf8(num).ok()?.parse::<u64>().ok()?;
    if mult == 0 {
        return Some(mem / 100 * n);
    }
    n.checked_mul(mult)
}
