//! UDP over lo.

use coracle_abi::errno::Errno;
use coracle_abi::poll::*;

use super::*;
use crate::UdpSocket;

#[test]
fn datagrams_keep_their_boundaries_and_sender() {
    let net = net();
    let a = UdpSocket::new(&net);
    let b = UdpSocket::new(&net);
    b.bind(local(5353), 0).unwrap();
    assert_eq!(a.send_to(b"one", Some(local(5353)), ANY4, 0), Ok(3));
    assert_eq!(a.send_to(b"second", Some(local(5353)), ANY4, 0), Ok(6));
    assert_ne!(b.events() & POLLIN, 0);
    assert_eq!(b.next_len(), 3);
    let mut buf = [0u8; 4];
    let r = b.recv_from(&mut buf, false, 0).unwrap();
    assert_eq!((r.copied, r.len), (3, 3));
    assert_eq!(r.from, a.local_addr().map(|l| local(l.port())).unwrap());
    let r = b.recv_from(&mut buf, false, 0).unwrap();
    assert_eq!((r.copied, r.len, &buf[..]), (4, 6, &b"seco"[..]));
    assert_eq!(b.recv_from(&mut buf, false, 0), Err(Errno::EAGAIN));
    assert_eq!(b.events() & POLLIN, 0);
}

#[test]
fn connected_socket_filters_and_defaults() {
    let net = net();
    let a = UdpSocket::new(&net);
    let b = UdpSocket::new(&net);
    let other = UdpSocket::new(&net);
    a.bind(local(6000), 0).unwrap();
    b.bind(local(6001), 0).unwrap();
    assert_eq!(a.send_to(b"x", None, ANY4, 0), Err(Errno::EDESTADDRREQ));
    a.connect(local(6001), ANY4, 0).unwrap();
    assert_eq!(a.peer_addr(), Ok(local(6001)));
    other.send_to(b"noise", Some(local(6000)), ANY4, 0).unwrap();
    b.send_to(b"hello", Some(local(6000)), ANY4, 0).unwrap();
    let mut buf = [0u8; 16];
    let r = a.recv_from(&mut buf, false, 0).unwrap();
    assert_eq!(&buf[..r.copied], b"hello");
    assert_eq!(a.send_to(b"back", None, ANY4, 0), Ok(4));
    assert_eq!(b.recv_from(&mut buf, false, 0).unwrap().copied, 4);
    let c = UdpSocket::new(&net);
    assert_eq!(c.bind(local(6000), 0), Err(Errno::EADDRINUSE));
}
