//! Making, removing and renaming names: mkdir, mknod, symlink, link, rmdir, unlink, rename,
//! and reading a symlink (readlink).

use coracle_vfs::inode::same_inode;
use coracle_vfs::notify::{self, Moved};
use coracle_vfs::types::*;
use coracle_vfs::{Caller, Errno, Lookup};
use core::result::Result;

use super::{
    check_rofs, is_mountpoint, lookup, lookup_bytes, lookup_parent, may_delete, may_modify_dir,
    read_path, AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW,
};
use crate::{Current, Platform, SysResult};

/// Resolves where a new name goes: `EEXIST` if it exists, `ENOENT` for a trailing slash
/// (except for mkdir), checks permission on the directory.
pub(crate) fn new_name(
    p: &Current,
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

/// mkdir and mknod: makes `node` under the new name `path` with the permission bits `mode`
/// less the umask, owned as the directory says (`new_owner`), and tells the watchers.
fn make_node(
    p: &Current,
    cx: &Caller,
    dirfd: i32,
    path: &[u8],
    node: NewNode,
    mode: u32,
) -> SysResult {
    let dir = node == NewNode::Directory;
    let l = new_name(p, cx, dirfd, path, dir)?;
    let (uid, gid, perms) = cx.new_owner(&l.dir.stat(), mode & !cx.umask, dir);
    l.dir.create(&l.name, node, perms, uid, gid)?;
    notify::created(&l.dir, &l.name, dir);
    Ok(0)
}

pub(crate) fn mkdirat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    let cx = p.caller();
    make_node(p, &cx, dirfd, &path, NewNode::Directory, mode & 0o1777)
}

pub(crate) fn mkdir(p: &mut Current, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
    mkdirat(p, k, AT_FDCWD, path, mode)
}

pub(crate) fn mknodat(
    p: &mut Current,
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
            if !cx.capable(coracle_vfs::cap::MKNOD) {
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
    make_node(p, &cx, dirfd, &path, node, mode & 0o7777)
}

pub(crate) fn mknod(
    p: &mut Current,
    k: &mut dyn Platform,
    path: u64,
    mode: u32,
    dev: u32,
) -> SysResult {
    mknodat(p, k, AT_FDCWD, path, mode, dev)
}

pub(crate) fn symlinkat(
    p: &mut Current,
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
    notify::created(&l.dir, &l.name, false);
    Ok(0)
}

pub(crate) fn symlink(p: &mut Current, k: &mut dyn Platform, target: u64, path: u64) -> SysResult {
    symlinkat(p, k, target, AT_FDCWD, path)
}

pub(crate) fn linkat(
    p: &mut Current,
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
    may_link(&cx, &old.stat())?;
    l.dir.link(&l.name, &old)?;
    notify::linked(&l.dir, &l.name, &old);
    Ok(0)
}

/// fs.protected_hardlinks = 1 (systemd's default, which Docker's hosts have and containers
/// share): only the owner (or CAP_FOWNER) may link a file that is not a regular file the
/// caller may read and write, or that is set-user-ID or setgid-executable (`may_linkat`).
fn may_link(cx: &Caller, st: &Stat) -> Result<(), Errno> {
    let setid = st.mode & S_ISUID != 0 || st.mode & (S_ISGID | 0o010) == (S_ISGID | 0o010);
    let safe = st.file_type() == FileType::Regular
        && !setid
        && check_access(cx, st, MAY_READ | MAY_WRITE).is_ok();
    if safe || cx.owns(st) {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

pub(crate) fn link(p: &mut Current, k: &mut dyn Platform, oldpath: u64, newpath: u64) -> SysResult {
    linkat(p, k, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)
}

fn do_rmdir(p: &Current, dirfd: i32, path: &[u8]) -> SysResult {
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
    notify::removed(&l.dir, &l.name, &victim, true);
    Ok(0)
}

fn do_unlink(p: &Current, dirfd: i32, path: &[u8]) -> SysResult {
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
    notify::removed(&l.dir, &l.name, &victim, false);
    Ok(0)
}

pub(crate) fn rmdir(p: &mut Current, k: &mut dyn Platform, path: u64) -> SysResult {
    let path = read_path(k, path)?;
    do_rmdir(p, AT_FDCWD, &path)
}

pub(crate) fn unlink(p: &mut Current, k: &mut dyn Platform, path: u64) -> SysResult {
    let path = read_path(k, path)?;
    do_unlink(p, AT_FDCWD, &path)
}

pub(crate) fn unlinkat(
    p: &mut Current,
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
    p: &mut Current,
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
    // A directory moving to another parent has its `..` rewritten: it must be writable.
    if src_dir && !same_inode(&old.dir, &new.dir) {
        check_access(&cx, &src.stat(), MAY_WRITE)?;
    }
    match &new.inode {
        Some(dst) => may_delete(&cx, &new.dir, dst)?,
        None => may_modify_dir(&cx, &new.dir)?,
    }
    check_rofs(p, &old.dir)?;
    if is_mountpoint(p, &src) || new.inode.as_ref().is_some_and(|d| is_mountpoint(p, d)) {
        return Err(Errno::EBUSY);
    }
    if flags & RENAME_WHITEOUT != 0 && !cx.capable(coracle_vfs::cap::MKNOD) {
        return Err(Errno::EPERM);
    }
    old.dir
        .rename(&old.name, &new.dir, &new.name, flags & !RENAME_WHITEOUT)?;
    notify::moved(
        &Moved {
            dir: &old.dir,
            name: &old.name,
            inode: Some(&src),
        },
        &Moved {
            dir: &new.dir,
            name: &new.name,
            inode: new.inode.as_ref(),
        },
        flags & RENAME_EXCHANGE != 0,
    );
    if flags & RENAME_WHITEOUT != 0 {
        // The old name becomes a whiteout: a character device 0:0.
        old.dir
            .create(&old.name, NewNode::CharDevice(0), 0, cx.uid, cx.gid)?;
        notify::created(&old.dir, &old.name, false);
    }
    Ok(0)
}

pub(crate) fn renameat(
    p: &mut Current,
    k: &mut dyn Platform,
    olddirfd: i32,
    oldpath: u64,
    newdirfd: i32,
    newpath: u64,
) -> SysResult {
    renameat2(p, k, olddirfd, oldpath, newdirfd, newpath, 0)
}

pub(crate) fn rename(
    p: &mut Current,
    k: &mut dyn Platform,
    oldpath: u64,
    newpath: u64,
) -> SysResult {
    renameat2(p, k, AT_FDCWD, oldpath, AT_FDCWD, newpath, 0)
}

pub(crate) fn readlinkat(
    p: &mut Current,
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
    p: &mut Current,
    k: &mut dyn Platform,
    path: u64,
    buf: u64,
    bufsiz: u64,
) -> SysResult {
    readlinkat(p, k, AT_FDCWD, path, buf, bufsiz)
}
