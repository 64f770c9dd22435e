//! System V IPC: the identifiers, keys and permissions every kind shares (`ipc/util.c`),
//! the message queues (`msg`), shared memory (`shm`) and semaphores (`sem`); and the POSIX
//! message queues (`mqueue`), which live in the same namespace on Linux.
//!
//! Identifiers are Linux's: `seq * 32768 + index`, the index the lowest free slot and `seq`
//! counting every creation, so a removed queue's id is not soon reused.

pub(crate) mod mqueue;
pub(crate) mod msg;
pub(crate) mod sem;
pub(crate) mod shm;

use alloc::collections::BTreeMap;

use coracle_abi::ipc::IpcPerm;

use crate::{Current, Errno};

pub(crate) const IPC_PRIVATE: i32 = 0;
pub(crate) const IPC_CREAT: i32 = 0o1000;
pub(crate) const IPC_EXCL: i32 = 0o2000;
pub(crate) const IPC_NOWAIT: i32 = 0o4000;
pub(crate) const IPC_RMID: i32 = 0;
pub(crate) const IPC_SET: i32 = 1;
pub(crate) const IPC_STAT: i32 = 2;
pub(crate) const IPC_INFO: i32 = 3;
/// IPC_64 in a command: the 64-bit structures, which are the only ones on x86_64.
pub(crate) const IPC_64: i32 = 0x100;
/// IPCMNI: slots per kind, and the multiplier of the sequence number in an id.
const SEQ_MULTIPLIER: u32 = 32768;

/// The machine's IPC objects (one IPC namespace, as a container has).
#[derive(Debug, Default)]
pub(crate) struct Ipc {
    pub msg: msg::Queues,
    pub shm: shm::Segments,
    pub sem: sem::Sets,
    /// The POSIX message queues: the mqueue filesystem's root.
    pub mq: alloc::sync::Arc<mqueue::fs::MqDir>,
}

/// What every object has: key, owner, creator, mode, sequence number.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    pub mode: u16,
    pub seq: u16,
}

impl Perm {
    pub(crate) fn new(p: &Current, key: i32, flags: i32, seq: u16) -> Perm {
        let creds = p.process.creds();
        let (uid, gid) = (creds.euid, creds.egid);
        Perm {
            key,
            uid,
            gid,
            cuid: uid,
            cgid: gid,
            mode: (flags & 0o777) as u16,
            seq,
        }
    }

    /// ipcperms: `want` (0o4 read, 0o2 write, as in the mode's triads) for the caller.
    pub(crate) fn allows(&self, p: &Current, want: u16) -> bool {
        let creds = p.process.creds();
        let uid = creds.euid;
        if uid == 0 {
            return true;
        }
        let granted = if uid == self.uid || uid == self.cuid {
            self.mode >> 6
        } else if creds.in_group(self.gid) || creds.in_group(self.cgid) {
            self.mode >> 3
        } else {
            self.mode
        };
        granted & want & 7 == want & 7
    }

    /// The user-visible `struct ipc64_perm`.
    pub(crate) fn abi(&self) -> IpcPerm {
        IpcPerm {
            key: self.key,
            uid: self.uid,
            gid: self.gid,
            cuid: self.cuid,
            cgid: self.cgid,
            mode: self.mode,
            seq: self.seq,
            ..IpcPerm::default()
        }
    }

    /// IPC_SET's part: owner and the permission bits; only the owner, the creator or root.
    pub(crate) fn set(&mut self, p: &Current, from: &IpcPerm) -> Result<(), Errno> {
        self.may_change(p)?;
        self.uid = from.uid;
        self.gid = from.gid;
        self.mode = (self.mode & !0o777) | (from.mode & 0o777);
        Ok(())
    }

    /// IPC_SET and IPC_RMID: the owner, the creator, or CAP_SYS_ADMIN... which root in a
    /// container lacks, yet root owns what it makes here; `EPERM` otherwise.
    pub(crate) fn may_change(&self, p: &Current) -> Result<(), Errno> {
        let uid = p.process.creds().euid;
        if uid == self.uid || uid == self.cuid {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }
}

/// One kind's objects by slot index.
#[derive(Debug)]
pub(crate) struct Ids<T> {
    pub slots: BTreeMap<u32, T>,
    seq: u16,
    /// The most objects there may be (msgmni, shmmni, semmni).
    max: u32,
}

impl<T> Ids<T> {
    pub(crate) const fn new(max: u32) -> Self {
        Ids {
            slots: BTreeMap::new(),
            seq: 0,
            max,
        }
    }

    /// A free slot and the sequence number for a new object; `ENOSPC` when full.
    pub(crate) fn reserve(&mut self) -> Result<(u32, u16), Errno> {
        if self.slots.len() as u32 >= self.max {
            return Err(Errno::ENOSPC);
        }
        let index = (0..SEQ_MULTIPLIER)
            .find(|i| !self.slots.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        let seq = self.seq;
        self.seq = (self.seq + 1) % (i32::MAX as u32 / SEQ_MULTIPLIER) as u16;
        Ok((index, seq))
    }

    /// The id of the object in `index` with sequence number `seq`.
    pub(crate) fn id(index: u32, seq: u16) -> i32 {
        (u32::from(seq) * SEQ_MULTIPLIER + index) as i32
    }

    /// The slot an id names, if its sequence number matches (`EINVAL` otherwise).
    pub(crate) fn index_of(id: i32) -> Result<u32, Errno> {
        u32::try_from(id)
            .map(|id| id % SEQ_MULTIPLIER)
            .map_err(|_| Errno::EINVAL)
    }

    pub(crate) fn seq_of(id: i32) -> u16 {
        (id as u32 / SEQ_MULTIPLIER) as u16
    }
}

/// A System V object: what its permissions are.
pub(crate) trait Object {
    fn perm(&self) -> &Perm;
}

impl<T: Object> Ids<T> {
    /// The object `id` names; `gone` when no object has that slot and sequence number.
    pub(crate) fn get(&mut self, id: i32, gone: Errno) -> Result<&mut T, Errno> {
        let index = Self::index_of(id)?;
        match self.slots.get_mut(&index) {
            Some(o) if o.perm().seq == Self::seq_of(id) => Ok(o),
            _ => Err(gone),
        }
    }

    /// The object `IPC_STAT` (`id` an id) or `*_STAT`/`*_STAT_ANY` (`id` a slot index)
    /// reports, and the call's return: 0, or the slot's id. Reading it takes read permission,
    /// except for `*_STAT_ANY` (`any`).
    pub(crate) fn stat_target(
        &mut self,
        p: &Current,
        cmd: i32,
        id: i32,
        any: i32,
        gone: Errno,
    ) -> Result<(&mut T, u64), Errno> {
        let (o, ret) = if cmd == IPC_STAT {
            (self.get(id, gone)?, 0)
        } else {
            let index = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
            let o = self.slots.get_mut(&index).ok_or(Errno::EINVAL)?;
            let ret = Self::id(index, o.perm().seq) as u64;
            (o, ret)
        };
        if cmd != any && !o.perm().allows(p, 0o4) {
            return Err(Errno::EACCES);
        }
        Ok((o, ret))
    }
}

/// What a call finds where its object was: `EIDRM` when it waited and the object was removed
/// meanwhile, `EINVAL` for an id that names nothing.
pub(crate) fn gone(p: &Current) -> Errno {
    if p.resumed().is_some() {
        Errno::EIDRM
    } else {
        Errno::EINVAL
    }
}

/// The object for a key: `(index)` of an existing one, after msgget/shmget/semget's checks,
/// or `None` when a new one is to be made.
pub(crate) fn find_key<T>(
    ids: &Ids<T>,
    key: i32,
    flags: i32,
    perm: impl Fn(&T) -> Perm,
    p: &Current,
) -> Result<Option<u32>, Errno> {
    if key == IPC_PRIVATE {
        return Ok(None);
    }
    match ids.slots.iter().find(|(_, o)| perm(o).key == key) {
        Some((&index, o)) => {
            if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                return Err(Errno::EEXIST);
            }
            if !perm(o).allows(p, ((flags >> 6) & 7) as u16) {
                return Err(Errno::EACCES);
            }
            Ok(Some(index))
        }
        None if flags & IPC_CREAT != 0 => Ok(None),
        None => Err(Errno::ENOENT),
    }
}
