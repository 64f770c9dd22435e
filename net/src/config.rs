//! How an interface is configured: addresses, gateway and DNS, given by the kernel.
//!
//! Static configuration only (no DHCP): QEMU's user network always hands out the same lease,
//! so the defaults are its well-known addresses, as Docker users expect them.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr};

/// The configuration of a NIC's interface (`eth0`, `eth1`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfConfig {
    /// The interface's IPv4 address.
    pub ipv4: Ipv4Addr,
    /// Its prefix length (24 for a /24).
    pub prefix: u8,
    /// The default route's gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The DNS servers (for /etc/resolv.conf; the stack itself does not resolve names).
    pub dns: Vec<Ipv4Addr>,
    /// An IPv6 address on the link, with its prefix length (no IPv6 without one).
    pub ipv6: Option<(Ipv6Addr, u8)>,
}

impl Default for IfConfig {
    /// QEMU's user network (slirp): 10.0.2.15/24, gateway 10.0.2.2, DNS 10.0.2.3.
    fn default() -> Self {
        IfConfig {
            ipv4: Ipv4Addr::new(10, 0, 2, 15),
            prefix: 24,
            gateway: Some(Ipv4Addr::new(10, 0, 2, 2)),
            dns: vec![Ipv4Addr::new(10, 0, 2, 3)],
            ipv6: None,
        }
    }
}
