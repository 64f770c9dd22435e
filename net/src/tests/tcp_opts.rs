//! TCP options that change what the connection does: SO_LINGER with a zero time, buffer
//! sizes, IPV6_V6ONLY on a listener, TCP_INFO.

use core::net::{IpAddr, Ipv6Addr, SocketAddr};

use coracle_abi::errno::Errno;

use super::tcp::pair;
use super::*;
use crate::TcpSocket;

#[test]
fn close_with_linger_zero_resets_the_peer() {
    let net = net();
    let mut c = Clock(0);
    let (_l, a, b) = pair(&net, &mut c, 7300);
    a.set_opts(|o| o.linger_abort = true);
    drop(a);
    c.tick(&net);
    let mut buf = [0u8; 8];
    assert_eq!(b.recv(&mut buf, false, c.0), Err(Errno::ECONNRESET));
    // Without it the peer reads the end of the stream.
    let (_l2, a2, b2) = pair(&net, &mut c, 7301);
    drop(a2);
    c.tick(&net);
    assert_eq!(b2.recv(&mut buf, false, c.0), Ok(0));
}

/// Sends from `a` until the buffers on both sides are full (nobody reads `b`); the total.
fn fill(net: &Network, c: &mut Clock, a: &TcpSocket) -> usize {
    let chunk = [7u8; 1024];
    let mut total = 0;
    let mut idle = 0;
    while idle < 50 && total < 1 << 22 {
        match a.send(&chunk, c.0) {
            Ok(n) => {
                total += n;
                idle = 0;
            }
            Err(Errno::EAGAIN) => idle += 1,
            Err(e) => panic!("send: {e:?}"),
        }
        c.tick(net);
    }
    total
}

#[test]
fn buffer_sizes_bound_what_is_in_flight() {
    let net = net();
    let mut c = Clock(0);
    let (_l, a, _b) = pair(&net, &mut c, 7310);
    let default = fill(&net, &mut c, &a);
    let l = TcpSocket::new(&net);
    l.set_opts(|o| o.rcvbuf = 4096);
    l.bind(local(7311)).unwrap();
    l.listen(4, ANY4, c.0).unwrap();
    let small = TcpSocket::new(&net);
    small.set_opts(|o| o.sndbuf = 4096);
    assert_eq!(
        small.connect(local(7311), ANY4, c.0),
        Err(Errno::EINPROGRESS)
    );
    c.tick(&net);
    let _b2 = l.accept(c.0).unwrap();
    let limited = fill(&net, &mut c, &small);
    assert!(default >= 100_000, "default buffers hold {default}");
    assert!(
        (4096..=8192).contains(&limited),
        "4 KiB buffers hold {limited}"
    );
}

#[test]
fn v6only_listener_refuses_ipv4_clients() {
    let net = net();
    let mut c = Clock(0);
    let l = TcpSocket::new(&net);
    l.set_opts(|o| o.v6only = true);
    l.bind(SocketAddr::new(ANY6, 7320)).unwrap();
    l.listen(4, ANY6, 0).unwrap();
    let v4 = TcpSocket::new(&net);
    assert_eq!(v4.connect(local(7320), ANY4, 0), Err(Errno::EINPROGRESS));
    for _ in 0..5 {
        c.tick(&net);
    }
    assert_eq!(v4.take_error(), Some(Errno::ECONNREFUSED));
    assert_eq!(l.accept(c.0).map(|_| ()), Err(Errno::EAGAIN));
    // An IPv6 client still gets in, through the listener the refusal put back.
    let v6 = TcpSocket::new(&net);
    let to = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 7320);
    assert_eq!(v6.connect(to, ANY6, 0), Err(Errno::EINPROGRESS));
    c.tick(&net);
    assert!(l.accept(c.0).unwrap().1.is_ipv6());
}

#[test]
fn tcp_info_reports_state_mss_and_rto() {
    let net = net();
    let mut c = Clock(0);
    let idle = TcpSocket::new(&net);
    assert_eq!(idle.info().state, 7);
    let (l, a, b) = pair(&net, &mut c, 7330);
    assert_eq!(l.info().state, 10);
    for s in [&a, &b] {
        let i = s.info();
        assert_eq!(i.state, 1);
        assert_eq!((i.pmtu, i.snd_mss, i.rcv_mss), (65536, 65496, 65496));
        assert!(i.rto >= 200_000);
        assert_eq!(i.snd_cwnd, 10);
    }
    // The connecting side measured the handshake.
    assert!(a.info().rtt > 0 && a.info().rtt < a.info().rto);
    a.shutdown(false, true, c.0).unwrap();
    c.tick(&net);
    assert_eq!(a.info().state, 5);
    assert_eq!(b.info().state, 8);
}

#[test]
fn a_lingering_close_is_done_once_the_fin_is_acknowledged() {
    let net = net();
    let mut c = Clock(0);
    let (_l, a, b) = pair(&net, &mut c, 7330);
    let sent = fill(&net, &mut c, &a);
    // The peer's window is full: the FIN cannot go, the close waits.
    assert!(!a.close_lingering(c.0));
    for _ in 0..100 {
        c.tick(&net);
    }
    assert!(!a.close_lingering(c.0), "still waiting while nobody reads");
    let mut buf = [0u8; 4096];
    let mut got = 0;
    for _ in 0..100_000 {
        match b.recv(&mut buf, false, c.0) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EAGAIN) => {}
            Err(e) => panic!("recv: {e:?}"),
        }
        c.tick(&net);
    }
    assert_eq!(got, sent, "the peer reads everything, then the end");
    assert!(a.close_lingering(c.0));
    // A connection with unread data is reset by its close: nothing to wait for.
    let (_l2, a2, b2) = pair(&net, &mut c, 7331);
    assert_eq!(b2.send(b"unread", c.0), Ok(6));
    c.tick(&net);
    assert!(a2.close_lingering(c.0));
}
