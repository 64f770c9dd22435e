//! The state of every inotify instance and watch, and how an event reaches the queues.
//!
//! One table per machine (one lock): the watches by inode (dev, ino), each instance's watches
//! by watch descriptor and its event queue. Linux's rules kept here: watch descriptors count
//! up per instance and are not reused while the instance lives; a second watch on the same
//! inode updates the first; an event identical to the last one queued is dropped
//! (`inotify_merge`); past `max_queued_events` one `IN_Q_OVERFLOW` is queued and the rest lost;
//! a watch that ends queues `IN_IGNORED`. Host-tested in `tests.rs`.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::notify::mask::*;
use coracle_vfs::{Errno, Inode, WaitQueue};

/// Flags of `inotify_add_watch`'s mask.
pub(crate) const IN_ONLYDIR: u32 = 0x0100_0000;
pub(crate) const IN_DONT_FOLLOW: u32 = 0x0200_0000;
pub(crate) const IN_EXCL_UNLINK: u32 = 0x0400_0000;
pub(crate) const IN_MASK_CREATE: u32 = 0x1000_0000;
pub(crate) const IN_MASK_ADD: u32 = 0x2000_0000;
pub(crate) const IN_ONESHOT: u32 = 0x8000_0000;
/// What a watch keeps of the mask it was given (`inotify_arg_to_mask`).
const KEPT: u32 = IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT;

/// `sizeof(struct inotify_event)`: wd, mask, cookie, len.
pub(crate) const EVENT_HEADER: usize = 16;

/// Linux's defaults for /proc/sys/fs/inotify/*.
pub(crate) const MAX_QUEUED_EVENTS: usize = 16384;
pub(crate) const MAX_USER_INSTANCES: usize = 128;

/// One queued event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub wd: i32,
    pub mask: u32,
    pub cookie: u32,
    pub name: Vec<u8>,
}

impl Event {
    /// The name field's length: the name, a NUL, zeros up to a multiple of the header size.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).next_multiple_of(EVENT_HEADER)
        }
    }

    /// Bytes it takes in a read.
    pub fn size(&self) -> usize {
        EVENT_HEADER + self.name_len()
    }

    /// The event at the start of `bytes` (written by [`Event::encode`]), if whole.
    fn decode(bytes: &[u8]) -> Option<Event> {
        let word = |i: usize| -> Option<u32> {
            let b = bytes.get(i..i + 4)?;
            Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let len = word(12)? as usize;
        let name = bytes.get(EVENT_HEADER..EVENT_HEADER + len)?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(len);
        Some(Event {
            wd: word(0)? as i32,
            mask: word(4)?,
            cookie: word(8)?,
            name: name[..end].to_vec(),
        })
    }

    /// Appends `struct inotify_event` and the padded name to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wd.to_ne_bytes());
        out.extend_from_slice(&self.mask.to_ne_bytes());
        out.extend_from_slice(&self.cookie.to_ne_bytes());
        out.extend_from_slice(&(self.name_len() as u32).to_ne_bytes());
        let start = out.len();
        out.extend_from_slice(&self.name);
        out.resize(start + self.name_len(), 0);
    }
}

struct Watch {
    mask: u32,
    inode: Arc<dyn Inode>,
    key: (u64, u64),
}

/// One inotify instance.
struct Instance {
    uid: u32,
    max_events: usize,
    queue: VecDeque<Event>,
    /// Bytes the queue would read as (FIONREAD).
    bytes: usize,
    /// The overflow event is in the queue (there is one per instance).
    overflow_queued: bool,
    watches: BTreeMap<i32, Watch>,
    last_wd: i32,
    waiters: Arc<WaitQueue>,
}

impl Instance {
    /// `fsnotify_insert_event` with inotify's merge.
    fn push(&mut self, event: Event) {
        let event = if self.queue.len() >= self.max_events {
            if self.overflow_queued {
                return;
            }
            self.overflow_queued = true;
            Event {
                wd: -1,
                mask: IN_Q_OVERFLOW,
                cookie: 0,
                name: Vec::new(),
            }
        } else {
            let same = self.queue.back().is_some_and(|last| {
                last.mask & IN_IGNORED == 0
                    && last.mask == event.mask
                    && last.wd == event.wd
                    && last.name == event.name
            });
            if same {
                return;
            }
            event
        };
        self.bytes += event.size();
        self.queue.push_back(event);
    }

    fn ignored(&mut self, wd: i32) {
        self.push(Event {
            wd,
            mask: IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
    }
}

/// What the caller must do after the lock is released: wake these queues, drop these inodes.
#[derive(Default)]
pub(crate) struct After {
    wake: Vec<Arc<WaitQueue>>,
    inodes: Vec<Arc<dyn Inode>>,
}

impl After {
    /// Wakes the readers of the instances that got events.
    pub fn finish(self) {
        for q in self.wake {
            q.wake_all(u64::from(coracle_vfs::file::events::POLLIN));
        }
    }

    fn wake(&mut self, q: &Arc<WaitQueue>) {
        if !self.wake.iter().any(|w| Arc::ptr_eq(w, q)) {
            self.wake.push(q.clone());
        }
    }
}

/// Every instance and watch.
pub(crate) struct Table {
    instances: BTreeMap<u64, Instance>,
    next_id: u64,
    /// (dev, ino) → the (instance, wd) watching it.
    by_inode: BTreeMap<(u64, u64), Vec<(u64, i32)>>,
    /// uid → (instances, watches).
    per_user: BTreeMap<u32, (usize, usize)>,
    watches: usize,
}

impl Table {
    pub const fn new() -> Table {
        Table {
            instances: BTreeMap::new(),
            next_id: 1,
            by_inode: BTreeMap::new(),
            per_user: BTreeMap::new(),
            watches: 0,
        }
    }

    /// Watches in existence.
    pub fn watch_count(&self) -> usize {
        self.watches
    }

    /// A new instance of user `uid`: `EMFILE` past `max_instances` of theirs.
    pub fn create(
        &mut self,
        uid: u32,
        max_instances: usize,
        max_events: usize,
        waiters: Arc<WaitQueue>,
    ) -> Result<u64, Errno> {
        let count = self.per_user.entry(uid).or_default();
        if count.0 >= max_instances {
            return Err(Errno::EMFILE);
        }
        count.0 += 1;
        let id = self.next_id;
        self.next_id += 1;
        self.instances.insert(
            id,
            Instance {
                uid,
                max_events,
                queue: VecDeque::new(),
                bytes: 0,
                overflow_queued: false,
                watches: BTreeMap::new(),
                last_wd: 0,
                waiters,
            },
        );
        Ok(id)
    }

    /// The instance's file was closed: its watches end without events.
    pub fn destroy(&mut self, id: u64) -> Vec<Arc<dyn Inode>> {
        let Some(inst) = self.instances.remove(&id) else {
            return Vec::new();
        };
        let mut inodes = Vec::new();
        for (wd, w) in inst.watches {
            self.unindex(id, wd, w.key, inst.uid);
            inodes.push(w.inode);
        }
        if let Some(c) = self.per_user.get_mut(&inst.uid) {
            c.0 = c.0.saturating_sub(1);
        }
        inodes
    }

    fn unindex(&mut self, id: u64, wd: i32, key: (u64, u64), uid: u32) {
        if let Some(list) = self.by_inode.get_mut(&key) {
            list.retain(|&(i, w)| (i, w) != (id, wd));
            if list.is_empty() {
                self.by_inode.remove(&key);
            }
        }
        self.watches -= 1;
        if let Some(c) = self.per_user.get_mut(&uid) {
            c.1 = c.1.saturating_sub(1);
        }
    }

    /// `inotify_add_watch` on `inode` once the path is resolved and checked: the watch
    /// descriptor (the existing one when the instance already watches the inode).
    pub fn add_watch(
        &mut self,
        id: u64,
        inode: Arc<dyn Inode>,
        mask: u32,
        max_watches: usize,
    ) -> Result<i32, Errno> {
        let st = inode.stat();
        let key = (st.dev, st.ino);
        let inst = self.instances.get_mut(&id).ok_or(Errno::EINVAL)?;
        if let Some(w) = inst.watches.values_mut().find(|w| w.key == key) {
            if mask & IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            if mask & IN_MASK_ADD != 0 {
                w.mask |= mask & KEPT;
            } else {
                w.mask = mask & KEPT;
            }
            let wd = self.by_inode[&key]
                .iter()
                .find(|&&(i, _)| i == id)
                .map(|&(_, wd)| wd);
            return wd.ok_or(Errno::EINVAL);
        }
        let uid = inst.uid;
        let count = self.per_user.entry(uid).or_default();
        if count.1 >= max_watches {
            return Err(Errno::ENOSPC);
        }
        count.1 += 1;
        // idr_alloc_cyclic from the last one given.
        let mut wd = inst.last_wd;
        loop {
            wd = if wd == i32::MAX { 1 } else { wd + 1 };
            if !inst.watches.contains_key(&wd) {
                break;
            }
        }
        inst.last_wd = wd;
        inst.watches.insert(
            wd,
            Watch {
                mask: mask & KEPT,
                inode,
                key,
            },
        );
        self.by_inode.entry(key).or_default().push((id, wd));
        self.watches += 1;
        Ok(wd)
    }

    /// `inotify_rm_watch`: `EINVAL` for an unknown wd; queues `IN_IGNORED`.
    pub fn rm_watch(&mut self, id: u64, wd: i32, after: &mut After) -> Result<(), Errno> {
        let inst = self.instances.get(&id).ok_or(Errno::EINVAL)?;
        if !inst.watches.contains_key(&wd) {
            return Err(Errno::EINVAL);
        }
        self.end_watch(id, wd, after);
        Ok(())
    }

    /// Ends watch `wd` of instance `id` with `IN_IGNORED`.
    fn end_watch(&mut self, id: u64, wd: i32, after: &mut After) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let Some(w) = inst.watches.remove(&wd) else {
            return;
        };
        inst.ignored(wd);
        after.wake(&inst.waiters);
        let uid = inst.uid;
        after.inodes.push(w.inode);
        self.unindex(id, wd, w.key, uid);
    }

    /// Delivers `mask` about the inode `key` (or its child `name`) to the watches on it.
    pub fn event(
        &mut self,
        key: (u64, u64),
        mask: u32,
        cookie: u32,
        name: &[u8],
        unlinked: bool,
        after: &mut After,
    ) {
        let Some(list) = self.by_inode.get(&key) else {
            return;
        };
        let list = list.clone();
        for (id, wd) in list {
            let Some(inst) = self.instances.get_mut(&id) else {
                continue;
            };
            let Some(w) = inst.watches.get(&wd) else {
                continue;
            };
            let wmask = w.mask;
            if wmask & mask & IN_ALL_EVENTS == 0 || (wmask & IN_EXCL_UNLINK != 0 && unlinked) {
                continue;
            }
            inst.push(Event {
                wd,
                mask,
                cookie,
                name: name.to_vec(),
            });
            after.wake(&inst.waiters);
            if wmask & IN_ONESHOT != 0 {
                self.end_watch(id, wd, after);
            }
        }
        if mask & IN_DELETE_SELF != 0 {
            for (id, wd) in self.by_inode.get(&key).cloned().unwrap_or_default() {
                self.end_watch(id, wd, after);
            }
        }
    }

    /// Takes whole events from the front of the queue that fit in `room` bytes: `EAGAIN`
    /// when there are none, `EINVAL` when the first does not fit.
    pub fn read(&mut self, id: u64, room: usize) -> Result<Vec<u8>, Errno> {
        let inst = self.instances.get_mut(&id).ok_or(Errno::EBADF)?;
        let mut out = Vec::new();
        while let Some(ev) = inst.queue.front() {
            if ev.size() > room - out.len() {
                if out.is_empty() {
                    return Err(Errno::EINVAL);
                }
                break;
            }
            ev.encode(&mut out);
            inst.bytes -= ev.size();
            if ev.mask == IN_Q_OVERFLOW && ev.wd == -1 {
                inst.overflow_queued = false;
            }
            inst.queue.pop_front();
        }
        if out.is_empty() {
            return Err(Errno::EAGAIN);
        }
        Ok(out)
    }

    /// Puts back at the front the events in `bytes` (as [`Table::read`] gave them) but the
    /// first, which is lost.
    pub fn put_back(&mut self, id: u64, bytes: &[u8]) {
        let Some(inst) = self.instances.get_mut(&id) else {
            return;
        };
        let mut events = Vec::new();
        let mut rest = bytes;
        while let Some(ev) = Event::decode(rest) {
            rest = &rest[ev.size()..];
            events.push(ev);
        }
        for ev in events.into_iter().skip(1).rev() {
            if ev.mask == IN_Q_OVERFLOW && ev.wd == -1 {
                inst.overflow_queued = true;
            }
            inst.bytes += ev.size();
            inst.queue.push_front(ev);
        }
    }

    /// Bytes queued (FIONREAD), or `None` for an unknown instance.
    pub fn queued_bytes(&self, id: u64) -> Option<usize> {
        self.instances.get(&id).map(|i| i.bytes)
    }
}
