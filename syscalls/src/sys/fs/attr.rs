//! Attributes of an inode: modes (chmod), owners (chown) and times (utimensat, utimes...).

use alloc::sync::Arc;

use coracle_vfs::types::*;
use coracle_vfs::{cap, Errno, Inode, TimeChange};
use core::result::Result;

use coracle_vfs::notify::{self, mask::IN_ATTRIB};

use super::{
    as_origin, check_link_flags, check_rofs, fd_found, file_origin, lookup_found, lookup_found_at,
    read_path, Origin, AT_FDCWD, AT_SYMLINK_NOFOLLOW,
};
use crate::uaccess::read_u64;
use crate::{Current, Platform, SysResult};

/// Clears set-user-ID, and set-group-ID when group-executable, of a regular file written or
/// truncated by a caller without CAP_FSETID (`file_remove_privs`).
pub(crate) fn remove_privs(p: &Current, inode: &Arc<dyn Inode>) {
    let st = inode.stat();
    let mut kill = st.mode & S_ISUID;
    if st.mode & (S_ISGID | 0o010) == (S_ISGID | 0o010) {
        kill |= S_ISGID;
    }
    if kill != 0
        && st.file_type() == FileType::Regular
        && !p.process.creds.lock().capable(cap::FSETID)
    {
        let _ = inode.set_mode(st.mode & MODE_BITS & !kill);
    }
}

/// An attribute of `inode` changed (`fsnotify_change`).
fn changed(inode: &Arc<dyn Inode>, origin: &Origin) -> SysResult {
    notify::child_event(as_origin(origin), inode, IN_ATTRIB);
    Ok(0)
}

/// A path argument without flags: the object and where it was found.
fn lookup_path(
    p: &Current,
    k: &dyn Platform,
    dirfd: i32,
    path: u64,
) -> Result<(Arc<dyn Inode>, Origin), Errno> {
    let path = read_path(k, path)?;
    lookup_found(p, dirfd, &path, true, false)
}

fn do_chmod(p: &Current, (inode, origin): (Arc<dyn Inode>, Origin), mode: u32) -> SysResult {
    let inode = &inode;
    let cx = p.caller();
    let st = inode.stat();
    cx.check_owner(&st)?;
    check_rofs(p, inode)?;
    let mut mode = mode & MODE_BITS;
    // Only members of the file's group (or holders of CAP_FSETID) may set set-group-ID.
    if !cx.in_group(st.gid) && !cx.capable(cap::FSETID) {
        mode &= !S_ISGID;
    }
    inode.set_mode(mode)?;
    changed(inode, &origin)
}

pub(crate) fn fchmodat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
) -> SysResult {
    let found = lookup_path(p, k, dirfd, path)?;
    do_chmod(p, found, mode)
}

pub(crate) fn fchmodat2(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    mode: u32,
    flags: i32,
) -> SysResult {
    let found = lookup_found_at(p, k, dirfd, path, flags)?;
    if found.0.stat().file_type() == FileType::Symlink {
        return Err(Errno::EOPNOTSUPP);
    }
    do_chmod(p, found, mode)
}

pub(crate) fn chmod(p: &mut Current, k: &mut dyn Platform, path: u64, mode: u32) -> SysResult {
    fchmodat(p, k, AT_FDCWD, path, mode)
}

pub(crate) fn fchmod(p: &mut Current, _k: &mut dyn Platform, fd: i32, mode: u32) -> SysResult {
    do_chmod(p, fd_found(p, fd)?, mode)
}

fn do_chown(
    p: &Current,
    (inode, origin): (Arc<dyn Inode>, Origin),
    uid: u32,
    gid: u32,
) -> SysResult {
    let inode = &inode;
    let cx = p.caller();
    let st = inode.stat();
    let (uid, gid) = (
        (uid != u32::MAX).then_some(uid),
        (gid != u32::MAX).then_some(gid),
    );
    check_rofs(p, inode)?;
    // chown_ok and chgrp_ok: without CAP_CHOWN, the owner may only "change" the owner to
    // itself and the group to one of its groups.
    if !cx.capable(cap::CHOWN) {
        let owner = cx.uid == st.uid;
        let uid_ok = uid.is_none_or(|u| owner && u == st.uid);
        let gid_ok = gid.is_none_or(|g| owner && (g == st.gid || cx.in_group(g)));
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
    // chown(-1, -1) changes only the ctime: fsnotify_change reports nothing.
    if uid.is_none() && gid.is_none() {
        return Ok(0);
    }
    changed(inode, &origin)
}

pub(crate) fn fchownat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    uid: u32,
    gid: u32,
    flags: i32,
) -> SysResult {
    let found = lookup_found_at(p, k, dirfd, path, flags)?;
    do_chown(p, found, uid, gid)
}

pub(crate) fn chown(
    p: &mut Current,
    k: &mut dyn Platform,
    path: u64,
    uid: u32,
    gid: u32,
) -> SysResult {
    fchownat(p, k, AT_FDCWD, path, uid, gid, 0)
}

pub(crate) fn lchown(
    p: &mut Current,
    k: &mut dyn Platform,
    path: u64,
    uid: u32,
    gid: u32,
) -> SysResult {
    fchownat(p, k, AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW)
}

pub(crate) fn fchown(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd: i32,
    uid: u32,
    gid: u32,
) -> SysResult {
    do_chown(p, fd_found(p, fd)?, uid, gid)
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

fn set_times(
    p: &Current,
    (inode, origin): (Arc<dyn Inode>, Origin),
    a: TimeChange,
    m: TimeChange,
) -> SysResult {
    let inode = &inode;
    let cx = p.caller();
    let st = inode.stat();
    if a == TimeChange::Omit && m == TimeChange::Omit {
        return Ok(0);
    }
    check_rofs(p, inode)?;
    let explicit = matches!(a, TimeChange::Set(_)) || matches!(m, TimeChange::Set(_));
    if explicit {
        cx.check_owner(&st)?;
    } else if !cx.owns(&st) {
        check_access(&cx, &st, MAY_WRITE)?;
    }
    inode.set_times(a, m)?;
    // Both times set is a utime(s) call: IN_ATTRIB; one alone is an access or a change.
    let mask = match (a, m) {
        (TimeChange::Omit, _) => notify::mask::IN_MODIFY,
        (_, TimeChange::Omit) => notify::mask::IN_ACCESS,
        _ => IN_ATTRIB,
    };
    notify::child_event(as_origin(&origin), inode, mask);
    Ok(0)
}

pub(crate) fn utimensat(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    times: u64,
    flags: i32,
) -> SysResult {
    check_link_flags(flags)?;
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
    let found = if path == 0 {
        // futimens: the fd itself.
        if dirfd == AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        let file = p.file(dirfd)?;
        (file.inode().clone(), file_origin(&file))
    } else {
        lookup_found_at(p, k, dirfd, path, flags)?
    };
    set_times(p, found, a, m)
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
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    times: u64,
) -> SysResult {
    let (a, m) = timevals(k, times)?;
    let found = lookup_path(p, k, dirfd, path)?;
    set_times(p, found, a, m)
}

pub(crate) fn utimes(p: &mut Current, k: &mut dyn Platform, path: u64, times: u64) -> SysResult {
    futimesat(p, k, AT_FDCWD, path, times)
}

pub(crate) fn utime(p: &mut Current, k: &mut dyn Platform, path: u64, times: u64) -> SysResult {
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
    let found = lookup_path(p, k, AT_FDCWD, path)?;
    set_times(p, found, a, m)
}
