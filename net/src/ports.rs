//! Which IP sockets hold which local ports: bind's conflicts and the ephemeral range.
//!
//! Linux's rules (inet_csk_bind_conflict, udp_lib_lport_inuse): two sockets may share a port
//! when their addresses do not overlap, when both set SO_REUSEPORT, or, for TCP, when both set
//! SO_REUSEADDR and the one already there does not listen; for UDP SO_REUSEADDR on both is enough. A wildcard
//! address overlaps every address of its family, and `::` without IPV6_V6ONLY overlaps IPv4 too.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::IpAddr;

use coracle_abi::errno::Errno;

/// The transport protocol whose port space a binding is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One socket's hold on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binding {
    pub(crate) owner: u64,
    pub(crate) addr: IpAddr,
    pub(crate) v6only: bool,
    pub(crate) reuseaddr: bool,
    pub(crate) reuseport: bool,
    pub(crate) listening: bool,
}

impl Binding {
    /// (covers IPv4, covers IPv6, the IPv4 address or None for any, the IPv6 one).
    fn covers_v4(&self) -> Option<Option<[u8; 4]>> {
        match self.addr {
            IpAddr::V4(a) if a.is_unspecified() => Some(None),
            IpAddr::V4(a) => Some(Some(a.octets())),
            IpAddr::V6(a) if a.is_unspecified() && !self.v6only => Some(None),
            IpAddr::V6(a) => a.to_ipv4_mapped().map(|m| Some(m.octets())),
        }
    }

    fn covers_v6(&self) -> Option<Option<[u8; 16]>> {
        match self.addr {
            IpAddr::V6(a) if a.is_unspecified() => Some(None),
            IpAddr::V6(a) if a.to_ipv4_mapped().is_none() => Some(Some(a.octets())),
            _ => None,
        }
    }

    fn overlaps(&self, other: &Binding) -> bool {
        fn meet<T: PartialEq>(a: Option<Option<T>>, b: Option<Option<T>>) -> bool {
            match (a, b) {
                (Some(None), Some(_)) | (Some(_), Some(None)) => true,
                (Some(Some(x)), Some(Some(y))) => x == y,
                _ => false,
            }
        }
        meet(self.covers_v4(), other.covers_v4()) || meet(self.covers_v6(), other.covers_v6())
    }

    /// Whether `new` may take the port this (existing) binding holds.
    fn may_share(&self, new: &Binding, proto: Proto) -> bool {
        if self.reuseport && new.reuseport {
            return true;
        }
        match proto {
            Proto::Tcp => self.reuseaddr && new.reuseaddr && !self.listening,
            Proto::Udp => self.reuseaddr && new.reuseaddr,
        }
    }
}

/// The first and last ephemeral ports (/proc/sys/net/ipv4/ip_local_port_range).
pub const EPHEMERAL: (u16, u16) = (32768, 60999);

/// The port table.
#[derive(Debug, Default)]
pub(crate) struct Ports {
    held: BTreeMap<(Proto, u16), Vec<Binding>>,
    next: u16,
}

impl Ports {
    fn conflicts(&self, proto: Proto, port: u16, b: &Binding) -> bool {
        self.held.get(&(proto, port)).is_some_and(|v| {
            v.iter()
                .any(|o| o.owner != b.owner && o.overlaps(b) && !o.may_share(b, proto))
        })
    }

    /// Takes `port` (0: an ephemeral one) for `b`; returns the port.
    pub(crate) fn bind(&mut self, proto: Proto, port: u16, b: Binding) -> Result<u16, Errno> {
        let port = if port == 0 {
            self.ephemeral(proto, &b)?
        } else {
            if self.conflicts(proto, port, &b) {
                return Err(Errno::EADDRINUSE);
            }
            port
        };
        self.held.entry((proto, port)).or_default().push(b);
        Ok(port)
    }

    fn ephemeral(&mut self, proto: Proto, b: &Binding) -> Result<u16, Errno> {
        let (lo, hi) = EPHEMERAL;
        let span = hi - lo + 1;
        if self.next < lo || self.next > hi {
            self.next = lo;
        }
        for _ in 0..span {
            let port = self.next;
            self.next = if port == hi { lo } else { port + 1 };
            // An ephemeral port is never shared, whatever the flags (inet_csk_find_open_port
            // skips ports in use).
            if !self.held.contains_key(&(proto, port)) && !self.conflicts(proto, port, b) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRINUSE)
    }

    /// Marks `owner`'s binding of `port` as listening, unless another socket's binding now
    /// conflicts (Linux's listen re-checks: EADDRINUSE).
    pub(crate) fn listen(&mut self, proto: Proto, port: u16, owner: u64) -> Result<(), Errno> {
        let Some(v) = self.held.get(&(proto, port)) else {
            return Ok(());
        };
        let Some(mine) = v.iter().find(|b| b.owner == owner).copied() else {
            return Ok(());
        };
        let mut me = mine;
        me.listening = true;
        if self.conflicts(proto, port, &me) {
            return Err(Errno::EADDRINUSE);
        }
        if let Some(v) = self.held.get_mut(&(proto, port)) {
            for b in v.iter_mut().filter(|b| b.owner == owner) {
                b.listening = true;
            }
        }
        Ok(())
    }

    /// Gives back `owner`'s hold on `port`.
    pub(crate) fn release(&mut self, proto: Proto, port: u16, owner: u64) {
        if let Some(v) = self.held.get_mut(&(proto, port)) {
            v.retain(|b| b.owner != owner);
            if v.is_empty() {
                self.held.remove(&(proto, port));
            }
        }
    }
}
