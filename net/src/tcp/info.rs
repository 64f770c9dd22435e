//! TCP_INFO and TCP_CONGESTION: what a TCP socket tells about its connection.
//!
//! smoltcp keeps its round-trip estimator and the peer's MSS private, so the figures here are
//! what this layer knows: the state, the handshake's round trip (measured by `connect`), the
//! interface's MTU and the queues. The congestion control smoltcp runs is none (its Reno and
//! CUBIC are features this crate leaves off: CUBIC needs floating point in the kernel); the
//! name is kept so that programs that set and read it back see what Linux shows.

use core::net::IpAddr;

use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Duration;

use super::{Phase, TcpSocket};
use crate::stack::Which;

/// Linux's TCP_RTO_MIN (200 ms) and TCP_TIMEOUT_INIT (1 s), in µs.
const RTO_MIN_US: u32 = 200_000;
const RTO_INIT_US: u32 = 1_000_000;
/// TCP_INIT_CWND and TCP_INFINITE_SSTHRESH.
const INIT_CWND: u32 = 10;
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;
/// The MTU Linux gives lo and the one of QEMU's NIC.
const LO_MTU: u32 = 65536;
const ETH_MTU: u32 = 1500;

/// A congestion control algorithm TCP_CONGESTION names (those Linux allows every user by
/// default: net.ipv4.tcp_allowed_congestion_control is "reno cubic").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Congestion {
    Cubic,
    Reno,
}

impl Congestion {
    /// The algorithm called `name` (ENOENT in Linux when none is).
    pub fn from_name(name: &[u8]) -> Option<Congestion> {
        match name {
            b"cubic" => Some(Congestion::Cubic),
            b"reno" => Some(Congestion::Reno),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Congestion::Cubic => "cubic",
            Congestion::Reno => "reno",
        }
    }
}

/// The fields of Linux's `struct tcp_info` this layer fills (the others are 0). Times in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Linux's TCP_ESTABLISHED (1) ... TCP_CLOSING (11).
    pub state: u8,
    pub rto: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub pmtu: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    /// Bytes queued to send, sent or not (tcpi_notsent_bytes approximates it).
    pub unsent: u32,
    /// Free room in the receive buffer (tcpi_rcv_space and tcpi_rcv_wnd).
    pub rcv_space: u32,
}

/// Linux's number for a TCP state (include/net/tcp_states.h).
fn linux_state(s: State) -> u8 {
    match s {
        State::Established => 1,
        State::SynSent => 2,
        State::SynReceived => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::Closed => 7,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
    }
}

/// The MTU of an interface.
fn mtu(w: Which) -> u32 {
    match w {
        Which::Lo => LO_MTU,
        Which::Eth(_) => ETH_MTU,
    }
}

/// The IP and TCP headers' length to a peer at `peer` (IPv4: 40 bytes; IPv6: 60).
fn headers(peer: Option<IpAddr>) -> u32 {
    match peer {
        Some(IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => 60,
        _ => 40,
    }
}

/// Linux's RTO after one sample: srtt plus the larger of 4 * rttvar and TCP_RTO_MIN, with
/// rttvar = rtt / 2 (tcp_rtt_estimator, tcp_set_rto).
fn rto_of(rtt: Option<Duration>) -> (u32, u32, u32) {
    match rtt {
        Some(d) => {
            let rtt = d.total_micros().min(u64::from(u32::MAX / 4)) as u32;
            let var = rtt / 2;
            (rtt + (4 * var).max(RTO_MIN_US), rtt.max(1), var)
        }
        None => (RTO_INIT_US, 0, 0),
    }
}

impl TcpSocket {
    /// TCP_INFO: a listener or an unconnected socket shows its state only.
    pub fn info(&self) -> TcpInfo {
        self.peek(|t, ifs| {
            let mut info = TcpInfo {
                state: 7,
                rto: RTO_INIT_US,
                snd_cwnd: INIT_CWND,
                snd_ssthresh: INFINITE_SSTHRESH,
                ..TcpInfo::default()
            };
            match t.phase {
                Phase::Idle => {}
                Phase::Listen { .. } => info.state = 10,
                Phase::Conn {
                    which, handle, rtt, ..
                } => {
                    let s: &tcp::Socket<'_> = ifs.set_ref(which).get(handle);
                    info.state = linux_state(s.state());
                    let peer = s.remote_endpoint().map(|e| IpAddr::from(e.addr));
                    info.pmtu = mtu(which);
                    let m = info.pmtu - headers(peer);
                    info.snd_mss = m;
                    info.rcv_mss = m;
                    info.advmss = m;
                    (info.rto, info.rtt, info.rttvar) = rto_of(rtt);
                    info.unsent = s.send_queue() as u32;
                    info.rcv_space = (s.recv_capacity() - s.recv_queue()) as u32;
                }
            }
            info
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rto_follows_linux_after_one_sample() {
        // No sample: TCP_TIMEOUT_INIT. A short round trip: rtt + TCP_RTO_MIN.
        assert_eq!(rto_of(None), (1_000_000, 0, 0));
        assert_eq!(rto_of(Some(Duration::from_micros(100))), (200_100, 100, 50));
        // A long one: rtt + 4 * rttvar.
        assert_eq!(
            rto_of(Some(Duration::from_millis(300))),
            (900_000, 300_000, 150_000)
        );
    }

    #[test]
    fn congestion_names() {
        assert_eq!(Congestion::from_name(b"reno"), Some(Congestion::Reno));
        assert_eq!(
            Congestion::from_name(b"cubic").map(Congestion::name),
            Some("cubic")
        );
        assert_eq!(Congestion::from_name(b"bbr2"), None);
        assert_eq!(Congestion::from_name(b""), None);
    }
}
