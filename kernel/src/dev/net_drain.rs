//! The network's part in stopping the VM: what the program sent reaches its peer first.
//!
//! When PID 1 ends, Linux closes the files of every process in the container: each TCP
//! connection sends its FIN after its queued data, and the kernel keeps the orphaned
//! connections going until the peer has acknowledged them. Coracle's VM stops with QEMU, so
//! before it stops the stack closes every socket (`Network::close_all`) and runs until the
//! peers acknowledged the data and FINs (`Network::drained`) and the card has taken every
//! frame handed to it (QEMU's transmit handling may run after the doorbell, and the exit ends
//! QEMU), halted between interrupts and bounded by [`DRAIN_NS`]. With no connection and no
//! frame in flight it returns at once.

use crate::{arch, time};

/// The longest the VM waits for its peers (guest time): a peer that stopped answering must
/// not hold the exit for the minutes TCP would retry.
const DRAIN_NS: u64 = 2_000_000_000;
/// How often a CPU other than the boot CPU, which takes the card's interrupts, looks again.
const TICK_NS: u64 = 1_000_000;

/// Closes every socket and waits, bounded, until what was sent on the card has reached the
/// peer and the card has sent every frame.
pub fn drain() {
    if !super::net::attached() {
        return;
    }
    let net = coracle_syscalls::net::network();
    let start = time::monotonic_ns();
    net.close_all(start);
    let end = start.saturating_add(DRAIN_NS);
    let boot_cpu = arch::cpu_index() == 0;
    loop {
        let now = time::monotonic_ns();
        let next = coracle_syscalls::net::poll(now);
        // Frames held for a shared doorbell (`net_notify`) are told to the card now.
        super::net::flush();
        if (super::net::transmitted() && net.drained()) || now >= end {
            break;
        }
        // The card's interrupt (a frame, a completion) wakes the boot CPU; the stack's
        // timers and the bound wake any CPU.
        let mut wake = next.unwrap_or(u64::MAX).min(end);
        if !boot_cpu {
            wake = wake.min(now.saturating_add(TICK_NS));
        }
        if wake > now {
            arch::arm_timer(time::tsc_at(wake).max(1));
            arch::idle_wait();
        }
    }
    if !net.drained() {
        crate::log!("net: the VM stops with data its peers have not acknowledged");
    }
}
