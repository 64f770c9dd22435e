//! The network as the kernel drives it: attach the NIC, run the stack.
//!
//! One [`Network`] serves the whole machine. The kernel attaches its virtio-net device with
//! [`attach_device`] and calls [`poll`] when the device interrupts and when the deadline `poll`
//! returned arrives; socket calls run the stack themselves after queueing data, so traffic
//! over lo needs no device and no interrupt. Host tests give each [`crate::System`] a network
//! of its own.

use alloc::boxed::Box;
use alloc::sync::Arc;

pub use coracle_net::{IfConfig, NetDevice, Network, TxError};
use spin::Once;

static NETWORK: Once<Arc<Network>> = Once::new();

/// The machine's network (lo only until a device is attached).
pub fn network() -> &'static Arc<Network> {
    NETWORK.call_once(|| Network::new(0x0063_6f72_6163_6c65))
}

/// Brings up the next interface (`eth0`, `eth1`...) on `dev` with `config` (static
/// addresses; [`IfConfig::default`] is QEMU's user network); false when the stack has its
/// most cards already. The clock starts at the last time [`poll`] was given.
pub fn attach_device(dev: Box<dyn NetDevice>, config: IfConfig) -> bool {
    let net = network();
    let now = net.now_ns();
    net.attach(dev, config, now)
}

/// Sets what the stack calls when a socket call moves its next deadline earlier than the
/// last [`poll`] returned (the kernel schedules its poll for then).
pub fn set_waker(waker: Box<dyn Fn(u64) + Send + Sync>) {
    network().set_waker(waker);
}

/// Runs the stack at `now_ns` (CLOCK_MONOTONIC): receives, sends, fires timers and wakes the
/// threads whose sockets changed. Returns the absolute CLOCK_MONOTONIC time in ns at which it
/// must run again (None: only when a frame arrives or a socket call runs it).
pub fn poll(now_ns: u64) -> Option<u64> {
    network().poll(now_ns)
}
