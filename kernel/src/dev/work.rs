//! Deferred device work: what a device interrupt or a device timer asks for, run by the CPU
//! loop outside the raw interrupt handler (the role of Linux's softirqs and threaded IRQs).
//!
//! A [`Work`] is raised from an interrupt handler (or anywhere) and has an optional deadline;
//! the CPU loop calls [`run_due`] after every interrupt and idle wake-up, and the boot CPU arms
//! its timer for [`next_deadline`]. A work item runs on one CPU at a time; a raise that lands
//! while it runs makes it run again. It runs with interrupts off and no lock of a system call
//! held on this CPU, so it may take the locks threads take (the network stack's, the
//! scheduler's to wake threads).

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use spin::Once;

/// Most work items (one per driver instance).
const MAX: usize = 16;
const NO_DEADLINE: u64 = u64::MAX;

/// One deferred task: `run(now_ns)` does the work and returns the next absolute deadline
/// (CLOCK_MONOTONIC ns) at which it must run again, if any.
#[derive(Debug)]
pub struct Work {
    pub name: &'static str,
    run: fn(u64) -> Option<u64>,
    pending: AtomicBool,
    running: AtomicBool,
    deadline: AtomicU64,
}

impl Work {
    pub const fn new(name: &'static str, run: fn(u64) -> Option<u64>) -> Self {
        Self {
            name,
            run,
            pending: AtomicBool::new(false),
            running: AtomicBool::new(false),
            deadline: AtomicU64::new(NO_DEADLINE),
        }
    }

    /// Asks for the work to run soon (from an interrupt handler: on this CPU's way out).
    pub fn raise(&self) {
        self.pending.store(true, Ordering::Release);
    }

    /// Asks for the work to run soon from anywhere: raised, and the boot CPU (which runs the
    /// device work) woken when this is another CPU.
    pub fn schedule(&self) {
        self.raise();
        if crate::arch::cpu_index() != 0 {
            crate::arch::send_ipi(0, crate::arch::interrupt::WAKE);
        }
    }

    /// Asks for the work to run at `deadline` (CLOCK_MONOTONIC ns) at the latest, from
    /// anywhere (a system call that started a timer the work must serve): the boot CPU, whose
    /// timer keeps work deadlines, is woken to re-arm it when this is another CPU.
    pub fn schedule_at(&self, deadline: u64) {
        let was = self.deadline.fetch_min(deadline, Ordering::AcqRel);
        if deadline < was && crate::arch::cpu_index() != 0 {
            crate::arch::send_ipi(0, crate::arch::interrupt::WAKE);
        }
    }

    fn due(&self, now: u64) -> bool {
        self.pending.load(Ordering::Acquire) || self.deadline.load(Ordering::Relaxed) <= now
    }

    /// Runs the work if it is due and no other CPU runs it.
    fn run_if_due(&self, now: u64) {
        while self.due(now) {
            if self.running.swap(true, Ordering::Acquire) {
                return; // another CPU runs it and will see the raise
            }
            self.pending.store(false, Ordering::Release);
            // Cleared before the run and merged after it, so that a `schedule_at` from
            // another CPU during the run is kept.
            self.deadline.store(NO_DEADLINE, Ordering::Release);
            let next = (self.run)(crate::time::monotonic_ns());
            self.deadline
                .fetch_min(next.unwrap_or(NO_DEADLINE), Ordering::AcqRel);
            self.running.store(false, Ordering::Release);
        }
    }
}

static WORKS: [Once<&'static Work>; MAX] = [const { Once::new() }; MAX];
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Registers a work item; it first runs when raised.
pub fn register(work: &'static Work) {
    let index = COUNT.load(Ordering::Relaxed);
    if index == MAX {
        crate::log!("dev: too many work items; {} is not run", work.name);
        return;
    }
    WORKS[index].call_once(|| work);
    COUNT.store(index + 1, Ordering::Release);
}

/// Whether any work item is registered (a device could wake a waiting thread).
pub fn any() -> bool {
    COUNT.load(Ordering::Acquire) > 0
}

fn works() -> impl Iterator<Item = &'static Work> {
    WORKS[..COUNT.load(Ordering::Acquire)]
        .iter()
        .filter_map(|w| w.get().copied())
}

/// Runs every work item that was raised or whose deadline has passed, on the boot CPU only:
/// it takes the device interrupts and keeps the work deadlines on its timer, so a work item
/// never waits on another CPU's run (a raise landing between another CPU's last check and its
/// release of the item was lost there, and the network stalled under load).
pub fn run_due(now: u64) {
    if crate::arch::cpu_index() != 0 {
        return;
    }
    for work in works() {
        work.run_if_due(now);
    }
}

/// The earliest deadline of the work items, for the boot CPU's timer.
pub fn next_deadline() -> Option<u64> {
    works()
        .map(|w| {
            if w.pending.load(Ordering::Relaxed) {
                0
            } else {
                w.deadline.load(Ordering::Relaxed)
            }
        })
        .min()
        .filter(|&d| d != NO_DEADLINE)
}
