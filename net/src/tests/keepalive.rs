//! Keepalive as Linux times it: no probe before TCP_KEEPIDLE, and a peer that went silent
//! resets the connection with ETIMEDOUT after TCP_KEEPIDLE + TCP_KEEPCNT * TCP_KEEPINTVL;
//! one that answers keeps it up.

use core::sync::atomic::Ordering;

use coracle_abi::errno::Errno;
use coracle_abi::poll::POLLERR;

use super::wire::Both;
use crate::TcpSocket;

/// Moves both stacks' clocks on by `ms`, polling them every 10 ms.
fn advance(t: &mut Both, ms: u64) {
    for _ in 0..ms / 10 {
        t.now += 10_000_000;
        t.a.poll(t.now);
        t.b.poll(t.now);
    }
}

/// Keepalive on `c`: idle 2 s, probes every second, two of them.
fn keepalive(c: &TcpSocket) {
    c.set_opts(|o| {
        o.keepalive = true;
        o.keepidle = 2;
        o.keepintvl = 1;
        o.keepcnt = 2;
    });
}

#[test]
fn a_silent_peer_times_out_after_idle_and_the_probes() {
    let mut t = Both::cabled();
    let (_l, c, _s) = t.connected(7500);
    advance(&mut t, 100);
    t.sent_by_a.lock().clear();
    keepalive(&c);
    t.cut.store(true, Ordering::Relaxed);
    advance(&mut t, 1900);
    assert_eq!(t.sent_by_a.lock().len(), 0, "no probe before TCP_KEEPIDLE");
    advance(&mut t, 1800);
    assert!(t.sent_by_a.lock().len() >= 2, "probes after it");
    assert_eq!(
        c.events() & POLLERR,
        0,
        "not given up before the last probe's interval"
    );
    advance(&mut t, 600);
    let mut buf = [0u8; 8];
    assert_eq!(c.recv(&mut buf, false, t.now), Err(Errno::ETIMEDOUT));
}

#[test]
fn a_peer_that_answers_keeps_the_connection() {
    let mut t = Both::cabled();
    let (_l, c, s) = t.connected(7501);
    advance(&mut t, 100);
    t.sent_by_a.lock().clear();
    keepalive(&c);
    advance(&mut t, 1900);
    assert_eq!(t.sent_by_a.lock().len(), 0, "no probe before TCP_KEEPIDLE");
    advance(&mut t, 8000);
    assert!(!t.sent_by_a.lock().is_empty(), "probes after it");
    assert_eq!(c.take_error(), None);
    assert_eq!(c.send(b"ping", t.now), Ok(4));
    advance(&mut t, 100);
    let mut buf = [0u8; 8];
    assert_eq!(s.recv(&mut buf, false, t.now), Ok(4));
}
