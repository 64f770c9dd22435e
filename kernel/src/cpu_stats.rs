//! Per-CPU counters of where the machine's time goes (halted, the network stack's poll,
//! threads run, device interrupts, wake-up IPIs, doorbells), kept with `coracle.cpustats=1`
//! (`coracle run --kernel-arg coracle.cpustats=1`) and logged at shutdown: what shows whether
//! a second CPU carries a share of a server's work. Each is one relaxed atomic add on its
//! path.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::arch::MAX_CPUS;

/// What is counted, per CPU.
#[derive(Debug, Clone, Copy)]
pub enum Stat {
    /// Halts of the idle loop.
    Halts,
    /// Nanoseconds halted.
    IdleNs,
    /// Runs of a deferred work item.
    WorkRuns,
    /// Runs of the network stack's poll from the card's work.
    Polls,
    /// Nanoseconds in those polls (the stack's lock wait included).
    PollNs,
    /// Threads taken from the scheduler to run.
    Picks,
    /// Device interrupts taken.
    Irqs,
    /// Wake-up IPIs sent.
    Ipis,
    /// Doorbell writes (MMIO) to the card.
    Doorbells,
    /// Nanoseconds in system calls (their waits excluded).
    SyscallNs,
    /// Passes of the idle loop that did not halt (a deadline had passed already).
    IdleSpins,
    /// Nanoseconds running threads (user mode and system calls).
    ThreadNs,
}

const KINDS: usize = 12;
const NAMES: [&str; KINDS] = [
    "halts",
    "idle_ms",
    "work",
    "polls",
    "poll_ms",
    "picks",
    "irqs",
    "ipis",
    "doorbells",
    "sys_ms",
    "idle_spins",
    "thread_ms",
];

static COUNTS: [[AtomicU64; KINDS]; MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; KINDS] }; MAX_CPUS];
static ON: AtomicBool = AtomicBool::new(false);

/// Counts from now on.
pub fn enable() {
    ON.store(true, Ordering::Relaxed);
}

/// A timestamp for [`add_since`] (CLOCK_MONOTONIC ns), read only when counting.
pub fn stamp() -> u64 {
    if ON.load(Ordering::Relaxed) {
        crate::time::monotonic_ns()
    } else {
        0
    }
}

/// Adds the nanoseconds since `stamp` (from [`stamp`]) to this CPU's `stat`.
pub fn add_since(stat: Stat, stamp: u64) {
    if ON.load(Ordering::Relaxed) {
        add(stat, crate::time::monotonic_ns().saturating_sub(stamp));
    }
}

/// Adds `n` to this CPU's `stat`.
pub fn add(stat: Stat, n: u64) {
    if ON.load(Ordering::Relaxed) {
        if let Some(row) = COUNTS.get(crate::arch::cpu_index()) {
            row[stat as usize].fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// System calls by number: count and nanoseconds in `dispatch` (waits excluded).
static SYSCALLS: [(AtomicU64, AtomicU64); 512] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; 512];

/// Counts system call `nr`, which entered dispatch at `stamp` (from [`stamp`]).
pub fn syscall(nr: u64, stamp: u64) {
    if ON.load(Ordering::Relaxed) {
        let ns = crate::time::monotonic_ns().saturating_sub(stamp);
        if let Some((count, time)) = usize::try_from(nr).ok().and_then(|i| SYSCALLS.get(i)) {
            count.fetch_add(1, Ordering::Relaxed);
            time.fetch_add(ns, Ordering::Relaxed);
            add(Stat::SyscallNs, ns);
        }
    }
}

/// Logs every CPU's counters (one line each), if counting.
pub fn report() {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    for (cpu, row) in COUNTS.iter().enumerate().take(crate::arch::cpus_online()) {
        let mut line = alloc::string::String::new();
        for (i, name) in NAMES.iter().enumerate() {
            let mut v = row[i].load(Ordering::Relaxed);
            if name.ends_with("_ms") {
                v /= 1_000_000;
            }
            line.push_str(&alloc::format!(" {name}={v}"));
        }
        let ms = crate::time::monotonic_ns() / 1_000_000;
        crate::log!("cpu {cpu} over {ms} ms:{line}");
    }
    crate::log!(
        "net: {} turns waiting for the stack's lock",
        coracle_syscalls::net::network().lock_spins()
    );
    let mut top: alloc::vec::Vec<(u64, u64, usize)> = SYSCALLS
        .iter()
        .enumerate()
        .map(|(nr, (c, t))| (t.load(Ordering::Relaxed), c.load(Ordering::Relaxed), nr))
        .filter(|&(_, c, _)| c > 0)
        .collect();
    top.sort_unstable_by(|a, b| b.cmp(a));
    for (ns, count, nr) in top.into_iter().take(12) {
        let name = coracle_syscalls::syscall_name(nr as u64).unwrap_or("?");
        crate::log!(
            "syscall {name}: {count} calls, {} ms, {} us each",
            ns / 1_000_000,
            ns / 1000 / count
        );
    }
}
