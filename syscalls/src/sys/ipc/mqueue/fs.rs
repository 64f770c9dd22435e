//! The mqueue filesystem (`ipc/mqueue.c`'s superblock): one directory of queues per IPC
//! namespace, which mq_open and mq_unlink reach by name and `mount -t mqueue` shows
//! (Docker mounts it on /dev/mqueue).
//!
//! The root is a sticky, world-writable directory; each entry is a queue whose file reads as
//! its status line (QSIZE, NOTIFY, SIGNO, NOTIFY_PID). `open(2)` with `O_CREAT` in it makes a
//! queue with the default attributes, as on Linux; other kinds of entries are `EPERM`.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_abi::poll::{POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use coracle_vfs::types::{
    anon_dev, Caller, Clock, DirEntry, FileType, NewNode, Result, Stat, StatFs, Timespec, S_IFDIR,
    S_IFREG, S_ISVTX,
};
use coracle_vfs::{FileOps, Inode, WaitQueue};
use spin::Mutex;

use super::queue::Queue;
use crate::Errno;

/// MQUEUE_MAGIC, statfs's f_type.
const MQUEUE_MAGIC: u64 = 0x1980_0202;
/// The size a queue file and each directory entry count for (FILENT_SIZE, DIRENT_SIZE).
const FILENT_SIZE: u64 = 80;
const DIRENT_SIZE: u64 = 20;

/// The limits of /proc/sys/fs/mqueue, Linux's defaults.
pub(crate) const MSG_MAX: u64 = 10;
pub(crate) const MSGSIZE_MAX: u64 = 8192;
pub(crate) const MSG_DEFAULT: u64 = 10;
pub(crate) const MSGSIZE_DEFAULT: u64 = 8192;
pub(crate) const QUEUES_MAX: usize = 256;

/// Owner, mode and times of a queue or the directory.
#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
}

impl Meta {
    fn new(mode: u32, uid: u32, gid: u32, now: Timespec) -> Meta {
        Meta {
            mode,
            uid,
            gid,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }

    /// The `stat` of the node with these attributes; the directory and a queue differ in
    /// their inode number, link count and size.
    fn stat(&self, dev: u64, ino: u64, nlink: u64, size: u64) -> Stat {
        Stat {
            dev,
            ino,
            mode: self.mode,
            nlink,
            uid: self.uid,
            gid: self.gid,
            size,
            blksize: 4096,
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
            ..Stat::default()
        }
    }

    /// chmod: the permission bits change, the file type stays.
    fn set_mode(&mut self, mode: u32) {
        self.mode = (self.mode & !0o7777) | (mode & 0o7777);
    }

    /// chown: each id given changes.
    fn set_owner(&mut self, uid: Option<u32>, gid: Option<u32>) {
        self.uid = uid.unwrap_or(self.uid);
        self.gid = gid.unwrap_or(self.gid);
    }
}

/// The `Inode` methods the directory and the queues answer alike from their `dev` and
/// `meta`: statfs, chmod and chown.
macro_rules! meta_inode_methods {
    () => {
        fn as_any(&self) -> &dyn Any {
            self
        }

        fn statfs(&self) -> StatFs {
            StatFs {
                fs_type: MQUEUE_MAGIC,
                bsize: 4096,
                frsize: 4096,
                namelen: 255,
                fsid: self.dev,
                ..StatFs::default()
            }
        }

        fn set_mode(&self, mode: u32) -> Result<()> {
            self.meta.lock().set_mode(mode);
            Ok(())
        }

        fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
            self.meta.lock().set_owner(uid, gid);
            Ok(())
        }
    };
}

/// The machine's queues: the filesystem's root directory.
pub(crate) struct MqDir {
    dev: u64,
    next_ino: AtomicU64,
    meta: Mutex<Meta>,
    clock: Mutex<Option<Arc<dyn Clock>>>,
    pub(super) queues: Mutex<BTreeMap<Vec<u8>, Arc<MqInode>>>,
    /// The bytes each user's queues hold against RLIMIT_MSGQUEUE (`user_struct.mq_bytes`),
    /// given back when a queue is gone (unlinked and closed).
    charged: Arc<Mutex<BTreeMap<u32, u64>>>,
}

impl core::fmt::Debug for MqDir {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MqDir").field("dev", &self.dev).finish()
    }
}

impl Default for MqDir {
    fn default() -> Self {
        MqDir {
            dev: anon_dev(),
            next_ino: AtomicU64::new(2),
            meta: Mutex::new(Meta::new(
                S_IFDIR | S_ISVTX | 0o777,
                0,
                0,
                Timespec::default(),
            )),
            clock: Mutex::new(None),
            queues: Mutex::new(BTreeMap::new()),
            charged: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }
}

impl MqDir {
    /// Gives the filesystem the machine's clock for its timestamps.
    pub(crate) fn set_clock(&self, clock: Arc<dyn Clock>) {
        let now = clock.now();
        *self.clock.lock() = Some(clock);
        let mut m = self.meta.lock();
        (m.atime, m.mtime, m.ctime) = (now, now, now);
    }

    fn now(&self) -> Timespec {
        self.clock
            .lock()
            .as_ref()
            .map_or(Timespec::default(), |c| c.now())
    }

    /// Makes queue `name` owned by `uid`:`gid` (`EEXIST` if taken, `ENOSPC` past queues_max,
    /// which root in a container does not pass either: it lacks CAP_SYS_RESOURCE; `EMFILE`
    /// when the user's queues would hold more than `limit` bytes, RLIMIT_MSGQUEUE).
    pub(crate) fn add(
        &self,
        name: &[u8],
        (mode, uid, gid): (u32, u32, u32),
        queue: Queue,
        limit: u64,
    ) -> Result<Arc<MqInode>> {
        let mut queues = self.queues.lock();
        if queues.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if queues.len() >= QUEUES_MAX {
            return Err(Errno::ENOSPC);
        }
        let bytes = queue.footprint();
        {
            let mut charged = self.charged.lock();
            let used = charged.entry(uid).or_insert(0);
            match used.checked_add(bytes) {
                Some(total) if total <= limit => *used = total,
                _ => return Err(Errno::EMFILE),
            }
        }
        let now = self.now();
        let inode = Arc::new_cyclic(|me| MqInode {
            me: me.clone(),
            dev: self.dev,
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed),
            meta: Mutex::new(Meta::new(S_IFREG | (mode & 0o7777), uid, gid, now)),
            queue: Mutex::new(queue),
            changed: WaitQueue::new(),
            clock: self.clock.lock().clone(),
            charge: (uid, bytes, self.charged.clone()),
        });
        queues.insert(name.to_vec(), inode.clone());
        let mut m = self.meta.lock();
        (m.mtime, m.ctime) = (now, now);
        Ok(inode)
    }

    pub(crate) fn get(&self, name: &[u8]) -> Option<Arc<MqInode>> {
        self.queues.lock().get(name).cloned()
    }

    /// Removes the name; the queue lives on while it is open.
    pub(crate) fn remove(&self, name: &[u8]) -> Result<()> {
        self.queues.lock().remove(name).ok_or(Errno::ENOENT)?;
        let now = self.now();
        let mut m = self.meta.lock();
        (m.mtime, m.ctime) = (now, now);
        Ok(())
    }
}

impl Inode for MqDir {
    fn stat(&self) -> Stat {
        let m = *self.meta.lock();
        let n = self.queues.lock().len() as u64;
        m.stat(self.dev, 1, 2, DIRENT_SIZE * (2 + n))
    }

    meta_inode_methods!();

    fn lookup(&self, _cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let q = self.get(name).ok_or(Errno::ENOENT)?;
        Ok(q)
    }

    /// open(2) with O_CREAT: a queue with the default attributes (mqueue_create).
    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        if node != NewNode::Regular {
            return Err(Errno::EPERM);
        }
        // No caller here to read RLIMIT_MSGQUEUE from: the queue is charged, not refused.
        let q = Queue::new(MSG_DEFAULT, MSGSIZE_DEFAULT);
        let inode = self.add(name, (mode, uid, gid), q, u64::MAX)?;
        Ok(inode)
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        self.remove(name)
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        match self.get(name) {
            Some(_) => Err(Errno::ENOTDIR),
            None => Err(Errno::ENOENT),
        }
    }

    fn readdir(&self, _cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        let entry = |ino, kind, name: &[u8]| DirEntry {
            ino,
            kind,
            name: name.to_vec(),
        };
        match pos {
            0 => return Ok(Some((entry(1, FileType::Directory, b"."), 1))),
            1 => return Ok(Some((entry(1, FileType::Directory, b".."), 2))),
            _ => {}
        }
        // Newest first, as Linux lists a libfs directory (new dentries go to the front).
        let mut queues: Vec<(u64, Vec<u8>)> = self
            .queues
            .lock()
            .iter()
            .map(|(name, q)| (q.ino, name.clone()))
            .collect();
        queues.sort_unstable_by_key(|q| core::cmp::Reverse(q.0));
        Ok(queues
            .into_iter()
            .nth((pos - 2) as usize)
            .map(|(ino, name)| (entry(ino, FileType::Regular, &name), pos + 1)))
    }
}

/// One queue: its inode in the directory, its messages, the threads waiting on it.
pub(crate) struct MqInode {
    me: Weak<MqInode>,
    dev: u64,
    ino: u64,
    meta: Mutex<Meta>,
    pub(super) queue: Mutex<Queue>,
    /// Woken with POLLIN when a message arrives, POLLOUT when room appears.
    pub(super) changed: WaitQueue,
    clock: Option<Arc<dyn Clock>>,
    /// The user charged for it, how much, and where.
    charge: (u32, u64, Arc<Mutex<BTreeMap<u32, u64>>>),
}

impl Drop for MqInode {
    fn drop(&mut self) {
        let (uid, bytes, charged) = &self.charge;
        if let Some(used) = charged.lock().get_mut(uid) {
            *used = used.saturating_sub(*bytes);
        }
    }
}

impl MqInode {
    /// Stamps the times a send (`modify`) or a receive changes.
    pub(super) fn touch(&self, modify: bool) {
        let now = self.clock.as_ref().map_or(Timespec::default(), |c| c.now());
        let mut m = self.meta.lock();
        (m.atime, m.ctime) = (now, now);
        if modify {
            m.mtime = now;
        }
    }
}

impl Inode for MqInode {
    fn stat(&self) -> Stat {
        self.meta.lock().stat(self.dev, self.ino, 1, FILENT_SIZE)
    }

    meta_inode_methods!();

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let line = self.queue.lock().status_line();
        let Some(rest) = line.as_bytes().get(offset as usize..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// open(2) of a queue's file gives a queue descriptor, as mq_open does.
    fn open(&self, _cx: &Caller, _flags: u32) -> Option<Result<Box<dyn FileOps>>> {
        let inode = self.me.upgrade()?;
        Some(Ok(Box::new(MqFile { inode })))
    }
}

/// An open queue (the mqd_t): reads show the status line, poll shows messages and room.
pub(crate) struct MqFile {
    pub(super) inode: Arc<MqInode>,
}

impl FileOps for MqFile {
    fn read(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let n = self.inode.read_at(pos, buf)?;
        if n > 0 {
            self.inode.touch(false);
        }
        Ok(n)
    }

    fn poll(&self) -> u32 {
        let q = self.inode.queue.lock();
        let mut ev = 0;
        if q.len() > 0 {
            ev |= POLLIN | POLLRDNORM;
        }
        if !q.is_full() {
            ev |= POLLOUT | POLLWRNORM;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.inode.changed)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
