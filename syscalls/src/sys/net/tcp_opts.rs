//! The options of a TCP socket that reach into the stack: TCP_INFO, TCP_CONGESTION, and the
//! SOL_SOCKET ones the connection itself follows (SO_RCVBUF/SO_SNDBUF size its buffers,
//! SO_LINGER with a zero time makes close reset it). The socket layer ([`super::opt`]) keeps
//! and reports the SOL_SOCKET values; these only pass them on.

use alloc::vec::Vec;

use coracle_abi::socket::*;
use coracle_abi::{FromBytes, IntoBytes};
use coracle_net::{Congestion, TcpSocket};

use super::opt::{read_int, scaled_buf};
use crate::Errno;

/// The smallest buffer a connection gets, whatever SO_RCVBUF/SO_SNDBUF ask (Linux's floors
/// leave about this much room for data).
const MIN_CONN_BUF: usize = 2048;

/// TCP-level options served here; None for the others.
pub(super) fn get(t: &TcpSocket, name: i32) -> Option<Vec<u8>> {
    match name {
        TCP_INFO => Some(tcp_info(t).as_bytes().to_vec()),
        // do_tcp_getsockopt copies the name's whole TCP_CA_NAME_MAX field, zero padded.
        TCP_CONGESTION => {
            let mut v = alloc::vec![0u8; TCP_CA_NAME_MAX];
            let name = t.opts().congestion.name().as_bytes();
            v[..name.len()].copy_from_slice(name);
            Some(v)
        }
        _ => None,
    }
}

/// TCP-level options served here; None for the others.
pub(super) fn set(t: &TcpSocket, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
    match name {
        TCP_CONGESTION => Some(set_congestion(t, val)),
        // tcp_setsockopt has no TCP_INFO: it is read only.
        TCP_INFO => Some(Err(Errno::ENOPROTOOPT)),
        _ => None,
    }
}

/// do_tcp_setsockopt: at most TCP_CA_NAME_MAX - 1 bytes, up to a NUL; EINVAL for an empty
/// value, ENOENT for a name no algorithm has.
fn set_congestion(t: &TcpSocket, val: &[u8]) -> Result<(), Errno> {
    if val.is_empty() {
        return Err(Errno::EINVAL);
    }
    let val = &val[..val.len().min(TCP_CA_NAME_MAX - 1)];
    let name = val.split(|&b| b == 0).next().unwrap_or(val);
    let c = Congestion::from_name(name).ok_or(Errno::ENOENT)?;
    t.set_opts(|o| o.congestion = c);
    Ok(())
}

fn tcp_info(t: &TcpSocket) -> TcpInfo {
    let i = t.info();
    TcpInfo {
        state: i.state,
        rto: i.rto,
        snd_mss: i.snd_mss,
        rcv_mss: i.rcv_mss,
        pmtu: i.pmtu,
        rtt: i.rtt,
        rttvar: i.rttvar,
        snd_ssthresh: i.snd_ssthresh,
        snd_cwnd: i.snd_cwnd,
        advmss: i.advmss,
        notsent_bytes: i.unsent,
        rcv_space: i.rcv_space,
        rcv_ssthresh: i.rcv_space,
        ..TcpInfo::default()
    }
}

/// SOL_SOCKET options the connection follows, passed on before the socket layer records
/// them; an error is the one the socket layer would give.
pub(super) fn pass_on(t: &TcpSocket, name: i32, val: &[u8]) -> Result<(), Errno> {
    match name {
        // The reported value is twice the usable room (sk_rcvbuf counts overhead too).
        SO_RCVBUF | SO_RCVBUFFORCE => {
            let room = (scaled_buf(read_int(val)?, true) / 2) as usize;
            t.set_opts(|o| o.rcvbuf = room.max(MIN_CONN_BUF));
        }
        SO_SNDBUF | SO_SNDBUFFORCE => {
            let room = (scaled_buf(read_int(val)?, false) / 2) as usize;
            t.set_opts(|o| o.sndbuf = room.max(MIN_CONN_BUF));
        }
        SO_LINGER => {
            let l = Linger::read_from_prefix(val).map_err(|_| Errno::EINVAL)?.0;
            t.set_opts(|o| o.linger_abort = l.onoff != 0 && l.linger == 0);
        }
        _ => {}
    }
    Ok(())
}
