//! `lo`: the loopback device, a queue of IP packets, with optional faults for tests.
//!
//! Hand-written rather than smoltcp's `Loopback` wrapped in its `FaultInjector`: that injector
//! caps packets at 1536 bytes (lo carries 64 KiB) and cannot reorder, and the tests want loss,
//! corruption and reordering, all from one deterministic seed.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// lo's MTU (Linux's is 65536; IPv4 packets stop at 65535).
pub const LO_MTU: usize = 65535;

/// What goes wrong on the loopback wire, in percent per packet (tests only; all zero in use).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Packets dropped.
    pub drop_pct: u8,
    /// Packets with one byte flipped (checksums catch it: lo checks them when faults are on).
    pub corrupt_pct: u8,
    /// Packets held back behind the next one.
    pub reorder_pct: u8,
    /// The seed of the generator that decides.
    pub seed: u64,
}

/// The loopback device.
#[derive(Debug)]
pub(crate) struct LoopDevice {
    queue: VecDeque<Vec<u8>>,
    faults: Faults,
    rng: u64,
}

impl LoopDevice {
    pub(crate) fn new() -> Self {
        LoopDevice {
            queue: VecDeque::new(),
            faults: Faults::default(),
            rng: 0,
        }
    }

    pub(crate) fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        self.rng = faults.seed | 1;
    }

    /// Whether a packet waits.
    pub(crate) fn pending(&self) -> bool {
        !self.queue.is_empty()
    }

    /// xorshift64: deterministic and good enough to pick faults.
    fn roll(&mut self) -> u8 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x % 100) as u8
    }

    fn push(&mut self, mut packet: Vec<u8>) {
        if self.faults == Faults::default() {
            self.queue.push_back(packet);
            return;
        }
        if self.roll() < self.faults.drop_pct {
            return;
        }
        if self.roll() < self.faults.corrupt_pct && !packet.is_empty() {
            let at = (self.rng as usize) % packet.len();
            packet[at] ^= 0x5a;
        }
        if self.roll() < self.faults.reorder_pct && !self.queue.is_empty() {
            let at = self.queue.len() - 1;
            self.queue.insert(at, packet);
        } else {
            self.queue.push_back(packet);
        }
    }
}

impl Device for LoopDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = LO_MTU;
        caps.medium = Medium::Ip;
        // Linux skips checksums on lo; with faults injected they must catch the corruption.
        if self.faults == Faults::default() {
            caps.checksum = ChecksumCapabilities::ignored();
        }
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(RxToken, TxToken<'_>)> {
        let buffer = self.queue.pop_front()?;
        Some((RxToken { buffer }, TxToken { dev: self }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        Some(TxToken { dev: self })
    }
}

pub(crate) struct RxToken {
    buffer: Vec<u8>,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.buffer)
    }
}

pub(crate) struct TxToken<'a> {
    dev: &'a mut LoopDevice,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buffer = vec![0; len];
        let r = f(&mut buffer);
        self.dev.push(buffer);
        r
    }
}
