//! TLB shootdown: after changing user mappings, make every CPU forget the old translations.
//!
//! Each CPU has a request counter (bumped by senders) and a done counter (set by the CPU after
//! it flushed). A sender bumps the target's request counter, sends [`interrupt::TLB_SHOOTDOWN`]
//! and waits until the target's done counter reaches the value it bumped to. Counters rather
//! than a flag: a target that read a request from sender A and then sees sender B's bump
//! flushes again, so B never takes A's flush for its own.
//!
//! A CPU in `hlt` or in user mode answers through the interrupt; one running kernel code with
//! interrupts disabled answers when it next enters user mode or the idle wait, or when it
//! calls [`service`] (every access to user memory does: `mm::user`). A sender services its own requests while it waits, so two CPUs shooting
//! each other down cannot deadlock. Do not wait for a shootdown while holding a lock that
//! another CPU may be spinning on without calling [`service`].
//!
//! Kernel mappings are global and never change after boot, so a flush is a CR3 reload, which
//! drops every non-global (user) translation.

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::instructions::tlb;
use x86_64::VirtAddr;

use super::{interrupt, smp};

static REQUESTED: [AtomicU64; smp::MAX_CPUS] = [const { AtomicU64::new(0) }; smp::MAX_CPUS];
static DONE: [AtomicU64; smp::MAX_CPUS] = [const { AtomicU64::new(0) }; smp::MAX_CPUS];

/// Above this many pages a range flush drops the whole TLB instead.
const MAX_INVLPG: u64 = 32;

fn flush_local_all() {
    tlb::flush_all();
}

fn flush_local_range(start: u64, len: u64) {
    let pages = len.div_ceil(4096);
    if pages > MAX_INVLPG {
        return flush_local_all();
    }
    for i in 0..pages {
        tlb::flush(VirtAddr::new_truncate(start + i * 4096));
    }
}

/// Answers the shootdown requests aimed at this CPU, if any. Cheap when there are none.
pub fn service() {
    let me = super::cpu_index();
    let requested = REQUESTED[me].load(Ordering::Acquire);
    if DONE[me].load(Ordering::Relaxed) != requested {
        flush_local_all();
        DONE[me].store(requested, Ordering::Release);
    }
}

/// Flushes the user translations of `[start, start+len)` on every online CPU and returns once
/// all have done it. Other CPUs drop their whole (non-global) TLB.
pub fn shootdown_range(start: u64, len: u64) {
    flush_local_range(start, len);
    shootdown_others();
}

/// Flushes every user translation on every online CPU and returns once all have done it.
pub fn shootdown_all() {
    flush_local_all();
    shootdown_others();
}

/// What [`shootdown_range_async`] asked of every CPU: the request count each must reach.
#[derive(Debug, Clone)]
pub struct Ticket {
    wait_for: [u64; smp::MAX_CPUS],
    cpus: usize,
    me: usize,
}

impl Ticket {
    /// Whether every other CPU has flushed since the request.
    pub fn is_done(&self) -> bool {
        (0..self.cpus).filter(|&c| c != self.me).all(|cpu| {
            DONE[cpu]
                .load(Ordering::Acquire)
                .wrapping_sub(self.wait_for[cpu]) as i64
                >= 0
        })
    }
}

/// Flushes `[start, start+len)` here and asks every other online CPU to flush, without waiting:
/// the caller keeps freed frames until the ticket [`Ticket::is_done`]. Safe to call with locks
/// held (nothing waits), unlike [`shootdown_range`]. A CPU in user mode or halted answers at
/// once through the interrupt; one in the kernel answers before it next runs user code.
pub fn shootdown_range_async(start: u64, len: u64) -> Ticket {
    flush_local_range(start, len);
    let me = super::cpu_index();
    let cpus = smp::cpus_online();
    let mut wait_for = [0u64; smp::MAX_CPUS];
    for cpu in (0..cpus).filter(|&c| c != me) {
        wait_for[cpu] = REQUESTED[cpu].fetch_add(1, Ordering::AcqRel) + 1;
        smp::send_ipi(cpu, interrupt::TLB_SHOOTDOWN);
    }
    Ticket { wait_for, cpus, me }
}

fn shootdown_others() {
    let me = super::cpu_index();
    let online = smp::cpus_online();
    let mut wait_for = [0u64; smp::MAX_CPUS];
    for cpu in (0..online).filter(|&c| c != me) {
        wait_for[cpu] = REQUESTED[cpu].fetch_add(1, Ordering::AcqRel) + 1;
        smp::send_ipi(cpu, interrupt::TLB_SHOOTDOWN);
    }
    for cpu in (0..online).filter(|&c| c != me) {
        // Wrapping comparison: done has caught up with (or passed) the bump made above.
        while (DONE[cpu]
            .load(Ordering::Acquire)
            .wrapping_sub(wait_for[cpu]) as i64)
            < 0
        {
            service();
            core::hint::spin_loop();
        }
    }
}
