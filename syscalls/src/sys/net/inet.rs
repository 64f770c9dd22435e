//! AF_INET and AF_INET6 sockets: TCP and UDP over the `coracle-net` stack.
//!
//! An AF_INET6 socket speaks IPv4 too (unless IPV6_V6ONLY): v4-mapped addresses are unmapped
//! on the way in, and IPv4 peers are shown v4-mapped on the way out (see [`super::addr`]).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use coracle_abi::socket::*;
use coracle_net::{Network, TcpSocket, UdpSocket};
use coracle_vfs::WaitQueue;

use super::addr::{unmap, SockAddr};
use super::{tcp_opts, Ancillary, Got, Socket};
use crate::{Current, Errno};

enum Proto {
    Tcp(TcpSocket),
    Udp(UdpSocket),
}

pub(super) struct Inet {
    family: u16,
    proto: Proto,
    #[allow(dead_code)]
    net: Arc<Network>,
}

/// EPROTONOSUPPORT for a protocol the type does not speak; ESOCKTNOSUPPORT for types other
/// than stream and datagram (raw sockets are not served).
pub(super) fn check_type(kind: u32, protocol: i32) -> Result<(), Errno> {
    match (kind, protocol) {
        (SOCK_STREAM, 0 | IPPROTO_TCP) | (SOCK_DGRAM, 0 | IPPROTO_UDP) => Ok(()),
        (SOCK_STREAM | SOCK_DGRAM, _) => Err(Errno::EPROTONOSUPPORT),
        (SOCK_RAW, _) => Err(Errno::EPROTONOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

pub(super) fn new(
    p: &Current,
    family: u16,
    kind: u32,
    protocol: i32,
) -> Result<Box<dyn Socket>, Errno> {
    check_type(kind, protocol)?;
    let net = p.sys.net.clone();
    let proto = if kind == SOCK_STREAM {
        Proto::Tcp(TcpSocket::new(&net))
    } else {
        Proto::Udp(UdpSocket::new(&net))
    };
    Ok(Box::new(Inet { family, proto, net }))
}

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn read_int(val: &[u8]) -> Result<i32, Errno> {
    let b = val.get(..4).ok_or(Errno::EINVAL)?;
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

impl Inet {
    fn any(&self) -> IpAddr {
        if self.family == AF_INET6 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        }
    }

    fn ip_addr(&self, addr: SockAddr) -> Result<SocketAddr, Errno> {
        match addr {
            SockAddr::Inet(sa) => {
                let sa = unmap(sa);
                if self.family == AF_INET6 && sa.is_ipv4() && self.v6only() {
                    return Err(Errno::ENETUNREACH);
                }
                Ok(sa)
            }
            _ => Err(Errno::EAFNOSUPPORT),
        }
    }

    fn v6only(&self) -> bool {
        match &self.proto {
            Proto::Tcp(t) => t.opts().v6only,
            Proto::Udp(u) => u.opts().v6only,
        }
    }
}

impl Socket for Inet {
    fn family(&self) -> u16 {
        self.family
    }

    fn kind(&self) -> u32 {
        match self.proto {
            Proto::Tcp(_) => SOCK_STREAM,
            Proto::Udp(_) => SOCK_DGRAM,
        }
    }

    fn protocol(&self) -> i32 {
        match self.proto {
            Proto::Tcp(_) => IPPROTO_TCP,
            Proto::Udp(_) => IPPROTO_UDP,
        }
    }

    fn bind(&self, _p: &Current, addr: SockAddr) -> Result<(), Errno> {
        let sa = match addr {
            // inet_bind takes AF_UNSPEC with INADDR_ANY for old programs.
            SockAddr::Unspec if self.family == AF_INET => {
                return Err(Errno::EAFNOSUPPORT);
            }
            a => self.ip_addr(a)?,
        };
        match &self.proto {
            Proto::Tcp(t) => t.bind(sa),
            Proto::Udp(u) => u.bind(sa, 0),
        }
    }

    fn listen(&self, backlog: i32, now: u64) -> Result<(), Errno> {
        match &self.proto {
            // __sys_listen compares unsigned: a negative backlog is net.core.somaxconn.
            Proto::Tcp(t) => t.listen(backlog as u32 as usize, self.any(), now),
            Proto::Udp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    fn accept(&self, now: u64) -> Result<(Box<dyn Socket>, SockAddr), Errno> {
        match &self.proto {
            Proto::Tcp(t) => {
                let (conn, peer) = t.accept(now)?;
                let sock = Inet {
                    family: self.family,
                    proto: Proto::Tcp(conn),
                    net: self.net.clone(),
                };
                Ok((Box::new(sock), SockAddr::Inet(peer)))
            }
            Proto::Udp(_) => Err(Errno::EOPNOTSUPP),
        }
    }

    fn connect(&self, _p: &Current, addr: SockAddr, now: u64) -> Result<(), Errno> {
        match (&self.proto, addr) {
            (Proto::Udp(u), SockAddr::Unspec) => {
                u.disconnect();
                Ok(())
            }
            (Proto::Tcp(_), SockAddr::Unspec) => Ok(()),
            (Proto::Tcp(t), a) => t.connect(self.ip_addr(a)?, self.any(), now),
            (Proto::Udp(u), a) => u.connect(self.ip_addr(a)?, self.any(), now),
        }
    }

    fn send(
        &self,
        _p: Option<&Current>,
        data: &[u8],
        to: Option<SockAddr>,
        _anc: &mut Ancillary,
        now: u64,
    ) -> Result<usize, Errno> {
        match &self.proto {
            Proto::Tcp(t) => t.send(data, now),
            Proto::Udp(u) => {
                let to = match to {
                    Some(a) => Some(self.ip_addr(a)?),
                    None => None,
                };
                u.send_to(data, to, self.any(), now)
            }
        }
    }

    fn recv(&self, buf: &mut [u8], flags: u32, now: u64) -> Result<Got, Errno> {
        let peek = flags & MSG_PEEK != 0;
        match &self.proto {
            Proto::Tcp(t) => {
                let n = t.recv(buf, peek, now)?;
                Ok(Got {
                    n,
                    len: n,
                    from: None,
                    anc: Ancillary::default(),
                })
            }
            Proto::Udp(u) => {
                let r = u.recv_from(buf, peek, now)?;
                Ok(Got {
                    n: r.copied,
                    len: r.len,
                    from: Some(SockAddr::Inet(r.from)),
                    anc: Ancillary::default(),
                })
            }
        }
    }

    fn shutdown(&self, how: i32, now: u64) -> Result<(), Errno> {
        let (rd, wr) = match how {
            SHUT_RD => (true, false),
            SHUT_WR => (false, true),
            SHUT_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        match &self.proto {
            Proto::Tcp(t) => t.shutdown(rd, wr, now),
            // A UDP socket is "connected" only with a peer.
            Proto::Udp(u) => u.peer_addr().map(|_| ()),
        }
    }

    fn name(&self) -> SockAddr {
        let local = match &self.proto {
            Proto::Tcp(t) => t.local_addr(),
            Proto::Udp(u) => u.local_addr(),
        };
        SockAddr::Inet(local.unwrap_or(SocketAddr::new(self.any(), 0)))
    }

    fn peer(&self) -> Result<SockAddr, Errno> {
        match &self.proto {
            Proto::Tcp(t) => t.peer_addr(),
            Proto::Udp(u) => u.peer_addr(),
        }
        .map(SockAddr::Inet)
    }

    fn events(&self) -> u32 {
        match &self.proto {
            Proto::Tcp(t) => t.events(),
            Proto::Udp(u) => u.events(),
        }
    }

    fn queue(&self) -> &WaitQueue {
        match &self.proto {
            Proto::Tcp(t) => &t.shared().queue,
            Proto::Udp(u) => &u.shared().queue,
        }
    }

    fn readable_bytes(&self) -> usize {
        match &self.proto {
            Proto::Tcp(t) => t.readable_bytes(),
            Proto::Udp(u) => u.next_len(),
        }
    }

    fn take_error(&self) -> Option<Errno> {
        match &self.proto {
            Proto::Tcp(t) => t.take_error(),
            Proto::Udp(_) => None,
        }
    }

    fn listening(&self) -> bool {
        match &self.proto {
            Proto::Tcp(t) => t.is_listening(),
            Proto::Udp(_) => false,
        }
    }

    fn close_lingering(&self, now: u64) -> bool {
        match &self.proto {
            Proto::Tcp(t) => t.close_lingering(now),
            Proto::Udp(_) => true,
        }
    }

    fn get_opt(&self, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
        if let (Proto::Tcp(t), IPPROTO_TCP) = (&self.proto, level) {
            if let Some(v) = tcp_opts::get(t, name) {
                return Some(Ok(v));
            }
        }
        let v = match (&self.proto, level, name) {
            (Proto::Tcp(t), SOL_SOCKET, SO_REUSEADDR) => t.opts().reuseaddr as i32,
            (Proto::Udp(u), SOL_SOCKET, SO_REUSEADDR) => u.opts().reuseaddr as i32,
            (Proto::Tcp(t), SOL_SOCKET, SO_REUSEPORT) => t.opts().reuseport as i32,
            (Proto::Udp(u), SOL_SOCKET, SO_REUSEPORT) => u.opts().reuseport as i32,
            (Proto::Tcp(t), SOL_SOCKET, SO_KEEPALIVE) => t.opts().keepalive as i32,
            (_, SOL_SOCKET, _) => return None,
            (Proto::Tcp(t), IPPROTO_TCP, TCP_NODELAY) => t.opts().nodelay as i32,
            (Proto::Tcp(t), IPPROTO_TCP, TCP_KEEPIDLE) => t.opts().keepidle as i32,
            (Proto::Tcp(t), IPPROTO_TCP, TCP_KEEPINTVL) => t.opts().keepintvl as i32,
            (Proto::Tcp(t), IPPROTO_TCP, TCP_KEEPCNT) => t.opts().keepcnt as i32,
            // tcp_getsockopt: the MSS of an unconnected socket is TCP_MSS_DEFAULT.
            (Proto::Tcp(_), IPPROTO_TCP, TCP_MAXSEG) => 536,
            (_, IPPROTO_IPV6, IPV6_V6ONLY) if self.family == AF_INET6 => self.v6only() as i32,
            // do_ip_getsockopt: a level that is neither IP's nor the protocol's on an IPv4
            // socket (ipv6_getsockopt says ENOPROTOOPT for an IPv6 one).
            (_, l, _) if self.family == AF_INET && l != IPPROTO_IP && l != self.protocol() => {
                return Some(Err(Errno::EOPNOTSUPP))
            }
            _ => return Some(Err(Errno::ENOPROTOOPT)),
        };
        Some(Ok(int(v)))
    }

    fn set_opt(&self, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
        match (&self.proto, level) {
            (Proto::Tcp(t), IPPROTO_TCP) => {
                if let Some(r) = tcp_opts::set(t, name, val) {
                    return Some(r);
                }
            }
            (Proto::Tcp(t), SOL_SOCKET) => {
                if let Err(e) = tcp_opts::pass_on(t, name, val) {
                    return Some(Err(e));
                }
            }
            _ => {}
        }
        let flag = |v: &[u8]| read_int(v).map(|i| i != 0);
        let r = (|| -> Result<Option<()>, Errno> {
            match (&self.proto, level, name) {
                (Proto::Tcp(t), SOL_SOCKET, SO_REUSEADDR) => {
                    let on = flag(val)?;
                    t.set_opts(|o| o.reuseaddr = on);
                }
                (Proto::Udp(u), SOL_SOCKET, SO_REUSEADDR) => {
                    let on = flag(val)?;
                    u.set_opts(|o| o.reuseaddr = on);
                }
                (Proto::Tcp(t), SOL_SOCKET, SO_REUSEPORT) => {
                    let on = flag(val)?;
                    t.set_opts(|o| o.reuseport = on);
                }
                (Proto::Udp(u), SOL_SOCKET, SO_REUSEPORT) => {
                    let on = flag(val)?;
                    u.set_opts(|o| o.reuseport = on);
                }
                (Proto::Tcp(t), SOL_SOCKET, SO_KEEPALIVE) => {
                    let on = flag(val)?;
                    t.set_opts(|o| o.keepalive = on);
                }
                (_, SOL_SOCKET, _) => return Ok(None),
                (Proto::Tcp(t), IPPROTO_TCP, TCP_NODELAY) => {
                    let on = flag(val)?;
                    t.set_opts(|o| o.nodelay = on);
                }
                (Proto::Tcp(t), IPPROTO_TCP, TCP_KEEPIDLE | TCP_KEEPINTVL) => {
                    let v = read_int(val)?;
                    // tcp_sock_set_keepidle: 1..=MAX_TCP_KEEPIDLE (32767) seconds.
                    if !(1..=32767).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    t.set_opts(|o| {
                        if name == TCP_KEEPIDLE {
                            o.keepidle = v as u32
                        } else {
                            o.keepintvl = v as u32
                        }
                    });
                }
                (Proto::Tcp(t), IPPROTO_TCP, TCP_KEEPCNT) => {
                    let v = read_int(val)?;
                    if !(1..=127).contains(&v) {
                        return Err(Errno::EINVAL);
                    }
                    t.set_opts(|o| o.keepcnt = v as u32);
                }
                (Proto::Tcp(_), IPPROTO_TCP, TCP_MAXSEG) => {
                    read_int(val)?;
                }
                (_, IPPROTO_IPV6, IPV6_V6ONLY) if self.family == AF_INET6 => {
                    let on = flag(val)?;
                    if self.name() != SockAddr::Inet(SocketAddr::new(self.any(), 0)) {
                        // Linux refuses once the socket is bound.
                        return Err(Errno::EINVAL);
                    }
                    match &self.proto {
                        Proto::Tcp(t) => t.set_opts(|o| o.v6only = on),
                        Proto::Udp(u) => u.set_opts(|o| o.v6only = on),
                    }
                }
                _ => return Err(Errno::ENOPROTOOPT),
            }
            Ok(Some(()))
        })();
        match r {
            Ok(None) => None,
            Ok(Some(())) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        }
    }
}
