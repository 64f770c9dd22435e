//! Advisory file locks: POSIX record locks (`fcntl F_SETLK`, owned by a process), open file
//! description locks (`F_OFD_SETLK`) and `flock` locks (both owned by an open file
//! description), with Linux's conflict and release rules.
//!
//! Owners that are open file descriptions are held weakly: once the description is gone its
//! locks no longer count, which is when Linux releases them.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use coracle_vfs::OpenFile;

/// Who holds a lock.
#[derive(Debug, Clone)]
pub enum Owner {
    /// A process (POSIX record locks).
    Process(u32),
    /// An open file description (OFD and flock locks).
    File(Weak<OpenFile>),
}

impl Owner {
    pub fn file(f: &Arc<OpenFile>) -> Owner {
        Owner::File(Arc::downgrade(f))
    }

    fn same(&self, other: &Owner) -> bool {
        match (self, other) {
            (Owner::Process(a), Owner::Process(b)) => a == b,
            (Owner::File(a), Owner::File(b)) => Weak::ptr_eq(a, b),
            _ => false,
        }
    }

    fn alive(&self) -> bool {
        match self {
            Owner::Process(_) => true,
            Owner::File(w) => w.strong_count() > 0,
        }
    }

    /// The pid F_GETLK reports: the owning process, or -1 for description locks.
    fn pid(&self) -> i32 {
        match self {
            Owner::Process(p) => *p as i32,
            Owner::File(_) => -1,
        }
    }
}

/// A byte-range lock; `end` is exclusive, `u64::MAX` meaning "to the end of the file".
#[derive(Debug, Clone)]
pub struct RangeLock {
    pub owner: Owner,
    pub start: u64,
    pub end: u64,
    pub write: bool,
}

/// A conflicting lock, as F_GETLK reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    pub write: bool,
    pub start: u64,
    pub end: u64,
    pub pid: i32,
}

#[derive(Debug, Default)]
struct FileLocks {
    ranges: Vec<RangeLock>,
    flocks: Vec<(Owner, bool)>,
}

/// All locks of the machine, by file (dev, ino).
#[derive(Debug, Default)]
pub struct LockTable {
    files: BTreeMap<(u64, u64), FileLocks>,
}

impl LockTable {
    /// A lock of `owner` that conflicts with `[start, end)` of kind `write`, if any.
    pub fn test(
        &mut self,
        key: (u64, u64),
        owner: &Owner,
        start: u64,
        end: u64,
        write: bool,
    ) -> Option<Conflict> {
        let f = self.files.get_mut(&key)?;
        f.ranges.retain(|l| l.owner.alive());
        // The conflicting lock lowest in the file, as Linux's sorted lock list gives it.
        f.ranges
            .iter()
            .filter(|l| {
                !l.owner.same(owner) && l.start < end && start < l.end && (write || l.write)
            })
            .min_by_key(|l| l.start)
            .map(|l| Conflict {
                write: l.write,
                start: l.start,
                end: l.end,
                pid: l.owner.pid(),
            })
    }

    /// Sets (`Some(write)`) or removes (`None`) `owner`'s lock on `[start, end)`; on a
    /// conflict nothing changes and the conflicting lock is returned.
    pub fn set(
        &mut self,
        key: (u64, u64),
        owner: Owner,
        start: u64,
        end: u64,
        kind: Option<bool>,
    ) -> Result<(), Conflict> {
        if let Some(write) = kind {
            if let Some(c) = self.test(key, &owner, start, end, write) {
                return Err(c);
            }
        }
        let f = self.files.entry(key).or_default();
        // Cut the range out of the owner's own locks, keeping the parts outside it.
        let mut kept = Vec::with_capacity(f.ranges.len() + 2);
        for l in f.ranges.drain(..) {
            if !l.owner.same(&owner) || l.end <= start || end <= l.start {
                kept.push(l);
                continue;
            }
            if l.start < start {
                kept.push(RangeLock {
                    end: start,
                    ..l.clone()
                });
            }
            if end < l.end {
                kept.push(RangeLock { start: end, ..l });
            }
        }
        if let Some(write) = kind {
            // Merge with the owner's adjacent locks of the same kind, as Linux does.
            let (mut s, mut e) = (start, end);
            kept.retain(|l| {
                let adjacent =
                    l.owner.same(&owner) && l.write == write && l.start <= e && s <= l.end;
                if adjacent {
                    s = s.min(l.start);
                    e = e.max(l.end);
                }
                !adjacent
            });
            kept.push(RangeLock {
                owner,
                start: s,
                end: e,
                write,
            });
        }
        f.ranges = kept;
        Ok(())
    }

    /// A process closed an fd of the file: its POSIX locks on it go (Linux's rule).
    pub fn release_process(&mut self, key: (u64, u64), pid: u32) {
        if let Some(f) = self.files.get_mut(&key) {
            f.ranges
                .retain(|l| !matches!(l.owner, Owner::Process(p) if p == pid));
        }
    }

    /// flock: takes (`Some(exclusive)`) or drops (`None`) the description's lock; `false` if
    /// another description holds a conflicting one.
    pub fn flock(&mut self, key: (u64, u64), owner: Owner, kind: Option<bool>) -> bool {
        let f = self.files.entry(key).or_default();
        f.flocks.retain(|(o, _)| o.alive());
        if let Some(exclusive) = kind {
            let conflict = f
                .flocks
                .iter()
                .any(|(o, ex)| !o.same(&owner) && (exclusive || *ex));
            if conflict {
                return false;
            }
        }
        f.flocks.retain(|(o, _)| !o.same(&owner));
        if let Some(exclusive) = kind {
            f.flocks.push((owner, exclusive));
        }
        true
    }
}
