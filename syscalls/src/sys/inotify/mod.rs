//! inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch (inotify(7)), and the
//! listener that turns the VFS's change reports (`coracle_vfs::notify`) into their events.
//!
//! The watches and queues live in one machine-wide [`Table`]; an instance's file holds its id
//! and the wait queue its readers (read, poll, epoll) sleep on. Reads take whole events and
//! fail with `EINVAL` when the buffer cannot hold the first one.

mod table;
#[cfg(test)]
mod tests;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicUsize, Ordering};

use coracle_vfs::file::events::{POLLIN, POLLRDNORM};
use coracle_vfs::notify::{self, mask::*, Listener};
use coracle_vfs::types::oflags::{O_CLOEXEC, O_NONBLOCK, O_RDONLY};
use coracle_vfs::types::{check_access, MAY_READ};
use coracle_vfs::{FileOps, Inode, Result, WaitQueue};
use spin::Mutex;

use crate::sys::anon::install_anon_named;
use crate::sys::fs::{read_path, start_dir, AT_FDCWD};
use crate::{Current, Errno, Platform, SysResult};
use table::{After, Table, IN_DONT_FOLLOW, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR};
pub(crate) use table::{MAX_QUEUED_EVENTS, MAX_USER_INSTANCES};

static TABLE: Mutex<Table> = Mutex::new(Table::new());
/// Watches in existence, read without the lock by [`Listener::active`].
static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// The minimum Linux gives fs.inotify.max_user_watches (it is 1% of low memory divided by
/// a watch's cost, between 8192 and 1048576; a small VM gets the minimum).
pub(crate) const MAX_USER_WATCHES: usize = 8192;

/// Every bit `inotify_add_watch` knows (`ALL_INOTIFY_BITS`).
const ALL_INOTIFY_BITS: u32 = IN_ALL_EVENTS
    | IN_UNMOUNT
    | IN_Q_OVERFLOW
    | IN_IGNORED
    | IN_ONLYDIR
    | IN_DONT_FOLLOW
    | table::IN_EXCL_UNLINK
    | IN_MASK_CREATE
    | IN_MASK_ADD
    | IN_ISDIR
    | table::IN_ONESHOT;

/// Runs `f` on the table, then wakes readers and drops inodes outside the lock.
fn with_table<R>(f: impl FnOnce(&mut Table, &mut After) -> R) -> R {
    let mut after = After::default();
    let r = {
        let mut t = TABLE.lock();
        let r = f(&mut t, &mut after);
        WATCHES.store(t.watch_count(), Ordering::Relaxed);
        r
    };
    after.finish();
    r
}

struct Inotify;

impl Listener for Inotify {
    fn active(&self) -> bool {
        WATCHES.load(Ordering::Relaxed) != 0
    }

    fn event(&self, inode: &Arc<dyn Inode>, mask: u32, cookie: u32, name: &[u8], unlinked: bool) {
        let st = inode.stat();
        with_table(|t, after| t.event((st.dev, st.ino), mask, cookie, name, unlinked, after));
    }
}

static LISTENER: Inotify = Inotify;

/// The file of one instance.
struct InstanceFile {
    id: u64,
    waiters: Arc<WaitQueue>,
}

impl FileOps for InstanceFile {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        let bytes = with_table(|t, _| t.read(self.id, buf.len()))?;
        buf[..bytes.len()].copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    fn seekable(&self) -> bool {
        false
    }

    // noop_llseek: lseek succeeds and stays at 0.
    fn seeks_to_zero(&self) -> bool {
        true
    }

    // The reader's buffer faulted: inotify_read loses the event it failed to copy; the
    // ones after it stay queued.
    fn unread(&self, data: &[u8]) {
        with_table(|t, _| t.put_back(self.id, data));
    }

    fn poll(&self) -> u32 {
        match TABLE.lock().queued_bytes(self.id) {
            Some(n) if n > 0 => POLLIN | POLLRDNORM,
            _ => 0,
        }
    }

    fn readable_bytes(&self) -> Option<usize> {
        TABLE.lock().queued_bytes(self.id)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.waiters)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for InstanceFile {
    fn drop(&mut self) {
        let inodes: Vec<Arc<dyn Inode>> = with_table(|t, _| t.destroy(self.id));
        drop(inodes);
    }
}

pub(crate) fn inotify_init1(p: &mut Current, _k: &mut dyn Platform, flags: i32) -> SysResult {
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    notify::set_listener(&LISTENER);
    let uid = p.caller().uid;
    let waiters = Arc::new(WaitQueue::new());
    let id =
        with_table(|t, _| t.create(uid, MAX_USER_INSTANCES, MAX_QUEUED_EVENTS, waiters.clone()))?;
    let file = Box::new(InstanceFile { id, waiters });
    install_anon_named(p, "anon_inode:inotify", O_RDONLY, flags, file)
}

pub(crate) fn inotify_init(p: &mut Current, k: &mut dyn Platform) -> SysResult {
    inotify_init1(p, k, 0)
}

/// The instance open at `fd`: `EBADF` for no file, `EINVAL` for another kind.
fn instance(p: &Current, fd: i32) -> core::result::Result<u64, Errno> {
    let file = p.file(fd)?;
    file.ops()
        .as_any()
        .downcast_ref::<InstanceFile>()
        .map(|f| f.id)
        .ok_or(Errno::EINVAL)
}

pub(crate) fn inotify_add_watch(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    path: u64,
    mask: u32,
) -> SysResult {
    if mask & IN_MASK_ADD != 0 && mask & IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    if mask & ALL_INOTIFY_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    let id = instance(p, fd)?;
    let path = read_path(k, path)?;
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let cx = p.caller();
    let base = start_dir(p, AT_FDCWD, &path)?;
    let l = p
        .sys
        .vfs
        .resolve(&cx, &base, &path, mask & IN_DONT_FOLLOW == 0)?;
    let inode = l.inode.ok_or(Errno::ENOENT)?;
    let st = inode.stat();
    if mask & IN_ONLYDIR != 0 && !st.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    check_access(&cx, &st, MAY_READ)?;
    let wd = with_table(|t, _| t.add_watch(id, inode, mask, MAX_USER_WATCHES))?;
    Ok(wd as u64)
}

pub(crate) fn inotify_rm_watch(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd: i32,
    wd: i32,
) -> SysResult {
    let id = instance(p, fd)?;
    with_table(|t, after| t.rm_watch(id, wd, after))?;
    Ok(0)
}
