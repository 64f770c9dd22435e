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
#[derive(Debug, Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Waiter>>,
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
        let mut w = self.waiters.lock();
        if w.len() >= PRUNE_AT {
            w.retain(Waiter::is_waiting);
        }
        w.push(waiter);
    }

    /// Wakes every waiter whose mask meets `mask` with [`Wake::Retry`]; returns how many woke.
    pub fn wake_all(&self, mask: u64) -> usize {
        let taken: Vec<Waiter> = {
            let mut w = self.waiters.lock();
            if w.is_empty() {
                return 0;
            }
            let (hit, keep): (Vec<Waiter>, Vec<Waiter>) =
                w.drain(..).partition(|x| x.mask & mask != 0);
            *w = keep;
            hit
        };
        // Wake outside the queue lock: a waker takes the scheduler's locks.
        taken.iter().filter(|x| x.wake(Wake::Retry)).count()
    }

    /// Wakes every waiter.
    pub fn wake_everyone(&self) -> usize {
        self.wake_all(u64::MAX)
    }

    /// Whether nobody is registered (finished waits included).
    pub fn is_empty(&self) -> bool {
        self.waiters.lock().is_empty()
    }
}
