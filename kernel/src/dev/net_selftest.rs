//! `coracle.selftest=net`: proves the card, its interrupt and the timer path without the
//! stack. It broadcasts an ARP request for the gateway (QEMU's user network answers for
//! 10.0.2.2) every 200 ms, at most five times, and logs the reply when an interrupt brings it:
//! `selftest: net: ARP reply: 10.0.2.2 is at 52:55:0a:00:02:02 (N interrupts)`. Boot waits
//! for the end of the test (halted between interrupts, see `net::init`), so the program's
//! length does not matter.

use coracle_devices::netconfig::NetConfig;
use coracle_net::NetDevice;
use spin::{Mutex, Once};

use super::net::{interrupts, MacFmt};
use crate::log;

const TRIES: u32 = 5;
const INTERVAL_NS: u64 = 200_000_000;
const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];

#[derive(Debug)]
struct State {
    sent: u32,
    next: u64,
    done: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    sent: 0,
    next: 0,
    done: false,
});
static CONFIG: Once<NetConfig> = Once::new();

/// Whether the test has ended (a reply, or no reply after every try).
pub fn finished() -> bool {
    STATE.lock().done
}

/// The addresses the test uses (the guest's and its gateway's).
pub fn configure(config: &NetConfig) {
    CONFIG.call_once(|| config.clone());
}

fn request(mac: [u8; 6], ip: [u8; 4], target: [u8; 4]) -> [u8; 42] {
    let mut f = [0u8; 42];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETHERTYPE_ARP);
    // Ethernet, IPv4, 6-byte and 4-byte addresses, request (RFC 826).
    f[14..22].copy_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip);
    f[38..42].copy_from_slice(&target);
    f
}

/// The sender's MAC if `frame` is an ARP reply from `from`.
fn reply_from(frame: &[u8], from: [u8; 4]) -> Option<[u8; 6]> {
    let arp = frame.get(14..42)?;
    let is_reply =
        frame.get(12..14)? == ETHERTYPE_ARP && arp.get(0..8)? == [0, 1, 8, 0, 6, 4, 0, 2];
    (is_reply && arp.get(14..18)? == from).then(|| arp[8..14].try_into().ok())?
}

/// One run of the test's work item: reads what arrived, sends the next request when due.
pub fn poll(nic: &mut impl NetDevice, now: u64) -> Option<u64> {
    let config = CONFIG.get().map(NetConfig::first).unwrap_or_default();
    let gateway = config.gateway.unwrap_or([10, 0, 2, 2]);
    let mut state = STATE.lock();
    let mut buf = [0u8; 1514];
    while let Some(len) = nic.receive(&mut buf) {
        if state.done {
            continue;
        }
        if let Some(mac) = buf.get(..len).and_then(|f| reply_from(f, gateway)) {
            let [a, b, c, d] = gateway;
            log!(
                "selftest: net: ARP reply: {a}.{b}.{c}.{d} is at {} ({} interrupts, {} requests)",
                MacFmt(mac),
                interrupts(),
                state.sent
            );
            state.done = true;
        }
    }
    if state.done {
        return None;
    }
    if now >= state.next {
        if state.sent == TRIES {
            log!("selftest: net: no ARP reply after {TRIES} requests");
            state.done = true;
            return None;
        }
        match nic.transmit(&request(nic.mac(), config.address, gateway)) {
            Ok(()) => state.sent += 1,
            Err(e) => log!("selftest: net: transmit: {e:?}"),
        }
        state.next = now + INTERVAL_NS;
    }
    Some(state.next)
}
