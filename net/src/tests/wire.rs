//! Two stacks cabled together through fake NICs, polled as their drivers would poll them:
//! the path socket calls take on the NIC, with frames that can be held on the wire.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::sync::atomic::{AtomicBool, Ordering};

use coracle_abi::errno::Errno;
use spin::Mutex;

use super::ANY4;
use crate::{IfConfig, NetDevice, Network, TcpSocket, TxError};

pub(super) type Wire = Arc<Mutex<VecDeque<Vec<u8>>>>;

/// One end of a cable: frames sent land in the other end's queue, unless the cable is cut
/// (then they are lost, as to a peer that stopped).
struct FakeNic {
    mac: [u8; 6],
    rx: Wire,
    tx: Wire,
    cut: Arc<AtomicBool>,
    /// Every frame sent, for tests that look at what went out.
    log: Wire,
}

impl NetDevice for FakeNic {
    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn mtu(&self) -> usize {
        1500
    }

    fn receive(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.rx.lock().pop_front()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Some(n)
    }

    fn transmit(&mut self, frame: &[u8]) -> Result<(), TxError> {
        self.log.lock().push_back(frame.to_vec());
        if !self.cut.load(Ordering::Relaxed) {
            self.tx.lock().push_back(frame.to_vec());
        }
        Ok(())
    }
}

/// Two fake NICs with MACs `mac_a` and `mac_b`, cabled to each other; frames are lost
/// while `cut` is set.
pub(super) fn cable(
    mac_a: [u8; 6],
    mac_b: [u8; 6],
    cut: &Arc<AtomicBool>,
) -> (Box<dyn NetDevice>, Box<dyn NetDevice>) {
    cable_logged(mac_a, mac_b, cut, &Wire::default())
}

/// [`cable`], with every frame the first NIC sends also kept in `log_a`.
fn cable_logged(
    mac_a: [u8; 6],
    mac_b: [u8; 6],
    cut: &Arc<AtomicBool>,
    log_a: &Wire,
) -> (Box<dyn NetDevice>, Box<dyn NetDevice>) {
    let (ab, ba): (Wire, Wire) = Default::default();
    let nic = |mac, rx: &Wire, tx: &Wire, log: &Wire| -> Box<dyn NetDevice> {
        Box::new(FakeNic {
            mac,
            rx: rx.clone(),
            tx: tx.clone(),
            cut: cut.clone(),
            log: log.clone(),
        })
    };
    (
        nic(mac_a, &ba, &ab, log_a),
        nic(mac_b, &ab, &ba, &Wire::default()),
    )
}

/// A static configuration without DNS servers.
pub(super) fn config(ipv4: Ipv4Addr, prefix: u8, gateway: Option<Ipv4Addr>) -> IfConfig {
    IfConfig {
        ipv4,
        prefix,
        gateway,
        dns: Vec::new(),
        ipv6: None,
    }
}

/// 10.0.2.`last`.
pub(super) fn addr(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 2, last)
}

/// Two stacks, `a` at 10.0.2.15 and `b` at 10.0.2.16, cabled together, and their clock.
pub(super) struct Both {
    pub(super) a: Arc<Network>,
    pub(super) b: Arc<Network>,
    pub(super) now: u64,
    /// Set: frames either side sends are lost.
    pub(super) cut: Arc<AtomicBool>,
    /// The frames `a` sent (lost or not).
    pub(super) sent_by_a: Wire,
}

impl Both {
    pub(super) fn cabled() -> Both {
        let cut = Arc::new(AtomicBool::new(false));
        let sent_by_a: Wire = Default::default();
        let a = Network::new(1);
        let b = Network::new(2);
        let (nic_a, nic_b) =
            cable_logged([2, 0, 0, 0, 0, 15], [2, 0, 0, 0, 0, 16], &cut, &sent_by_a);
        a.attach(nic_a, config(addr(15), 24, None), 0);
        b.attach(nic_b, config(addr(16), 24, None), 0);
        Both {
            a,
            b,
            now: 0,
            cut,
            sent_by_a,
        }
    }

    /// Polls both stacks 100 µs later.
    pub(super) fn step(&mut self) -> u64 {
        self.now += 100_000;
        self.a.poll(self.now);
        self.b.poll(self.now);
        self.now
    }

    /// A client on `a` connected to a listener on `b`'s `port`: (listener, client, server).
    pub(super) fn connected(&mut self, port: u16) -> (TcpSocket, TcpSocket, TcpSocket) {
        let l = TcpSocket::new(&self.b);
        l.bind(SocketAddr::new(IpAddr::V4(addr(16)), port)).unwrap();
        l.listen(4, ANY4, self.now).unwrap();
        let c = TcpSocket::new(&self.a);
        let to = SocketAddr::new(IpAddr::V4(addr(16)), port);
        assert_eq!(c.connect(to, ANY4, self.now), Err(Errno::EINPROGRESS));
        for _ in 0..10_000 {
            let now = self.step();
            if let Ok((s, _)) = l.accept(now) {
                return (l, c, s);
            }
        }
        panic!("the connection over the NIC is accepted");
    }
}

/// EAGAIN as nothing done.
pub(super) fn eagain(e: Errno) -> Result<usize, Errno> {
    match e {
        Errno::EAGAIN => Ok(0),
        e => Err(e),
    }
}
