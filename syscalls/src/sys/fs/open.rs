//! open, openat, openat2, creat: flag checks, creation, O_TRUNC, O_TMPFILE, in Linux's order.

use coracle_vfs::tmpfs::create_unnamed;
use coracle_vfs::types::{oflags::*, *};
use coracle_vfs::{Errno, Lookup};

use coracle_vfs::notify::{self, mask::*};
use coracle_vfs::OpenFile;

use super::{check_rofs, may_modify_dir, origin_of, read_path, start_dir, AT_FDCWD};
use crate::sys::io::install_new;
use crate::uaccess::read_u64;
use crate::{Current, Platform, SysResult};

/// `open`/`openat`/`openat2` with decoded arguments.
fn do_open(
    p: &mut Current,
    k: &mut dyn Platform,
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
        let (uid, gid, perms) = cx.new_owner(&dir.stat(), mode & 0o7777 & !cx.umask, false);
        let inode = create_unnamed(&dir, perms, uid, gid, flags & O_EXCL == 0)?;
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
                let (uid, gid, perms) =
                    cx.new_owner(&l.dir.stat(), mode & 0o7777 & !cx.umask, false);
                let inode = l.dir.create(&l.name, NewNode::Regular, perms, uid, gid)?;
                notify::created(&l.dir, &l.name, false);
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
    // may_open: O_NOATIME only for the owner (or CAP_FOWNER).
    if flags & O_NOATIME != 0 && flags & O_PATH == 0 {
        cx.check_owner(&st)?;
    }
    let fifo = match kind {
        FileType::Fifo if flags & O_PATH == 0 => inode.fifo(),
        _ => None,
    };
    let ops = match fifo {
        Some(pipe) => {
            let anonymous = crate::sys::io::pipe::is_anonymous_pipe(&*inode);
            crate::sys::fifo::open_fifo(p, &pipe, flags, anonymous)?
        }
        None => vfs.open_inode(&cx, &inode, flags)?,
    };
    let via_console = kind == FileType::CharDevice
        && st.rdev
            == makedev(
                coracle_vfs::dev::DEV_CONSOLE.0,
                coracle_vfs::dev::DEV_CONSOLE.1,
            );
    let ops = crate::tty::on_open(p, ops, flags, via_console)?;
    let name = vfs.path_in(&cx, &l);
    let status = if flags & O_PATH != 0 {
        flags
    } else {
        flags | O_LARGEFILE
    };
    let file = OpenFile::new(inode.clone(), name, status, ops);
    // vfs_open reports the open before do_open truncates.
    match origin_of(&l) {
        Some((dir, name)) => file.opened_in(dir, &name),
        None if flags & O_PATH == 0 => file.notify(IN_OPEN),
        None => {}
    }
    if flags & O_TRUNC != 0 && !created && kind == FileType::Regular && flags & O_PATH == 0 {
        super::truncate::set_size(p, k, &inode, 0)?;
        file.notify(IN_MODIFY);
    }
    p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
}

pub(crate) fn openat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    flags: i32,
    mode: u32,
) -> SysResult {
    let path = read_path(k, path)?;
    do_open(p, k, dirfd, &path, flags as u32, mode, 0)
}

pub(crate) fn open(
    p: &mut Current,
    k: &mut dyn Platform,
    path: u64,
    flags: i32,
    mode: u32,
) -> SysResult {
    openat(p, k, AT_FDCWD, path, flags, mode)
}

pub(crate) fn creat(p: &mut Current, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
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
    p: &mut Current,
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
    do_open(
        p,
        k,
        dirfd,
        &path,
        flags as u32,
        mode as u32,
        resolve as u32,
    )
}
