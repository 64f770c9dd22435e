//! Listeners as Linux's: a full backlog drops SYNs (the client retries and gets in later), a
//! v6-only `::` listener beside a `0.0.0.0` one, each taking its family, and a connect in
//! progress closed without a reset.

use alloc::vec::Vec;
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use core::sync::atomic::Ordering;

use coracle_abi::errno::Errno;

use super::wire::{addr, Both};
use super::*;
use crate::TcpSocket;

fn listener(net: &Arc<Network>, at: SocketAddr, v6only: bool, backlog: usize) -> TcpSocket {
    let l = TcpSocket::new(net);
    l.set_opts(|o| o.v6only = v6only);
    l.bind(at).unwrap();
    let any = if at.is_ipv4() { ANY4 } else { ANY6 };
    l.listen(backlog, any, 0).unwrap();
    l
}

fn client(net: &Arc<Network>, c: &Clock, to: SocketAddr) -> TcpSocket {
    let s = TcpSocket::new(net);
    let any = if to.is_ipv4() { ANY4 } else { ANY6 };
    assert_eq!(s.connect(to, any, c.0), Err(Errno::EINPROGRESS));
    s
}

fn ticks(net: &Network, c: &mut Clock, n: usize) {
    for _ in 0..n {
        c.tick(net);
    }
}

/// How a connect stands: Ok once connected, EALREADY while it runs, or its error.
fn outcome(s: &TcpSocket, c: &Clock) -> Result<(), Errno> {
    match s.connect(local(1), ANY4, c.0) {
        Err(Errno::EISCONN) => Ok(()),
        Err(Errno::EINPROGRESS) => panic!("a second connect started a new handshake"),
        r => r,
    }
}

#[test]
fn a_backlog_of_n_admits_n_plus_one_and_drops_the_next_syn() {
    for backlog in [0usize, 2] {
        let net = net();
        let mut c = Clock(0);
        let port = 7400 + backlog as u16;
        let l = listener(&net, local(port), false, backlog);
        let admitted: Vec<TcpSocket> = (0..=backlog)
            .map(|_| client(&net, &c, local(port)))
            .collect();
        ticks(&net, &mut c, 5);
        for s in &admitted {
            assert_eq!(outcome(s, &c), Ok(()), "backlog {backlog}");
        }
        let extra = client(&net, &c, local(port));
        // Its SYN is dropped, not refused: the connect goes on.
        ticks(&net, &mut c, 500);
        assert_eq!(outcome(&extra, &c), Err(Errno::EALREADY));
        assert_eq!(extra.take_error(), None);
        // Room made: the retransmitted SYN gets in.
        let _first = l.accept(c.0).unwrap();
        let mut waited = 0;
        while outcome(&extra, &c) == Err(Errno::EALREADY) && waited < 10_000 {
            c.tick(&net);
            waited += 1;
        }
        assert_eq!(outcome(&extra, &c), Ok(()), "backlog {backlog}");
        let mut rest = 0;
        while l.accept(c.0).is_ok() {
            rest += 1;
        }
        assert_eq!(rest, backlog + 1);
    }
}

#[test]
fn a_v6only_listener_and_an_ipv4_one_share_a_port_each_taking_its_family() {
    for v6_first in [true, false] {
        let net = net();
        let mut c = Clock(0);
        let port = 7410 + v6_first as u16;
        let open = |v6: bool| {
            if v6 {
                listener(&net, SocketAddr::new(ANY6, port), true, 8)
            } else {
                listener(&net, SocketAddr::new(ANY4, port), false, 8)
            }
        };
        let first = open(v6_first);
        let second = open(!v6_first);
        let (l6, l4) = if v6_first {
            (first, second)
        } else {
            (second, first)
        };
        let to6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port);
        for _ in 0..4 {
            let a = client(&net, &c, local(port));
            let b = client(&net, &c, to6);
            ticks(&net, &mut c, 3);
            assert_eq!((outcome(&a, &c), outcome(&b, &c)), (Ok(()), Ok(())));
            assert!(l4.accept(c.0).unwrap().1.is_ipv4());
            assert!(l6.accept(c.0).unwrap().1.is_ipv6());
            assert_eq!(l4.accept(c.0).map(|_| ()), Err(Errno::EAGAIN));
            assert_eq!(l6.accept(c.0).map(|_| ()), Err(Errno::EAGAIN));
        }
    }
}

#[test]
fn an_ipv4_listener_refuses_ipv6_clients() {
    let net = net();
    let mut c = Clock(0);
    let l = listener(&net, SocketAddr::new(ANY4, 7420), false, 8);
    let b = client(
        &net,
        &c,
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7420),
    );
    ticks(&net, &mut c, 5);
    assert_eq!(b.take_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(l.accept(c.0).map(|_| ()), Err(Errno::EAGAIN));
    // IPv4 clients still get in.
    let a = client(&net, &c, local(7420));
    ticks(&net, &mut c, 3);
    assert_eq!(outcome(&a, &c), Ok(()));
    assert!(l.accept(c.0).is_ok());
}

/// TCP flags of an Ethernet frame carrying IPv4 TCP.
fn tcp_flags(frame: &[u8]) -> Option<u8> {
    let ip = frame.get(14..)?;
    if frame.get(12..14)? != [0x08, 0x00] || *ip.get(9)? != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    ip.get(ihl + 13).copied()
}

#[test]
fn closing_a_connect_in_progress_sends_no_reset() {
    const RST: u8 = 0x04;
    let mut t = Both::cabled();
    let to = SocketAddr::new(IpAddr::V4(addr(16)), 7430);
    // A peer that does not answer: the SYN is lost, the client stays in SYN_SENT.
    t.cut.store(true, Ordering::Relaxed);
    let c = TcpSocket::new(&t.a);
    assert_eq!(c.connect(to, ANY4, t.now), Err(Errno::EINPROGRESS));
    t.step();
    t.cut.store(false, Ordering::Relaxed);
    t.sent_by_a.lock().clear();
    drop(c);
    for _ in 0..50 {
        t.step();
    }
    let sent = t.sent_by_a.lock();
    assert!(
        !sent
            .iter()
            .any(|f| tcp_flags(f).is_some_and(|f| f & RST != 0)),
        "{} frames, a reset among them",
        sent.len()
    );
    assert!(t.a.drained());
}
