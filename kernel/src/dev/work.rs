//! Deferred device work: what a device interrupt or a device timer asks for, run by the CPU
//! loop outside the raw interrupt handler (the role of Linux's softirqs and threaded IRQs).
//!
//! A [`Work`] is raised from an interrupt handler (or anywhere) and has an optional deadline;
//! the CPU loop of every CPU calls [`run_due`] after every interrupt and idle wake-up, and the
//! device CPU (the one device interrupts go to, `dev::irq::device_cpu`) arms its timer for
//! [`next_deadline`]. A work item runs on one CPU at a time; a raise that lands while it runs
//! makes it run again, on the CPU that ran it (see [`Work::run_if_due`] for why none is lost).
//! It runs with interrupts off and no lock of a system call held on this CPU, so it may take
//! the locks threads take (the network stack's, the scheduler's to wake threads).

use core::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};

use super::irq::device_cpu;

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

    /// Asks for the work to run soon from anywhere (a system call, with its locks held, so
    /// not here): raised, and the device CPU woken when this is another CPU and no CPU runs
    /// the work now (that one runs it again).
    pub fn schedule(&self) {
        self.raise();
        fence(Ordering::SeqCst);
        if !self.running.load(Ordering::Relaxed) {
            wake_device_cpu();
        }
    }

    /// Asks for the work to run at `deadline` (CLOCK_MONOTONIC ns) at the latest, from
    /// anywhere (a system call that started a timer the work must serve, frames waiting for
    /// their doorbell). On another CPU than the device CPU, this CPU's timer keeps the
    /// deadline too ([`cpu_deadline`]): waking the device CPU to re-arm its own cost an IPI
    /// per reply a server on another CPU wrote.
    pub fn schedule_at(&self, deadline: u64) {
        let was = self.deadline.fetch_min(deadline, Ordering::AcqRel);
        if deadline < was {
            keep_here(deadline);
        }
    }

    fn due(&self, now: u64) -> bool {
        self.pending.load(Ordering::Acquire) || self.deadline.load(Ordering::Relaxed) <= now
    }

    /// Runs the work if it is due and no other CPU runs it.
    ///
    /// A raise on another CPU while this one runs it is never lost: the raiser stores
    /// `pending` and then swaps `running` (a locked instruction, a full fence), this CPU
    /// clears `running` and then, after a full fence, looks at `pending` again. Of two CPUs
    /// each storing and then loading the other's flag with a full fence between, at least one
    /// sees the other's store: the raiser finds the work free and runs it, or this CPU sees
    /// the raise and runs it again. (Without the fence the load may pass the store in the
    /// store buffer, and both miss: the raise waited for the next interrupt, and the network
    /// stalled under load when another CPU than the boot CPU ran the work.)
    fn run_if_due(&self, now: u64) {
        while self.due(now) {
            if self.running.swap(true, Ordering::AcqRel) {
                return; // another CPU runs it and will see the raise
            }
            self.pending.store(false, Ordering::Release);
            // Cleared before the run and merged after it, so that a `schedule_at` from
            // another CPU during the run is kept.
            let armed = self.deadline.swap(NO_DEADLINE, Ordering::AcqRel);
            crate::cpu_stats::add(crate::cpu_stats::Stat::WorkRuns, 1);
            let next = (self.run)(crate::time::monotonic_ns()).unwrap_or(NO_DEADLINE);
            let merged = self.deadline.fetch_min(next, Ordering::AcqRel).min(next);
            self.running.store(false, Ordering::Release);
            fence(Ordering::SeqCst);
            // The device CPU's timer may be armed for the later deadline it knew.
            if merged < armed {
                keep_here(merged);
            }
        }
    }
}

/// Wakes the device CPU, unless this is it, to run work or arm its timer.
fn wake_device_cpu() {
    let cpu = device_cpu();
    if crate::arch::cpu_index() != cpu {
        crate::cpu_stats::add(crate::cpu_stats::Stat::Ipis, 1);
        crate::arch::send_ipi(cpu, crate::arch::interrupt::WAKE);
    }
}

/// Work deadlines kept by the timers of other CPUs than the device CPU (ns; NO_DEADLINE:
/// none), per CPU.
static KEPT: [AtomicU64; crate::arch::MAX_CPUS] =
    [const { AtomicU64::new(NO_DEADLINE) }; crate::arch::MAX_CPUS];

/// Has this CPU's timer keep `deadline`, a work deadline set here, unless this is the device
/// CPU (whose timer keeps them all).
fn keep_here(deadline: u64) {
    let cpu = crate::arch::cpu_index();
    if cpu != device_cpu() {
        if let Some(kept) = KEPT.get(cpu) {
            kept.fetch_min(deadline, Ordering::AcqRel);
        }
    }
}

/// The work deadline CPU `cpu`'s timer must keep: all of them on the device CPU, else those
/// set on `cpu` that have not passed yet.
pub fn cpu_deadline(cpu: usize) -> Option<u64> {
    if cpu == device_cpu() {
        return next_deadline();
    }
    let kept = KEPT.get(cpu)?.load(Ordering::Acquire);
    (kept != NO_DEADLINE).then_some(kept)
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

/// Runs every work item that was raised or whose deadline has passed and that no other CPU
/// runs now, on any CPU.
pub fn run_due(now: u64) {
    // A deadline kept here has passed: the runs below serve it.
    if let Some(kept) = KEPT.get(crate::arch::cpu_index()) {
        let _ = kept.fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
            (d <= now).then_some(NO_DEADLINE)
        });
    }
    for work in works() {
        work.run_if_due(now);
    }
}

/// The earliest deadline of the work items, for the device CPU's timer.
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
