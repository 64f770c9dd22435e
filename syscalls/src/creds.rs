//! A process's credentials: real, effective, saved and filesystem uids and gids, the
//! supplementary groups, the five capability sets and the securebits, with Linux's rules for
//! changing them (`kernel/sys.c`'s set*id calls, `security/commoncap.c`'s capability fixups
//! and exec transition, capabilities(7)).
//!
//! Everything here is pure: the handlers in `sys/creds.rs` read the process's [`Creds`],
//! compute the new ones with these functions and store them. Coracle keeps credentials per
//! process, not per thread: glibc and musl apply every set*id call to all threads anyway.

use alloc::vec::Vec;

use coracle_vfs::{cap, Caller, Errno};

/// securebits (`linux/securebits.h`).
pub mod secbit {
    pub const NOROOT: u32 = 1 << 0;
    pub const NO_SETUID_FIXUP: u32 = 1 << 2;
    pub const KEEP_CAPS: u32 = 1 << 4;
    pub const NO_CAP_AMBIENT_RAISE: u32 = 1 << 6;
    /// The settable bits, and their lock bits (each lock is its bit shifted left by one).
    pub const ALL_BITS: u32 = NOROOT | NO_SETUID_FIXUP | KEEP_CAPS | NO_CAP_AMBIENT_RAISE;
    pub const ALL_LOCKS: u32 = ALL_BITS << 1;
}

/// Most supplementary groups a process may have (NGROUPS_MAX).
pub const NGROUPS_MAX: usize = 65536;

/// "Leave unchanged" in the set*id calls: `(uid_t)-1`.
pub const KEEP: u32 = u32::MAX;

/// The credentials of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    /// Supplementary groups, sorted (as setgroups stores them).
    pub groups: Vec<u32>,
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub securebits: u32,
}

impl Creds {
    /// A container's process as Docker starts it: user `uid:gid` with `groups`; root gets the
    /// default capability set as permitted and effective, other users none; the bounding set
    /// is the default set either way, the inheritable set empty (Docker 20.10.14 and later).
    pub fn container(uid: u32, gid: u32, groups: &[u32]) -> Self {
        let mut groups = groups.to_vec();
        groups.sort_unstable();
        let caps = if uid == 0 { cap::DOCKER_DEFAULT } else { 0 };
        Creds {
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups,
            inheritable: 0,
            permitted: caps,
            effective: caps,
            bounding: cap::DOCKER_DEFAULT,
            ambient: 0,
            securebits: 0,
        }
    }

    /// The credentials the `.coracle/user` launch record names (docs/guest-protocol.md):
    /// ASCII decimal `UID GID [GROUP...]` separated by single spaces; `None` if malformed.
    pub fn from_record(record: &[u8]) -> Option<Self> {
        let text = core::str::from_utf8(record).ok()?.trim_end_matches('\n');
        let mut ids = text.split(' ').map(|s| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse::<u32>().ok().filter(|&id| id != KEEP)
            }
        });
        let uid = ids.next()??;
        let gid = ids.next()??;
        let groups = ids.collect::<Option<Vec<u32>>>()?;
        if groups.len() > NGROUPS_MAX {
            return None;
        }
        Some(Self::container(uid, gid, &groups))
    }

    /// Whether the effective set holds `c`.
    pub fn capable(&self, c: u32) -> bool {
        self.effective & cap::bit(c) != 0
    }

    fn secure(&self, bit: u32) -> bool {
        self.securebits & bit != 0
    }

    /// Whether `gid` is the filesystem gid or a supplementary group (`in_group_p`).
    pub fn in_group(&self, gid: u32) -> bool {
        self.fsgid == gid || self.groups.binary_search(&gid).is_ok()
    }

    /// The caller identity for the VFS, with `umask` and `root` from the filesystem context.
    pub fn caller(
        &self,
        pid: u32,
        tid: u32,
        umask: u32,
        root: alloc::sync::Arc<dyn coracle_vfs::Inode>,
    ) -> Caller {
        Caller {
            pid,
            tid,
            uid: self.fsuid,
            gid: self.fsgid,
            groups: self.groups.clone(),
            caps: self.effective,
            umask,
            root,
        }
    }

    /// The credentials access(2) and faccessat without AT_EACCESS check with
    /// (`access_override_creds`): the real ids as filesystem ids; a real root keeps its
    /// permitted set as effective, anyone else has no capabilities.
    pub fn for_access(&self) -> Creds {
        let mut c = self.clone();
        c.fsuid = c.uid;
        c.fsgid = c.gid;
        if !c.secure(secbit::NO_SETUID_FIXUP) {
            c.effective = if c.uid == 0 { c.permitted } else { 0 };
        }
        c
    }

    /// `setuid(2)`.
    pub fn setuid(&self, uid: u32) -> Result<Creds, Errno> {
        if uid == KEEP {
            return Err(Errno::EINVAL);
        }
        let mut n = self.clone();
        if self.capable(cap::SETUID) {
            n.uid = uid;
            n.suid = uid;
        } else if uid != self.uid && uid != self.suid {
            return Err(Errno::EPERM);
        }
        n.euid = uid;
        n.fsuid = uid;
        Ok(self.fix_setuid(n))
    }

    /// `setreuid(2)`: the real id may become the effective one, the effective any of the
    /// three; the saved id follows the effective one when the real one is set or the effective
    /// one leaves the real one.
    pub fn setreuid(&self, r: u32, e: u32) -> Result<Creds, Errno> {
        let capable = self.capable(cap::SETUID);
        let mut n = self.clone();
        if r != KEEP {
            if r != self.uid && r != self.euid && !capable {
                return Err(Errno::EPERM);
            }
            n.uid = r;
        }
        if e != KEEP {
            if e != self.uid && e != self.euid && e != self.suid && !capable {
                return Err(Errno::EPERM);
            }
            n.euid = e;
        }
        if r != KEEP || (e != KEEP && e != self.uid) {
            n.suid = n.euid;
        }
        n.fsuid = n.euid;
        Ok(self.fix_setuid(n))
    }

    /// `setresuid(2)`: without CAP_SETUID each new id must be one of the three current ones.
    pub fn setresuid(&self, r: u32, e: u32, s: u32) -> Result<Creds, Errno> {
        let ok = |id: u32| id == KEEP || id == self.uid || id == self.euid || id == self.suid;
        let allowed = self.capable(cap::SETUID) || (ok(r) && ok(e) && ok(s));
        if !allowed {
            return Err(Errno::EPERM);
        }
        let mut n = self.clone();
        if r != KEEP {
            n.uid = r;
        }
        if e != KEEP {
            n.euid = e;
        }
        if s != KEEP {
            n.suid = s;
        }
        n.fsuid = n.euid;
        Ok(self.fix_setuid(n))
    }

    /// `setfsuid(2)`: returns the old fsuid and the new credentials (unchanged when the new
    /// id is not allowed, which the call does not report).
    pub fn setfsuid(&self, fsuid: u32) -> (u32, Creds) {
        let old = self.fsuid;
        let allowed = fsuid == self.uid
            || fsuid == self.euid
            || fsuid == self.suid
            || fsuid == self.fsuid
            || self.capable(cap::SETUID);
        if fsuid == KEEP || !allowed || fsuid == old {
            return (old, self.clone());
        }
        let mut n = self.clone();
        n.fsuid = fsuid;
        if !self.secure(secbit::NO_SETUID_FIXUP) {
            if old == 0 && fsuid != 0 {
                n.effective &= !cap::FS_SET;
            } else if old != 0 && fsuid == 0 {
                n.effective |= n.permitted & cap::FS_SET;
            }
        }
        (old, n)
    }

    /// `setgid(2)`.
    pub fn setgid(&self, gid: u32) -> Result<Creds, Errno> {
        if gid == KEEP {
            return Err(Errno::EINVAL);
        }
        let mut n = self.clone();
        if self.capable(cap::SETGID) {
            n.gid = gid;
            n.sgid = gid;
        } else if gid != self.gid && gid != self.sgid {
            return Err(Errno::EPERM);
        }
        n.egid = gid;
        n.fsgid = gid;
        Ok(n)
    }

    /// `setregid(2)`, as [`Creds::setreuid`].
    pub fn setregid(&self, r: u32, e: u32) -> Result<Creds, Errno> {
        let capable = self.capable(cap::SETGID);
        let mut n = self.clone();
        if r != KEEP {
            if r != self.gid && r != self.egid && !capable {
                return Err(Errno::EPERM);
            }
            n.gid = r;
        }
        if e != KEEP {
            if e != self.gid && e != self.egid && e != self.sgid && !capable {
                return Err(Errno::EPERM);
            }
            n.egid = e;
        }
        if r != KEEP || (e != KEEP && e != self.gid) {
            n.sgid = n.egid;
        }
        n.fsgid = n.egid;
        Ok(n)
    }

    /// `setresgid(2)`.
    pub fn setresgid(&self, r: u32, e: u32, s: u32) -> Result<Creds, Errno> {
        let ok = |id: u32| id == KEEP || id == self.gid || id == self.egid || id == self.sgid;
        let allowed = self.capable(cap::SETGID) || (ok(r) && ok(e) && ok(s));
        if !allowed {
            return Err(Errno::EPERM);
        }
        let mut n = self.clone();
        if r != KEEP {
            n.gid = r;
        }
        if e != KEEP {
            n.egid = e;
        }
        if s != KEEP {
            n.sgid = s;
        }
        n.fsgid = n.egid;
        Ok(n)
    }

    /// `setfsgid(2)`: as [`Creds::setfsuid`], without capability changes.
    pub fn setfsgid(&self, fsgid: u32) -> (u32, Creds) {
        let old = self.fsgid;
        let allowed = fsgid == self.gid
            || fsgid == self.egid
            || fsgid == self.sgid
            || fsgid == self.fsgid
            || self.capable(cap::SETGID);
        let mut n = self.clone();
        if fsgid != KEEP && allowed {
            n.fsgid = fsgid;
        }
        (old, n)
    }

    /// `setgroups(2)`: takes CAP_SETGID; the list is stored sorted.
    pub fn setgroups(&self, groups: &[u32]) -> Result<Creds, Errno> {
        if !self.capable(cap::SETGID) {
            return Err(Errno::EPERM);
        }
        if groups.len() > NGROUPS_MAX {
            return Err(Errno::EINVAL);
        }
        let mut n = self.clone();
        n.groups = groups.to_vec();
        // Sorted for in_group's binary search; duplicates stay, as Linux keeps them.
        n.groups.sort_unstable();
        Ok(n)
    }

    /// The capability changes of a uid change (`cap_emulate_setxuid`): leaving uid 0 in all
    /// three ids clears the permitted and effective sets (unless SECBIT_KEEP_CAPS) and the
    /// ambient set; an effective uid leaving 0 clears the effective set, one becoming 0 raises
    /// it to the permitted set.
    fn fix_setuid(&self, mut n: Creds) -> Creds {
        if self.secure(secbit::NO_SETUID_FIXUP) {
            return n;
        }
        let was_root = self.uid == 0 || self.euid == 0 || self.suid == 0;
        if was_root && n.uid != 0 && n.euid != 0 && n.suid != 0 {
            if !self.secure(secbit::KEEP_CAPS) {
                n.permitted = 0;
                n.effective = 0;
            }
            n.ambient = 0;
        }
        if self.euid == 0 && n.euid != 0 {
            n.effective = 0;
        }
        if self.euid != 0 && n.euid == 0 {
            n.effective = n.permitted;
        }
        n
    }

    /// `capset(2)`'s rules (`cap_capset`): the inheritable set may only gain what is
    /// permitted (anything in the bounding set with CAP_SETPCAP), the permitted set only
    /// shrink, the effective set stay within the new permitted one; the ambient set loses what
    /// is no longer both permitted and inheritable.
    pub fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> Result<Creds, Errno> {
        let (effective, permitted, inheritable) = (
            effective & cap::ALL,
            permitted & cap::ALL,
            inheritable & cap::ALL,
        );
        let subset = |a: u64, b: u64| a & !b == 0;
        if !self.capable(cap::SETPCAP) && !subset(inheritable, self.inheritable | self.permitted) {
            return Err(Errno::EPERM);
        }
        if !subset(inheritable, self.inheritable | self.bounding)
            || !subset(permitted, self.permitted)
            || !subset(effective, permitted)
        {
            return Err(Errno::EPERM);
        }
        let mut n = self.clone();
        n.effective = effective;
        n.permitted = permitted;
        n.inheritable = inheritable;
        n.ambient &= permitted & inheritable;
        Ok(n)
    }

    /// `PR_SET_SECUREBITS`: takes CAP_SETPCAP; a locked bit cannot change, a lock cannot be
    /// released, unknown bits are refused (all `EPERM`, as Linux).
    pub fn set_securebits(&self, bits: u64) -> Result<Creds, Errno> {
        let old = u64::from(self.securebits);
        let locks = u64::from(secbit::ALL_LOCKS);
        let known = locks | u64::from(secbit::ALL_BITS);
        if ((old & locks) >> 1) & (old ^ bits) != 0
            || (old & locks & !bits) != 0
            || bits & !known != 0
            || !self.capable(cap::SETPCAP)
        {
            return Err(Errno::EPERM);
        }
        let mut n = self.clone();
        n.securebits = bits as u32;
        Ok(n)
    }

    /// The credentials after execve of a file with `mode`, `owner` and `group`, and whether
    /// the exec is secure (AT_SECURE): set-user-ID and set-group-ID bits take effect unless
    /// `no_new_privs`; the saved and filesystem ids follow the effective ones; root (real or
    /// effective) gets the bounding and inheritable sets as permitted, effective if it is the
    /// effective uid; others keep only their ambient set (`cap_bprm_creds_from_file` without
    /// file capabilities). SECBIT_KEEP_CAPS is cleared.
    pub fn exec(&self, mode: u32, owner: u32, group: u32, no_new_privs: bool) -> (Creds, bool) {
        let mut n = self.clone();
        n.securebits &= !secbit::KEEP_CAPS;
        if !no_new_privs {
            if mode & coracle_vfs::S_ISUID != 0 {
                n.euid = owner;
            }
            if mode & (coracle_vfs::S_ISGID | 0o010) == (coracle_vfs::S_ISGID | 0o010) {
                n.egid = group;
            }
        }
        n.permitted = 0;
        let mut effective = false;
        if !self.secure(secbit::NOROOT) {
            if n.euid == 0 || n.uid == 0 {
                n.permitted = self.bounding | self.inheritable;
            }
            effective = n.euid == 0;
        }
        if no_new_privs {
            n.permitted &= self.permitted;
        }
        n.suid = n.euid;
        n.fsuid = n.euid;
        n.sgid = n.egid;
        n.fsgid = n.egid;
        let is_setid = n.euid != self.uid || n.egid != self.gid;
        if is_setid {
            n.ambient = 0;
        }
        n.permitted |= n.ambient;
        n.effective = if effective { n.permitted } else { n.ambient };
        let grew = n.permitted & !n.ambient != 0;
        let secure = is_setid || (n.uid != 0 && (effective || grew));
        (n, secure)
    }
}
