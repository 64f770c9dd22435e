//! The credential calls: the get/set families of uids, gids and supplementary groups, and
//! capget/capset. The rules themselves are `crate::creds`; here are the argument checks and
//! the copies in and out (`kernel/sys.c`, `kernel/groups.c`, `kernel/capability.c`).

use alloc::vec::Vec;

use crate::creds::{Creds, NGROUPS_MAX};
use crate::uaccess::write_u32;
use crate::{Current, Errno, Platform, SysResult};

/// Replaces the caller's credentials by what `f` makes of them (nothing on an error).
fn change(p: &Current, f: impl FnOnce(&Creds) -> Result<Creds, Errno>) -> SysResult {
    let mut creds = p.process.creds.lock();
    *creds = f(&creds)?;
    Ok(0)
}

fn get(p: &Current, f: impl FnOnce(&Creds) -> u32) -> SysResult {
    Ok(u64::from(f(&p.process.creds.lock())))
}

pub(crate) fn getuid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    get(p, |c| c.uid)
}

pub(crate) fn geteuid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    get(p, |c| c.euid)
}

pub(crate) fn getgid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    get(p, |c| c.gid)
}

pub(crate) fn getegid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    get(p, |c| c.egid)
}

pub(crate) fn getresuid(
    p: &mut Current,
    k: &mut dyn Platform,
    r: u64,
    e: u64,
    s: u64,
) -> SysResult {
    let c = p.process.creds();
    write_ids(k, [r, e, s], [c.uid, c.euid, c.suid])
}

pub(crate) fn getresgid(
    p: &mut Current,
    k: &mut dyn Platform,
    r: u64,
    e: u64,
    s: u64,
) -> SysResult {
    let c = p.process.creds();
    write_ids(k, [r, e, s], [c.gid, c.egid, c.sgid])
}

/// Stores the real, effective and saved ids at their three user addresses.
fn write_ids(k: &mut dyn Platform, addrs: [u64; 3], ids: [u32; 3]) -> SysResult {
    for (addr, id) in addrs.into_iter().zip(ids) {
        write_u32(k, addr, id)?;
    }
    Ok(0)
}

pub(crate) fn setuid(p: &mut Current, _k: &mut dyn Platform, uid: u32) -> SysResult {
    change_uid(p, |c| c.setuid(uid))
}

/// A change of the user ids, which may leave the process over RLIMIT_NPROC.
fn change_uid(p: &Current, f: impl FnOnce(&Creds) -> Result<Creds, Errno>) -> SysResult {
    let old = p.process.ruid();
    change(p, f)?;
    crate::sys::process::nproc::after_setuid(p, old);
    Ok(0)
}

pub(crate) fn setgid(p: &mut Current, _k: &mut dyn Platform, gid: u32) -> SysResult {
    change(p, |c| c.setgid(gid))
}

pub(crate) fn setreuid(p: &mut Current, _k: &mut dyn Platform, r: u32, e: u32) -> SysResult {
    change_uid(p, |c| c.setreuid(r, e))
}

pub(crate) fn setregid(p: &mut Current, _k: &mut dyn Platform, r: u32, e: u32) -> SysResult {
    change(p, |c| c.setregid(r, e))
}

pub(crate) fn setresuid(
    p: &mut Current,
    _k: &mut dyn Platform,
    r: u32,
    e: u32,
    s: u32,
) -> SysResult {
    change_uid(p, |c| c.setresuid(r, e, s))
}

pub(crate) fn setresgid(
    p: &mut Current,
    _k: &mut dyn Platform,
    r: u32,
    e: u32,
    s: u32,
) -> SysResult {
    change(p, |c| c.setresgid(r, e, s))
}

/// Returns the previous fsuid whether or not it changed.
pub(crate) fn setfsuid(p: &mut Current, _k: &mut dyn Platform, fsuid: u32) -> SysResult {
    let mut creds = p.process.creds.lock();
    let (old, new) = creds.setfsuid(fsuid);
    *creds = new;
    Ok(u64::from(old))
}

pub(crate) fn setfsgid(p: &mut Current, _k: &mut dyn Platform, fsgid: u32) -> SysResult {
    let mut creds = p.process.creds.lock();
    let (old, new) = creds.setfsgid(fsgid);
    *creds = new;
    Ok(u64::from(old))
}

/// The number of groups; with a non-zero `size`, also the list (EINVAL if it does not fit).
pub(crate) fn getgroups(p: &mut Current, k: &mut dyn Platform, size: i32, list: u64) -> SysResult {
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    let groups = p.process.creds().groups;
    if size != 0 {
        if groups.len() > size {
            return Err(Errno::EINVAL);
        }
        let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
        k.write_user(list, &bytes)?;
    }
    Ok(groups.len() as u64)
}

pub(crate) fn setgroups(p: &mut Current, k: &mut dyn Platform, size: i32, list: u64) -> SysResult {
    if !p.process.creds.lock().capable(coracle_vfs::cap::SETGID) {
        return Err(Errno::EPERM);
    }
    // Linux compares the size as unsigned: a negative one is too large.
    let size = size as u32 as usize;
    if size > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut bytes = alloc::vec![0u8; size * 4];
    k.read_user(list, &mut bytes)?;
    let groups: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    change(p, |c| c.setgroups(&groups))
}

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// The number of 32-bit `__user_cap_data_struct`s the header's version takes; an unknown
/// version is EINVAL, and the header then says the preferred one (how libcap probes).
fn cap_words(k: &mut dyn Platform, header: u64) -> Result<usize, Errno> {
    let mut v = [0u8; 4];
    k.read_user(header, &mut v)?;
    match u32::from_le_bytes(v) {
        CAP_V1 => Ok(1),
        CAP_V2 | CAP_V3 => Ok(2),
        _ => {
            write_u32(k, header, CAP_V3)?;
            Err(Errno::EINVAL)
        }
    }
}

fn header_pid(k: &mut dyn Platform, header: u64) -> Result<i32, Errno> {
    let mut v = [0u8; 4];
    k.read_user(header + 4, &mut v)?;
    Ok(i32::from_le_bytes(v))
}

/// capget(2): the effective, permitted and inheritable sets of `pid` (0: the caller). With
/// a null `data` it only checks (and corrects) the version.
pub(crate) fn capget(p: &mut Current, k: &mut dyn Platform, header: u64, data: u64) -> SysResult {
    let words = match cap_words(k, header) {
        Err(Errno::EINVAL) if data == 0 => return Ok(0),
        r => r?,
    };
    if data == 0 {
        return Ok(0);
    }
    let pid = header_pid(k, header)?;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let c = if pid == 0 {
        p.process.creds()
    } else {
        let target = crate::sys::process::group::kill_targets(p, pid)?;
        target.first().ok_or(Errno::ESRCH)?.creds()
    };
    let mut out = Vec::with_capacity(words * 12);
    for w in 0..words {
        for set in [c.effective, c.permitted, c.inheritable] {
            out.extend_from_slice(&((set >> (32 * w)) as u32).to_le_bytes());
        }
    }
    k.write_user(data, &out)?;
    Ok(0)
}

/// capset(2): the caller's own sets only.
pub(crate) fn capset(p: &mut Current, k: &mut dyn Platform, header: u64, data: u64) -> SysResult {
    let words = cap_words(k, header)?;
    let pid = header_pid(k, header)?;
    if pid != 0 && pid as u32 != p.process.pid && pid as u32 != p.tid {
        return Err(Errno::EPERM);
    }
    let mut raw = alloc::vec![0u8; words * 12];
    k.read_user(data, &mut raw)?;
    let mut sets = [0u64; 3];
    for (w, chunk) in raw.chunks_exact(12).enumerate() {
        for (i, set) in sets.iter_mut().enumerate() {
            let b = &chunk[i * 4..i * 4 + 4];
            *set |= u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) << (32 * w);
        }
    }
    change(p, |c| c.capset(sets[0], sets[1], sets[2]))
}
