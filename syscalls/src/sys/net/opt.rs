//! getsockopt and setsockopt: the socket layer's options here, the protocol's through
//! [`super::Socket::get_opt`] and [`super::Socket::set_opt`].

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::socket::*;
use coracle_abi::{FromBytes, IntoBytes};

use super::{sock_of, socket};
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Platform, SysResult};

/// net.core.rmem_max and wmem_max (Linux doubles what is asked, up to twice these).
const RMEM_MAX: u32 = 212_992;
const WMEM_MAX: u32 = 212_992;
/// SOCK_MIN_RCVBUF and SOCK_MIN_SNDBUF on x86_64.
const MIN_RCVBUF: u32 = 2304;
const MIN_SNDBUF: u32 = 4608;

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

pub(super) fn read_int(val: &[u8]) -> Result<i32, Errno> {
    let b = val.get(..4).ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// What SO_RCVBUF (`rcv`) or SO_SNDBUF reports after `v` was set (sock_setsockopt: doubled,
/// from at most rmem_max/wmem_max, at least SOCK_MIN_RCVBUF/SOCK_MIN_SNDBUF). The value is
/// compared unsigned, so a negative one is a huge one.
pub(super) fn scaled_buf(v: i32, rcv: bool) -> u32 {
    let (max, min) = if rcv {
        (RMEM_MAX, MIN_RCVBUF)
    } else {
        (WMEM_MAX, MIN_SNDBUF)
    };
    ((v as u32).min(max) * 2).max(min)
}

fn timeval(ns: Option<u64>) -> Vec<u8> {
    let ns = ns.unwrap_or(0);
    Timeval {
        sec: (ns / 1_000_000_000) as i64,
        usec: ((ns % 1_000_000_000) / 1000) as i64,
    }
    .as_bytes()
    .to_vec()
}

/// sock_set_timeout: usec out of range is EDOM, a negative time is 0 (no wait), 0 is forever.
fn read_timeout(val: &[u8]) -> Result<Option<u64>, Errno> {
    let tv = Timeval::read_from_prefix(val).map_err(|_| Errno::EINVAL)?.0;
    if !(0..1_000_000).contains(&tv.usec) {
        return Err(Errno::EDOM);
    }
    if tv.sec < 0 {
        return Ok(Some(0));
    }
    if tv.sec == 0 && tv.usec == 0 {
        return Ok(None);
    }
    Ok(Some(
        (tv.sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(tv.usec as u64 * 1000),
    ))
}

pub(crate) fn getsockopt(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    level: i32,
    name: i32,
    optval: u64,
    optlen: u64,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    let room: i32 = read_struct(k, optlen)?;
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let value = match s.sock.get_opt(level, name) {
        Some(r) => r?,
        None => {
            if level != SOL_SOCKET {
                return Err(Errno::ENOPROTOOPT);
            }
            let c = *s.common.lock();
            match name {
                SO_TYPE => int(s.sock.kind() as i32),
                SO_DOMAIN => int(i32::from(s.sock.family())),
                SO_PROTOCOL => int(s.sock.protocol()),
                SO_ERROR => int(s.sock.take_error().map_or(0, |e| e as i32)),
                SO_RCVBUF => int(c.rcvbuf as i32),
                SO_SNDBUF => int(c.sndbuf as i32),
                SO_RCVTIMEO => timeval(c.rcvtimeo),
                SO_SNDTIMEO => timeval(c.sndtimeo),
                SO_LINGER => c.linger.as_bytes().to_vec(),
                SO_KEEPALIVE => int(c.keepalive as i32),
                SO_REUSEADDR => int(c.reuseaddr as i32),
                SO_ACCEPTCONN => int(s.sock.listening() as i32),
                SO_REUSEPORT | SO_BROADCAST | SO_OOBINLINE | SO_DONTROUTE | SO_DEBUG
                | SO_PASSCRED => int(0),
                SO_RCVLOWAT | SO_SNDLOWAT => int(1),
                _ => return Err(Errno::ENOPROTOOPT),
            }
        }
    };
    let n = value.len().min(room as usize);
    if n > 0 {
        k.write_user(optval, &value[..n])?;
    }
    write_struct(k, optlen, &(n as u32))?;
    Ok(0)
}

pub(crate) fn setsockopt(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    level: i32,
    name: i32,
    optval: u64,
    optlen: i32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    if optlen < 0 {
        return Err(Errno::EINVAL);
    }
    let mut val = vec![0u8; (optlen as usize).min(256)];
    if !val.is_empty() {
        k.read_user(optval, &mut val)?;
    }
    if let Some(r) = s.sock.set_opt(level, name, &val) {
        r?;
        if level == SOL_SOCKET && name == SO_KEEPALIVE {
            s.common.lock().keepalive = read_int(&val)? != 0;
        }
        return Ok(0);
    }
    if level != SOL_SOCKET {
        return Err(Errno::ENOPROTOOPT);
    }
    let mut c = s.common.lock();
    match name {
        SO_RCVBUF | SO_RCVBUFFORCE => c.rcvbuf = scaled_buf(read_int(&val)?, true),
        SO_SNDBUF | SO_SNDBUFFORCE => c.sndbuf = scaled_buf(read_int(&val)?, false),
        SO_RCVTIMEO => c.rcvtimeo = read_timeout(&val)?,
        SO_SNDTIMEO => c.sndtimeo = read_timeout(&val)?,
        SO_LINGER => {
            let l = Linger::read_from_prefix(&val).map_err(|_| Errno::EINVAL)?.0;
            // sock_setsockopt: turning lingering off keeps the time set before.
            c.linger = if l.onoff == 0 {
                Linger {
                    onoff: 0,
                    linger: c.linger.linger,
                }
            } else {
                Linger {
                    onoff: 1,
                    linger: l.linger,
                }
            };
        }
        SO_KEEPALIVE => c.keepalive = read_int(&val)? != 0,
        SO_REUSEADDR => c.reuseaddr = read_int(&val)? != 0,
        SO_REUSEPORT | SO_BROADCAST | SO_OOBINLINE | SO_DONTROUTE | SO_DEBUG | SO_PASSCRED
        | SO_RCVLOWAT | SO_SNDLOWAT => {
            read_int(&val)?;
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(0)
}
