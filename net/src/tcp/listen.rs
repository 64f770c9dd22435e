//! A listener's pool of smoltcp sockets: which SYNs it admits, drops or passes on.
//!
//! Every slot of the pool is a smoltcp socket on the listener's port. A spare one listens;
//! a SYN turns it into a half-open connection before anything is answered (the SYN-ACK leaves
//! in the interface's egress, after [`refill_listeners`] ran for the packet). Each newly
//! claimed slot is then judged as Linux's tcp_v4_rcv/tcp_conn_request would:
//! - A client of a family the listener does not take (smoltcp's listen endpoint without an
//!   address takes either: a `0.0.0.0` listener sees IPv6 SYNs, a v6-only `::` one IPv4
//!   SYNs) goes to another listener on the port that takes it, or is reset as by a port
//!   nobody listens on (ECONNREFUSED at the client).
//! - Beyond the backlog (Linux admits while no more than `backlog` connections wait to be
//!   accepted, so `backlog + 1` get in) the SYN is dropped: the socket goes without a word,
//!   the client retransmits and gets in once accept() made room.
//!
//! Then the pool is topped up to [`SPARE`] listening sockets per interface.

use alloc::vec::Vec;
use core::net::IpAddr;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};

use super::{connected, Phase, TcpState, SPARE};
use crate::stack::{Ifaces, Inner, Kind, Sock, Which};

/// One smoltcp socket of a listener's pool.
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub(super) which: Which,
    pub(super) handle: SocketHandle,
    /// Unclaimed when last looked at: listening for a SYN.
    pub(super) spare: bool,
}

impl Slot {
    pub(super) fn spare(which: Which, handle: SocketHandle) -> Slot {
        Slot {
            which,
            handle,
            spare: true,
        }
    }
}

/// A half-open connection a listener does not take: where it is and the client's address.
struct Misfit {
    port: u16,
    which: Which,
    handle: SocketHandle,
    from: IpAddr,
}

impl TcpState {
    /// Whether this listener takes clients from `from` (its family).
    fn takes(&self, from: IpAddr) -> bool {
        match (self.local, from) {
            (Some((IpAddr::V4(_), _)), IpAddr::V4(_)) => true,
            (Some((IpAddr::V6(a), _)), IpAddr::V4(_)) => a.is_unspecified() && !self.opts.v6only,
            (Some((IpAddr::V6(_), _)), IpAddr::V6(_)) => true,
            _ => false,
        }
    }

    /// Judges the slots a SYN claimed since the last look (see the module's header); the
    /// misfits are taken out of the pool for [`refill_listeners`] to place.
    fn judge(&mut self, ifs: &mut Ifaces, misfits: &mut Vec<Misfit>) {
        let Some((_, port)) = self.local else { return };
        let Phase::Listen { pool, .. } = &self.phase else {
            return;
        };
        let claimed = |s: &Slot| {
            s.spare
                && ifs
                    .set_ref(s.which)
                    .get::<tcp::Socket<'_>>(s.handle)
                    .state()
                    != State::Listen
        };
        if !pool.iter().any(claimed) {
            return;
        }
        let mut keep = Vec::with_capacity(pool.len());
        for &slot in pool {
            if !claimed(&slot) {
                keep.push(slot);
                continue;
            }
            let s = ifs.set_ref(slot.which).get::<tcp::Socket<'_>>(slot.handle);
            match s.remote_endpoint().map(|e| IpAddr::from(e.addr)) {
                Some(from) if !self.takes(from) => misfits.push(Misfit {
                    port,
                    which: slot.which,
                    handle: slot.handle,
                    from,
                }),
                _ => keep.push(Slot {
                    spare: false,
                    ..slot
                }),
            }
        }
        self.admit_within_backlog(ifs, keep);
    }

    /// Makes `pool` the listener's, dropping the newest admitted slots beyond the backlog
    /// (their SYN goes unanswered).
    fn admit_within_backlog(&mut self, ifs: &mut Ifaces, mut pool: Vec<Slot>) {
        let Phase::Listen {
            backlog,
            pool: mine,
        } = &mut self.phase
        else {
            return;
        };
        let before: Vec<SocketHandle> =
            mine.iter().filter(|s| !s.spare).map(|s| s.handle).collect();
        // Admitted and not yet accepted, half-open ones included.
        let mut queued = pool.iter().filter(|s| !s.spare).count();
        pool.retain(|s| {
            let newly = !s.spare && !before.contains(&s.handle);
            if newly && queued > *backlog + 1 {
                queued -= 1;
                ifs.set(s.which).remove(s.handle);
                return false;
            }
            true
        });
        *mine = pool;
    }

    /// Takes the half-open connection `m` from another listener on its port, within the
    /// backlog (beyond it the SYN is dropped).
    fn adopt(&mut self, ifs: &mut Ifaces, m: &Misfit) {
        let Phase::Listen { pool, .. } = &self.phase else {
            return;
        };
        let mut pool = pool.clone();
        pool.push(Slot {
            which: m.which,
            handle: m.handle,
            spare: false,
        });
        self.admit_within_backlog(ifs, pool);
    }

    /// Keeps [`SPARE`] listening sockets on each interface the listener listens on.
    fn top_up(&mut self, ifs: &mut Ifaces) {
        let Some(local) = self.local else { return };
        let Phase::Listen { pool, .. } = &self.phase else {
            return;
        };
        let mut free = [0usize; 1 + crate::MAX_NICS];
        for s in pool.iter().filter(|s| s.spare) {
            free[s.which.slot()] += 1;
        }
        let mut added = Vec::new();
        for w in Self::listen_ifaces(ifs, local.0) {
            for _ in free[w.slot()]..SPARE {
                match self.add_listener(ifs, w) {
                    Some(h) => added.push(Slot::spare(w, h)),
                    None => break,
                }
            }
        }
        if let Phase::Listen { pool, .. } = &mut self.phase {
            pool.extend(added);
        }
    }

    /// Connections ready to be accepted.
    pub(super) fn ready_to_accept(&self, ifs: &Ifaces) -> usize {
        match &self.phase {
            Phase::Listen { pool, .. } => pool
                .iter()
                .filter(|s| {
                    !s.spare
                        && connected(
                            ifs.set_ref(s.which)
                                .get::<tcp::Socket<'_>>(s.handle)
                                .state(),
                        )
                })
                .count(),
            _ => 0,
        }
    }
}

/// After a packet changed a socket, before anything is sent: every listener judges the SYNs
/// its spare sockets took and tops its pool up; half-open connections of the wrong family go
/// to the listener on their port that takes them, or are reset.
pub(crate) fn refill_listeners(inner: &mut Inner) {
    let mut misfits = Vec::new();
    let Inner {
        socks,
        ifs,
        listeners,
        orphans,
        ..
    } = inner;
    for id in listeners.iter() {
        if let Some(Sock {
            kind: Kind::Tcp(t), ..
        }) = socks.get_mut(id)
        {
            t.judge(ifs, &mut misfits);
        }
    }
    for m in misfits {
        let taker = listeners.iter().find_map(|id| match socks.get(id) {
            Some(Sock {
                kind: Kind::Tcp(t), ..
            }) if t.local.is_some_and(|l| l.1 == m.port)
                && matches!(t.phase, Phase::Listen { .. })
                && t.takes(m.from) =>
            {
                Some(*id)
            }
            _ => None,
        });
        match taker.and_then(|id| socks.get_mut(&id)) {
            Some(Sock {
                kind: Kind::Tcp(t), ..
            }) => t.adopt(ifs, &m),
            _ => {
                ifs.set(m.which)
                    .get_mut::<tcp::Socket<'_>>(m.handle)
                    .abort();
                orphans.push((m.which, m.handle));
            }
        }
    }
    for id in listeners.iter() {
        if let Some(Sock {
            kind: Kind::Tcp(t), ..
        }) = socks.get_mut(id)
        {
            t.top_up(ifs);
        }
    }
}
