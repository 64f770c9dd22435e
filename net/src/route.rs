//! Routing between the interfaces: which one a destination's packets leave by, and which
//! addresses are the host's own.
//!
//! As Linux's main table holds them for statically configured cards: lo for loopback and
//! the host's own addresses (Linux's `local` table routes those through lo too), then each
//! NIC's connected subnet (the longest prefix wins), then the default route of the first NIC
//! that has a gateway. A destination that matches none is unreachable (`ENETUNREACH`, as
//! `connect(2)` says without a route). The source address follows from the route: a socket
//! lives on its route's interface, and smoltcp gives it that interface's address.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use coracle_abi::errno::Errno;

use crate::config::IfConfig;
use crate::stack::{Ifaces, Which};

/// Whether `dst` is on `c`'s subnet.
fn on_subnet(c: &IfConfig, dst: Ipv4Addr) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(c.prefix)).unwrap_or(0);
    u32::from(c.ipv4) & mask == u32::from(dst) & mask
}

/// Whether `dst` is on `c`'s IPv6 prefix.
fn on_prefix6(c: &IfConfig, dst: Ipv6Addr) -> bool {
    c.ipv6.is_some_and(|(a, prefix)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        u128::from(a) & mask == u128::from(dst) & mask
    })
}

impl Ifaces {
    /// Whether `addr` is one of the NICs' addresses.
    pub(crate) fn is_own(&self, addr: IpAddr) -> bool {
        self.configs.iter().any(|c| {
            addr == IpAddr::V4(c.ipv4) || c.ipv6.is_some_and(|(a, _)| addr == IpAddr::V6(a))
        })
    }

    /// Where packets to `dst` go: lo for loopback, unspecified (Linux connects those to the
    /// host itself) and the host's own addresses; else the NIC whose subnet holds `dst`,
    /// else the first NIC with a gateway. Broadcast and multicast leave by the first NIC.
    pub(crate) fn route(&self, dst: IpAddr) -> Result<Which, Errno> {
        if dst.is_loopback() || dst.is_unspecified() || self.is_own(dst) {
            return Ok(Which::Lo);
        }
        let index = |i: usize| u8::try_from(i).map(Which::Eth).ok();
        let v4 = match dst {
            IpAddr::V4(v4) => v4,
            // IPv6 reaches the prefixes of the cards that have one (no IPv6 gateway).
            IpAddr::V6(v6) => {
                return self
                    .configs
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| on_prefix6(c, v6))
                    .max_by_key(|(_, c)| c.ipv6.map(|(_, p)| p))
                    .and_then(|(i, _)| index(i))
                    .ok_or(Errno::ENETUNREACH)
            }
        };
        // The single-card case, as before routes were kept: everything leaves by it.
        if self.configs.len() == 1 {
            return Ok(Which::Eth(0));
        }
        let connected = self
            .configs
            .iter()
            .enumerate()
            .filter(|(_, c)| on_subnet(c, v4))
            .max_by_key(|(_, c)| c.prefix)
            .and_then(|(i, _)| index(i));
        let via_gateway = || {
            let i = self.configs.iter().position(|c| c.gateway.is_some())?;
            index(i)
        };
        let first = || (v4.is_broadcast() || v4.is_multicast()).then_some(Which::Eth(0));
        connected
            .or_else(via_gateway)
            .or_else(first)
            .filter(|_| !self.configs.is_empty())
            .ok_or(Errno::ENETUNREACH)
    }
}
