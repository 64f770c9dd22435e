//! Sockets: socket and socketpair, and the socket file every socket call finds by its fd.
//!
//! A socket fd's open file holds a [`SocketFile`]: the protocol's [`Socket`] (IP sockets over
//! the `coracle-net` stack in [`inet`], Unix sockets in [`unix`]) plus the options every
//! socket keeps (buffer sizes, timeouts, linger). read and write reach it through the generic
//! file paths (so readv, sendfile and splice work), the socket calls through [`sock_of`].
//! A call that would block tries, registers on the socket's wait queue, tries again, then
//! waits ([`blocking`]); the stack wakes the queue when the socket's readiness changes.

pub(crate) mod addr;
mod calls;
mod inet;
pub(crate) mod linger;
mod msg;
mod netlink;
mod opt;
mod tcp_opts;
pub(crate) mod unix;

pub(crate) use calls::*;
pub(crate) use msg::*;
pub(crate) use opt::*;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use coracle_abi::socket::*;
use coracle_vfs::types::oflags::{O_CLOEXEC, O_NONBLOCK};
use coracle_vfs::types::Result as VfsResult;
use coracle_vfs::{FileOps, OpenFile, WaitQueue, Wake};
use spin::Mutex;

use self::addr::SockAddr;
use crate::sys::anon::anon_file;
use crate::sys::io::wait_for_file;
use crate::uaccess::write_struct;
use crate::{Current, Errno, Platform, SysResult};

/// What a message carries beside its bytes (Unix sockets only).
#[derive(Default)]
pub(crate) struct Ancillary {
    /// SCM_RIGHTS: open files.
    pub(crate) fds: Vec<Arc<OpenFile>>,
    /// SCM_CREDENTIALS: who sent it.
    pub(crate) cred: Option<Ucred>,
}

/// What one receive got.
pub(crate) struct Got {
    /// Bytes copied to the buffer.
    pub(crate) n: usize,
    /// The record's full length (datagrams and seqpackets; > n when truncated).
    pub(crate) len: usize,
    /// The sender (datagram sockets).
    pub(crate) from: Option<SockAddr>,
    pub(crate) anc: Ancillary,
}

/// The operations of one kind of socket. Calls that would block return `EAGAIN`; the
/// syscall layer waits on [`Socket::queue`] and calls again. `now` is CLOCK_MONOTONIC in ns
/// (0 when the caller does not know it: the stack keeps its last time).
pub(crate) trait Socket: Send + Sync + 'static {
    fn family(&self) -> u16;
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    fn kind(&self) -> u32;
    fn protocol(&self) -> i32;
    fn bind(&self, p: &Current, addr: SockAddr) -> Result<(), Errno>;
    fn listen(&self, backlog: i32, now: u64) -> Result<(), Errno>;
    /// A connection waiting to be accepted and its peer's address.
    fn accept(&self, now: u64) -> Result<(Box<dyn Socket>, SockAddr), Errno>;
    /// Ok when connected; `EINPROGRESS` when a handshake starts, `EALREADY` while it runs.
    fn connect(&self, p: &Current, addr: SockAddr, now: u64) -> Result<(), Errno>;
    /// Sends (part of) `data`; `p` is None on the plain write path. `anc` is taken only by
    /// a send that queues something.
    fn send(
        &self,
        p: Option<&Current>,
        data: &[u8],
        to: Option<SockAddr>,
        anc: &mut Ancillary,
        now: u64,
    ) -> Result<usize, Errno>;
    fn recv(&self, buf: &mut [u8], flags: u32, now: u64) -> Result<Got, Errno>;
    fn shutdown(&self, how: i32, now: u64) -> Result<(), Errno>;
    fn name(&self) -> SockAddr;
    fn peer(&self) -> Result<SockAddr, Errno>;
    /// poll(2) readiness.
    fn events(&self) -> u32;
    fn queue(&self) -> &WaitQueue;
    /// FIONREAD.
    fn readable_bytes(&self) -> usize;
    /// SO_ERROR (taken).
    fn take_error(&self) -> Option<Errno>;
    fn listening(&self) -> bool;
    /// The protocol's own options; None for the ones the socket layer keeps.
    fn get_opt(&self, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>>;
    fn set_opt(&self, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>>;
    /// The last close of a socket with SO_LINGER and a time: starts closing and says whether
    /// there is nothing (more) to wait for ([`linger`]).
    fn close_lingering(&self, _now: u64) -> bool {
        true
    }
}

/// Options every socket keeps whatever its protocol.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Common {
    pub(crate) rcvbuf: u32,
    pub(crate) sndbuf: u32,
    /// SO_RCVTIMEO and SO_SNDTIMEO in ns (None: wait forever).
    pub(crate) rcvtimeo: Option<u64>,
    pub(crate) sndtimeo: Option<u64>,
    pub(crate) linger: Linger,
    pub(crate) keepalive: bool,
    pub(crate) reuseaddr: bool,
}

/// The open file of a socket.
pub(crate) struct SocketFile {
    pub(crate) sock: Box<dyn Socket>,
    pub(crate) common: Mutex<Common>,
}

impl SocketFile {
    fn new(sock: Box<dyn Socket>) -> Self {
        // Linux's defaults on a Debian 6.1 machine (net.core.rmem_default/wmem_default, and
        // TCP's tcp_rmem/tcp_wmem middle values).
        let (rcvbuf, sndbuf) = match (sock.family(), sock.kind()) {
            (AF_INET | AF_INET6, SOCK_STREAM) => (131_072, 16_384),
            _ => (212_992, 212_992),
        };
        SocketFile {
            sock,
            common: Mutex::new(Common {
                rcvbuf,
                sndbuf,
                rcvtimeo: None,
                sndtimeo: None,
                linger: Linger::default(),
                keepalive: false,
                reuseaddr: false,
            }),
        }
    }

    fn stream(&self) -> bool {
        self.sock.kind() == SOCK_STREAM
    }
}

impl FileOps for SocketFile {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> VfsResult<usize> {
        self.sock.recv(buf, 0, 0).map(|g| g.n)
    }

    fn write(&self, _pos: u64, data: &[u8]) -> VfsResult<usize> {
        self.sock
            .send(None, data, None, &mut Ancillary::default(), 0)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
        self.sock.events()
    }

    fn readable_bytes(&self) -> Option<usize> {
        Some(self.sock.readable_bytes())
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(self.sock.queue())
    }

    fn record_io(&self) -> bool {
        !self.stream()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The socket open at `fd`: `EBADF` if none, `ENOTSOCK` if it is another file.
pub(crate) fn sock_of(p: &Current, fd: i32) -> Result<Arc<OpenFile>, Errno> {
    let file = p.file(fd)?;
    if file.ops().as_any().downcast_ref::<SocketFile>().is_none() {
        return Err(Errno::ENOTSOCK);
    }
    Ok(file)
}

/// The [`SocketFile`] of a file [`sock_of`] returned.
pub(crate) fn socket(file: &OpenFile) -> &SocketFile {
    match file.ops().as_any().downcast_ref::<SocketFile>() {
        Some(s) => s,
        None => unreachable!("sock_of checked the file is a socket"),
    }
}

/// Installs `sock` as a new fd (`SOCK_NONBLOCK` and `SOCK_CLOEXEC` in `flags`).
pub(crate) fn install(p: &Current, sock: Box<dyn Socket>, flags: u32) -> SysResult {
    let file = socket_file(sock, flags);
    p.install(file, flags & SOCK_CLOEXEC != 0).map(|n| n as u64)
}

fn socket_file(sock: Box<dyn Socket>, flags: u32) -> Arc<OpenFile> {
    let o_flags = if flags & SOCK_NONBLOCK != 0 {
        O_NONBLOCK
    } else {
        0
    };
    anon_file("socket", o_flags, Box::new(SocketFile::new(sock)))
}

/// Runs `op` until it does not say `EAGAIN`, waiting on the socket's queue in between unless
/// `nonblock`; `timeout` (ns) is SO_RCVTIMEO or SO_SNDTIMEO, after which the call gives
/// `EAGAIN` (and a signal gives EINTR instead of restarting, as sock_intr_errno does).
pub(crate) fn blocking<T>(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    nonblock: bool,
    timeout: Option<u64>,
    mut op: impl FnMut(&mut Current, &mut dyn Platform) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let mut registered = false;
    loop {
        match op(p, k) {
            Err(Errno::EAGAIN) if !nonblock => {
                if p.resumed() == Some(Wake::TimedOut) {
                    return Err(Errno::EAGAIN);
                }
                match wait_for_file(p, file, &mut registered) {
                    None => {}
                    Some(Errno::WAIT) => {
                        if let Some(t) = timeout {
                            let now = k.monotonic_ns();
                            if let Some(d) = p.call_deadline(|| Some(now.saturating_add(t))) {
                                if d <= now {
                                    return Err(Errno::EAGAIN);
                                }
                                p.wait_until(d);
                            }
                        }
                        return Err(Errno::WAIT);
                    }
                    Some(Errno::ERESTARTSYS) if timeout.is_some() => return Err(Errno::EINTR),
                    Some(e) => return Err(e),
                }
            }
            r => return r,
        }
    }
}

/// socket(2).
pub(crate) fn socket_call(
    p: &mut Current,
    _k: &mut dyn Platform,
    domain: i32,
    ty: i32,
    protocol: i32,
) -> SysResult {
    let ty = ty as u32;
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let kind = ty & SOCK_TYPE_MASK;
    let domain = u16::try_from(domain).map_err(|_| Errno::EAFNOSUPPORT)?;
    let sock: Box<dyn Socket> = match domain {
        AF_UNIX => unix::new(p, kind, protocol)?,
        AF_INET | AF_INET6 => inet::new(p, domain, kind, protocol)?,
        AF_NETLINK => netlink::new(p, kind, protocol)?,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    install(p, sock, flags)
}

/// socketpair(2): Unix sockets only (IP families: EOPNOTSUPP, as Linux).
pub(crate) fn socketpair(
    p: &mut Current,
    k: &mut dyn Platform,
    domain: i32,
    ty: i32,
    protocol: i32,
    sv: u64,
) -> SysResult {
    let ty = ty as u32;
    let flags = ty & !SOCK_TYPE_MASK;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let kind = ty & SOCK_TYPE_MASK;
    match u16::try_from(domain) {
        Ok(AF_UNIX) => {}
        Ok(AF_INET | AF_INET6) => {
            // Linux checks the type and protocol first (inet_create), then says no pairs.
            inet::check_type(kind, protocol)?;
            return Err(Errno::EOPNOTSUPP);
        }
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    let [a, b] = unix::pair(p, kind, protocol)?;
    crate::user_ptr::access_ok(sv, 8)?;
    let fa = install(p, a, flags)?;
    let fb = match install(p, b, flags) {
        Ok(fd) => fd,
        Err(e) => {
            let gone = p.process.files.lock().remove(fa as usize);
            drop(gone);
            return Err(e);
        }
    };
    let fds = [fa as i32, fb as i32];
    if let Err(e) = write_struct(k, sv, &fds) {
        let gone = {
            let mut files = p.process.files.lock();
            (files.remove(fa as usize), files.remove(fb as usize))
        };
        drop(gone);
        return Err(e);
    }
    Ok(0)
}

/// O_CLOEXEC as accept4 spells it.
const _: () = assert!(SOCK_CLOEXEC == O_CLOEXEC);
