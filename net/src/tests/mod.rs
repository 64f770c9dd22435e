//! Host tests of the stack: sockets over lo, with and without faults on the wire.

mod cards;
mod drain;
mod keepalive;
mod listen;
mod nic;
mod tcp;
mod tcp_opts;
mod udp;
mod wire;

use alloc::sync::Arc;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::Network;

pub(super) const ANY4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
pub(super) const ANY6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

pub(super) fn local(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

pub(super) fn net() -> Arc<Network> {
    Network::new(42)
}

/// A clock the tests move by hand: 1 ms per tick.
pub(super) struct Clock(pub u64);

impl Clock {
    pub(super) fn tick(&mut self, net: &Network) -> u64 {
        self.0 += 1_000_000;
        net.poll(self.0);
        self.0
    }
}
