//! A host with two NICs beside lo, as a VM on a Coracle network has them: eth0 on a segment
//! (172.18.0.2/16, no gateway) cabled to a peer VM (172.18.0.3), eth1 on a user network
//! (10.0.2.15/24, gateway 10.0.2.2) cabled to the gateway (10.0.2.2). Routes by destination,
//! the source address of each route, one listener reached from both sides with replies
//! leaving by the right card, UDP the same; IPv6 on the segment (fd63::ac12:2/112 and
//! fd63::ac12:3/112) only.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::sync::atomic::AtomicBool;

use coracle_abi::errno::Errno;

use super::wire::{cable, config, eagain};
use super::{ANY4, ANY6};
use crate::stack::Which;
use crate::{Network, TcpSocket, UdpSocket};

const HOST_SEG: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 3);
const HOST_USER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const HOST_SEG6: Ipv6Addr = Ipv6Addr::new(0xfd63, 0, 0, 0, 0, 0, 0xac12, 2);
const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd63, 0, 0, 0, 0, 0, 0xac12, 3);

/// [`config`] with an IPv6 address on the link.
fn config6(ipv4: Ipv4Addr, prefix: u8, ipv6: Ipv6Addr) -> crate::IfConfig {
    crate::IfConfig {
        ipv6: Some((ipv6, 112)),
        ..config(ipv4, prefix, None)
    }
}

struct Three {
    host: Arc<Network>,
    peer: Arc<Network>,
    gw: Arc<Network>,
    now: u64,
}

impl Three {
    fn new() -> Three {
        let cut = Arc::new(AtomicBool::new(false));
        let (host, peer, gw) = (Network::new(1), Network::new(2), Network::new(3));
        let (h0, p0) = cable([2, 0x42, 172, 18, 0, 2], [2, 0x42, 172, 18, 0, 3], &cut);
        let (h1, g1) = cable([0x52, 0x54, 0, 0x12, 0x34, 0x56], [2, 0, 0, 0, 0, 2], &cut);
        assert!(host.attach(h0, config6(HOST_SEG, 16, HOST_SEG6), 0));
        assert!(host.attach(h1, config(HOST_USER, 24, Some(GATEWAY)), 0));
        peer.attach(p0, config6(PEER, 16, PEER6), 0);
        gw.attach(g1, config(GATEWAY, 24, None), 0);
        Three {
            host,
            peer,
            gw,
            now: 0,
        }
    }

    fn step(&mut self) -> u64 {
        self.now += 100_000;
        for n in [&self.host, &self.peer, &self.gw] {
            n.poll(self.now);
        }
        self.now
    }

    /// A connection from `from` to `listener` at `to`: (client, server, the client's address
    /// as the server sees it).
    fn connect(
        &mut self,
        from: &Arc<Network>,
        listener: &TcpSocket,
        to: SocketAddr,
    ) -> (TcpSocket, TcpSocket, SocketAddr) {
        let c = TcpSocket::new(from);
        assert_eq!(c.connect(to, ANY4, self.now), Err(Errno::EINPROGRESS));
        for _ in 0..10_000 {
            let now = self.step();
            if let Ok((s, addr)) = listener.accept(now) {
                return (c, s, addr);
            }
        }
        panic!("the connection to {to} is accepted");
    }

    /// Sends `data` on `a` and reads it from `b`.
    fn pass(&mut self, a: &TcpSocket, b: &TcpSocket, data: &[u8]) {
        assert_eq!(a.send(data, self.now), Ok(data.len()));
        let mut buf = vec![0u8; 64];
        for _ in 0..10_000 {
            let now = self.step();
            let n = b.recv(&mut buf, false, now).or_else(eagain).unwrap();
            if n > 0 {
                assert_eq!(&buf[..n], data);
                return;
            }
        }
        panic!("{data:?} arrives");
    }
}

fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

#[test]
fn routes_by_destination() {
    let t = Three::new();
    let route = |ip: [u8; 4]| t.host.peek(|i| i.ifs.route(IpAddr::from(ip)));
    assert_eq!(
        route([172, 18, 9, 9]),
        Ok(Which::Eth(0)),
        "the segment's subnet"
    );
    assert_eq!(
        route([10, 0, 2, 2]),
        Ok(Which::Eth(1)),
        "the user network's subnet"
    );
    assert_eq!(
        route([93, 184, 216, 34]),
        Ok(Which::Eth(1)),
        "the default route"
    );
    assert_eq!(
        route([172, 18, 0, 2]),
        Ok(Which::Lo),
        "the host's own addresses"
    );
    assert_eq!(route([10, 0, 2, 15]), Ok(Which::Lo));
    assert_eq!(route([127, 0, 0, 1]), Ok(Which::Lo));
    let route6 = |ip: Ipv6Addr| t.host.peek(|i| i.ifs.route(IpAddr::V6(ip)));
    assert_eq!(route6(PEER6), Ok(Which::Eth(0)), "the segment's prefix");
    assert_eq!(route6(HOST_SEG6), Ok(Which::Lo));
    let elsewhere = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    assert_eq!(
        route6(elsewhere),
        Err(Errno::ENETUNREACH),
        "no IPv6 gateway"
    );
    assert_eq!(
        t.gw.peek(|i| i.ifs.route(IpAddr::V6(PEER6))),
        Err(Errno::ENETUNREACH),
        "a card without IPv6"
    );
    let eth0 = &t.host.interfaces()[1];
    assert_eq!(
        eth0.addrs,
        [(IpAddr::V4(HOST_SEG), 16), (IpAddr::V6(HOST_SEG6), 112)]
    );
    let names: Vec<_> = t.host.interfaces().iter().map(|i| i.name).collect();
    assert_eq!(names, ["lo", "eth0", "eth1"]);
    // Without a gateway on any card, only the subnets are reachable.
    let seg_only = Network::new(4);
    let cut = Arc::new(AtomicBool::new(false));
    let (a, _a2) = cable([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], &cut);
    let (b, _b2) = cable([2, 0, 0, 0, 0, 3], [2, 0, 0, 0, 0, 4], &cut);
    seg_only.attach(a, config(HOST_SEG, 16, None), 0);
    seg_only.attach(b, config(Ipv4Addr::new(192, 168, 5, 2), 24, None), 0);
    let route = |ip: [u8; 4]| seg_only.peek(|i| i.ifs.route(IpAddr::from(ip)));
    assert_eq!(route([192, 168, 5, 9]), Ok(Which::Eth(1)));
    assert_eq!(route([8, 8, 8, 8]), Err(Errno::ENETUNREACH));
}

#[test]
fn connects_take_the_address_of_their_route() {
    let mut t = Three::new();
    let (peer, gw) = (t.peer.clone(), t.gw.clone());
    let on_peer = TcpSocket::new(&peer);
    on_peer.bind(v4(Ipv4Addr::UNSPECIFIED, 5432)).unwrap();
    on_peer.listen(4, ANY4, t.now).unwrap();
    let on_gw = TcpSocket::new(&gw);
    on_gw.bind(v4(Ipv4Addr::UNSPECIFIED, 80)).unwrap();
    on_gw.listen(4, ANY4, t.now).unwrap();
    let host = t.host.clone();
    let (c, s, from) = t.connect(&host, &on_peer, v4(PEER, 5432));
    assert_eq!(from.ip(), IpAddr::V4(HOST_SEG));
    assert_eq!(c.local_addr().map(|a| a.ip()), Some(IpAddr::V4(HOST_SEG)));
    t.pass(&c, &s, b"to the db");
    t.pass(&s, &c, b"from the db");
    let (c, s, from) = t.connect(&host, &on_gw, v4(GATEWAY, 80));
    assert_eq!(from.ip(), IpAddr::V4(HOST_USER));
    assert_eq!(c.local_addr().map(|a| a.ip()), Some(IpAddr::V4(HOST_USER)));
    t.pass(&c, &s, b"GET /");
    t.pass(&s, &c, b"200 OK");
}

#[test]
fn a_listener_on_every_address_answers_on_both_cards() {
    let mut t = Three::new();
    let host = t.host.clone();
    let l = TcpSocket::new(&host);
    l.bind(v4(Ipv4Addr::UNSPECIFIED, 8080)).unwrap();
    l.listen(4, ANY4, t.now).unwrap();
    let (peer, gw) = (t.peer.clone(), t.gw.clone());
    let (c1, s1, from1) = t.connect(&peer, &l, v4(HOST_SEG, 8080));
    assert_eq!(from1, c1.local_addr().unwrap());
    assert_eq!(s1.local_addr().map(|a| a.ip()), Some(IpAddr::V4(HOST_SEG)));
    let (c2, s2, from2) = t.connect(&gw, &l, v4(HOST_USER, 8080));
    assert_eq!(from2, c2.local_addr().unwrap());
    assert_eq!(s2.local_addr().map(|a| a.ip()), Some(IpAddr::V4(HOST_USER)));
    // The replies leave by the card each connection came in on.
    t.pass(&s1, &c1, b"hello segment");
    t.pass(&s2, &c2, b"hello user network");
    t.pass(&c1, &s1, b"bye");
    t.pass(&c2, &s2, b"bye");
    // And from the host itself, over lo.
    let (c3, _s3, from3) = t.connect(&host, &l, v4(HOST_USER, 8080));
    assert_eq!(from3, c3.local_addr().unwrap());
}

#[test]
fn udp_replies_leave_by_the_route_of_their_destination() {
    let mut t = Three::new();
    let host = UdpSocket::new(&t.host);
    host.bind(v4(Ipv4Addr::UNSPECIFIED, 53), t.now).unwrap();
    let peer = UdpSocket::new(&t.peer);
    let gw = UdpSocket::new(&t.gw);
    peer.send_to(b"q1", Some(v4(HOST_SEG, 53)), ANY4, t.now)
        .unwrap();
    gw.send_to(b"q2", Some(v4(HOST_USER, 53)), ANY4, t.now)
        .unwrap();
    let mut buf = [0u8; 16];
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let now = t.step();
        if let Ok(r) = host.recv_from(&mut buf, false, now) {
            got.push((buf[..r.copied].to_vec(), r.from));
            host.send_to(b"answer", Some(r.from), ANY4, now).unwrap();
        }
        if got.len() == 2 {
            break;
        }
    }
    assert_eq!(got.len(), 2, "both queries arrive");
    for (sock, host_ip) in [(&peer, HOST_SEG), (&gw, HOST_USER)] {
        let mut answered = None;
        for _ in 0..10_000 {
            let now = t.step();
            if let Ok(r) = sock.recv_from(&mut buf, false, now) {
                answered = Some((buf[..r.copied].to_vec(), r.from));
                break;
            }
        }
        assert_eq!(answered, Some((b"answer".to_vec(), v4(host_ip, 53))));
    }
}

#[test]
fn ipv6_on_the_segment() {
    let mut t = Three::new();
    let peer = t.peer.clone();
    let l = TcpSocket::new(&peer);
    l.bind(SocketAddr::new(ANY6, 5432)).unwrap();
    l.listen(4, ANY6, t.now).unwrap();
    let host = t.host.clone();
    let to = SocketAddr::new(IpAddr::V6(PEER6), 5432);
    let c = TcpSocket::new(&host);
    assert_eq!(c.connect(to, ANY6, t.now), Err(Errno::EINPROGRESS));
    let mut accepted = None;
    for _ in 0..10_000 {
        let now = t.step();
        if let Ok(got) = l.accept(now) {
            accepted = Some(got);
            break;
        }
    }
    let (s, from) = accepted.expect("the IPv6 connection is accepted");
    assert_eq!(from.ip(), IpAddr::V6(HOST_SEG6));
    t.pass(&c, &s, b"over IPv6");
    t.pass(&s, &c, b"and back");
}
