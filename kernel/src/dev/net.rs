//! virtio-net: the network cards, each as a `coracle_net::NetDevice` attached to the stack
//! (`coracle_syscalls::net`) at boot with the command line's addresses for it (matched by
//! MAC: `coracle.mac`, `coracle.mac1`...; see `coracle_devices::netconfig`). One work item
//! serves every card: the stack's poll runs all the interfaces.
//!
//! Built on virtio-drivers' `VirtIONetRaw`, whose non-blocking calls fit an interrupt-driven
//! stack (its `VirtIONet::send` waits for the device by spinning): receive buffers stay posted
//! and are re-posted as frames are copied out; a transmitted frame's buffer is reclaimed when
//! the device reports it used. The interrupt handler acknowledges the device and raises the
//! `net` work item, which runs the stack's poll when frames came in or a deadline is due (or,
//! with `coracle.selftest=net`, the ARP self test of `net_selftest`) from the CPU loop, and
//! arms the boot CPU's timer for the deadline the poll returns. Transmitted frames share
//! doorbells (`net_notify`): the device is told when a CPU goes idle, after the work, or
//! shortly after at the latest.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use coracle_devices::netconfig::NetConfig;
use coracle_net::{NetDevice, TxError};
use coracle_syscalls::net::IfConfig;
use core::net::{Ipv4Addr, Ipv6Addr};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::{Mutex, Once};
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::{DeviceType, SomeTransport};

use super::hal::KernelHal;
use super::irq::Vector;
use super::net_notify::{EventIdx, Kicker};
use super::net_selftest;
use super::work::Work;
use super::{Found, IrqLine};
use crate::log;

/// Descriptors per queue (QEMU offers 256; 64 frames in flight each way is plenty here).
const QUEUE: usize = 64;
/// One buffer: the virtio-net header (10 or 12 bytes) and a 1514-byte Ethernet frame.
const BUF: usize = 2048;
/// The Ethernet payload size without VIRTIO_NET_F_MTU.
const MTU: usize = 1500;
/// Ethernet header length (no VLAN tag).
const ETH_HEADER: usize = 14;
/// virtio-net's transmit queue.
const QUEUE_TRANSMIT: u16 = 1;
/// Frames queued without a doorbell before the device is told at once.
const KICK_BATCH: usize = 16;
/// The least a queued frame waits for its doorbell when no CPU goes idle and no interrupt
/// comes first (then up to [`SLACK_NS`] more).
const KICK_DELAY_NS: u64 = 1_000_000;
/// The grid the card's work deadlines are rounded up to (Linux's TCP timers tick in jiffies,
/// 4 ms at HZ=250): deadlines that move a little at every poll fall on the same point, and
/// the boot CPU's timer is not written again for each (a timer write stalls the CPU under TCG
/// as an MMIO exit does).
const SLACK_NS: u64 = 4_000_000;

/// `t` rounded up to the [`SLACK_NS`] grid.
fn coarse(t: u64) -> u64 {
    t.div_ceil(SLACK_NS).checked_mul(SLACK_NS).unwrap_or(t)
}

type Raw = VirtIONetRaw<KernelHal, EventIdx<SomeTransport<'static>>, QUEUE>;

struct Inner {
    raw: Raw,
    /// Receive buffers posted to the device, by descriptor token.
    rx: Vec<Option<Box<[u8]>>>,
    /// Frames handed to the device, by descriptor token.
    tx: Vec<Option<Box<[u8]>>>,
    /// Transmit buffers ready for reuse.
    spare: Vec<Box<[u8]>>,
    /// Frames queued since the device was last told.
    unkicked: usize,
    mac: [u8; 6],
    /// The card's held transmit doorbell.
    kicker: Kicker<SomeTransport<'static>>,
}

impl Inner {
    /// Takes back the buffers of frames the device has sent.
    fn reclaim_tx(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(buf) = self.tx.get_mut(usize::from(token)).and_then(Option::take) else {
                log!("net: the device completed an unknown transmit token {token}");
                return;
            };
            // SAFETY: `buf` is the buffer given to `transmit_begin` for this token, unchanged
            // and alive since.
            if let Err(e) = unsafe { self.raw.transmit_complete(token, &buf) } {
                log!("net: transmit completion: {e}");
            }
            self.spare.push(buf);
        }
    }

    /// Tells the device about the frames queued since it was last told.
    fn kick(&mut self) {
        self.unkicked = 0;
        self.kicker.flush();
    }

    /// Posts `buf` for receiving.
    fn post_rx(&mut self, mut buf: Box<[u8]>) {
        // SAFETY: the buffer is kept in `self.rx` under its token, untouched, until the device
        // returns it through `receive_complete`.
        match unsafe { self.raw.receive_begin(&mut buf) } {
            Ok(token) => {
                if let Some(slot) = self.rx.get_mut(usize::from(token)) {
                    *slot = Some(buf);
                }
            }
            Err(e) => log!("net: posting a receive buffer: {e}"),
        }
    }
}

/// The cards in use, shared by the stack (through [`Nic`]) and their interrupt handlers.
static CARDS: Once<Vec<Arc<Mutex<Inner>>>> = Once::new();
/// Their interrupt vectors.
static VECTORS: Mutex<Vec<Vector>> = Mutex::new(Vec::new());
/// With `coracle.selftest=net`, the work item runs the ARP self test instead of the stack.
static SELFTEST: Once<bool> = Once::new();
static WORK: Work = Work::new("net", run_work);
/// Set once the card is attached to the stack.
static ATTACHED: Once<()> = Once::new();

/// The stack's handle on the card.
#[derive(Debug)]
pub struct Nic(Arc<Mutex<Inner>>);

impl core::fmt::Debug for Inner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("virtio-net")
            .field("mac", &self.mac)
            .finish()
    }
}

impl NetDevice for Nic {
    fn mac(&self) -> [u8; 6] {
        self.0.lock().mac
    }

    fn mtu(&self) -> usize {
        MTU
    }

    fn receive(&mut self, out: &mut [u8]) -> Option<usize> {
        let mut nic = self.0.lock();
        loop {
            let token = nic.raw.poll_receive()?;
            let Some(mut buf) = nic.rx.get_mut(usize::from(token)).and_then(Option::take) else {
                log!("net: the device returned an unknown receive token {token}");
                return None;
            };
            // SAFETY: `buf` is the buffer posted with this token, untouched since.
            let got = unsafe { nic.raw.receive_complete(token, &mut buf) };
            let copied = got.ok().and_then(|(header, len)| {
                let frame = buf.get(header..header.checked_add(len)?)?;
                let dst = out.get_mut(..frame.len())?;
                dst.copy_from_slice(frame);
                Some(frame.len())
            });
            nic.post_rx(buf);
            if copied.is_some() {
                return copied;
            }
            // Too long for `out`, or malformed: dropped; try the next one.
        }
    }

    fn can_transmit(&mut self) -> bool {
        let mut nic = self.0.lock();
        nic.reclaim_tx();
        let can = nic.raw.can_send();
        if !can {
            TX_STALLED.store(true, Ordering::Relaxed);
        }
        can
    }

    fn transmit(&mut self, frame: &[u8]) -> Result<(), TxError> {
        let mut nic = self.0.lock();
        if frame.len() > MTU + ETH_HEADER {
            return Err(TxError::TooLong);
        }
        nic.reclaim_tx();
        if !nic.raw.can_send() {
            TX_STALLED.store(true, Ordering::Relaxed);
            return Err(TxError::Full);
        }
        let mut buf = nic
            .spare
            .pop()
            .unwrap_or_else(|| vec![0u8; BUF].into_boxed_slice());
        let header = nic
            .raw
            .fill_buffer_header(&mut buf)
            .map_err(|_| TxError::Failed)?;
        let end = header + frame.len();
        buf.get_mut(header..end)
            .ok_or(TxError::TooLong)?
            .copy_from_slice(frame);
        // SAFETY: the buffer is kept in `tx` under its token, untouched, until the device
        // reports it used (`reclaim_tx`). Only the header and frame are handed over.
        match unsafe { nic.raw.transmit_begin(&buf[..end]) } {
            Ok(token) => {
                if let Some(slot) = nic.tx.get_mut(usize::from(token)) {
                    *slot = Some(buf);
                }
                nic.unkicked += 1;
                if nic.unkicked >= KICK_BATCH {
                    nic.kick();
                } else if nic.unkicked == 1 {
                    let now = crate::time::monotonic_ns();
                    WORK.schedule_at(coarse(now.saturating_add(KICK_DELAY_NS)));
                }
                Ok(())
            }
            Err(_) => Err(TxError::Failed),
        }
    }
}

/// Initialises the virtio-net devices the command line configures (the first one found
/// without `coracle.mac`) and routes their interrupts. With `selftest`, the ARP self test
/// runs on the first.
pub fn init(selftest: bool, config: &NetConfig) {
    net_selftest::configure(config);
    let mut found: Vec<(Place, Inner)> = super::claim(DeviceType::Network)
        .into_iter()
        .filter_map(start)
        .collect();
    if found.is_empty() {
        if selftest {
            log!("selftest: net: no virtio-net device");
        }
        return;
    }
    let macs: Vec<[u8; 6]> = found.iter().map(|(_, inner)| inner.mac).collect();
    let pairs = if selftest {
        vec![(0, 0)]
    } else {
        config.assign(&macs)
    };
    let mut slots: Vec<Option<(Place, Inner)>> = found.drain(..).map(Some).collect();
    let mut cards = Vec::new();
    let mut configs = Vec::new();
    for (c, card) in pairs {
        let Some((f, inner)) = slots.get_mut(card).and_then(Option::take) else {
            continue;
        };
        if let Some(nic) = bind(f, inner) {
            cards.push(nic);
            configs.push(config.cards.get(c).cloned().unwrap_or_default());
        }
    }
    for (f, inner) in slots.into_iter().flatten() {
        log!(
            "net: virtio-net {} at {}: no coracle.ip for it; left alone",
            MacFmt(inner.mac),
            f.location
        );
    }
    if cards.is_empty() {
        return;
    }
    let cards = CARDS.call_once(|| cards);
    SELFTEST.call_once(|| selftest);
    super::work::register(&WORK);
    if selftest {
        WORK.raise();
        wait_for_selftest();
        return;
    }
    let ip = |a: [u8; 4]| Ipv4Addr::from(a);
    for (nic, card) in cards.iter().zip(configs) {
        let attached = coracle_syscalls::net::attach_device(
            Box::new(Nic(nic.clone())),
            IfConfig {
                ipv4: ip(card.address),
                prefix: card.prefix,
                gateway: card.gateway.map(ip),
                dns: config.dns.iter().copied().map(ip).collect(),
                ipv6: card.ipv6.map(|(a, p)| (Ipv6Addr::from(a), p)),
            },
        );
        if !attached {
            log!(
                "net: the stack takes no more cards; {} left alone",
                MacFmt(card.mac.unwrap_or_default())
            );
        }
    }
    // A socket call that starts a timer (a retransmission, data waiting for the window)
    // brings the poll forward rather than waiting for the next frame or the backstop.
    coracle_syscalls::net::set_waker(Box::new(|at| {
        NEW_DEADLINE.store(true, Ordering::Release);
        WORK.schedule_at(coarse(at))
    }));
    ATTACHED.call_once(|| ());
    // Frames may have arrived while the stack was attached.
    WORK.raise();
}

/// Where a card is: its interrupt line and its location for the log.
struct Place {
    irq: IrqLine,
    location: String,
}

/// Initialises a found card through virtio-drivers (its MAC is then known); its receive
/// buffers are posted and its interrupt bound only if it is used ([`bind`]).
fn start(found: Found) -> Option<(Place, Inner)> {
    let Found {
        transport,
        irq,
        location,
    } = found;
    let (transport, kicker) = EventIdx::new(transport, Some(QUEUE_TRANSMIT));
    let mut raw = match Raw::new(transport) {
        Ok(raw) => raw,
        Err(e) => {
            log!("net: virtio-net at {location}: {e}");
            return None;
        }
    };
    let mac = raw.mac_address();
    raw.enable_interrupts();
    let inner = Inner {
        raw,
        rx: (0..QUEUE).map(|_| None).collect(),
        tx: (0..QUEUE).map(|_| None).collect(),
        spare: Vec::new(),
        unkicked: 0,
        mac,
        kicker,
    };
    Some((Place { irq, location }, inner))
}

/// Posts the card's receive buffers and routes its interrupt to its handler, which
/// acknowledges the card and raises the work item.
fn bind(found: Place, mut inner: Inner) -> Option<Arc<Mutex<Inner>>> {
    for _ in 0..QUEUE {
        inner.post_rx(vec![0u8; BUF].into_boxed_slice());
    }
    let mac = inner.mac;
    let nic = Arc::new(Mutex::new(inner));
    let card = nic.clone();
    // Queues 0 (receive) and 1 (transmit).
    let handler = Box::new(move || {
        card.lock().raw.ack_interrupt();
        WORK.raise();
    });
    // Bound while nothing else uses the card (the route selects queues on a PCI function).
    let bound = {
        let _card = nic.lock();
        super::bind_irq(&found.irq, 2, handler)
    };
    match bound {
        Ok(vector) => {
            log!(
                "net: virtio-net {} at {}, vector {:#x}",
                MacFmt(mac),
                found.location,
                vector.number()
            );
            VECTORS.lock().push(vector);
            Some(nic)
        }
        Err(e) => {
            log!("net: virtio-net at {}: {e}; not used", found.location);
            None
        }
    }
}

/// Runs the self test to its end before the program starts: halted until the card's
/// interrupt or the test's next deadline, never spinning.
fn wait_for_selftest() {
    use crate::{arch, time};
    loop {
        super::work::run_due(time::monotonic_ns());
        if net_selftest::finished() {
            break;
        }
        match super::work::next_deadline() {
            Some(0) => continue,
            Some(deadline) => arch::arm_timer(time::tsc_at(deadline).max(1)),
            None => break,
        }
        arch::idle_wait();
    }
    // The CPU loop arms the timer from scratch.
    arch::arm_timer(0);
}

/// Whether a card is attached to the stack.
pub fn attached() -> bool {
    ATTACHED.get().is_some()
}

/// Whether the cards have sent every frame handed to them (their buffers are taken back).
pub fn transmitted() -> bool {
    cards().iter().all(|nic| {
        let mut card = nic.lock();
        card.reclaim_tx();
        card.tx.iter().all(Option::is_none)
    })
}

/// Interrupts taken from the cards so far.
pub fn interrupts() -> u64 {
    VECTORS.lock().iter().map(|v| v.count()).sum()
}

/// The cards in use (none before `init`).
fn cards() -> &'static [Arc<Mutex<Inner>>] {
    CARDS.get().map_or(&[], Vec::as_slice)
}

/// The longest the stack goes unpolled while a card is attached: a backstop that also serves
/// the timers socket calls start without telling the driver (see `coracle_net`'s
/// `Network::with_needs`: all of smoltcp's are a second or more away).
const MAX_POLL_INTERVAL_NS: u64 = 1_000_000_000;

/// The stack's next deadline (ns; u64::MAX: none), as its poll or a socket call gave it.
static STACK_DEADLINE: AtomicU64 = AtomicU64::new(0);
/// When the stack last ran from here (ns).
static LAST_POLL: AtomicU64 = AtomicU64::new(0);
/// A socket call brought the stack's deadline forward: the next run polls, whatever the
/// deadline a poll stored meanwhile says.
static NEW_DEADLINE: AtomicBool = AtomicBool::new(false);
/// The transmit queue was found full: the stack holds segments until a completion.
static TX_STALLED: AtomicBool = AtomicBool::new(false);

/// Tells the card about the frames queued since it was last told: called when a CPU goes
/// idle and after the card's work, so that the replies written meanwhile share a doorbell.
pub fn flush() {
    for nic in cards() {
        let mut card = nic.lock();
        if card.unkicked > 0 {
            card.kick();
        }
    }
}

fn run_work(now: u64) -> Option<u64> {
    let next = poll_stack(now);
    flush();
    next
}

fn poll_stack(now: u64) -> Option<u64> {
    let first = cards().first()?;
    if SELFTEST.get().copied().unwrap_or(false) {
        return net_selftest::poll(&mut Nic(first.clone()), now);
    }
    ATTACHED.get()?;
    // Frames the devices finished sending; when that is all the interrupt said (the
    // completion of a response sent from a socket call), the stack has nothing to do.
    let mut received = false;
    for nic in cards() {
        let mut card = nic.lock();
        card.reclaim_tx();
        received |= card.raw.poll_receive().is_some();
    }
    let cap = LAST_POLL
        .load(Ordering::Relaxed)
        .saturating_add(MAX_POLL_INTERVAL_NS);
    let moved = NEW_DEADLINE.swap(false, Ordering::Acquire);
    let stalled = TX_STALLED.swap(false, Ordering::Relaxed);
    let due = now >= STACK_DEADLINE.load(Ordering::Relaxed) || now >= cap;
    if received || due || moved || stalled {
        LAST_POLL.store(now, Ordering::Relaxed);
        let next = coracle_syscalls::net::poll(now);
        crate::cpu_stats::add(crate::cpu_stats::Stat::Polls, 1);
        crate::cpu_stats::add_since(crate::cpu_stats::Stat::PollNs, now);
        STACK_DEADLINE.store(next.unwrap_or(u64::MAX), Ordering::Relaxed);
        // Frames the devices finished sending meanwhile.
        for nic in cards() {
            nic.lock().reclaim_tx();
        }
    }
    let cap = LAST_POLL
        .load(Ordering::Relaxed)
        .saturating_add(MAX_POLL_INTERVAL_NS);
    Some(coarse(STACK_DEADLINE.load(Ordering::Relaxed).min(cap)))
}

/// Formats a MAC address as Linux does (`52:54:00:12:34:56`).
pub struct MacFmt(pub [u8; 6]);

impl core::fmt::Display for MacFmt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}
