//! The machine stopping: `close_all` closes what its processes left open as their exit
//! would, and `drained` holds until the peer has what was sent.

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::errno::Errno;

use super::wire::{eagain, Both};

/// Reads from `s` until EOF or an error, stepping the pair; what came and how it ended.
fn read_to_end(t: &mut Both, s: &crate::TcpSocket) -> (Vec<u8>, Result<(), Errno>) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    for _ in 0..100_000 {
        match s.recv(&mut buf, false, t.now) {
            Ok(0) => return (got, Ok(())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(Errno::EAGAIN) => {}
            Err(e) => return (got, Err(e)),
        }
        t.step();
    }
    (got, Err(Errno::ETIMEDOUT))
}

/// Steps the pair until `b` is drained; how many steps that took.
fn drain_b(t: &mut Both) -> usize {
    (0..100_000)
        .find(|_| {
            t.step();
            t.b.drained()
        })
        .expect("b drains")
}

#[test]
fn a_server_that_writes_and_stops_at_once_delivers_its_data_and_fin() {
    let mut t = Both::cabled();
    let (_l, c, s) = t.connected(80);
    // More than a window's worth: most of it is still queued when the machine stops.
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = 0;
    while sent < 64 * 1024 {
        sent += s.send(&data[sent..], t.now).or_else(eagain).unwrap();
    }
    t.b.close_all(t.now);
    assert!(
        !t.b.drained(),
        "the data and the FIN are not acknowledged yet"
    );
    drain_b(&mut t);
    let (got, end) = read_to_end(&mut t, &c);
    assert_eq!(end, Ok(()), "the client reads to the end");
    assert!(got == data[..sent], "{} of {sent} bytes", got.len());
    // The socket file the process left behind sees a closed socket.
    assert!(s.send(b"x", t.now).is_err());
}

#[test]
fn unread_data_resets_the_connection_and_the_reset_goes_out() {
    let mut t = Both::cabled();
    let (_l, c, s) = t.connected(81);
    assert_eq!(c.send(b"never read", t.now), Ok(10));
    for _ in 0..100 {
        t.step();
    }
    assert_eq!(s.readable_bytes(), 10);
    t.b.close_all(t.now);
    drain_b(&mut t);
    let (got, end) = read_to_end(&mut t, &c);
    assert_eq!((got.len(), end), (0, Err(Errno::ECONNRESET)));
}

#[test]
fn a_peer_that_never_answers_keeps_the_stack_undrained() {
    let mut t = Both::cabled();
    let (_l, _c, s) = t.connected(82);
    assert_eq!(s.send(b"lost", t.now), Ok(4));
    t.cut.store(true, core::sync::atomic::Ordering::Relaxed);
    t.b.close_all(t.now);
    for _ in 0..20_000 {
        t.step();
    }
    // Two seconds of retransmissions later the FIN is still unacknowledged: the kernel's
    // own deadline ends the wait.
    assert!(!t.b.drained());
}

#[test]
fn nothing_open_is_drained_at_once() {
    let t = Both::cabled();
    t.b.close_all(t.now);
    assert!(t.b.drained());
    let lo_only = super::net();
    lo_only.close_all(0);
    assert!(lo_only.drained());
}

#[test]
fn a_listener_left_open_stops_listening() {
    let mut t = Both::cabled();
    let (l, _c, _s) = t.connected(83);
    t.b.close_all(t.now);
    drain_b(&mut t);
    assert_eq!(l.accept(t.now).map(|_| ()), Err(Errno::EINVAL));
}
