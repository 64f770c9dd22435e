//! The epoll object: interests, their hooks on the watched files' wait queues, the ready
//! list and its scans (see the header of `sys::epoll` for the design).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_vfs::file::events::*;
use coracle_vfs::{FileOps, OpenFile, WaitQueue, Waiter, Wake, Waker};
use spin::Mutex;

use crate::sys::io::poll_file;
use crate::Errno;

pub(crate) const EPOLLIN: u32 = POLLIN;
pub(crate) const EPOLLOUT: u32 = POLLOUT;
pub(crate) const EPOLLERR: u32 = POLLERR;
pub(crate) const EPOLLHUP: u32 = POLLHUP;
pub(crate) const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub(crate) const EPOLLWAKEUP: u32 = 1 << 29;
pub(crate) const EPOLLONESHOT: u32 = 1 << 30;
pub(crate) const EPOLLET: u32 = 1 << 31;
/// The bits that are about the interest, never reported.
pub(super) const EP_PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// What an `EPOLLEXCLUSIVE` interest may ask for.
pub(super) const EXCLUSIVE_OK_BITS: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Longest chain of epolls watching epolls (Linux's EP_MAX_NESTS).
pub(super) const MAX_NESTS: usize = 4;

/// An interest's key: the fd and the address of its open file description.
type Key = (i32, usize);

/// Tokens of hook registrations (0 means none).
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// What an interest registers on its file's wait queue.
struct Hook {
    epoll: Weak<Epoll>,
    key: Key,
    /// The token of the registration on the file's queue, 0 when there is none.
    armed: AtomicU64,
}

impl Waker for Hook {
    fn wake(&self, token: u64, _why: Wake) -> bool {
        if token == 0
            || self
                .armed
                .compare_exchange(token, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return false;
        }
        match self.epoll.upgrade() {
            Some(ep) => ep.mark_ready(self.key),
            None => false,
        }
    }

    fn is_waiting(&self, token: u64) -> bool {
        token != 0 && self.armed.load(Ordering::Acquire) == token && self.epoll.strong_count() > 0
    }
}

impl Hook {
    /// Registers on `file`'s queue unless a registration is pending; `events` are the
    /// interest's reportable events.
    fn arm(self: &Arc<Self>, file: &OpenFile, events: u32, exclusive: bool) {
        if self.armed.load(Ordering::Acquire) != 0 {
            return;
        }
        let Some(queue) = file.ops().wait_queue() else {
            return;
        };
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        self.armed.store(token, Ordering::Release);
        let waker: Arc<dyn Waker> = self.clone();
        let waiter = Waiter {
            waker,
            token,
            mask: u64::from(events),
        };
        if exclusive {
            queue.register_exclusive(waiter);
        } else {
            queue.register(waiter);
        }
    }

    /// Makes the pending registration stale (it is dropped at the queue's next wake or prune).
    fn disarm(&self) {
        self.armed.store(0, Ordering::Release);
    }
}

/// One watched (fd, description).
struct Interest {
    file: Weak<OpenFile>,
    /// The events asked for (EPOLLERR and EPOLLHUP always among them) and the private bits;
    /// a fired one-shot interest keeps only its private bits.
    events: u32,
    data: u64,
    hook: Arc<Hook>,
}

impl Interest {
    fn reportable(&self) -> u32 {
        self.events & !EP_PRIVATE_BITS
    }
}

/// The interests of an epoll.
#[derive(Default)]
struct Interests {
    items: BTreeMap<Key, Interest>,
    /// The number of interests after the last sweep of closed files.
    live_at_sweep: usize,
}

/// The interests that may be ready, in the order they became so, each at most once.
#[derive(Default)]
struct Ready {
    order: VecDeque<Key>,
    queued: BTreeSet<Key>,
}

impl Ready {
    fn push_back(&mut self, key: Key) -> bool {
        let new = self.queued.insert(key);
        if new {
            self.order.push_back(key);
        }
        new
    }

    fn push_front(&mut self, key: Key) {
        if self.queued.insert(key) {
            self.order.push_front(key);
        }
    }

    fn pop_front(&mut self) -> Option<Key> {
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }
}

/// An epoll instance.
///
/// Two locks, as Linux's `ep->mtx` and `ep->lock`: `interests` is held by epoll_ctl and for a
/// whole scan of the ready list, the files' polls included; `ready` is held only for moments,
/// and is all that hooks (woken by the files) take. Nothing that holds `ready` takes another
/// lock, so a file's wake can never wait for a scan, whatever the scan is doing (a file whose
/// last reference the scan drops wakes its hooks then).
pub(super) struct Epoll {
    me: Weak<Epoll>,
    interests: Mutex<Interests>,
    ready: Mutex<Ready>,
    /// Threads in epoll_wait (exclusive waiters) and whoever polls this epoll.
    pub(super) queue: WaitQueue,
    /// The epolls watching this one (for the nesting depth).
    parents: Mutex<Vec<Weak<Epoll>>>,
}

/// One reported event and what undoes it if it cannot be copied out.
pub(super) struct Reported {
    key: Key,
    pub(super) events: u32,
    pub(super) data: u64,
    /// The interest's events before the report (one-shot interests lose theirs).
    before: u32,
}

impl Epoll {
    fn new() -> Arc<Epoll> {
        Arc::new_cyclic(|me| Epoll {
            me: me.clone(),
            interests: Mutex::new(Interests::default()),
            ready: Mutex::new(Ready::default()),
            queue: WaitQueue::new(),
            parents: Mutex::new(Vec::new()),
        })
    }

    /// A hook fired: queue its interest and wake a waiter. Returns whether anybody was
    /// waiting (an exclusive hook's wake counts only then, as in Linux's ep_poll_callback).
    fn mark_ready(&self, key: Key) -> bool {
        self.ready.lock().push_back(key);
        self.queue.wake_all(u64::from(EPOLLIN)) > 0
    }

    /// Takes up to `max` ready events off the ready list (see the module header).
    pub(super) fn harvest(&self, max: usize) -> Vec<Reported> {
        let mut out = Vec::new();
        // Declared before the guard: the files polled are released after it.
        let mut keep = Vec::new();
        let mut interests = self.interests.lock();
        let mut back = Vec::new();
        let mut left = self.ready.lock().order.len();
        while left > 0 && out.len() < max {
            left -= 1;
            let Some(key) = self.ready.lock().pop_front() else {
                break;
            };
            let Some((revents, it)) = Self::check(&mut interests.items, key, &mut keep) else {
                continue;
            };
            out.push(Reported {
                key,
                events: revents,
                data: it.data,
                before: it.events,
            });
            if it.events & EPOLLONESHOT != 0 {
                it.events &= EP_PRIVATE_BITS;
            } else if it.events & EPOLLET == 0 {
                back.push(key);
            }
        }
        let more = {
            let mut ready = self.ready.lock();
            for key in back {
                ready.push_back(key);
            }
            !ready.order.is_empty()
        };
        drop(interests);
        drop(keep);
        // Level-triggered interests (or ones not reached) are still there: let the next
        // waiter look too, as Linux's ep_done_scan does.
        if more && !out.is_empty() {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        out
    }

    /// Puts back what [`Epoll::harvest`] took when it could not be copied to the caller.
    pub(super) fn unharvest(&self, taken: &[Reported]) {
        let mut interests = self.interests.lock();
        for r in taken.iter().rev() {
            if let Some(it) = interests.items.get_mut(&r.key) {
                it.events = r.before;
                self.ready.lock().push_front(r.key);
            }
        }
    }

    /// Whether any interest is ready, without reporting (poll of the epoll fd itself):
    /// interests found not ready leave the list, the first ready one keeps its place.
    fn peek(&self) -> bool {
        let mut keep = Vec::new();
        let mut interests = self.interests.lock();
        let mut found = false;
        let mut left = self.ready.lock().order.len();
        while left > 0 {
            left -= 1;
            let Some(key) = self.ready.lock().pop_front() else {
                break;
            };
            if Self::check(&mut interests.items, key, &mut keep).is_some() {
                self.ready.lock().push_front(key);
                found = true;
                break;
            }
        }
        drop(interests);
        drop(keep);
        found
    }

    /// Re-hooks the interest `key` (just taken off the ready list) on its file and polls the
    /// file. Returns the events to report, if any. Interests of closed files are dropped.
    /// The file goes to `keep`, for the caller to release after its locks.
    fn check<'a>(
        items: &'a mut BTreeMap<Key, Interest>,
        key: Key,
        keep: &mut Vec<Arc<OpenFile>>,
    ) -> Option<(u32, &'a mut Interest)> {
        let Some(file) = items.get(&key)?.file.upgrade() else {
            items.remove(&key);
            return None;
        };
        keep.push(file.clone());
        let it = items.get_mut(&key)?;
        let want = it.reportable();
        if want == 0 {
            // A one-shot interest that fired: silent until EPOLL_CTL_MOD.
            return None;
        }
        // Hook first, then poll: a change after the poll wakes the hook.
        it.hook.arm(&file, want, it.events & EPOLLEXCLUSIVE != 0);
        let revents = poll_file(&file) & want;
        (revents != 0).then_some((revents, it))
    }

    /// Hooks and polls `key` once (after EPOLL_CTL_ADD or MOD) and queues it if ready.
    /// Returns whether it was queued (the caller then wakes the waiters).
    fn queue_if_ready(&self, interests: &mut Interests, key: Key, file: &OpenFile) -> bool {
        let Some(it) = interests.items.get_mut(&key) else {
            return false;
        };
        let want = it.reportable();
        it.hook.arm(file, want, it.events & EPOLLEXCLUSIVE != 0);
        poll_file(file) & want != 0 && self.ready.lock().push_back(key)
    }

    /// Forgets interests whose file was closed once they outnumber the live ones
    /// (amortised: at most one sweep per doubling).
    fn sweep(&self, interests: &mut Interests) {
        if interests.items.len() < 2 * interests.live_at_sweep + 64 {
            return;
        }
        interests.items.retain(|_, it| it.file.strong_count() > 0);
        interests.live_at_sweep = interests.items.len();
        let items = &interests.items;
        let mut ready = self.ready.lock();
        ready.order.retain(|k| items.contains_key(k));
        ready.queued.retain(|k| items.contains_key(k));
    }

    pub(super) fn add(
        &self,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let queued = {
            let mut interests = self.interests.lock();
            if interests.items.contains_key(&key) {
                return Err(Errno::EEXIST);
            }
            self.sweep(&mut interests);
            let hook = Arc::new(Hook {
                epoll: self.me.clone(),
                key,
                armed: AtomicU64::new(0),
            });
            interests.items.insert(
                key,
                Interest {
                    file: Arc::downgrade(file),
                    events: events | EPOLLERR | EPOLLHUP,
                    data,
                    hook,
                },
            );
            self.queue_if_ready(&mut interests, key, file)
        };
        if queued {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        Ok(())
    }

    pub(super) fn modify(
        &self,
        fd: i32,
        file: &Arc<OpenFile>,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let queued = {
            let mut interests = self.interests.lock();
            let it = interests.items.get_mut(&key).ok_or(Errno::ENOENT)?;
            if it.events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            it.events = events | EPOLLERR | EPOLLHUP;
            it.data = data;
            // The registration carries the old events: hook again with the new ones.
            it.hook.disarm();
            self.queue_if_ready(&mut interests, key, file)
        };
        if queued {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        Ok(())
    }

    pub(super) fn delete(&self, fd: i32, file: &Arc<OpenFile>) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let it = self
            .interests
            .lock()
            .items
            .remove(&key)
            .ok_or(Errno::ENOENT)?;
        it.hook.disarm();
        if let Some(child) = epoll_of(file) {
            let mut parents = child.parents.lock();
            if let Some(i) = parents
                .iter()
                .position(|p| core::ptr::eq(p.as_ptr(), self.me.as_ptr()))
            {
                parents.swap_remove(i);
            }
        }
        Ok(())
    }

    /// EPOLL_CTL_ADD of another epoll: refused with ELOOP if it would close a loop or make
    /// a chain of more than [`MAX_NESTS`] epolls watching epolls (counting both ways from
    /// here, as Linux's ep_loop_check does).
    pub(super) fn add_epoll(
        &self,
        fd: i32,
        file: &Arc<OpenFile>,
        child: &Epoll,
        events: u32,
        data: u64,
    ) -> Result<(), Errno> {
        let _nesting = NESTING.lock();
        let below = child.depth_below(self, 0).ok_or(Errno::ELOOP)?;
        if below + 1 + self.depth_above(0) > MAX_NESTS {
            return Err(Errno::ELOOP);
        }
        self.add(fd, file, events, data)?;
        child.parents.lock().push(self.me.clone());
        Ok(())
    }

    /// The epolls this one watches.
    fn children(&self) -> Vec<Arc<Epoll>> {
        let files: Vec<Arc<OpenFile>> = {
            let interests = self.interests.lock();
            interests
                .items
                .values()
                .filter_map(|it| it.file.upgrade())
                .collect()
        };
        files.iter().filter_map(|f| epoll_of(f)).collect()
    }

    /// The longest chain of epolls below this one, or None if it reaches `target` or goes
    /// deeper than allowed.
    fn depth_below(&self, target: &Epoll, depth: usize) -> Option<usize> {
        if depth > MAX_NESTS {
            return None;
        }
        let mut longest = 0;
        for child in self.children() {
            if core::ptr::eq(&*child, target) {
                return None;
            }
            longest = longest.max(child.depth_below(target, depth + 1)? + 1);
        }
        Some(longest)
    }

    /// The longest chain of epolls above this one (capped past the limit).
    fn depth_above(&self, depth: usize) -> usize {
        if depth > MAX_NESTS {
            return depth;
        }
        let parents: Vec<Arc<Epoll>> = self
            .parents
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        parents
            .iter()
            .map(|p| p.depth_above(depth + 1) + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Serialises the loop checks of EPOLL_CTL_ADDs of epolls (Linux's epnested_mutex), so two
/// racing adds cannot build a loop neither sees.
static NESTING: Mutex<()> = Mutex::new(());

/// The open file ops of an epoll fd.
pub(super) struct EpollOps(Arc<Epoll>);

impl EpollOps {
    pub(super) fn new() -> EpollOps {
        EpollOps(Epoll::new())
    }
}

impl FileOps for EpollOps {
    fn seekable(&self) -> bool {
        false
    }
    fn poll(&self) -> u32 {
        if self.0.peek() {
            POLLIN | POLLRDNORM
        } else {
            0
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The epoll behind an open file, if it is one.
pub(super) fn epoll_of(file: &OpenFile) -> Option<Arc<Epoll>> {
    file.ops()
        .as_any()
        .downcast_ref::<EpollOps>()
        .map(|e| e.0.clone())
}
