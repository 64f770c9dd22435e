//! TCP between two stacks over a fake NIC pair: the path socket calls take on the NIC, where
//! a read or a write runs only part of the stack and ACKs wait for replies to carry them.

use alloc::vec;
use alloc::vec::Vec;

use super::wire::{eagain, Both};

#[test]
fn bulk_data_both_ways_over_the_nic() {
    let mut t = Both::cabled();
    let (_l, c, s) = t.connected(80);
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
