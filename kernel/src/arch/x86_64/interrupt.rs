//! Interrupts: the vectors the kernel uses (its own, and a range handed to devices by
//! `dev::irq`), what is done when one arrives, and the idle wait.
//!
//! The kernel runs with interrupts disabled everywhere except in user mode and in
//! [`idle_wait`]. An interrupt taken in user mode ends `run_user` like an exception, with
//! `UserContext::trap` = the vector; the CPU loop then calls [`interrupt_done`]. One taken in
//! the idle wait is handled at once by the trap entry (`fault::kernel_trap`), which calls the
//! same function, and the wait returns.

use core::sync::atomic::{AtomicU64, Ordering};

use super::{apic, smp, tlb};

/// The local APIC timer (see `apic::arm_timer`).
pub const TIMER: u8 = 0xf0;
/// Wake-up kick: makes a CPU leave `hlt` or user mode and look at its run queue again.
pub const WAKE: u8 = 0xf1;
/// TLB shootdown request (see `tlb`).
pub const TLB_SHOOTDOWN: u8 = 0xf2;
/// The APIC's spurious-interrupt vector: needs no EOI.
pub const SPURIOUS: u8 = 0xff;
/// Every vector above, for the IDT, in the order of the entry stubs in trap.rs.
pub const VECTORS: [u8; 4] = [TIMER, WAKE, TLB_SHOOTDOWN, SPURIOUS];
/// The first of the vectors handed to devices (`dev::irq` allocates them): above the
/// exceptions, below the kernel's own, at a lower priority class than both.
pub const DEVICE_BASE: u8 = 0x30;
/// How many device vectors there are (entry stubs in trap.rs).
pub const DEVICE_COUNT: usize = 32;

/// What an interrupt meant, once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The deadline armed with `arm_timer` on this CPU has passed (and is now disarmed).
    Timer,
    /// Another CPU (or this one) asked this CPU to look for work.
    Wake,
    /// This CPU's TLB was flushed for another CPU; nothing else to do.
    TlbShootdown,
    /// A device interrupted; its handler ran (see `dev::irq`) and may have left deferred
    /// work for the CPU loop (`dev::work`).
    Device,
    /// Nothing for the caller: a spurious interrupt, a timer that had not reached its
    /// deadline yet (re-armed), or a vector the kernel does not use.
    Other,
}

/// Whether `trap` (a `UserContext::trap` value) is an interrupt rather than an exception or
/// a system call.
pub fn is_interrupt(trap: u64) -> bool {
    (32..256).contains(&trap)
}

/// Counts of handled interrupts per CPU: timer, wake, TLB shootdown.
static COUNTS: [[AtomicU64; 3]; smp::MAX_CPUS] =
    [const { [const { AtomicU64::new(0) }; 3] }; smp::MAX_CPUS];

/// Finishes the interrupt `vector` on this CPU: services it (a TLB flush for a shootdown),
/// signals end-of-interrupt to the APIC, and says what it meant. Must be called once for
/// every interrupt that ended `run_user`, before interrupts are enabled again: until then the
/// APIC holds back every interrupt of the same or a lower priority.
pub fn interrupt_done(vector: u64) -> Interrupt {
    let cpu = super::cpu_index();
    let what = match vector {
        v if v == u64::from(SPURIOUS) => return Interrupt::Other,
        v if v == u64::from(TIMER) => {
            if apic::timer_expired() {
                Interrupt::Timer
            } else {
                Interrupt::Other
            }
        }
        v if v == u64::from(WAKE) => Interrupt::Wake,
        v if v == u64::from(TLB_SHOOTDOWN) => {
            tlb::service();
            Interrupt::TlbShootdown
        }
        v if (u64::from(DEVICE_BASE)..u64::from(DEVICE_BASE) + DEVICE_COUNT as u64)
            .contains(&v) =>
        {
            crate::dev::irq::dispatch((v - u64::from(DEVICE_BASE)) as usize);
            Interrupt::Device
        }
        _ => Interrupt::Other,
    };
    let slot = match what {
        Interrupt::Timer => Some(0),
        Interrupt::Wake => Some(1),
        Interrupt::TlbShootdown => Some(2),
        Interrupt::Device | Interrupt::Other => None,
    };
    if let Some(slot) = slot {
        COUNTS[cpu][slot].fetch_add(1, Ordering::Relaxed);
    }
    apic::eoi();
    what
}

/// Handled interrupts on `cpu` so far: (timer, wake, TLB shootdown).
pub fn counts(cpu: usize) -> (u64, u64, u64) {
    let c = COUNTS.get(cpu);
    let get = |i: usize| c.map_or(0, |c| c[i].load(Ordering::Relaxed));
    (get(0), get(1), get(2))
}

/// Sleeps until an interrupt arrives and has been handled, then returns with interrupts
/// disabled again. `sti` delays interrupts by one instruction, so one already pending (a wake
/// sent after the caller last looked at its queue) ends the `hlt` at once: none is lost.
pub fn idle_wait() {
    // SAFETY: interrupts are enabled only across `hlt`; every vector that can arrive has an IDT
    // entry that handles it in ring 0 and returns here. Not `nomem`: the handlers change
    // memory the caller reads afterwards; not `nostack`: they push their frame on this stack.
    unsafe { core::arch::asm!("sti", "hlt", "cli") }
}

/// Lets pending interrupts in for a moment (`sti; nop; cli`), without sleeping: for polling
/// loops that must still answer IPIs.
pub fn poll() {
    // SAFETY: as for `idle_wait`, with `nop` instead of `hlt`.
    unsafe { core::arch::asm!("sti", "nop", "cli") }
}

/// Called by the trap entry for an interrupt taken in ring 0 (only ever inside
/// [`idle_wait`] or [`poll`]).
pub fn handle_in_kernel(vector: u64) {
    interrupt_done(vector);
}
