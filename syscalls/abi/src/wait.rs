//! Waiting without a kernel stack: wait queues and the wakers registered on them.
//!
//! A thread that must wait does not sleep inside the kernel. Its system call registers a
//! [`Waker`] (the thread, with the token of its current wait) on the [`WaitQueue`]s of the
//! objects it waits for, and returns; the kernel parks the thread. Whoever changes an object
//! wakes its queue; the first wake that matches the thread's current token makes it runnable
//! again, with a [`Wake`] that says why. Later wakes carrying an old token are ignored, so a
//! registration left on a queue after its wait ended costs a little memory until the queue is
//! next woken or pruned, and nothing else.
//!
//! The order that makes this race-free is: try the operation; register; try again; only then
//! wait. A change between the two tries is seen by the second try, a change after the
//! registration wakes the thread.

use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

/// Why a waiting thread was made runnable again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Something it waited for changed: run the system call again.
    Retry,
    /// The waker finished the call for it: return this value (e.g. 0 from FUTEX_WAIT).
    Done(u64),
    /// Its deadline passed.
    TimedOut,
    /// A signal (or the end of the process) interrupts the wait.
    Interrupted,
}

/// Something that can be woken: in practice a thread.
pub trait Waker: Send + Sync {
    /// Ends the wait `token` with `why` if it is still the current wait and nothing ended it
    /// yet. Returns whether this call ended it.
    fn wake(&self, token: u64, why: Wake) -> bool;
    /// Whether `token` is still the current, unfinished wait (used to prune queues).
    fn is_waiting(&self, token: u64) -> bool;
}

/// One registration: who waits, for which wait, and what for (a bit mask the queue's owner
/// defines, e.g. poll events or a futex bitset).
#[derive(Clone)]
pub struct Waiter {
    pub waker: Arc<dyn Waker>,
    pub token: u64,
    pub mask: u64,
}

impl Waiter {
    pub fn wake(&self, why: Wake) -> bool {
        self.waker.wake(self.token, why)
    }

    pub fn is_waiting(&self) -> bool {
        self.waker.is_waiting(self.token)
    }
}

impl core::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Waiter")
            .field("token", &self.token)
            .field("mask", &self.mask)
            .finish_non_exhaustive()
    }
}

/// The threads waiting for one object.
///
/// A waiter registered with [`WaitQueue::register_exclusive`] is woken only if no other
/// exclusive waiter took the same wake (Linux's exclusive waits: `epoll_wait` callers and
/// `EPOLLEXCLUSIVE` interests), so one event does not wake a whole herd.
#[derive(Debug, Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Entry>>,
}

/// A registration and whether it is exclusive.
#[derive(Debug)]
struct Entry {
    waiter: Waiter,
    exclusive: bool,
}

/// Queues longer than this are pruned of finished waits when a waiter registers.
const PRUNE_AT: usize = 16;

impl WaitQueue {
    pub const fn new() -> Self {
        WaitQueue {
            waiters: Mutex::new(Vec::new()),
        }
    }

    /// Adds a waiter.
    pub fn register(&self, waiter: Waiter) {
        self.add(waiter, false);
    }

    /// Adds an exclusive waiter: of the exclusive waiters a wake matches, only the first that
    /// accepts it (its [`Waker::wake`] returns true) is woken; the others stay registered.
    pub fn register_exclusive(&self, waiter: Waiter) {
        self.add(waiter, true);
    }

    fn add(&self, waiter: Waiter, exclusive: bool) {
        let mut w = self.waiters.lock();
        if w.len() >= PRUNE_AT {
            w.retain(|e| e.waiter.is_waiting());
        }
        w.push(Entry { waiter, exclusive });
    }

    /// Wakes every waiter whose mask meets `mask` with [`Wake::Retry`] (and one exclusive
    /// waiter at most); returns how many woke.
    pub fn wake_all(&self, mask: u64) -> usize {
        self.wake(mask, false)
    }

    /// Wakes every waiter, the exclusive ones included (Linux's `wake_up_all`).
    pub fn wake_everyone(&self) -> usize {
        self.wake(u64::MAX, true)
    }

    fn wake(&self, mask: u64, all: bool) -> usize {
        let taken: Vec<Entry> = {
            let mut w = self.waiters.lock();
            if w.is_empty() {
                return 0;
            }
            let (hit, keep): (Vec<Entry>, Vec<Entry>) =
                w.drain(..).partition(|e| e.waiter.mask & mask != 0);
            *w = keep;
            hit
        };
        // Wake outside the queue lock: a waker takes the scheduler's locks.
        let mut woken = 0;
        let mut exclusive_done = false;
        let mut unused = Vec::new();
        for e in taken {
            if e.exclusive && !all {
                if exclusive_done {
                    unused.push(e);
                    continue;
                }
                if e.waiter.wake(Wake::Retry) {
                    exclusive_done = true;
                    woken += 1;
                }
            } else if e.waiter.wake(Wake::Retry) {
                woken += 1;
            }
        }
        if !unused.is_empty() {
            self.waiters.lock().extend(unused);
        }
        woken
    }

    /// Whether nobody is registered (finished waits included).
    pub fn is_empty(&self) -> bool {
        self.waiters.lock().is_empty()
    }
}
