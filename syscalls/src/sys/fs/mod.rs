//! Calls that take paths, one module per family: open, stat, access, the cwd, names,
//! attributes, truncate, memfd, mount; and directory listing (getdents64).
//!
//! Paths are resolved by the VFS from the caller's root or cwd, or from a directory fd for the
//! `*at` calls. The checks Linux makes here (flag validity, `.`/`..` as a last component,
//! permissions on the parent directory, the sticky bit) are made here, in Linux's order.
//! The syscall table names every handler as `fs::NAME`, hence the re-exports.

mod access;
mod attr;
mod cwd;
mod handle;
mod memfd;
pub(crate) mod mount;
mod names;
mod open;
mod readdir;
mod stat;
mod truncate;
mod xattr;

pub(crate) use access::*;
pub(crate) use attr::*;
pub(crate) use cwd::*;
pub(crate) use handle::*;
pub(crate) use memfd::*;
pub(crate) use mount::*;
pub(crate) use names::*;
pub(crate) use open::*;
pub(crate) use readdir::*;
pub(crate) use stat::*;
pub(crate) use truncate::*;
pub(crate) use xattr::*;

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::inode::same_inode;
use coracle_vfs::types::*;
use coracle_vfs::{Caller, Errno, Inode, Lookup};
use core::result::Result;

use crate::uaccess::read_cstr;
use crate::{Current, Platform};

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
pub(crate) fn start_dir(p: &Current, dirfd: i32, path: &[u8]) -> Result<Arc<dyn Inode>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(p.process.fs.lock().root.clone());
    }
    if dirfd == AT_FDCWD {
        return Ok(p.process.fs.lock().cwd.clone());
    }
    let dir = p.file(dirfd)?.inode().clone();
    if !dir.stat().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(dir)
}

/// What `dirfd` itself names (for AT_EMPTY_PATH): the file open there, or the cwd.
pub(crate) fn fd_target(p: &Current, dirfd: i32) -> Result<Arc<dyn Inode>, Errno> {
    if dirfd == AT_FDCWD {
        return Ok(p.process.fs.lock().cwd.clone());
    }
    Ok(p.file(dirfd)?.inode().clone())
}

/// Resolves a path argument to an existing object.
fn lookup(
    p: &Current,
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
    p: &Current,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_path: bool,
) -> Result<Arc<dyn Inode>, Errno> {
    lookup_found(p, dirfd, path, follow, empty_path).map(|f| f.0)
}

/// Where an object was found: its directory and its name there, when known (the parent that
/// hears of changes to it, `coracle_vfs::notify`).
pub(crate) type Origin = Option<(Arc<dyn Inode>, Vec<u8>)>;

/// The origin of the object a lookup found: the directory and name it was reached by, or a
/// directory's own parent when the path ended in `.`, `..` or `/`.
pub(crate) fn origin_of(l: &Lookup) -> Origin {
    if l.has_name() {
        return Some((l.dir.clone(), l.name.clone()));
    }
    l.inode.as_ref().and_then(|i| i.parent())
}

/// Borrows an [`Origin`] as the notify functions take it.
pub(crate) fn as_origin(o: &Origin) -> coracle_vfs::notify::Origin<'_> {
    o.as_ref().map(|(d, n)| (d, n.as_slice()))
}

/// [`lookup_bytes`], also saying where the object was found.
fn lookup_found(
    p: &Current,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_path: bool,
) -> Result<(Arc<dyn Inode>, Origin), Errno> {
    if path.is_empty() {
        if !empty_path {
            return Err(Errno::ENOENT);
        }
        let origin = match dirfd {
            AT_FDCWD => None,
            fd => p.file(fd)?.origin().map(|(d, n)| (d.clone(), n.to_vec())),
        };
        return Ok((fd_target(p, dirfd)?, origin));
    }
    let base = start_dir(p, dirfd, path)?;
    let cx = p.caller();
    let l = p.sys.vfs.resolve(&cx, &base, path, follow)?;
    let origin = origin_of(&l);
    Ok((l.inode.ok_or(Errno::ENOENT)?, origin))
}

/// `EINVAL` unless `flags` holds only AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH.
fn check_link_flags(flags: i32) -> Result<(), Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// [`lookup_found`] for a path argument with `*at` flags, which may be only
/// AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH (`EINVAL`).
fn lookup_found_at(
    p: &Current,
    k: &dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
) -> Result<(Arc<dyn Inode>, Origin), Errno> {
    check_link_flags(flags)?;
    let path = read_path(k, path)?;
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    lookup_found(p, dirfd, &path, follow, flags & AT_EMPTY_PATH != 0)
}

/// The origin an open file records.
pub(crate) fn file_origin(file: &coracle_vfs::OpenFile) -> Origin {
    file.origin().map(|(d, n)| (d.clone(), n.to_vec()))
}

/// The inode of open file `fd` for a call that changes it (fchmod, fchown, fsetxattr...),
/// with where it was opened; `EBADF` for an `O_PATH` descriptor.
fn fd_found(p: &Current, fd: i32) -> Result<(Arc<dyn Inode>, Origin), Errno> {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    Ok((file.inode().clone(), file_origin(&file)))
}

/// Resolves a path argument of an `*at` call whose `flags` were checked to hold only
/// AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH and harmless bits.
fn lookup_at_flags(
    p: &Current,
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
    p: &Current,
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
fn check_rofs(p: &Current, inode: &Arc<dyn Inode>) -> Result<(), Errno> {
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
    if coracle_vfs::sticky_ok(cx, &dir.stat(), &victim.stat()) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Whether a filesystem is mounted on `dir`.
fn is_mountpoint(p: &Current, dir: &Arc<dyn Inode>) -> bool {
    let st = dir.stat();
    p.sys.vfs.mounts().iter().any(|m| {
        m.mountpoint.as_ref().is_some_and(|mp| {
            let s = mp.stat();
            s.dev == st.dev && s.ino == st.ino
        }) || (m.mountpoint.is_some() && same_inode(&m.root, dir))
    })
}
