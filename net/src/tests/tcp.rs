//! TCP over lo: handshake, accept queue, data both ways, close, errors, faults.

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::errno::Errno;
use coracle_abi::poll::*;

use super::*;
use crate::{Faults, TcpSocket};

/// A listener on 127.0.0.1:`port` and a client connected to it, accepted.
pub(super) fn pair(
    net: &Arc<Network>,
    c: &mut Clock,
    port: u16,
) -> (TcpSocket, TcpSocket, TcpSocket) {
    let l = TcpSocket::new(net);
    l.bind(local(port)).unwrap();
    l.listen(4, ANY4, c.0).unwrap();
    let a = TcpSocket::new(net);
    assert_eq!(a.connect(local(port), ANY4, c.0), Err(Errno::EINPROGRESS));
    let mut got = None;
    for _ in 0..10_000 {
        let now = c.tick(net);
        if let Ok(x) = l.accept(now) {
            got = Some(x);
            break;
        }
    }
    let (b, peer) = got.expect("the connection is accepted");
    assert_eq!(Ok(peer), a.local_addr().ok_or(Errno::EINVAL));
    (l, a, b)
}

/// Moves `data` from `a` to `b`, ticking the clock, and returns what `b` read.
fn transfer(net: &Network, c: &mut Clock, a: &TcpSocket, b: &TcpSocket, data: &[u8]) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    for _ in 0..200_000 {
        if sent < data.len() {
            match a.send(&data[sent..], c.0) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => {}
                Err(e) => panic!("send: {e:?}"),
            }
        }
        match b.recv(&mut buf, false, c.0) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => {}
            Err(e) => panic!("recv: {e:?}"),
        }
        if got.len() == data.len() {
            break;
        }
        c.tick(net);
    }
    got
}

#[test]
fn connect_accept_and_echo() {
    let net = net();
    let mut c = Clock(0);
    let (_l, a, b) = pair(&net, &mut c, 7000);
    assert_eq!(a.connect(local(7000), ANY4, c.0), Ok(()));
    assert_eq!(a.connect(local(7000), ANY4, c.0), Err(Errno::EISCONN));
    assert_eq!(b.peer_addr(), Ok(a.local_addr().unwrap()));
    assert_eq!(b.local_addr(), Some(local(7000)));
    assert_eq!(a.events() & (POLLOUT | POLLIN), POLLOUT);
    assert_eq!(a.send(b"ping", c.0), Ok(4));
    assert_eq!(b.events() & POLLIN, POLLIN);
    assert_eq!(b.readable_bytes(), 4);
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(&mut buf, true, c.0), Ok(4));
    assert_eq!(b.recv(&mut buf, false, c.0), Ok(4));
    assert_eq!(&buf[..4], b"ping");
    assert_eq!(b.recv(&mut buf, false, c.0), Err(Errno::EAGAIN));
    // Half-close: the reader sees the end and RDHUP; the other way still works.
    a.shutdown(false, true, c.0).unwrap();
    c.tick(&net);
    assert_eq!(b.recv(&mut buf, false, c.0), Ok(0));
    assert_ne!(b.events() & POLLRDHUP, 0);
    assert_eq!(b.send(b"pong", c.0), Ok(4));
    c.tick(&net);
    assert_eq!(a.recv(&mut buf, false, c.0), Ok(4));
    assert_eq!(a.send(b"x", c.0), Err(Errno::EPIPE));
    drop(b);
    c.tick(&net);
    assert_eq!(a.recv(&mut buf, false, c.0), Ok(0));
    assert_ne!(a.events() & POLLHUP, 0);
}

#[test]
fn refused_connect_reports_econnrefused() {
    let net = net();
    let mut c = Clock(0);
    let a = TcpSocket::new(&net);
    assert_eq!(a.connect(local(9), ANY4, c.0), Err(Errno::EINPROGRESS));
    c.tick(&net);
    assert_eq!(a.events(), POLLOUT | POLLWRNORM | POLLHUP | POLLERR);
    assert_eq!(a.take_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(a.take_error(), None);
    assert_eq!(a.events() & POLLERR, 0);
}

#[test]
fn bind_conflicts_follow_linux() {
    let net = net();
    let a = TcpSocket::new(&net);
    a.bind(local(8000)).unwrap();
    let b = TcpSocket::new(&net);
    assert_eq!(b.bind(local(8000)), Err(Errno::EADDRINUSE));
    assert_eq!(b.bind(SocketAddr::new(ANY4, 8000)), Err(Errno::EADDRINUSE));
    // SO_REUSEADDR on both: bound twice, but only one may listen.
    let c = TcpSocket::new(&net);
    let d = TcpSocket::new(&net);
    c.set_opts(|o| o.reuseaddr = true);
    d.set_opts(|o| o.reuseaddr = true);
    c.bind(local(8001)).unwrap();
    d.bind(local(8001)).unwrap();
    c.listen(1, ANY4, 0).unwrap();
    assert_eq!(d.listen(1, ANY4, 0), Err(Errno::EADDRINUSE));
    // Dropping a socket frees its port.
    drop(a);
    b.bind(local(8000)).unwrap();
    // A foreign address cannot be bound.
    let e = TcpSocket::new(&net);
    assert_eq!(
        e.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1)),
        Err(Errno::EADDRNOTAVAIL)
    );
    // Ephemeral ports come from Linux's range.
    let f = TcpSocket::new(&net);
    f.bind(local(0)).unwrap();
    let port = f.local_addr().unwrap().port();
    assert!((crate::EPHEMERAL.0..=crate::EPHEMERAL.1).contains(&port));
}

#[test]
fn accept_queue_holds_several_connections() {
    let net = net();
    let mut c = Clock(0);
    let l = TcpSocket::new(&net);
    l.bind(local(7100)).unwrap();
    l.listen(8, ANY4, 0).unwrap();
    let clients: Vec<TcpSocket> = (0..5)
        .map(|_| {
            let s = TcpSocket::new(&net);
            assert_eq!(s.connect(local(7100), ANY4, c.0), Err(Errno::EINPROGRESS));
            s
        })
        .collect();
    c.tick(&net);
    assert_ne!(l.events() & POLLIN, 0);
    let mut peers = Vec::new();
    while let Ok((_, peer)) = l.accept(c.0) {
        peers.push(peer);
    }
    assert_eq!(peers.len(), 5);
    for s in &clients {
        assert_eq!(s.connect(local(7100), ANY4, c.0), Ok(()));
        assert!(peers.contains(&s.local_addr().unwrap()));
    }
    assert_eq!(l.events() & POLLIN, 0);
}

/// A burst of clients larger than the old fixed pool of 32 listening sockets: with a backlog
/// of 128 every one is accepted (redis-benchmark opens 50 at once), none refused.
#[test]
fn a_burst_of_connections_up_to_the_backlog_is_accepted() {
    let net = net();
    let mut c = Clock(0);
    let l = TcpSocket::new(&net);
    l.bind(local(7150)).unwrap();
    l.listen(128, ANY4, 0).unwrap();
    let clients: Vec<TcpSocket> = (0..50)
        .map(|_| {
            let s = TcpSocket::new(&net);
            assert_eq!(s.connect(local(7150), ANY4, c.0), Err(Errno::EINPROGRESS));
            s
        })
        .collect();
    c.tick(&net);
    let mut accepted = 0;
    while l.accept(c.0).is_ok() {
        accepted += 1;
    }
    assert_eq!(accepted, 50);
    for s in &clients {
        assert_eq!(s.connect(local(7150), ANY4, c.0), Ok(()));
        assert_eq!(s.take_error(), None);
    }
}

#[test]
fn ipv6_loopback_connects() {
    let net = net();
    let mut c = Clock(0);
    let l = TcpSocket::new(&net);
    let any = SocketAddr::new(ANY6, 7200);
    l.bind(any).unwrap();
    l.listen(2, ANY6, 0).unwrap();
    let a = TcpSocket::new(&net);
    let to = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7200);
    assert_eq!(a.connect(to, ANY6, 0), Err(Errno::EINPROGRESS));
    c.tick(&net);
    let (b, peer) = l.accept(c.0).unwrap();
    assert!(peer.is_ipv6());
    assert_eq!(transfer(&net, &mut c, &a, &b, b"six"), b"six");
    // The dual-stack listener takes IPv4 too.
    let v4 = TcpSocket::new(&net);
    assert_eq!(v4.connect(local(7200), ANY4, 0), Err(Errno::EINPROGRESS));
    c.tick(&net);
    assert!(l.accept(c.0).unwrap().1.is_ipv4());
}

/// A megabyte crosses a lossy, corrupting, reordering wire intact and in order.
#[test]
fn bulk_transfer_survives_faults() {
    let net = Network::with_lo_faults(
        3,
        Faults {
            drop_pct: 5,
            corrupt_pct: 3,
            reorder_pct: 10,
            seed: 7,
        },
    );
    let mut c = Clock(0);
    let (_l, a, b) = pair(&net, &mut c, 7300);
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let got = transfer(&net, &mut c, &a, &b, &data);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the stream arrives intact");
}
