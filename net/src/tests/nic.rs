//! TCP between two stacks over a fake NIC pair: the path socket calls take on the NIC, where
//! a read or a write runs only part of the stack and ACKs wait for replies to carry them.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use coracle_abi::errno::Errno;
use spin::Mutex;

use super::ANY4;
use crate::{IfConfig, NetDevice, Network, TcpSocket, TxError};

type Wire = Arc<Mutex<VecDeque<Vec<u8>>>>;

/// One end of a cable: frames sent land in the other end's queue.
struct FakeNic {
    mac: [u8; 6],
    rx: Wire,
    tx: Wire,
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
        self.tx.lock().push_back(frame.to_vec());
        Ok(())
    }
}

fn addr(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 2, last)
}

/// Two stacks, 10.0.2.15 and 10.0.2.16, cabled together.
fn cabled() -> (Arc<Network>, Arc<Network>) {
    let (ab, ba): (Wire, Wire) = Default::default();
    let a = Network::new(1);
    let b = Network::new(2);
    let config = |ip| IfConfig {
        ipv4: ip,
        prefix: 24,
        gateway: None,
        dns: Vec::new(),
    };
    let nic = |mac, rx: &Wire, tx: &Wire| -> Box<dyn NetDevice> {
        Box::new(FakeNic {
            mac,
            rx: rx.clone(),
            tx: tx.clone(),
        })
    };
    a.attach(nic([2, 0, 0, 0, 0, 15], &ba, &ab), config(addr(15)), 0);
    b.attach(nic([2, 0, 0, 0, 0, 16], &ab, &ba), config(addr(16)), 0);
    (a, b)
}

/// Polls both stacks as their drivers would (a frame or a deadline), 100 µs a step.
struct Both {
    a: Arc<Network>,
    b: Arc<Network>,
    now: u64,
}

impl Both {
    fn step(&mut self) -> u64 {
        self.now += 100_000;
        self.a.poll(self.now);
        self.b.poll(self.now);
        self.now
    }
}

#[test]
fn bulk_data_both_ways_over_the_nic() {
    let (a, b) = cabled();
    let mut t = Both { a, b, now: 0 };
    let l = TcpSocket::new(&t.b);
    l.bind(SocketAddr::new(IpAddr::V4(addr(16)), 80)).unwrap();
    l.listen(4, ANY4, 0).unwrap();
    let c = TcpSocket::new(&t.a);
    let to = SocketAddr::new(IpAddr::V4(addr(16)), 80);
    assert_eq!(c.connect(to, ANY4, 0), Err(Errno::EINPROGRESS));
    let mut s = None;
    for _ in 0..10_000 {
        let now = t.step();
        if let Ok((x, _)) = l.accept(now) {
            s = Some(x);
            break;
        }
    }
    let s = s.expect("the connection over the NIC is accepted");
    // More than the 64 KiB buffers each way, read in small pieces so that the reader's
    // window closes and must be announced again from its reads.
    let up: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let down: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let (mut up_sent, mut down_sent) = (0, 0);
    let (mut up_got, mut down_got) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 1000];
    for _ in 0..200_000 {
        let now = t.now;
        if up_sent < up.len() {
            up_sent += c.send(&up[up_sent..], now).or_else(eagain).unwrap();
        }
        if down_sent < down.len() {
            down_sent += s.send(&down[down_sent..], now).or_else(eagain).unwrap();
        }
        let n = s.recv(&mut buf, false, now).or_else(eagain).unwrap();
        up_got.extend_from_slice(&buf[..n]);
        let n = c.recv(&mut buf, false, now).or_else(eagain).unwrap();
        down_got.extend_from_slice(&buf[..n]);
        if up_got.len() == up.len() && down_got.len() == down.len() {
            break;
        }
        t.step();
    }
    assert!(up_got == up, "{} of {} bytes up", up_got.len(), up.len());
    assert!(
        down_got == down,
        "{} of {} bytes down",
        down_got.len(),
        down.len()
    );
}

fn eagain(e: Errno) -> Result<usize, Errno> {
    match e {
        Errno::EAGAIN => Ok(0),
        e => Err(e),
    }
}
