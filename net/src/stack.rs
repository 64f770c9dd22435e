//! The stack: lo and the NICs' interfaces, their smoltcp socket sets, the port table, and the
//! poll that moves packets and turns socket changes into wakeups.
//!
//! Everything sits behind one lock ([`Network`]). Every socket operation takes it, does its
//! work, then runs what the operation [`Needs`]: nothing for a read that leaves the window
//! open, the NIC's interface for data queued there, or the whole stack (every interface until
//! nothing moves, so loopback traffic completes within the call) for anything else and
//! whenever packets came in meanwhile or a timer is due. A whole run compares every socket's
//! readiness with what it was, a partial one only the caller's; after dropping the lock it
//! wakes the queues of the sockets whose readiness changed. The kernel calls
//! [`Network::poll`] on device interrupts and at the deadline it returned.
//!
//! A socket lives in the socket set of the interface its traffic uses (`route.rs`): lo for
//! loopback destinations and the host's own addresses (Linux routes those through lo too), a
//! NIC for the rest. A listening socket has a pool of smoltcp sockets in every interface's set.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_abi::poll::POLLIN;
use coracle_abi::wait::WaitQueue;
use smoltcp::iface::{
    Config, Interface, PollIngressSingleResult, PollResult, SocketHandle, SocketSet,
};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Cidr};
use spin::{Mutex, Once};

use crate::config::IfConfig;
use crate::device::NetDevice;
use crate::lo::{Faults, LoopDevice};
use crate::nic::Nic;
use crate::ports::Ports;
use crate::tcp::TcpState;
use crate::udp::UdpState;

/// Which interface a smoltcp socket lives on: lo or the NIC of that index (eth0, eth1...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Lo,
    Eth(u8),
}

/// The most NICs the stack drives (smoltcp's lo keeps their addresses, two each with IPv6:
/// see the `iface-max-addr-count` feature).
pub const MAX_NICS: usize = 4;

/// Every interface there can be, in order; [`Ifaces::all`] is a prefix.
const ALL: [Which; 1 + MAX_NICS] = [
    Which::Lo,
    Which::Eth(0),
    Which::Eth(1),
    Which::Eth(2),
    Which::Eth(3),
];

/// The NICs' names, as Linux names virtio-net cards without udev's renaming.
const NIC_NAMES: [&str; MAX_NICS] = ["eth0", "eth1", "eth2", "eth3"];

impl Which {
    /// The interface's place in [`ALL`] (for per-interface counts).
    pub(crate) fn slot(self) -> usize {
        match self {
            Which::Lo => 0,
            Which::Eth(i) => 1 + usize::from(i),
        }
    }
}

/// One interface: smoltcp's interface, its device and its sockets.
pub(crate) struct Iface<D> {
    pub(crate) iface: Interface,
    pub(crate) dev: D,
    pub(crate) set: SocketSet<'static>,
}

impl<D: smoltcp::phy::Device> Iface<D> {
    fn ingress(&mut self, now: Instant) -> PollIngressSingleResult {
        self.iface
            .poll_ingress_single(now, &mut self.dev, &mut self.set)
    }

    fn egress(&mut self, now: Instant) -> PollResult {
        self.iface.poll_egress(now, &mut self.dev, &mut self.set)
    }
}

/// The interfaces: lo, then the NICs in the order they were attached, each with its
/// configuration (`eth[i]` and `configs[i]` are `Which::Eth(i)`). Routing: `route.rs`.
pub(crate) struct Ifaces {
    pub(crate) lo: Iface<LoopDevice>,
    pub(crate) eth: Vec<Iface<Nic>>,
    pub(crate) configs: Vec<IfConfig>,
    pub(crate) now: Instant,
}

impl Ifaces {
    /// The socket set of `w`.
    pub(crate) fn set(&mut self, w: Which) -> &mut SocketSet<'static> {
        match w {
            Which::Eth(i) => match self.eth.get_mut(usize::from(i)) {
                Some(eth) => &mut eth.set,
                None => &mut self.lo.set,
            },
            Which::Lo => &mut self.lo.set,
        }
    }

    pub(crate) fn set_ref(&self, w: Which) -> &SocketSet<'static> {
        match w {
            Which::Eth(i) => self
                .eth
                .get(usize::from(i))
                .map_or(&self.lo.set, |e| &e.set),
            Which::Lo => &self.lo.set,
        }
    }

    /// The interface and the socket set of `w`, borrowed together (connect needs both).
    pub(crate) fn both(&mut self, w: Which) -> (&mut Interface, &mut SocketSet<'static>) {
        match w {
            Which::Eth(i) => match self.eth.get_mut(usize::from(i)) {
                Some(eth) => (&mut eth.iface, &mut eth.set),
                None => (&mut self.lo.iface, &mut self.lo.set),
            },
            Which::Lo => (&mut self.lo.iface, &mut self.lo.set),
        }
    }

    /// The interfaces that exist, lo first.
    pub(crate) fn all(&self) -> &'static [Which] {
        &ALL[..1 + self.eth.len()]
    }
}

/// What a socket call leaves for the stack to do after its operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Nothing for the wire (data read with the window still open, EAGAIN): only the
    /// socket's own readiness is read again.
    Nothing,
    /// Segments may be due from the socket on interface `w` (data queued, a window to
    /// announce).
    Egress(Which),
    /// Anything may have changed (connect, close, listen): the whole stack runs, as after a
    /// device interrupt.
    All,
}

/// Sockets whose readiness changed, with the events to wake their waiters for.
type Woken = Vec<(Arc<Shared>, u32)>;

/// What every socket shares with the file that holds it: its wait queue and the readiness
/// last announced.
#[derive(Debug, Default)]
pub struct Shared {
    pub queue: WaitQueue,
    /// The readiness last announced (low half) and the bytes or datagrams queued to read
    /// then (high half): more data arriving on a socket already readable wakes too, as
    /// edge-triggered epoll expects of Linux.
    last: AtomicU64,
}

/// The protocol state of one socket.
pub(crate) enum Kind {
    Tcp(TcpState),
    Udp(UdpState),
}

pub(crate) struct Sock {
    pub(crate) shared: Arc<Shared>,
    pub(crate) kind: Kind,
}

/// The state behind the lock.
pub(crate) struct Inner {
    pub(crate) ifs: Ifaces,
    pub(crate) ports: Ports,
    pub(crate) socks: BTreeMap<u64, Sock>,
    /// The listening sockets, refilled after every packet that changed a socket.
    pub(crate) listeners: Vec<u64>,
    next_id: u64,
    /// Connections whose socket was closed, finishing their FIN handshake (or sending their
    /// RST); removed once smoltcp reports them closed.
    pub(crate) orphans: Vec<(Which, SocketHandle)>,
    /// Seeds TCP's initial sequence numbers per socket.
    pub(crate) rng: u64,
}

impl Inner {
    pub(crate) fn add(&mut self, kind: Kind) -> (u64, Arc<Shared>) {
        let id = self.next_id;
        self.next_id += 1;
        let shared = Arc::new(Shared::default());
        self.socks.insert(
            id,
            Sock {
                shared: shared.clone(),
                kind,
            },
        );
        (id, shared)
    }

    pub(crate) fn tcp(&mut self, id: u64) -> &mut TcpState {
        match self.socks.get_mut(&id).map(|s| &mut s.kind) {
            Some(Kind::Tcp(t)) => t,
            _ => unreachable!("socket {id} is a live TCP socket while its handle exists"),
        }
    }

    pub(crate) fn udp(&mut self, id: u64) -> &mut UdpState {
        match self.socks.get_mut(&id).map(|s| &mut s.kind) {
            Some(Kind::Udp(u)) => u,
            _ => unreachable!("socket {id} is a live UDP socket while its handle exists"),
        }
    }

    /// Runs every interface until no packet moves (lo delivers within the same call); then
    /// lets the sockets see what changed and drops finished orphans.
    fn run(&mut self) {
        let now = self.ifs.now;
        for _ in 0..64 {
            let mut moved = false;
            for &w in self.ifs.all() {
                let (ingress, egress) = self.run_iface(w, now);
                moved |= ingress || egress;
            }
            if !moved && !self.ifs.lo.dev.pending() {
                break;
            }
        }
        self.settle();
    }

    /// Lets every socket see what the interfaces changed and drops finished orphans.
    fn settle(&mut self) {
        for sock in self.socks.values_mut() {
            if let Kind::Tcp(t) = &mut sock.kind {
                t.update(&mut self.ifs, &mut self.ports);
            }
        }
        let ifs = &mut self.ifs;
        self.orphans.retain(|&(w, h)| {
            let set = ifs.set(w);
            let s = set.get::<tcp::Socket<'_>>(h);
            // An aborted one keeps its peer's address until its RST has gone out.
            if s.state() == tcp::State::Closed && s.remote_endpoint().is_none() {
                set.remove(h);
                false
            } else {
                true
            }
        });
    }

    /// Calls `lo` or `eth` on interface `w`.
    fn iface<R>(
        &mut self,
        w: Which,
        lo: impl FnOnce(&mut Iface<LoopDevice>) -> R,
        eth: impl FnOnce(&mut Iface<Nic>) -> R,
    ) -> R {
        match w {
            Which::Eth(i) => match self.ifs.eth.get_mut(usize::from(i)) {
                Some(e) => eth(e),
                None => lo(&mut self.ifs.lo),
            },
            Which::Lo => lo(&mut self.ifs.lo),
        }
    }

    /// Runs one interface as smoltcp's `Interface::poll` does, but a packet at a time, with
    /// the listeners refilled after each one that changed a socket (a SYN takes a listening
    /// socket); whether packets came in, and whether any went out.
    pub(crate) fn run_iface(&mut self, w: Which, now: Instant) -> (bool, bool) {
        let ingress = self.run_ingress(w, now);
        let mut egress = false;
        while self.iface(w, |i| i.egress(now), |i| i.egress(now)) != PollResult::None {
            egress = true;
        }
        (ingress, egress)
    }

    /// The maintenance and ingress half of [`Inner::run_iface`]: whether packets came in.
    pub(crate) fn run_ingress(&mut self, w: Which, now: Instant) -> bool {
        let mut ingress = false;
        self.iface(
            w,
            |i| i.iface.poll_maintenance(now),
            |i| i.iface.poll_maintenance(now),
        );
        loop {
            let r = self.iface(w, |i| i.ingress(now), |i| i.ingress(now));
            match r {
                PollIngressSingleResult::None => break,
                PollIngressSingleResult::PacketProcessed => ingress = true,
                PollIngressSingleResult::SocketStateChanged => {
                    ingress = true;
                    crate::tcp::refill_listeners(self);
                }
            }
        }
        ingress
    }

    /// The readiness of socket `id` and the bytes queued to read, as [`Shared::last`] keeps them.
    fn state_of(&self, sock: &Sock) -> u64 {
        let (events, queued) = match &sock.kind {
            Kind::Tcp(t) => (t.events(&self.ifs), t.queued(&self.ifs)),
            Kind::Udp(u) => (u.events(&self.ifs), u.queued(&self.ifs)),
        };
        u64::from(events) | (u64::from(queued) << 32)
    }

    /// Records `sock`'s readiness; the events to wake its waiters for if it changed.
    fn change(&self, sock: &Sock, out: &mut Woken) {
        let now = self.state_of(sock);
        let was = sock.shared.last.swap(now, Ordering::Relaxed);
        if was != now {
            let mut mask = (now | was) as u32;
            if now >> 32 > was >> 32 {
                mask |= POLLIN;
            }
            out.push((sock.shared.clone(), mask));
        }
    }

    /// The sockets whose readiness changed since last announced, with their new readiness.
    fn changes(&self) -> Woken {
        let mut out = Vec::new();
        for sock in self.socks.values() {
            self.change(sock, &mut out);
        }
        out
    }

    /// [`Inner::changes`] of the sockets `ids` only.
    fn changes_of(&mut self, ids: &[u64]) -> Woken {
        let mut out = Vec::new();
        for id in ids {
            if let Some(sock) = self.socks.get_mut(id) {
                if let Kind::Tcp(t) = &mut sock.kind {
                    t.update(&mut self.ifs, &mut self.ports);
                }
            }
            if let Some(sock) = self.socks.get(id) {
                self.change(sock, &mut out);
            }
        }
        out
    }

    /// The next time the stack must run, in ns.
    fn deadline(&mut self) -> Option<u64> {
        let now = self.ifs.now;
        if self.ifs.lo.dev.pending() {
            return Some(now.total_micros() as u64 * 1000);
        }
        let lo = &mut self.ifs.lo;
        let mut at = lo.iface.poll_at(now, &lo.set);
        for eth in &mut self.ifs.eth {
            let mut eth_at = eth.iface.poll_at(now, &eth.set);
            // Segments held back by a full transmit queue wait for the device's completion
            // interrupt, not for a poll that would find the queue still full.
            if eth_at.is_some_and(|t| t <= now) && !eth.dev.can_transmit() {
                eth_at = None;
            }
            at = match (at, eth_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let keepalive = self.socks.values().filter_map(|s| match &s.kind {
            Kind::Tcp(t) => t.keepalive_deadline(),
            Kind::Udp(_) => None,
        });
        at = keepalive.chain(at).min();
        at.map(|t| t.total_micros().max(0) as u64 * 1000)
    }
}

/// An interface as `getifaddrs`, `SIOCGIFCONF` and netlink describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfInfo {
    pub index: u32,
    pub name: &'static str,
    pub mac: Option<[u8; 6]>,
    pub mtu: usize,
    /// Addresses with their prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
    pub loopback: bool,
}

/// The network: interfaces, sockets, ports.
pub struct Network {
    pub(crate) inner: Mutex<Inner>,
    /// Told the stack's next deadline when a socket call moves it before the one the driver
    /// last learnt (a retransmission timer, data waiting for the window), so the driver's
    /// timer runs [`Network::poll`] in time.
    waker: Once<Box<dyn Fn(u64) + Send + Sync>>,
    /// The deadline the driver last learnt (ns; u64::MAX: none).
    announced: AtomicU64,
    /// Turns spent waiting for the lock by the runs of socket calls and polls.
    spins: AtomicU64,
}

impl core::fmt::Debug for Network {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Network").finish_non_exhaustive()
    }
}

fn instant(now_ns: u64) -> Instant {
    Instant::from_micros((now_ns / 1000) as i64)
}

impl Network {
    /// A network with `lo` only; `seed` randomises TCP's initial sequence numbers.
    pub fn new(seed: u64) -> Arc<Network> {
        Self::with_lo_faults(seed, Faults::default())
    }

    /// A network whose lo loses, corrupts and reorders packets (tests). smoltcp reads the
    /// device's checksum capabilities once, so the faults are fixed from the start.
    pub fn with_lo_faults(seed: u64, faults: Faults) -> Arc<Network> {
        let mut dev = LoopDevice::new();
        dev.set_faults(faults);
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(Ipv4Addr::LOCALHOST.into(), 8));
            let _ = a.push(IpCidr::new(Ipv6Addr::LOCALHOST.into(), 128));
        });
        Arc::new(Network {
            waker: Once::new(),
            announced: AtomicU64::new(u64::MAX),
            spins: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                ifs: Ifaces {
                    lo: Iface {
                        iface,
                        dev,
                        set: SocketSet::new(Vec::new()),
                    },
                    eth: Vec::new(),
                    configs: Vec::new(),
                    now: Instant::ZERO,
                },
                ports: Ports::default(),
                socks: BTreeMap::new(),
                listeners: Vec::new(),
                next_id: 1,
                orphans: Vec::new(),
                rng: seed | 1,
            }),
        })
    }

    /// Brings up the next NIC's interface (`eth0`, then `eth1`...) with `config`; false
    /// (the device left alone) when [`MAX_NICS`] are up.
    pub fn attach(&self, dev: Box<dyn NetDevice>, config: IfConfig, now_ns: u64) -> bool {
        let mut nic = Nic::new(dev);
        let now = instant(now_ns);
        let mut inner = self.inner.lock();
        let index = inner.ifs.eth.len();
        let Ok(which) = u8::try_from(index).map(Which::Eth) else {
            return false;
        };
        if index >= MAX_NICS {
            return false;
        }
        let mut cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(nic.mac())));
        cfg.random_seed = inner.rng.rotate_left(17 + which.slot() as u32) ^ 0x9e37_79b9_7f4a_7c15;
        let mut iface = Interface::new(cfg, &mut nic, now);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(config.ipv4, config.prefix)));
            if let Some((v6, prefix)) = config.ipv6 {
                let _ = a.push(IpCidr::new(v6.into(), prefix));
            }
        });
        if let Some(gw) = config.gateway {
            let _ = iface.routes_mut().add_default_ipv4_route(gw);
        }
        // The host's own addresses are also reached through lo.
        inner.ifs.lo.iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(config.ipv4.into(), 32));
            if let Some((v6, _)) = config.ipv6 {
                let _ = a.push(IpCidr::new(v6.into(), 128));
            }
        });
        inner.ifs.eth.push(Iface {
            iface,
            dev: nic,
            set: SocketSet::new(Vec::new()),
        });
        inner.ifs.configs.push(config);
        // Listening sockets bound to every address now listen on the NIC too.
        let ids: Vec<u64> = inner.socks.keys().copied().collect();
        for id in ids {
            let Inner { socks, ifs, .. } = &mut *inner;
            if let Some(Sock {
                kind: Kind::Tcp(t), ..
            }) = socks.get_mut(&id)
            {
                t.interface_added(ifs, which);
            }
        }
        true
    }

    /// The time the stack last ran at (ns, CLOCK_MONOTONIC).
    pub fn now_ns(&self) -> u64 {
        self.inner.lock().ifs.now.total_micros().max(0) as u64 * 1000
    }

    /// The first NIC's configuration, if it is up.
    pub fn config(&self) -> Option<IfConfig> {
        self.inner.lock().ifs.configs.first().cloned()
    }

    /// The interfaces, lo first.
    pub fn interfaces(&self) -> Vec<IfInfo> {
        let inner = self.inner.lock();
        let mut out = alloc::vec![IfInfo {
            index: 1,
            name: "lo",
            mac: None,
            mtu: 65536,
            addrs: alloc::vec![
                (IpAddr::V4(Ipv4Addr::LOCALHOST), 8),
                (IpAddr::V6(Ipv6Addr::LOCALHOST), 128)
            ],
            loopback: true,
        }];
        for ((eth, c), (index, name)) in inner
            .ifs
            .eth
            .iter()
            .zip(&inner.ifs.configs)
            .zip((2..).zip(NIC_NAMES))
        {
            out.push(IfInfo {
                index,
                name,
                mac: Some(eth.dev.mac()),
                mtu: 1500,
                addrs: core::iter::once((IpAddr::V4(c.ipv4), c.prefix))
                    .chain(c.ipv6.map(|(a, p)| (IpAddr::V6(a), p)))
                    .collect(),
                loopback: false,
            });
        }
        out
    }

    /// Runs the stack at `now_ns` (CLOCK_MONOTONIC): takes received frames, sends what is
    /// due, fires timers, wakes the sockets whose readiness changed. Returns the absolute
    /// time at which it must run again, if any.
    pub fn poll(&self, now_ns: u64) -> Option<u64> {
        let (next, ((), woken)) = self.run_locked(now_ns, None, |_| ((), Needs::All));
        self.announced
            .store(next.unwrap_or(u64::MAX), Ordering::Relaxed);
        Self::wake(woken);
        next
    }

    /// Sets the function told the stack's deadline when a socket call moves it earlier
    /// (the kernel's: schedule the driver's poll then).
    pub fn set_waker(&self, waker: Box<dyn Fn(u64) + Send + Sync>) {
        self.waker.call_once(|| waker);
    }

    /// The lock, with the turns spent waiting for it counted (for `lock_spins`).
    fn lock_counted(&self) -> spin::MutexGuard<'_, Inner> {
        let mut turns = 0;
        loop {
            if let Some(guard) = self.inner.try_lock() {
                if turns > 0 {
                    self.spins.fetch_add(turns, Ordering::Relaxed);
                }
                return guard;
            }
            turns += 1;
            core::hint::spin_loop();
        }
    }

    /// Turns spent waiting for the stack's lock by socket calls and polls so far: how much
    /// the CPUs contend for it.
    pub fn lock_spins(&self) -> u64 {
        self.spins.load(Ordering::Relaxed)
    }

    /// Runs `f` on the state at `now_ns`, then the stack, then wakes whom it concerns and
    /// tells the waker about an earlier deadline.
    pub(crate) fn with<R>(&self, now_ns: u64, f: impl FnOnce(&mut Inner) -> R) -> R {
        self.with_needs(now_ns, None, |inner| (f(inner), Needs::All))
    }

    /// Runs `f`, an operation on socket `id` (`None`: on the stack as a whole), then as much
    /// of the stack as it [`Needs`]: the rest of the stack runs too when packets came in
    /// meanwhile or a timer is due. Wakes whom it concerns and tells the waker about an
    /// earlier deadline.
    pub(crate) fn with_needs<R>(
        &self,
        now_ns: u64,
        id: Option<u64>,
        f: impl FnOnce(&mut Inner) -> (R, Needs),
    ) -> R {
        let (next, (r, woken)) = self.run_locked(now_ns, id, f);
        if let (Some(waker), Some(at)) = (self.waker.get(), next) {
            let was = self.announced.load(Ordering::Relaxed);
            if at < was {
                self.announced.store(at, Ordering::Relaxed);
                waker(at);
            } else if was <= now_ns {
                // The driver's poll for the deadline that passed is on its way; until it
                // runs, later calls need not run the whole stack for it again.
                self.announced.store(at, Ordering::Relaxed);
            }
        }
        Self::wake(woken);
        r
    }

    /// Under the lock: `f`, the stack's run, the readiness changes and the next deadline
    /// (computed after a whole run, so it covers what the run started). A call that needs
    /// less leaves the deadline alone: what it queues is sent at once, and the timers it
    /// starts (a retransmission, at least smoltcp's minimum RTO of one second away) fall no
    /// earlier than the driver's backstop poll.
    fn run_locked<R>(
        &self,
        now_ns: u64,
        id: Option<u64>,
        f: impl FnOnce(&mut Inner) -> (R, Needs),
    ) -> (Option<u64>, (R, Woken)) {
        let mut inner = self.lock_counted();
        let now = instant(now_ns);
        if now > inner.ifs.now {
            inner.ifs.now = now;
        }
        let (r, needs) = f(&mut inner);
        let stack_now = inner.ifs.now.total_micros().max(0) as u64 * 1000;
        let due = self.announced.load(Ordering::Relaxed) <= stack_now;
        let whole = match (needs, id) {
            (Needs::All, _) | (_, None) => true,
            _ if due || inner.ifs.lo.dev.pending() => true,
            (Needs::Nothing, _) => false,
            (Needs::Egress(Which::Lo), _) => true,
            (Needs::Egress(w @ Which::Eth(i)), Some(id)) => {
                inner.ifs.eth.len() <= usize::from(i) || inner.run_for(w, id)
            }
        };
        match id {
            Some(id) if !whole => {
                let woken = inner.changes_of(&[id]);
                (None, (r, woken))
            }
            _ => {
                inner.run();
                let woken = inner.changes();
                (inner.deadline(), (r, woken))
            }
        }
    }

    fn wake(woken: Vec<(Arc<Shared>, u32)>) {
        for (shared, mask) in woken {
            shared.queue.wake_all(u64::from(mask));
        }
    }

    /// Reads the state without running the stack.
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock())
    }
}
