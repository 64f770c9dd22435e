//! IPV6_V6ONLY on a listener bound to `::`: IPv4 clients are refused as by a port nobody
//! listens on.
//!
//! smoltcp's listen endpoint without an address takes either family, so a v6-only listener's
//! spare sockets do receive an IPv4 SYN. `refuse_v4` runs right after each packet that
//! changed a socket, before the interface sends anything: it aborts those half-open
//! connections, so the SYN is answered by a reset instead of a SYN-ACK and the client's
//! connect fails with ECONNREFUSED, as in Linux. (A separate IPv4 listener on the same port
//! may therefore lose a SYN the v6-only one took; Linux would have given it that SYN.)

use core::net::IpAddr;

use smoltcp::socket::tcp::{self, State};

use super::{Phase, TcpState};
use crate::stack::Ifaces;

impl TcpState {
    pub(super) fn refuse_v4(&self, ifs: &mut Ifaces) {
        let Phase::Listen { pool, .. } = &self.phase else {
            return;
        };
        if !self.opts.v6only || !matches!(self.local, Some((IpAddr::V6(_), _))) {
            return;
        }
        for &(w, h) in pool {
            let s = ifs.set(w).get_mut::<tcp::Socket<'_>>(h);
            let v4 = s
                .remote_endpoint()
                .is_some_and(|e| matches!(IpAddr::from(e.addr), IpAddr::V4(_)));
            if s.state() == State::SynReceived && v4 {
                s.abort();
            }
        }
    }
}
