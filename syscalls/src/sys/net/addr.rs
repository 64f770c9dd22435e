//! Socket addresses: `struct sockaddr_*` read from and written to user memory.
//!
//! Reads follow Linux's move_addr_to_kernel (a length over 128 bytes is EINVAL, a bad pointer
//! EFAULT) and each family's checks (inet_bind's `addrlen < sizeof(sockaddr_in)` is EINVAL, a
//! wrong family EAFNOSUPPORT); writes follow move_addr_to_user: the address is cut to the
//! caller's buffer and the full length is stored.

use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use coracle_abi::netlink::SockaddrNl;
use coracle_abi::socket::*;
use coracle_abi::{FromBytes, IntoBytes};

use crate::uaccess::{read_struct, write_struct};
use crate::{Errno, Platform};

/// A Unix socket's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum UnixAddr {
    /// Not bound.
    Unnamed,
    /// A filesystem path, as given (no trailing NUL).
    Path(Vec<u8>),
    /// An abstract name (without the leading NUL).
    Abstract(Vec<u8>),
}

/// An address a socket call takes or gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SockAddr {
    Inet(SocketAddr),
    Unix(UnixAddr),
    /// AF_NETLINK: a port id (0: the kernel) and multicast groups.
    Netlink {
        pid: u32,
        groups: u32,
    },
    /// AF_UNSPEC (connect's "dissolve the association").
    Unspec,
}

/// Reads `len` bytes of address at `ptr`.
pub(crate) fn read_raw(k: &dyn Platform, ptr: u64, len: u32) -> Result<Vec<u8>, Errno> {
    if len as usize > SOCKADDR_STORAGE {
        return Err(Errno::EINVAL);
    }
    let mut raw = vec![0u8; len as usize];
    if len > 0 {
        k.read_user(ptr, &mut raw)?;
    }
    Ok(raw)
}

/// Parses an address of `family` (the socket's); `AF_UNSPEC` is returned as such for the
/// callers that accept it.
pub(crate) fn parse(raw: &[u8], family: u16) -> Result<SockAddr, Errno> {
    if raw.len() < 2 {
        return Err(Errno::EINVAL);
    }
    let got = u16::from_ne_bytes([raw[0], raw[1]]);
    if got == AF_UNSPEC && family != AF_UNIX {
        return Ok(SockAddr::Unspec);
    }
    match family {
        AF_INET => {
            if raw.len() < size_of::<SockaddrIn>() {
                return Err(Errno::EINVAL);
            }
            if got != AF_INET {
                return Err(Errno::EAFNOSUPPORT);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let ip = Ipv4Addr::new(raw[4], raw[5], raw[6], raw[7]);
            Ok(SockAddr::Inet(SocketAddr::new(IpAddr::V4(ip), port)))
        }
        AF_INET6 => {
            if raw.len() < size_of::<SockaddrIn6>() {
                return Err(Errno::EINVAL);
            }
            if got != AF_INET6 {
                return Err(Errno::EAFNOSUPPORT);
            }
            let port = u16::from_be_bytes([raw[2], raw[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&raw[8..24]);
            Ok(SockAddr::Inet(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(a)),
                port,
            )))
        }
        AF_UNIX => {
            if got != AF_UNIX {
                return Err(Errno::EINVAL);
            }
            let path = &raw[2..raw.len().min(2 + UNIX_PATH_MAX)];
            if path.is_empty() {
                return Ok(SockAddr::Unix(UnixAddr::Unnamed));
            }
            if path[0] == 0 {
                return Ok(SockAddr::Unix(UnixAddr::Abstract(path[1..].to_vec())));
            }
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            Ok(SockAddr::Unix(UnixAddr::Path(path[..end].to_vec())))
        }
        AF_NETLINK => {
            // netlink_bind and netlink_sendmsg: a short address or another family is EINVAL.
            let nl = SockaddrNl::read_from_prefix(raw)
                .map_err(|_| Errno::EINVAL)?
                .0;
            if got != AF_NETLINK {
                return Err(Errno::EINVAL);
            }
            Ok(SockAddr::Netlink {
                pid: nl.pid,
                groups: nl.groups,
            })
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// Reads and parses the address at `ptr`.
pub(crate) fn read(k: &dyn Platform, ptr: u64, len: u32, family: u16) -> Result<SockAddr, Errno> {
    parse(&read_raw(k, ptr, len)?, family)
}

/// The bytes of `addr` as `family` gives them (an IPv4 peer of an IPv6 socket is v4-mapped).
pub(crate) fn encode(addr: &SockAddr, family: u16) -> Vec<u8> {
    match addr {
        SockAddr::Inet(sa) => match family {
            AF_INET6 => {
                let ip = match sa.ip() {
                    IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    IpAddr::V6(v6) => v6,
                };
                SockaddrIn6 {
                    family: AF_INET6,
                    port: sa.port().to_be_bytes(),
                    flowinfo: 0,
                    addr: ip.octets(),
                    scope_id: 0,
                }
                .as_bytes()
                .to_vec()
            }
            _ => {
                let ip = match sa.ip() {
                    IpAddr::V4(v4) => v4,
                    IpAddr::V6(v6) => v6.to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
                };
                SockaddrIn {
                    family: AF_INET,
                    port: sa.port().to_be_bytes(),
                    addr: ip.octets(),
                    zero: [0; 8],
                }
                .as_bytes()
                .to_vec()
            }
        },
        SockAddr::Unix(u) => {
            let mut out = AF_UNIX.to_ne_bytes().to_vec();
            match u {
                UnixAddr::Unnamed => {}
                UnixAddr::Path(p) => {
                    out.extend_from_slice(p);
                    out.push(0);
                }
                UnixAddr::Abstract(n) => {
                    out.push(0);
                    out.extend_from_slice(n);
                }
            }
            out
        }
        SockAddr::Netlink { pid, groups } => SockaddrNl {
            family: AF_NETLINK,
            pad: 0,
            pid: *pid,
            groups: *groups,
        }
        .as_bytes()
        .to_vec(),
        SockAddr::Unspec => AF_UNSPEC.to_ne_bytes().to_vec(),
    }
}

/// Writes `addr` to `ptr` with its length at `lenptr` (in: the buffer's size; out: the
/// address's full length). A null `ptr` writes nothing.
pub(crate) fn write(
    k: &mut dyn Platform,
    ptr: u64,
    lenptr: u64,
    addr: &SockAddr,
    family: u16,
) -> Result<(), Errno> {
    if ptr == 0 || lenptr == 0 {
        return Ok(());
    }
    let room: i32 = read_struct(k, lenptr)?;
    if room < 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = encode(addr, family);
    let n = bytes.len().min(room as usize);
    if n > 0 {
        k.write_user(ptr, &bytes[..n])?;
    }
    write_struct(k, lenptr, &(bytes.len() as u32))
}

/// An IP address as the stack takes it: v4-mapped IPv6 addresses become IPv4.
pub(crate) fn unmap(sa: SocketAddr) -> SocketAddr {
    match sa.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), sa.port()),
            None => sa,
        },
        IpAddr::V4(_) => sa,
    }
}
