//! TCP sockets: bind, listen with an accept queue, connect, send, receive, shutdown.
//!
//! smoltcp's TCP socket is one connection, and a listening one becomes the connection it
//! accepts. A Linux listening socket is therefore a pool of smoltcp sockets on the same port,
//! on every interface it listens on: a few spare ones in the listening state, refilled after
//! every packet that changed a socket (`refill_listeners`, run by the stack between packets),
//! which also judges the SYNs they took against the backlog and the listener's family
//! (`tcp/listen.rs`); `accept` takes one that finished its handshake.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use coracle_abi::errno::Errno;
use coracle_abi::poll::*;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

mod info;
mod keepalive;
mod listen;

pub use info::{Congestion, TcpInfo};
use keepalive::KeepAlive;
pub(crate) use listen::refill_listeners;
use listen::Slot;

use crate::ports::{Binding, Ports, Proto};
use crate::stack::{Ifaces, Inner, Kind, Needs, Network, Shared, Which};

/// Receive and send buffer of each connection (also the largest window offered).
const BUF: usize = 64 * 1024;
/// The largest backlog (Linux's net.core.somaxconn default since 5.4).
const SOMAXCONN: usize = 4096;
/// Listening sockets kept ready per interface. One is enough, as the stack refills after
/// every packet; two leave room for a SYN the same packet batch brings on another path.
const SPARE: usize = 2;
/// How long a connect waits for the peer's answer before ETIMEDOUT (Linux gives up after
/// about 127 s of SYN retries with the default tcp_syn_retries).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(127);

/// The options servers set, kept as Linux reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpOpts {
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub v6only: bool,
    pub nodelay: bool,
    pub keepalive: bool,
    /// TCP_KEEPIDLE, TCP_KEEPINTVL (seconds), TCP_KEEPCNT.
    pub keepidle: u32,
    pub keepintvl: u32,
    pub keepcnt: u32,
    /// SO_LINGER with a zero time: close resets the connection.
    pub linger_abort: bool,
    /// The receive and send buffers of connections made from now on, in bytes (0: [`BUF`]).
    pub rcvbuf: usize,
    pub sndbuf: usize,
    /// TCP_CONGESTION as set (the name reported; see [`Congestion`]).
    pub congestion: Congestion,
}

impl Default for TcpOpts {
    fn default() -> Self {
        TcpOpts {
            reuseaddr: false,
            reuseport: false,
            v6only: false,
            nodelay: false,
            keepalive: false,
            keepidle: 7200,
            keepintvl: 75,
            keepcnt: 9,
            linger_abort: false,
            rcvbuf: 0,
            sndbuf: 0,
            congestion: Congestion::Cubic,
        }
    }
}

enum Phase {
    Idle,
    Listen {
        /// listen's backlog: up to one more connection waits to be accepted.
        backlog: usize,
        pool: Vec<Slot>,
    },
    Conn {
        which: Which,
        handle: SocketHandle,
        /// connect() has returned success for it (a second connect is EISCONN).
        reported: bool,
        established: bool,
        started: Instant,
        /// The handshake's round trip (SYN to SYN-ACK), for TCP_INFO.
        rtt: Option<Duration>,
    },
}

impl Phase {
    /// For a connection, whether its handshake has completed; `None` when not connected or
    /// connecting (idle or listening).
    fn established(&self) -> Option<bool> {
        match self {
            Phase::Conn { established, .. } => Some(*established),
            _ => None,
        }
    }
}

pub(crate) struct TcpState {
    id: u64,
    pub(crate) opts: TcpOpts,
    /// The bound address (unspecified for any) and port, held in the port table unless the
    /// socket was accepted (then it shares its listener's port, as in Linux).
    local: Option<(IpAddr, u16)>,
    holds_port: bool,
    auto_bound: bool,
    phase: Phase,
    /// The pending error (SO_ERROR).
    err: Option<Errno>,
    shut_rd: bool,
    shut_wr: bool,
    /// The connection was reset or timed out (reads give ECONNRESET once, then 0).
    broken: bool,
    /// Its last close waits (SO_LINGER) for the FIN to be acknowledged.
    lingering: bool,
    /// The connection's keepalive timing.
    ka: KeepAlive,
}

/// How long a connection on the NIC holds back the ACK of received data for a reply to carry
/// it (Linux delays ACKs by 40 ms and more in such exchanges; smoltcp still ACKs every full
/// segment at once, as Linux does, so bulk transfers are not slowed).
const NIC_ACK_DELAY: Duration = Duration::from_millis(10);

fn new_socket(opts: &TcpOpts, w: Which) -> tcp::Socket<'static> {
    let size = |n: usize| if n == 0 { BUF } else { n };
    let mut s = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; size(opts.rcvbuf)]),
        tcp::SocketBuffer::new(vec![0u8; size(opts.sndbuf)]),
    );
    // On the NIC a request's ACK rides on the reply, halving the frames (and the device's
    // doorbells) of request/response traffic. lo delivers within the call: an ACK held
    // there would only wait for the stack's timer.
    s.set_ack_delay(match w {
        Which::Eth(_) => Some(NIC_ACK_DELAY),
        Which::Lo => None,
    });
    s
}

fn listen_endpoint(local: (IpAddr, u16)) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!local.0.is_unspecified()).then(|| local.0.into()),
        port: local.1,
    }
}

/// Whether a smoltcp state is past the handshake.
fn connected(state: State) -> bool {
    !matches!(
        state,
        State::Closed | State::Listen | State::SynSent | State::SynReceived
    )
}

/// Whether our FIN (or the data before it) waits to be acknowledged (sk_stream_closing).
fn closing(state: State) -> bool {
    matches!(state, State::FinWait1 | State::Closing | State::LastAck)
}

/// Whether the peer's FIN arrived.
fn peer_closed(state: State) -> bool {
    matches!(
        state,
        State::CloseWait | State::LastAck | State::Closing | State::TimeWait | State::Closed
    )
}

impl TcpState {
    fn new(id: u64) -> Self {
        TcpState {
            id,
            opts: TcpOpts::default(),
            local: None,
            holds_port: false,
            auto_bound: false,
            phase: Phase::Idle,
            err: None,
            shut_rd: false,
            shut_wr: false,
            broken: false,
            lingering: false,
            ka: KeepAlive::new(Instant::ZERO),
        }
    }

    /// The interfaces a listener bound to `addr` listens on.
    fn listen_ifaces(ifs: &Ifaces, addr: IpAddr) -> Vec<Which> {
        ifs.all()
            .iter()
            .copied()
            .filter(|&w| {
                addr.is_unspecified()
                    || match w {
                        Which::Lo => true,
                        Which::Eth(_) => !addr.is_loopback(),
                    }
            })
            .collect()
    }

    fn add_listener(&self, ifs: &mut Ifaces, w: Which) -> Option<SocketHandle> {
        let local = self.local?;
        let mut s = new_socket(&self.opts, w);
        s.listen(listen_endpoint(local)).ok()?;
        s.set_nagle_enabled(!self.opts.nodelay);
        Some(ifs.set(w).add(s))
    }

    /// A NIC appeared: a listener on every address listens there too.
    pub(crate) fn interface_added(&mut self, ifs: &mut Ifaces, w: Which) {
        if !matches!(self.phase, Phase::Listen { .. })
            || !self.local.is_some_and(|l| l.0.is_unspecified())
        {
            return;
        }
        let mut added = Vec::new();
        for _ in 0..SPARE {
            if let Some(h) = self.add_listener(ifs, w) {
                added.push(Slot::spare(w, h));
            }
        }
        if let Phase::Listen { pool, .. } = &mut self.phase {
            pool.extend(added);
        }
    }

    /// After the interfaces ran: notes finished handshakes, failed connects and resets, and
    /// puts listeners whose handshake failed back to listening.
    pub(crate) fn update(&mut self, ifs: &mut Ifaces, ports: &mut Ports) {
        let now = ifs.now;
        match &mut self.phase {
            Phase::Idle => {}
            Phase::Listen { pool, .. } => {
                let local = self.local;
                for slot in pool.iter_mut() {
                    let s = ifs.set(slot.which).get_mut::<tcp::Socket<'_>>(slot.handle);
                    if s.state() == State::Closed {
                        if let Some(l) = local {
                            let _ = s.listen(listen_endpoint(l));
                            slot.spare = true;
                        }
                    }
                }
            }
            Phase::Conn {
                which,
                handle,
                established,
                started,
                rtt,
                ..
            } => {
                let (w, h) = (*which, *handle);
                let state = ifs.set(w).get::<tcp::Socket<'_>>(h).state();
                if *established && state != State::Closed {
                    let s = ifs.set(w).get_mut::<tcp::Socket<'_>>(h);
                    self.ka.update(s, &self.opts, now);
                }
                if !*established {
                    if connected(state) {
                        *established = true;
                        *rtt = Some(now - *started);
                        // Linux has no connect timeout once connected.
                        ifs.set(w).get_mut::<tcp::Socket<'_>>(h).set_timeout(None);
                        self.ka = KeepAlive::new(now);
                    } else if state == State::Closed {
                        let timed_out = now - *started >= CONNECT_TIMEOUT;
                        ifs.set(w).remove(h);
                        self.err = Some(if timed_out {
                            Errno::ETIMEDOUT
                        } else {
                            Errno::ECONNREFUSED
                        });
                        self.phase = Phase::Idle;
                        if self.auto_bound {
                            if let Some((_, port)) = self.local.take() {
                                ports.release(Proto::Tcp, port, self.id);
                            }
                            self.holds_port = false;
                            self.auto_bound = false;
                        }
                    }
                } else if state == State::Closed && !self.shut_wr && !self.broken {
                    // Closed without our FIN: the peer reset it, or keepalive gave up.
                    self.broken = true;
                    self.err = Some(if self.ka.timed_out(&self.opts, now) {
                        Errno::ETIMEDOUT
                    } else {
                        Errno::ECONNRESET
                    });
                }
            }
        }
    }

    /// The interface of the connection, if connected or connecting.
    fn which(&self) -> Option<Which> {
        match self.phase {
            Phase::Conn { which, .. } => Some(which),
            _ => None,
        }
    }

    /// The connection's interface and smoltcp handle, if connected or connecting.
    pub(crate) fn conn_handle(&self) -> Option<(Which, SocketHandle)> {
        match self.phase {
            Phase::Conn { which, handle, .. } => Some((which, handle)),
            _ => None,
        }
    }

    fn conn<'a>(&self, ifs: &'a Ifaces) -> Option<&'a tcp::Socket<'static>> {
        match self.phase {
            Phase::Conn { which, handle, .. } => Some(ifs.set_ref(which).get(handle)),
            _ => None,
        }
    }

    /// poll(2) readiness, as Linux's tcp_poll computes it.
    pub(crate) fn events(&self, ifs: &Ifaces) -> u32 {
        let mut ev = 0;
        if self.err.is_some() {
            ev |= POLLERR;
        }
        match &self.phase {
            Phase::Idle => ev | POLLOUT | POLLWRNORM | POLLHUP,
            Phase::Listen { .. } => {
                if self.ready_to_accept(ifs) > 0 {
                    ev |= POLLIN | POLLRDNORM;
                }
                ev
            }
            Phase::Conn { established, .. } => {
                let Some(s) = self.conn(ifs) else { return ev };
                let state = s.state();
                if !*established {
                    return ev;
                }
                let rcv_shut = self.shut_rd || peer_closed(state);
                let snd_shut = self.shut_wr || state == State::Closed;
                if rcv_shut && snd_shut {
                    ev |= POLLHUP;
                }
                if rcv_shut {
                    ev |= POLLIN | POLLRDNORM | POLLRDHUP;
                }
                if s.can_recv() {
                    ev |= POLLIN | POLLRDNORM;
                }
                if snd_shut || s.can_send() {
                    ev |= POLLOUT | POLLWRNORM;
                }
                ev
            }
        }
    }

    /// Bytes waiting to be read (connections waiting to be accepted, for a listener; for a
    /// lingering close, bytes and FIN not yet acknowledged, so that the end wakes it).
    pub(crate) fn queued(&self, ifs: &Ifaces) -> u32 {
        match &self.phase {
            Phase::Listen { .. } => self.ready_to_accept(ifs) as u32,
            _ if self.lingering => self
                .conn(ifs)
                .map_or(0, |s| s.send_queue() as u32 + u32::from(closing(s.state()))),
            _ => self.conn(ifs).map_or(0, |s| s.recv_queue() as u32),
        }
    }

    fn bind(&mut self, ports: &mut Ports, addr: IpAddr, port: u16) -> Result<u16, Errno> {
        if self.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let b = Binding {
            owner: self.id,
            addr,
            v6only: self.opts.v6only,
            reuseaddr: self.opts.reuseaddr,
            reuseport: self.opts.reuseport,
            listening: false,
        };
        let port = ports.bind(Proto::Tcp, port, b)?;
        self.local = Some((addr, port));
        self.holds_port = true;
        Ok(port)
    }

    /// Closes the connection or listener: a connection with unread data is reset (Linux's
    /// tcp_close), else it sends its FIN and lingers as an orphan until it is closed. A
    /// closed socket stays closed (a second close does nothing).
    pub(crate) fn close(
        &mut self,
        inner_ifs: &mut Ifaces,
        ports: &mut Ports,
        orphans: &mut Vec<(Which, SocketHandle)>,
    ) {
        match core::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Idle => {}
            Phase::Listen { pool, .. } => {
                for Slot {
                    which: w,
                    handle: h,
                    ..
                } in pool
                {
                    let s = inner_ifs.set(w).get_mut::<tcp::Socket<'_>>(h);
                    if s.state() == State::Listen {
                        inner_ifs.set(w).remove(h);
                    } else {
                        s.abort();
                        orphans.push((w, h));
                    }
                }
            }
            Phase::Conn { which, handle, .. } => {
                let s = inner_ifs.set(which).get_mut::<tcp::Socket<'_>>(handle);
                // tcp_close of a connect in progress (tcp_close_state: SYN_SENT to CLOSE) sends
                // nothing; smoltcp's close and abort would send a reset. A SYN-ACK that comes
                // later finds no socket and is reset, as in Linux.
                if s.state() == State::SynSent {
                    inner_ifs.set(which).remove(handle);
                } else {
                    // tcp_close: unread data or SO_LINGER with a zero time resets the
                    // connection.
                    if s.can_recv() || self.opts.linger_abort {
                        s.abort();
                    } else {
                        s.close();
                    }
                    orphans.push((which, handle));
                }
            }
        }
        if core::mem::take(&mut self.holds_port) {
            if let Some((_, port)) = self.local {
                ports.release(Proto::Tcp, port, self.id);
            }
        }
    }
}

/// A TCP socket (the Linux socket, not one smoltcp connection).
pub struct TcpSocket {
    net: Arc<Network>,
    id: u64,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TcpSocket").field("id", &self.id).finish()
    }
}

impl Drop for TcpSocket {
    fn drop(&mut self) {
        let id = self.id;
        let now = self
            .net
            .peek(|inner| inner.ifs.now.total_micros() as u64 * 1000);
        self.net.with(now, |inner| {
            let Inner {
                socks,
                ifs,
                ports,
                orphans,
                listeners,
                ..
            } = inner;
            listeners.retain(|&l| l != id);
            if let Some(s) = socks.get_mut(&id) {
                if let Kind::Tcp(t) = &mut s.kind {
                    t.close(ifs, ports, orphans);
                }
            }
            socks.remove(&id);
        });
    }
}

impl TcpSocket {
    /// A new, unbound socket.
    pub fn new(net: &Arc<Network>) -> TcpSocket {
        let (id, shared) = net.peek(|inner| {
            let (id, shared) = inner.add(Kind::Tcp(TcpState::new(0)));
            inner.tcp(id).id = id;
            (id, shared)
        });
        TcpSocket {
            net: net.clone(),
            id,
            shared,
        }
    }

    /// The wait queue woken when the readiness changes.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn peek<R>(&self, f: impl FnOnce(&mut TcpState, &mut Ifaces) -> R) -> R {
        let id = self.id;
        self.net.peek(|inner| {
            let Inner { socks, ifs, .. } = inner;
            match socks.get_mut(&id).map(|s| &mut s.kind) {
                Some(Kind::Tcp(t)) => f(t, ifs),
                _ => unreachable!("a TcpSocket's state lives as long as it does"),
            }
        })
    }

    fn with<R>(&self, now: u64, f: impl FnOnce(&mut TcpState, &mut Inner) -> R) -> R {
        self.with_needs(now, |t, inner| (f(t, inner), Needs::All))
    }

    /// `f` on the socket's state, then the part of the stack that it [`Needs`].
    fn with_needs<R>(
        &self,
        now: u64,
        f: impl FnOnce(&mut TcpState, &mut Inner) -> (R, Needs),
    ) -> R {
        let id = self.id;
        self.net.with_needs(now, Some(id), |inner| {
            let mut t = match inner.socks.get_mut(&id).map(|s| &mut s.kind) {
                Some(Kind::Tcp(t)) => core::mem::replace(t, TcpState::new(id)),
                _ => unreachable!("a TcpSocket's state lives as long as it does"),
            };
            let r = f(&mut t, inner);
            *inner.tcp(id) = t;
            r
        })
    }

    /// The options.
    pub fn opts(&self) -> TcpOpts {
        self.peek(|t, _| t.opts)
    }

    /// Changes the options; TCP_NODELAY reaches the connection at once, keepalive's timing
    /// when the stack next looks at it (this runs it, so that its deadline is known).
    pub fn set_opts(&self, f: impl FnOnce(&mut TcpOpts)) {
        self.with_needs(0, |t, inner| {
            let was = t.opts;
            f(&mut t.opts);
            if t.opts.keepalive && !was.keepalive {
                t.ka.enabled(inner.ifs.now);
            }
            let nodelay = t.opts.nodelay;
            Self::conn_mut(t, inner, |s| s.set_nagle_enabled(!nodelay));
            // Only a new keepalive deadline needs the whole stack's (it is computed then).
            let timing = |o: &TcpOpts| (o.keepalive, o.keepidle);
            let needs = if t.opts.keepalive && timing(&t.opts) != timing(&was) {
                Needs::All
            } else {
                Needs::Nothing
            };
            ((), needs)
        })
    }

    /// `bind`: `addr` must be unspecified or one of the host's; port 0 picks one.
    pub fn bind(&self, addr: SocketAddr) -> Result<(), Errno> {
        let id = self.id;
        self.net.peek(|inner| {
            check_local(&inner.ifs, addr.ip())?;
            let Inner { socks, ports, .. } = inner;
            let Some(Kind::Tcp(t)) = socks.get_mut(&id).map(|s| &mut s.kind) else {
                unreachable!("a TcpSocket's state lives as long as it does")
            };
            t.bind(ports, addr.ip(), addr.port()).map(|_| ())
        })
    }

    /// `listen`: binds an ephemeral port if unbound; a second call changes the backlog.
    pub fn listen(&self, backlog: usize, unspecified: IpAddr, now: u64) -> Result<(), Errno> {
        self.with(now, |t, inner| {
            // inet_listen caps it at net.core.somaxconn.
            let backlog = backlog.min(SOMAXCONN);
            match &mut t.phase {
                Phase::Conn { .. } => return Err(Errno::EINVAL),
                Phase::Listen { backlog: b, .. } => {
                    *b = backlog;
                    return Ok(());
                }
                Phase::Idle => {}
            }
            if t.local.is_none() {
                t.bind(&mut inner.ports, unspecified, 0)?;
                t.auto_bound = true;
            }
            let (addr, port) = t.local.unwrap_or((unspecified, 0));
            inner.ports.listen(Proto::Tcp, port, t.id)?;
            let mut pool = Vec::new();
            for w in TcpState::listen_ifaces(&inner.ifs, addr) {
                for _ in 0..SPARE {
                    if let Some(h) = t.add_listener(&mut inner.ifs, w) {
                        pool.push(Slot::spare(w, h));
                    }
                }
            }
            t.phase = Phase::Listen { backlog, pool };
            inner.listeners.push(t.id);
            Ok(())
        })
    }

    /// `accept`: a finished connection and its peer, or EAGAIN.
    pub fn accept(&self, now: u64) -> Result<(TcpSocket, SocketAddr), Errno> {
        let net = self.net.clone();
        // Taking a connection sends nothing (refilling the pool adds listeners only).
        let taken = self.with_needs(now, |t, inner| (Self::take(t, inner), Needs::Nothing))?;
        let (id, shared, peer) = taken;
        let sock = TcpSocket { net, id, shared };
        let peer = peer.ok_or(Errno::ECONNABORTED)?;
        Ok((sock, peer))
    }

    /// The first finished connection of listener `t`, as a new socket: its id, wait queue and
    /// peer.
    fn take(
        t: &mut TcpState,
        inner: &mut Inner,
    ) -> Result<(u64, Arc<Shared>, Option<SocketAddr>), Errno> {
        let Phase::Listen { pool, .. } = &mut t.phase else {
            return Err(Errno::EINVAL);
        };
        let at = pool
            .iter()
            .position(|s| {
                !s.spare
                    && connected(
                        inner
                            .ifs
                            .set_ref(s.which)
                            .get::<tcp::Socket<'_>>(s.handle)
                            .state(),
                    )
            })
            .ok_or(Errno::EAGAIN)?;
        let Slot {
            which: w,
            handle: h,
            ..
        } = pool.remove(at);
        let s = inner.ifs.set(w).get_mut::<tcp::Socket<'_>>(h);
        let peer = s.remote_endpoint().map(SocketAddr::from);
        let local = s.local_endpoint().map(|e| (IpAddr::from(e.addr), e.port));
        let mut child = TcpState::new(0);
        child.opts = t.opts;
        child.ka = KeepAlive::new(inner.ifs.now);
        child.local = local;
        child.phase = Phase::Conn {
            which: w,
            handle: h,
            reported: true,
            established: true,
            started: inner.ifs.now,
            rtt: None,
        };
        let (id, shared) = inner.add(Kind::Tcp(child));
        inner.tcp(id).id = id;
        Ok((id, shared, peer))
    }

    /// `connect`: Ok once connected (the first call after the handshake), EINPROGRESS when it
    /// starts one, EALREADY while it runs, EISCONN after, the handshake's error if it failed.
    pub fn connect(&self, remote: SocketAddr, unspecified: IpAddr, now: u64) -> Result<(), Errno> {
        self.with(now, |t, inner| {
            match &mut t.phase {
                Phase::Listen { .. } => return Err(Errno::EISCONN),
                Phase::Conn {
                    reported,
                    established,
                    ..
                } => {
                    if *reported {
                        return Err(Errno::EISCONN);
                    }
                    if *established {
                        *reported = true;
                        return Ok(());
                    }
                    return Err(Errno::EALREADY);
                }
                Phase::Idle => {}
            }
            if let Some(e) = t.err.take() {
                return Err(e);
            }
            let which = inner.ifs.route(remote.ip())?;
            if t.local.is_none() {
                t.bind(&mut inner.ports, unspecified, 0)?;
                t.auto_bound = true;
            }
            let (addr, port) = t.local.unwrap_or((unspecified, 0));
            // Linux connects to the unspecified address as to the host itself.
            let mut dst = remote;
            if dst.ip().is_unspecified() {
                dst.set_ip(match dst.ip() {
                    IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::LOCALHOST),
                });
            }
            let mut s = new_socket(&t.opts, which);
            s.set_nagle_enabled(!t.opts.nodelay);
            s.set_timeout(Some(CONNECT_TIMEOUT));
            let (iface, set) = inner.ifs.both(which);
            let local = listen_endpoint((addr, port));
            s.connect(iface.context(), IpEndpoint::from(dst), local)
                .map_err(|_| Errno::EADDRNOTAVAIL)?;
            let h = set.add(s);
            t.phase = Phase::Conn {
                which,
                handle: h,
                reported: false,
                established: false,
                started: inner.ifs.now,
                rtt: None,
            };
            Err(Errno::EINPROGRESS)
        })
    }

    /// `f` on the connection, if connected or connecting.
    fn conn_mut<R>(
        t: &mut TcpState,
        inner: &mut Inner,
        f: impl FnOnce(&mut tcp::Socket<'static>) -> R,
    ) -> Option<R> {
        match t.phase {
            Phase::Conn { which, handle, .. } => Some(f(inner
                .ifs
                .set(which)
                .get_mut::<tcp::Socket<'static>>(handle))),
            _ => None,
        }
    }

    /// `send`: how much was queued, EAGAIN when the buffer is full, EPIPE once the sending
    /// side is shut or the connection is gone.
    pub fn send(&self, data: &[u8], now: u64) -> Result<usize, Errno> {
        self.with_needs(now, |t, inner| {
            let r = Self::send_on(t, inner, data);
            // Only queued bytes give the wire something to carry.
            let needs = match (&r, t.which()) {
                (Ok(n), Some(w)) if *n > 0 => Needs::Egress(w),
                _ => Needs::Nothing,
            };
            (r, needs)
        })
    }

    fn send_on(t: &mut TcpState, inner: &mut Inner, data: &[u8]) -> Result<usize, Errno> {
        if let Some(e) = t.err.take() {
            return Err(e);
        }
        if t.shut_wr {
            return Err(Errno::EPIPE);
        }
        match t.phase.established() {
            Some(true) => {}
            Some(false) => return Err(Errno::EAGAIN),
            None => return Err(Errno::EPIPE),
        }
        Self::conn_mut(t, inner, |s| {
            if !s.may_send() {
                return Err(Errno::EPIPE);
            }
            match s.send_slice(data) {
                Ok(0) if !data.is_empty() => Err(Errno::EAGAIN),
                Ok(n) => Ok(n),
                Err(_) => Err(Errno::EPIPE),
            }
        })
        .unwrap_or(Err(Errno::EPIPE))
    }

    /// `recv` (`peek`: MSG_PEEK): the bytes read, 0 at the end of the stream, EAGAIN when
    /// none wait, ENOTCONN when not connected.
    pub fn recv(&self, buf: &mut [u8], peek: bool, now: u64) -> Result<usize, Errno> {
        self.with_needs(now, |t, inner| {
            let queued = t.conn(&inner.ifs).map_or(0, |s| s.recv_queue());
            let r = Self::recv_on(t, inner, buf, peek);
            // smoltcp announces a window once it doubles (Linux's rule): only a read from a
            // buffer at least half full can do that. A quarter leaves a margin.
            let needs = match (&r, t.which()) {
                (Ok(n), Some(w)) if *n > 0 && !peek && queued >= BUF / 4 => Needs::Egress(w),
                _ => Needs::Nothing,
            };
            (r, needs)
        })
    }

    fn recv_on(
        t: &mut TcpState,
        inner: &mut Inner,
        buf: &mut [u8],
        peek: bool,
    ) -> Result<usize, Errno> {
        let (established, connecting) = match t.phase {
            Phase::Conn { established, .. } => (established, !established),
            _ => (false, false),
        };
        if connecting {
            return Err(Errno::EAGAIN);
        }
        if !established {
            return match t.err.take() {
                Some(e) => Err(e),
                None => Err(Errno::ENOTCONN),
            };
        }
        if t.shut_rd {
            return Ok(0);
        }
        let shut_rd = t.shut_rd;
        let got = Self::conn_mut(t, inner, |s| {
            if s.can_recv() {
                let r = if peek {
                    s.peek_slice(buf)
                } else {
                    s.recv_slice(buf)
                };
                return Some(r.unwrap_or(0));
            }
            if peer_closed(s.state()) || shut_rd {
                return Some(0);
            }
            None
        })
        .flatten();
        match got {
            Some(0) if !buf.is_empty() => match t.err.take() {
                Some(e) => Err(e),
                None => Ok(0),
            },
            Some(n) => Ok(n),
            None => Err(Errno::EAGAIN),
        }
    }

    /// `shutdown`: `rd` stops reading (reads give 0), `wr` sends FIN.
    pub fn shutdown(&self, rd: bool, wr: bool, now: u64) -> Result<(), Errno> {
        self.with(now, |t, inner| {
            if t.phase.established().is_none() {
                // Linux shuts a listener down (it stops listening) but any other unconnected
                // socket is ENOTCONN.
                if matches!(t.phase, Phase::Listen { .. }) {
                    return Ok(());
                }
                return Err(Errno::ENOTCONN);
            }
            t.shut_rd |= rd;
            if wr && !t.shut_wr {
                t.shut_wr = true;
                Self::conn_mut(t, inner, |s| s.close());
            }
            Ok(())
        })
    }

    /// The local address (unspecified with port 0 when unbound).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.peek(|t, ifs| {
            if let Some(s) = t.conn(ifs) {
                if let Some(e) = s.local_endpoint() {
                    return Some(SocketAddr::from(e));
                }
            }
            t.local.map(|(a, p)| SocketAddr::new(a, p))
        })
    }

    /// The peer, when connected (ENOTCONN otherwise).
    pub fn peer_addr(&self) -> Result<SocketAddr, Errno> {
        self.peek(|t, ifs| match t.phase {
            Phase::Conn {
                established: true, ..
            } => t
                .conn(ifs)
                .and_then(|s| s.remote_endpoint())
                .map(SocketAddr::from)
                .ok_or(Errno::ENOTCONN),
            _ => Err(Errno::ENOTCONN),
        })
    }

    /// The last close of a socket with SO_LINGER and a time: sends the FIN now (once) and
    /// says whether the close is done waiting (tcp_close's sk_stream_wait_close: until the
    /// FIN is acknowledged). Nothing to wait for when close resets the connection or sends
    /// nothing (unread data, a zero linger time, a connect in progress, not connected).
    /// The socket is then dropped as usual; a close that gave up waiting leaves the
    /// connection to finish on its own, as Linux's orphans do.
    pub fn close_lingering(&self, now: u64) -> bool {
        self.with(now, |t, inner| {
            let abort = t.opts.linger_abort;
            let lingering = t.lingering;
            let done = Self::conn_mut(t, inner, |s| {
                let state = s.state();
                if state == State::SynSent || s.can_recv() || abort {
                    return true;
                }
                if !lingering {
                    s.close();
                }
                !closing(s.state())
            });
            match done {
                Some(false) => {
                    t.lingering = true;
                    t.shut_wr = true;
                    false
                }
                _ => true,
            }
        })
    }

    /// Whether it listens.
    pub fn is_listening(&self) -> bool {
        self.peek(|t, _| matches!(t.phase, Phase::Listen { .. }))
    }

    /// Takes the pending error (SO_ERROR).
    pub fn take_error(&self) -> Option<Errno> {
        let id = self.id;
        let now = self
            .net
            .peek(|inner| inner.ifs.now.total_micros() as u64 * 1000);
        // Through `with` so that readiness (POLLERR) is announced again without it.
        self.net.with(now, |inner| inner.tcp(id).err.take())
    }

    /// Current readiness.
    pub fn events(&self) -> u32 {
        self.peek(|t, ifs| t.events(ifs))
    }

    /// Bytes waiting to be read (FIONREAD).
    pub fn readable_bytes(&self) -> usize {
        self.peek(|t, ifs| match t.phase {
            Phase::Listen { .. } => 0,
            _ => t.conn(ifs).map_or(0, |s| s.recv_queue()),
        })
    }

    /// Bytes queued but not yet acknowledged (TIOCOUTQ).
    pub fn unsent_bytes(&self) -> usize {
        self.peek(|t, ifs| t.conn(ifs).map_or(0, |s| s.send_queue()))
    }
}

/// EADDRNOTAVAIL unless `addr` is unspecified or one of the host's addresses.
pub(crate) fn check_local(ifs: &Ifaces, addr: IpAddr) -> Result<(), Errno> {
    if addr.is_unspecified() || addr.is_loopback() || ifs.is_own(addr) {
        Ok(())
    } else {
        Err(Errno::EADDRNOTAVAIL)
    }
}
