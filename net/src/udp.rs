//! UDP sockets: bind, connect (a default peer and a filter), sendto, recvfrom.
//!
//! One Linux UDP socket is a smoltcp UDP socket on each interface it can use, all bound to the
//! same port: a datagram arrives on whichever interface carried it, and one is sent through
//! the interface its destination routes to.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use coracle_abi::errno::Errno;
use coracle_abi::poll::*;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::udp::{self, PacketBuffer, PacketMetadata, UdpMetadata};
use smoltcp::wire::{IpEndpoint, IpListenEndpoint};

use crate::ports::{Binding, Proto};
use crate::stack::{Ifaces, Inner, Kind, Network, Shared, Which};
use crate::tcp::check_local;

/// Datagrams and bytes each direction of each smoltcp socket buffers.
const RX_PACKETS: usize = 64;
const RX_BYTES: usize = 128 * 1024;
const TX_PACKETS: usize = 32;
const TX_BYTES: usize = 80 * 1024;
/// The largest UDP payload over IPv4 (65535 - 20 - 8).
pub const MAX_DATAGRAM: usize = 65507;

/// Options kept as Linux reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpOpts {
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub v6only: bool,
}

pub(crate) struct UdpState {
    id: u64,
    pub(crate) opts: UdpOpts,
    local: Option<(IpAddr, u16)>,
    handles: Vec<(Which, SocketHandle)>,
    peer: Option<SocketAddr>,
    /// bind named the port (SOCK_BINDPORT_LOCK): disconnecting keeps it.
    port_locked: bool,
}

fn new_socket() -> udp::Socket<'static> {
    udp::Socket::new(
        PacketBuffer::new(vec![PacketMetadata::EMPTY; RX_PACKETS], vec![0u8; RX_BYTES]),
        PacketBuffer::new(vec![PacketMetadata::EMPTY; TX_PACKETS], vec![0u8; TX_BYTES]),
    )
}

impl UdpState {
    fn sock(ifs: &Ifaces, (w, h): (Which, SocketHandle)) -> &udp::Socket<'static> {
        ifs.set_ref(w).get(h)
    }

    pub(crate) fn events(&self, ifs: &Ifaces) -> u32 {
        let mut ev = POLLOUT | POLLWRNORM;
        if self.handles.iter().any(|&x| Self::sock(ifs, x).can_recv()) {
            ev |= POLLIN | POLLRDNORM;
        }
        ev
    }

    pub(crate) fn queued(&self, ifs: &Ifaces) -> u32 {
        self.handles
            .iter()
            .map(|&x| Self::sock(ifs, x).recv_queue() as u32)
            .sum()
    }

    fn bind(&mut self, inner: &mut Inner, addr: IpAddr, port: u16) -> Result<(), Errno> {
        if self.local.is_some() {
            return Err(Errno::EINVAL);
        }
        let b = Binding {
            owner: self.id,
            addr,
            v6only: self.opts.v6only,
            reuseaddr: self.opts.reuseaddr,
            reuseport: self.opts.reuseport,
            listening: false,
        };
        let port = inner.ports.bind(Proto::Udp, port, b)?;
        self.local = Some((addr, port));
        let ep = IpListenEndpoint {
            addr: (!addr.is_unspecified()).then(|| addr.into()),
            port,
        };
        for &w in inner.ifs.all() {
            if matches!(w, Which::Eth(_)) && addr.is_loopback() {
                continue;
            }
            let mut s = new_socket();
            if s.bind(ep).is_ok() {
                self.handles.push((w, inner.ifs.set(w).add(s)));
            }
        }
        Ok(())
    }
}

/// A UDP socket.
pub struct UdpSocket {
    net: Arc<Network>,
    id: u64,
    shared: Arc<Shared>,
}

impl core::fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UdpSocket").field("id", &self.id).finish()
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let id = self.id;
        self.net.peek(|inner| {
            if let Some(s) = inner.socks.remove(&id) {
                if let Kind::Udp(u) = s.kind {
                    for (w, h) in u.handles {
                        inner.ifs.set(w).remove(h);
                    }
                    if let Some((_, port)) = u.local {
                        inner.ports.release(Proto::Udp, port, id);
                    }
                }
            }
        });
    }
}

/// A datagram received: the bytes copied, its full length, and its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub copied: usize,
    pub len: usize,
    pub from: SocketAddr,
}

impl UdpSocket {
    pub fn new(net: &Arc<Network>) -> UdpSocket {
        let (id, shared) = net.peek(|inner| {
            let (id, shared) = inner.add(Kind::Udp(UdpState {
                id: 0,
                opts: UdpOpts::default(),
                local: None,
                handles: Vec::new(),
                peer: None,
                port_locked: false,
            }));
            inner.udp(id).id = id;
            (id, shared)
        });
        UdpSocket {
            net: net.clone(),
            id,
            shared,
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn with<R>(&self, now: u64, f: impl FnOnce(&mut UdpState, &mut Inner) -> R) -> R {
        let id = self.id;
        self.net.with(now, |inner| {
            let mut u = core::mem::replace(
                inner.udp(id),
                UdpState {
                    id,
                    opts: UdpOpts::default(),
                    local: None,
                    handles: Vec::new(),
                    peer: None,
                    port_locked: false,
                },
            );
            let r = f(&mut u, inner);
            *inner.udp(id) = u;
            r
        })
    }

    fn peek<R>(&self, f: impl FnOnce(&mut UdpState, &Ifaces) -> R) -> R {
        let id = self.id;
        self.net.peek(|inner| {
            let Inner { socks, ifs, .. } = inner;
            match socks.get_mut(&id).map(|s| &mut s.kind) {
                Some(Kind::Udp(u)) => f(u, ifs),
                _ => unreachable!("a UdpSocket's state lives as long as it does"),
            }
        })
    }

    pub fn opts(&self) -> UdpOpts {
        self.peek(|u, _| u.opts)
    }

    pub fn set_opts(&self, f: impl FnOnce(&mut UdpOpts)) {
        self.peek(|u, _| f(&mut u.opts))
    }

    pub fn bind(&self, addr: SocketAddr, now: u64) -> Result<(), Errno> {
        self.with(now, |u, inner| {
            check_local(&inner.ifs, addr.ip())?;
            u.bind(inner, addr.ip(), addr.port())?;
            u.port_locked = addr.port() != 0;
            Ok(())
        })
    }

    /// `connect`: sets the default destination and receives only from it.
    pub fn connect(&self, peer: SocketAddr, unspecified: IpAddr, now: u64) -> Result<(), Errno> {
        self.with(now, |u, inner| {
            inner.ifs.route(peer.ip())?;
            if u.local.is_none() {
                u.bind(inner, unspecified, 0)?;
            }
            u.peer = Some(peer);
            Ok(())
        })
    }

    /// `connect` with AF_UNSPEC: forgets the peer, and gives back a port it did not bind by
    /// number (udp_disconnect unhashes a socket without SOCK_BINDPORT_LOCK).
    pub fn disconnect(&self) {
        let id = self.id;
        self.net.peek(|inner| {
            let u = inner.udp(id);
            u.peer = None;
            if u.port_locked {
                return;
            }
            let Some((_, port)) = u.local.take() else {
                return;
            };
            let handles = core::mem::take(&mut u.handles);
            for (w, h) in handles {
                inner.ifs.set(w).remove(h);
            }
            inner.ports.release(Proto::Udp, port, id);
        })
    }

    /// `sendto` (`to`: None uses the connected peer).
    pub fn send_to(
        &self,
        data: &[u8],
        to: Option<SocketAddr>,
        unspecified: IpAddr,
        now: u64,
    ) -> Result<usize, Errno> {
        self.with(now, |u, inner| {
            let dst = to.or(u.peer).ok_or(Errno::EDESTADDRREQ)?;
            if data.len() > MAX_DATAGRAM {
                return Err(Errno::EMSGSIZE);
            }
            if dst.port() == 0 {
                return Err(Errno::EINVAL);
            }
            let which = inner.ifs.route(dst.ip())?;
            if u.local.is_none() {
                u.bind(inner, unspecified, 0)?;
            }
            let mut dst = dst;
            if dst.ip().is_unspecified() {
                dst.set_ip(match dst.ip() {
                    IpAddr::V4(_) => IpAddr::V4(core::net::Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(core::net::Ipv6Addr::LOCALHOST),
                });
            }
            let &(w, h) = u
                .handles
                .iter()
                .find(|&&(w, _)| w == which)
                .ok_or(Errno::ENETUNREACH)?;
            let s = inner.ifs.set(w).get_mut::<udp::Socket<'static>>(h);
            let meta = UdpMetadata::from(IpEndpoint::from(dst));
            match s.send_slice(data, meta) {
                Ok(()) => Ok(data.len()),
                Err(udp::SendError::BufferFull) => {
                    if data.len() > s.payload_send_capacity() {
                        Err(Errno::EMSGSIZE)
                    } else {
                        Err(Errno::EAGAIN)
                    }
                }
                Err(udp::SendError::Unaddressable) => Err(Errno::EINVAL),
            }
        })
    }

    /// `recvfrom`: one datagram (truncated to `buf`), or EAGAIN.
    pub fn recv_from(&self, buf: &mut [u8], peek: bool, now: u64) -> Result<Received, Errno> {
        self.with(now, |u, inner| {
            for &(w, h) in &u.handles {
                let s = inner.ifs.set(w).get_mut::<udp::Socket<'static>>(h);
                while let Ok((data, meta)) = s.peek() {
                    let meta = *meta;
                    let from = SocketAddr::from(meta.endpoint);
                    if u.peer.is_some_and(|p| !same_peer(p, from)) {
                        let _ = s.recv();
                        continue;
                    }
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    let len = data.len();
                    if !peek {
                        let _ = s.recv();
                    }
                    return Ok(Received {
                        copied: n,
                        len,
                        from,
                    });
                }
            }
            Err(Errno::EAGAIN)
        })
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.peek(|u, _| u.local.map(|(a, p)| SocketAddr::new(a, p)))
    }

    pub fn peer_addr(&self) -> Result<SocketAddr, Errno> {
        self.peek(|u, _| u.peer.ok_or(Errno::ENOTCONN))
    }

    pub fn events(&self) -> u32 {
        self.peek(|u, ifs| u.events(ifs))
    }

    /// FIONREAD: the size of the next datagram (Linux's UDP answers that, not the total).
    pub fn next_len(&self) -> usize {
        let id = self.id;
        self.net.peek(|inner| {
            let handles = inner.udp(id).handles.clone();
            for (w, h) in handles {
                let s = inner.ifs.set(w).get_mut::<udp::Socket<'static>>(h);
                if let Ok((data, _)) = s.peek() {
                    return data.len();
                }
            }
            0
        })
    }
}

/// Whether a datagram from `from` comes from the connected `peer` (an unspecified peer
/// address is the host itself).
fn same_peer(peer: SocketAddr, from: SocketAddr) -> bool {
    peer.port() == from.port()
        && (peer.ip() == from.ip() || peer.ip().is_unspecified() && from.ip().is_loopback())
}
