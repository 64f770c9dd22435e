//! epoll: epoll_create/create1, epoll_ctl, epoll_wait/pwait/pwait2, and the epoll object.
//!
//! Readiness comes from the watched files alone: [`FileOps::poll`] says what is ready now and
//! [`FileOps::wait_queue`] is woken when that may change. Any file with that pair (pipes,
//! eventfds, timerfds, other epolls, and sockets when they come) can be watched; nothing here
//! knows the kinds.
//!
//! Each interest puts a [`Hook`] on its file's wait queue. A wake of the queue (with poll bits
//! meeting the interest's events) puts the interest on the epoll's ready list and wakes the
//! epoll's own queue: the threads in `epoll_wait` (one at a time, exclusively) and whoever
//! polls the epoll fd itself. `epoll_wait` looks only at the ready list: it re-hooks each
//! interest on its file's queue, polls the file, reports what is ready, and keeps
//! level-triggered interests on the list (at the back, so reports go round in a fair order);
//! edge-triggered ones come back only with the next wake, one-shot ones only after
//! `EPOLL_CTL_MOD`. Hooks are one-shot registrations (a wake removes them from the queue), so
//! a busy file costs one wake per `epoll_wait`, not one per change.
//!
//! Interests are keyed by (fd, open file description) and hold the description weakly: when
//! its last fd closes, the interest is gone (dropped when met on the ready list, or swept).
//!
//! Locks: an epoll's state lock is taken before the locks of the files it polls (and of
//! epolls nested in it; loops are refused, so the order is well founded). Hooks are woken
//! with no file lock held and take the epoll's lock only after their own atomics.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_vfs::file::events::*;
use coracle_vfs::types::oflags::O_CLOEXEC;
use coracle_vfs::{FileOps, OpenFile, WaitQueue, Waiter, Wake, Waker};
use spin::Mutex;

use crate::sys::anon::install_anon;
use crate::sys::io::poll_file;
use crate::uaccess::read_u64;
use crate::{Errno, Platform, Process, SysResult};

pub(crate) const EPOLLIN: u32 = POLLIN;
pub(crate) const EPOLLOUT: u32 = POLLOUT;
pub(crate) const EPOLLERR: u32 = POLLERR;
pub(crate) const EPOLLHUP: u32 = POLLHUP;
pub(crate) const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub(crate) const EPOLLWAKEUP: u32 = 1 << 29;
pub(crate) const EPOLLONESHOT: u32 = 1 << 30;
pub(crate) const EPOLLET: u32 = 1 << 31;
/// The bits that are about the interest, never reported.
const EP_PRIVATE_BITS: u32 = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;
/// What an `EPOLLEXCLUSIVE` interest may ask for.
const EXCLUSIVE_OK_BITS: u32 =
    EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE;
/// Longest chain of epolls watching epolls (Linux's EP_MAX_NESTS).
const MAX_NESTS: usize = 4;
/// `struct epoll_event` is packed on x86_64: u32 events, u64 data.
const EVENT_SIZE: u64 = 12;
/// Largest maxevents (EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event)).
const MAX_EVENTS: i32 = i32::MAX / EVENT_SIZE as i32;

const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CTL_MOD: i32 = 3;

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
            Some(ep) => ep.mark_ready(self),
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
    /// On the ready list.
    queued: bool,
}

impl Interest {
    fn reportable(&self) -> u32 {
        self.events & !EP_PRIVATE_BITS
    }
}

#[derive(Default)]
struct State {
    items: BTreeMap<Key, Interest>,
    /// Interests that may be ready, in the order they became so.
    ready: VecDeque<Key>,
    /// The number of interests after the last sweep of closed files.
    live_at_sweep: usize,
}

/// An epoll instance.
pub(crate) struct Epoll {
    me: Weak<Epoll>,
    state: Mutex<State>,
    /// Threads in epoll_wait (exclusive waiters) and whoever polls this epoll.
    queue: WaitQueue,
    /// The epolls watching this one (for the nesting depth).
    parents: Mutex<Vec<Weak<Epoll>>>,
}

/// One reported event and what undoes it if it cannot be copied out.
struct Reported {
    key: Key,
    events: u32,
    data: u64,
    /// The interest's events before the report (one-shot interests lose theirs).
    before: u32,
}

impl Epoll {
    pub(crate) fn new() -> Arc<Epoll> {
        Arc::new_cyclic(|me| Epoll {
            me: me.clone(),
            state: Mutex::new(State::default()),
            queue: WaitQueue::new(),
            parents: Mutex::new(Vec::new()),
        })
    }

    /// A hook fired: queue its interest and wake a waiter. Returns whether anybody was
    /// waiting (an exclusive hook's wake counts only then, as in Linux's ep_poll_callback).
    fn mark_ready(&self, hook: &Hook) -> bool {
        {
            let mut st = self.state.lock();
            let st = &mut *st;
            let Some(it) = st.items.get_mut(&hook.key) else {
                return false;
            };
            if !core::ptr::eq(Arc::as_ptr(&it.hook), hook) {
                return false;
            }
            if !it.queued {
                it.queued = true;
                st.ready.push_back(hook.key);
            }
        }
        self.queue.wake_all(u64::from(EPOLLIN)) > 0
    }

    /// Takes up to `max` ready events off the ready list (see the module header).
    fn harvest(&self, max: usize) -> Vec<Reported> {
        let mut out = Vec::new();
        let more = {
            let mut st = self.state.lock();
            let st = &mut *st;
            let mut back = Vec::new();
            let mut left = st.ready.len();
            while left > 0 && out.len() < max {
                left -= 1;
                let Some(key) = st.ready.pop_front() else {
                    break;
                };
                let Some((revents, it)) = Self::check(&mut st.items, key) else {
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
                    it.queued = true;
                    back.push(key);
                }
            }
            st.ready.extend(back);
            !st.ready.is_empty()
        };
        // Level-triggered interests (or ones not reached) are still there: let the next
        // waiter look too, as Linux's ep_done_scan does.
        if more && !out.is_empty() {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        out
    }

    /// Puts back what [`Epoll::harvest`] took when it could not be copied to the caller.
    fn unharvest(&self, taken: &[Reported]) {
        let mut st = self.state.lock();
        let st = &mut *st;
        for r in taken.iter().rev() {
            if let Some(it) = st.items.get_mut(&r.key) {
                it.events = r.before;
                if !it.queued {
                    it.queued = true;
                    st.ready.push_front(r.key);
                }
            }
        }
    }

    /// Whether any interest is ready, without reporting (poll of the epoll fd itself):
    /// interests found not ready leave the list, the first ready one keeps its place.
    fn peek(&self) -> bool {
        let mut st = self.state.lock();
        let st = &mut *st;
        while let Some(key) = st.ready.pop_front() {
            if let Some((_, it)) = Self::check(&mut st.items, key) {
                it.queued = true;
                st.ready.push_front(key);
                return true;
            }
        }
        false
    }

    /// Takes `key` off the ready list: re-hooks it on its file and polls the file. Returns
    /// the events to report, if any. Interests of closed files are dropped here.
    fn check(items: &mut BTreeMap<Key, Interest>, key: Key) -> Option<(u32, &mut Interest)> {
        let Some(file) = items.get(&key)?.file.upgrade() else {
            items.remove(&key);
            return None;
        };
        let it = items.get_mut(&key)?;
        it.queued = false;
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

    /// Polls `key` once (after EPOLL_CTL_ADD or MOD) and queues it if ready. Returns whether
    /// it was queued (the caller wakes the waiters after dropping the lock).
    fn queue_if_ready(st: &mut State, key: Key, file: &OpenFile) -> bool {
        let Some(it) = st.items.get_mut(&key) else {
            return false;
        };
        let want = it.reportable();
        it.hook.arm(file, want, it.events & EPOLLEXCLUSIVE != 0);
        if poll_file(file) & want == 0 || it.queued {
            return false;
        }
        it.queued = true;
        st.ready.push_back(key);
        true
    }

    /// Forgets interests whose file was closed once they outnumber the live ones
    /// (amortised: at most one sweep per doubling).
    fn sweep(st: &mut State) {
        if st.items.len() < 2 * st.live_at_sweep + 64 {
            return;
        }
        st.items.retain(|_, it| it.file.strong_count() > 0);
        let items = &st.items;
        st.ready.retain(|k| items.contains_key(k));
        st.live_at_sweep = st.items.len();
    }

    fn add(&self, fd: i32, file: &Arc<OpenFile>, events: u32, data: u64) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let queued = {
            let mut st = self.state.lock();
            if st.items.contains_key(&key) {
                return Err(Errno::EEXIST);
            }
            Self::sweep(&mut st);
            let hook = Arc::new(Hook {
                epoll: self.me.clone(),
                key,
                armed: AtomicU64::new(0),
            });
            st.items.insert(
                key,
                Interest {
                    file: Arc::downgrade(file),
                    events: events | EPOLLERR | EPOLLHUP,
                    data,
                    hook,
                    queued: false,
                },
            );
            Self::queue_if_ready(&mut st, key, file)
        };
        if queued {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        Ok(())
    }

    fn modify(&self, fd: i32, file: &Arc<OpenFile>, events: u32, data: u64) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let queued = {
            let mut st = self.state.lock();
            let it = st.items.get_mut(&key).ok_or(Errno::ENOENT)?;
            if it.events & EPOLLEXCLUSIVE != 0 {
                return Err(Errno::EINVAL);
            }
            it.events = events | EPOLLERR | EPOLLHUP;
            it.data = data;
            // The registration carries the old events: hook again with the new ones.
            it.hook.disarm();
            Self::queue_if_ready(&mut st, key, file)
        };
        if queued {
            self.queue.wake_all(u64::from(EPOLLIN));
        }
        Ok(())
    }

    fn delete(&self, fd: i32, file: &Arc<OpenFile>) -> Result<(), Errno> {
        let key = (fd, Arc::as_ptr(file) as usize);
        let it = self.state.lock().items.remove(&key).ok_or(Errno::ENOENT)?;
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

    /// The epolls this one watches.
    fn children(&self) -> Vec<Arc<Epoll>> {
        let st = self.state.lock();
        st.items
            .values()
            .filter_map(|it| it.file.upgrade())
            .filter_map(|f| epoll_of(&f))
            .collect()
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
struct EpollOps(Arc<Epoll>);

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
fn epoll_of(file: &OpenFile) -> Option<Arc<Epoll>> {
    file.ops()
        .as_any()
        .downcast_ref::<EpollOps>()
        .map(|e| e.0.clone())
}

pub(crate) fn epoll_create1(p: &mut Process, _k: &mut dyn Platform, flags: i32) -> SysResult {
    let flags = flags as u32;
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(p, "eventpoll", flags, Box::new(EpollOps(Epoll::new())))
}

pub(crate) fn epoll_create(p: &mut Process, k: &mut dyn Platform, size: i32) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(p, k, 0)
}

pub(crate) fn epoll_ctl(
    p: &mut Process,
    k: &mut dyn Platform,
    epfd: i32,
    op: i32,
    fd: i32,
    event: u64,
) -> SysResult {
    // Linux's order (do_epoll_ctl): the event, the fds, pollability, the epoll, the
    // EPOLLEXCLUSIVE rules, loops, then the operation.
    let (events, data) = if op != EPOLL_CTL_DEL {
        let mut b = [0u8; EVENT_SIZE as usize];
        k.read_user(event, &mut b)?;
        let events = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[4..]);
        (events, u64::from_le_bytes(d))
    } else {
        (0, 0)
    };
    let epfile = p.file(epfd)?;
    let tfile = p.file(fd)?;
    if tfile.is_path() || !tfile.ops().pollable() {
        return Err(Errno::EPERM);
    }
    let ep = match epoll_of(&epfile) {
        Some(ep) if !Arc::ptr_eq(&epfile, &tfile) => ep,
        _ => return Err(Errno::EINVAL),
    };
    let target = epoll_of(&tfile);
    if op != EPOLL_CTL_DEL && events & EPOLLEXCLUSIVE != 0 {
        if op == EPOLL_CTL_MOD {
            return Err(Errno::EINVAL);
        }
        if op == EPOLL_CTL_ADD && (target.is_some() || events & !EXCLUSIVE_OK_BITS != 0) {
            return Err(Errno::EINVAL);
        }
    }
    match op {
        EPOLL_CTL_ADD => match target {
            Some(child) => {
                let _nesting = NESTING.lock();
                let below = child.depth_below(&ep, 0).ok_or(Errno::ELOOP)?;
                if below + 1 + ep.depth_above(0) > MAX_NESTS {
                    return Err(Errno::ELOOP);
                }
                ep.add(fd, &tfile, events, data)?;
                child.parents.lock().push(ep.me.clone());
                Ok(0)
            }
            None => ep.add(fd, &tfile, events, data).map(|_| 0),
        },
        EPOLL_CTL_MOD => ep.modify(fd, &tfile, events, data).map(|_| 0),
        EPOLL_CTL_DEL => ep.delete(fd, &tfile).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// epoll_pwait and epoll_pwait2 (like ppoll and pselect6) wait with `mask` as the thread's
/// signal mask; the old one comes back when the call returns, or after the handler of the
/// signal that interrupted it (Linux's `set_user_sigmask`).
pub(crate) fn wait_with_sigmask(p: &mut Process, mask: Option<u64>) {
    if let Some(mask) = mask {
        crate::signal::set_call_mask_to(p, mask);
    }
}

/// Reads the `sigmask`/`sigsetsize` pair of the p-variants: `None` for a null mask; `EINVAL`
/// for a size other than 8, `EFAULT` for a bad pointer.
pub(crate) fn read_wait_sigmask(
    k: &dyn Platform,
    sigmask: u64,
    sigsetsize: u64,
) -> Result<Option<u64>, Errno> {
    if sigmask == 0 {
        return Ok(None);
    }
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    read_u64(k, sigmask).map(Some)
}

/// The wait of epoll_wait and its variants; `timeout` is `None` to wait forever.
fn do_epoll_wait(
    p: &mut Process,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: Option<u64>,
) -> SysResult {
    const USER_END: u64 = 1 << 47;
    if maxevents <= 0 || maxevents > MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let len = maxevents as u64 * EVENT_SIZE;
    if events.checked_add(len).is_none_or(|end| end > USER_END) {
        return Err(Errno::EFAULT);
    }
    let file = p.file(epfd)?;
    let ep = epoll_of(&file).ok_or(Errno::EINVAL)?;
    let deadline =
        timeout.and_then(|ns| p.call_deadline(|| Some(k.monotonic_ns().saturating_add(ns))));
    let n = deliver(k, &ep, events, maxevents as usize)?;
    if n > 0 {
        return Ok(n);
    }
    match p.resumed() {
        // epoll_wait is never restarted after a signal handler (epoll_wait(2)).
        Some(Wake::Interrupted) => return Err(Errno::EINTR),
        Some(Wake::TimedOut) => return Ok(0),
        _ => {}
    }
    if deadline.is_some_and(|d| d <= k.monotonic_ns()) {
        return Ok(0);
    }
    p.begin_wait();
    ep.queue
        .register_exclusive(p.thread.waiter(u64::from(EPOLLIN)));
    let n = deliver(k, &ep, events, maxevents as usize)?;
    if n > 0 {
        return Ok(n);
    }
    if let Some(d) = deadline {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// Harvests up to `max` events and copies them to `events`; on a fault they go back on the
/// ready list.
fn deliver(k: &mut dyn Platform, ep: &Epoll, events: u64, max: usize) -> SysResult {
    let taken = ep.harvest(max);
    if taken.is_empty() {
        return Ok(0);
    }
    let mut buf = Vec::with_capacity(taken.len() * EVENT_SIZE as usize);
    for r in &taken {
        buf.extend_from_slice(&r.events.to_le_bytes());
        buf.extend_from_slice(&r.data.to_le_bytes());
    }
    if let Err(e) = k.write_user(events, &buf) {
        ep.unharvest(&taken);
        return Err(e);
    }
    Ok(taken.len() as u64)
}

/// A timeout in ms as epoll_wait takes it: negative waits forever.
fn ms_timeout(timeout: i32) -> Option<u64> {
    u64::try_from(timeout).ok().map(|ms| ms * 1_000_000)
}

pub(crate) fn epoll_wait(
    p: &mut Process,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: i32,
) -> SysResult {
    do_epoll_wait(p, k, epfd, events, maxevents, ms_timeout(timeout))
}

pub(crate) fn epoll_pwait(
    p: &mut Process,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: i32,
    sigmask: u64,
    sigsetsize: u64,
) -> SysResult {
    let mask = read_wait_sigmask(k, sigmask, sigsetsize)?;
    wait_with_sigmask(p, mask);
    do_epoll_wait(p, k, epfd, events, maxevents, ms_timeout(timeout))
}

pub(crate) fn epoll_pwait2(
    p: &mut Process,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: u64,
    sigmask: u64,
    sigsetsize: u64,
) -> SysResult {
    let timeout = if timeout == 0 {
        None
    } else {
        let sec = read_u64(k, timeout)? as i64;
        let nsec = read_u64(k, timeout + 8)? as i64;
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Some(
            (sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(nsec as u64),
        )
    };
    let mask = read_wait_sigmask(k, sigmask, sigsetsize)?;
    wait_with_sigmask(p, mask);
    do_epoll_wait(p, k, epfd, events, maxevents, timeout)
}
