//! Who is asking and what they may do: the [`Caller`] every VFS operation gets (filesystem
//! ids, supplementary groups, effective capabilities, the root) and Linux's permission rules
//! on inodes (`generic_permission`, `inode_owner_or_capable`, the owner of a new inode).
//!
//! The syscall layer builds a `Caller` from the process's credentials (`syscalls/src/creds.rs`)
//! and makes the checks that need more than one inode (sticky directories, chown) with the
//! helpers here.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::types::{Stat, S_ISGID};
use crate::{Errno, Result};

/// Capability numbers (`linux/capability.h`) the VFS and the syscall layer check.
pub mod cap {
    pub const CHOWN: u32 = 0;
    pub const DAC_OVERRIDE: u32 = 1;
    pub const DAC_READ_SEARCH: u32 = 2;
    pub const FOWNER: u32 = 3;
    pub const FSETID: u32 = 4;
    pub const KILL: u32 = 5;
    pub const SETGID: u32 = 6;
    pub const SETUID: u32 = 7;
    pub const SETPCAP: u32 = 8;
    pub const LINUX_IMMUTABLE: u32 = 9;
    pub const NET_BIND_SERVICE: u32 = 10;
    pub const NET_RAW: u32 = 13;
    pub const SYS_CHROOT: u32 = 18;
    pub const SYS_ADMIN: u32 = 21;
    pub const SYS_NICE: u32 = 23;
    pub const SYS_RESOURCE: u32 = 24;
    pub const MKNOD: u32 = 27;
    pub const AUDIT_WRITE: u32 = 29;
    pub const SETFCAP: u32 = 31;
    pub const MAC_OVERRIDE: u32 = 32;
    /// Linux 6.1's CAP_LAST_CAP (CAP_CHECKPOINT_RESTORE).
    pub const LAST_CAP: u32 = 40;
    /// Every valid capability bit.
    pub const ALL: u64 = (1 << (LAST_CAP + 1)) - 1;

    /// The bit of capability `c`.
    pub const fn bit(c: u32) -> u64 {
        1 << c
    }

    /// The set Docker gives a container's processes (moby's `DefaultCapabilities`).
    pub const DOCKER_DEFAULT: u64 = bit(CHOWN)
        | bit(DAC_OVERRIDE)
        | bit(FOWNER)
        | bit(FSETID)
        | bit(KILL)
        | bit(SETGID)
        | bit(SETUID)
        | bit(SETPCAP)
        | bit(NET_BIND_SERVICE)
        | bit(NET_RAW)
        | bit(SYS_CHROOT)
        | bit(MKNOD)
        | bit(AUDIT_WRITE)
        | bit(SETFCAP);

    /// The filesystem capabilities a change of fsuid to or from 0 drops or raises
    /// (`CAP_FS_SET` in `linux/capability.h`).
    pub const FS_SET: u64 = bit(CHOWN)
        | bit(MKNOD)
        | bit(DAC_OVERRIDE)
        | bit(DAC_READ_SEARCH)
        | bit(FOWNER)
        | bit(FSETID)
        | bit(LINUX_IMMUTABLE)
        | bit(MAC_OVERRIDE);
}

/// Who is asking: the identity permission checks use (the filesystem uid and gid, the
/// supplementary groups, the effective capabilities), and the process's root for absolute
/// paths and `..`.
#[derive(Clone)]
pub struct Caller {
    pub pid: u32,
    pub tid: u32,
    /// The filesystem uid and gid (the effective ids unless setfsuid changed them).
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The effective capability set, one bit per `cap::*`.
    pub caps: u64,
    pub umask: u32,
    pub root: Arc<dyn crate::Inode>,
}

impl core::fmt::Debug for Caller {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Caller")
            .field("pid", &self.pid)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Whether the caller is in group `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether the caller's effective set holds capability `c`.
    pub fn capable(&self, c: u32) -> bool {
        self.caps & cap::bit(c) != 0
    }

    /// `inode_owner_or_capable`: the caller owns the inode or has CAP_FOWNER.
    pub fn owns(&self, st: &Stat) -> bool {
        self.uid == st.uid || self.capable(cap::FOWNER)
    }

    /// `EPERM` unless the caller owns the inode or has CAP_FOWNER (chmod, utimes with times,
    /// O_NOATIME...).
    pub fn check_owner(&self, st: &Stat) -> Result<()> {
        if self.owns(st) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// The owner and mode of a new inode of type `is_dir` in directory `dir`, asked with
    /// `mode` (`inode_init_owner`): the caller's fsuid; the directory's group and, for a
    /// directory, its setgid bit when the directory is setgid, else the caller's fsgid. A file
    /// that would be setgid-executable in a group the caller is not in loses the setgid bit.
    pub fn new_owner(&self, dir: &Stat, mode: u32, is_dir: bool) -> (u32, u32, u32) {
        if dir.mode & S_ISGID == 0 {
            return (self.uid, self.gid, mode);
        }
        let gid = dir.gid;
        let mode = if is_dir {
            mode | S_ISGID
        } else if mode & (S_ISGID | 0o010) == (S_ISGID | 0o010)
            && !self.in_group(gid)
            && !self.capable(cap::FSETID)
        {
            mode & !S_ISGID
        } else {
            mode
        };
        (self.uid, gid, mode)
    }
}

/// Access bits for [`check_access`]: `MAY_EXEC`, `MAY_WRITE`, `MAY_READ` (as `access(2)`'s
/// X_OK, W_OK, R_OK).
pub const MAY_EXEC: u32 = 1;
pub const MAY_WRITE: u32 = 2;
pub const MAY_READ: u32 = 4;

/// The Linux permission check (`generic_permission`) of `stat` for `mask`: the owner's, the
/// group's or the others' bits, whichever class the caller is in; failing that,
/// CAP_DAC_READ_SEARCH lets it read files and search directories, and CAP_DAC_OVERRIDE lets it
/// do anything but execute a file with no execute bit at all.
pub fn check_access(cx: &Caller, st: &Stat, mask: u32) -> Result<()> {
    let mask = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
    let bits = if cx.uid == st.uid {
        (st.mode >> 6) & 7
    } else if cx.in_group(st.gid) {
        (st.mode >> 3) & 7
    } else {
        st.mode & 7
    };
    if bits & mask == mask {
        return Ok(());
    }
    if st.is_dir() {
        if mask & MAY_WRITE == 0 && cx.capable(cap::DAC_READ_SEARCH) {
            return Ok(());
        }
        if cx.capable(cap::DAC_OVERRIDE) {
            return Ok(());
        }
        return Err(Errno::EACCES);
    }
    if mask == MAY_READ && cx.capable(cap::DAC_READ_SEARCH) {
        return Ok(());
    }
    if (mask & MAY_EXEC == 0 || st.mode & 0o111 != 0) && cx.capable(cap::DAC_OVERRIDE) {
        return Ok(());
    }
    Err(Errno::EACCES)
}

/// Whether the caller may remove or replace `victim` in the sticky directory `dir`
/// (`check_sticky`): always when `dir` is not sticky; else the caller must own the file or
/// the directory, or have CAP_FOWNER.
pub fn sticky_ok(cx: &Caller, dir: &Stat, victim: &Stat) -> bool {
    dir.mode & crate::types::S_ISVTX == 0
        || cx.uid == victim.uid
        || cx.uid == dir.uid
        || cx.capable(cap::FOWNER)
}
