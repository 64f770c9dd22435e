//! AF_UNIX sockets: stream, datagram and seqpacket; filesystem and abstract names; fd and
//! credential passing.
//!
//! Each socket has a receive queue of segments (bytes with the files and credentials sent
//! with them) and a wait queue. A connected pair points at each other; sending appends to the
//! peer's queue and wakes it, receiving drains the own queue and wakes whoever waits for room.
//! Names live in a [`Registry`]: abstract names by name, filesystem names by the (dev, ino)
//! of the socket inode bind creates, so connect finds a socket through a path however it is
//! spelt. A socket's file closing releases it ([`UnixHandle`]'s drop): the peer sees its
//! end (Linux's unix_release_sock), which also breaks the pair's reference cycle.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use coracle_abi::poll::*;
use coracle_abi::socket::*;
use coracle_vfs::types::NewNode;
use coracle_vfs::{OpenFile, WaitQueue};
use spin::Mutex;

use super::addr::{SockAddr, UnixAddr};
use super::{Ancillary, Got, Socket};
use crate::{Current, Errno};

/// Bytes a socket's receive queue holds (about Linux's default sndbuf of 212992).
const QUEUE_BYTES: usize = 212_992;
/// Datagrams a queue holds.
const QUEUE_RECORDS: usize = 512;

const RCV_SHUTDOWN: u8 = 1;
const SEND_SHUTDOWN: u8 = 2;
const SHUTDOWN_MASK: u8 = 3;

/// How a name is found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Abstract(Vec<u8>),
    Inode(u64, u64),
}

/// The bound names of one machine.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    names: Mutex<BTreeMap<Key, Weak<UnixSocket>>>,
    next_auto: AtomicU32,
}

impl Registry {
    fn find(&self, key: &Key) -> Option<Arc<UnixSocket>> {
        self.names.lock().get(key).and_then(Weak::upgrade)
    }
}

struct Seg {
    data: Vec<u8>,
    off: usize,
    fds: Vec<Arc<OpenFile>>,
    cred: Ucred,
    from: UnixAddr,
}

#[derive(Default)]
struct Rx {
    segs: VecDeque<Seg>,
    bytes: usize,
    /// This socket's sk_shutdown.
    shut: u8,
    /// The socket was released: senders get EPIPE or ECONNREFUSED.
    closed: bool,
    /// Senders waiting for room here (woken when it drains).
    waiting: Vec<Weak<UnixSocket>>,
}

enum Conn {
    None,
    Listening {
        backlog: usize,
        queue: VecDeque<Arc<UnixSocket>>,
    },
    Connected {
        peer: Arc<UnixSocket>,
        peer_cred: Ucred,
    },
}

struct St {
    name: UnixAddr,
    key: Option<Key>,
    conn: Conn,
}

pub(crate) struct UnixSocket {
    kind: u32,
    me: Weak<UnixSocket>,
    rx: Mutex<Rx>,
    wq: WaitQueue,
    st: Mutex<St>,
    cred: Ucred,
    passcred: AtomicBool,
    registry: Arc<Registry>,
}

fn cred_of(p: &Current) -> Ucred {
    // One lock for both: a guard in a struct literal lives to the end of the statement.
    let (uid, gid) = {
        let c = p.process.creds.lock();
        (c.euid, c.egid)
    };
    Ucred {
        pid: p.process.pid,
        uid,
        gid,
    }
}

fn check_kind(kind: u32, protocol: i32) -> Result<(), Errno> {
    if protocol != 0 && protocol != 1 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match kind {
        SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET => Ok(()),
        // unix_create treats SOCK_RAW as SOCK_DGRAM.
        SOCK_RAW => Ok(()),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

impl UnixSocket {
    fn create(kind: u32, cred: Ucred, registry: Arc<Registry>) -> Arc<UnixSocket> {
        let kind = if kind == SOCK_RAW { SOCK_DGRAM } else { kind };
        Arc::new_cyclic(|me| UnixSocket {
            kind,
            me: me.clone(),
            rx: Mutex::new(Rx::default()),
            wq: WaitQueue::new(),
            st: Mutex::new(St {
                name: UnixAddr::Unnamed,
                key: None,
                conn: Conn::None,
            }),
            cred,
            passcred: AtomicBool::new(false),
            registry,
        })
    }

    fn connected(self: &Arc<Self>, peer: &Arc<UnixSocket>, peer_cred: Ucred) {
        self.st.lock().conn = Conn::Connected {
            peer: peer.clone(),
            peer_cred,
        };
    }

    fn peer(&self) -> Option<Arc<UnixSocket>> {
        match &self.st.lock().conn {
            Conn::Connected { peer, .. } => Some(peer.clone()),
            _ => None,
        }
    }

    fn connection_oriented(&self) -> bool {
        self.kind != SOCK_DGRAM
    }

    fn shut(&self, bits: u8) {
        self.rx.lock().shut |= bits;
        self.wq.wake_everyone();
    }

    /// Wakes the senders waiting for room in this socket's queue.
    fn wake_senders(&self) {
        let waiting = core::mem::take(&mut self.rx.lock().waiting);
        for w in waiting.iter().filter_map(Weak::upgrade) {
            w.wq.wake_all(u64::from(POLLOUT));
        }
    }

    /// Whether `target`'s queue has room for `len` more bytes.
    fn room(rx: &Rx, len: usize, records: bool) -> bool {
        if records {
            rx.segs.len() < QUEUE_RECORDS && rx.bytes + len <= QUEUE_BYTES
        } else {
            rx.bytes < QUEUE_BYTES
        }
    }

    /// The socket's file closed: the peer sees the end, queued connections are dropped, the
    /// name is freed.
    fn release(&self) {
        let (conn, key) = {
            let mut st = self.st.lock();
            (core::mem::replace(&mut st.conn, Conn::None), st.key.take())
        };
        {
            let mut rx = self.rx.lock();
            rx.closed = true;
            rx.shut = SHUTDOWN_MASK;
            rx.segs.clear();
            rx.bytes = 0;
        }
        self.wake_senders();
        match conn {
            Conn::Connected { peer, .. } => {
                if self.connection_oriented() {
                    peer.shut(SHUTDOWN_MASK);
                } else {
                    peer.wq.wake_everyone();
                }
            }
            Conn::Listening { queue, .. } => {
                for s in queue {
                    s.release();
                }
            }
            Conn::None => {}
        }
        if let Some(key) = key {
            let mut names = self.registry.names.lock();
            if names
                .get(&key)
                .is_some_and(|w| w.upgrade().is_none_or(|s| core::ptr::eq(&*s, self)))
            {
                names.remove(&key);
            }
        }
    }

    /// Looks up the socket a name points to: ENOENT for a missing path, ECONNREFUSED for a
    /// path that is not a live socket or an unknown abstract name.
    fn resolve(&self, p: &Current, addr: &UnixAddr) -> Result<Arc<UnixSocket>, Errno> {
        let key = match addr {
            UnixAddr::Unnamed => return Err(Errno::EINVAL),
            UnixAddr::Abstract(n) => Key::Abstract(n.clone()),
            UnixAddr::Path(path) => {
                let cx = p.caller();
                let start = crate::sys::fs::start_dir(p, crate::sys::fs::AT_FDCWD, path)?;
                let l = p.sys.vfs.resolve(&cx, &start, path, true)?;
                let inode = l.inode.ok_or(Errno::ENOENT)?;
                let st = inode.stat();
                if st.mode & 0o170000 != 0o140000 {
                    return Err(Errno::ECONNREFUSED);
                }
                Key::Inode(st.dev, st.ino)
            }
        };
        self.registry.find(&key).ok_or(Errno::ECONNREFUSED)
    }

    fn bind_name(&self, p: &Current, addr: UnixAddr) -> Result<(), Errno> {
        // unix_bind_bsd makes the node first: an existing path is EADDRINUSE even for a
        // socket already bound.
        let place = match &addr {
            UnixAddr::Path(path) => {
                let cx = p.caller();
                let l = crate::sys::fs::new_name(p, &cx, crate::sys::fs::AT_FDCWD, path, false)
                    .map_err(|e| {
                        if e == Errno::EEXIST {
                            Errno::EADDRINUSE
                        } else {
                            e
                        }
                    })?;
                Some((cx, l))
            }
            _ => None,
        };
        let mut st = self.st.lock();
        if st.name != UnixAddr::Unnamed {
            return Err(Errno::EINVAL);
        }
        let (name, key) = match addr {
            UnixAddr::Unnamed => {
                // Autobind: an abstract name of five hex digits (unix_autobind).
                let mut names = self.registry.names.lock();
                loop {
                    let n = self.registry.next_auto.fetch_add(1, Ordering::Relaxed) & 0xfffff;
                    let name = alloc::format!("{n:05x}").into_bytes();
                    let key = Key::Abstract(name.clone());
                    if names.get(&key).is_none_or(|w| w.strong_count() == 0) {
                        names.insert(key.clone(), self.me.clone());
                        st.name = UnixAddr::Abstract(name);
                        st.key = Some(key);
                        return Ok(());
                    }
                }
            }
            UnixAddr::Abstract(n) => (UnixAddr::Abstract(n.clone()), Key::Abstract(n)),
            UnixAddr::Path(path) => {
                let Some((cx, l)) = place else {
                    return Err(Errno::EINVAL);
                };
                let perms = 0o777 & !cx.umask;
                let inode = l
                    .dir
                    .create(&l.name, NewNode::Socket, perms, cx.uid, cx.gid)?;
                let s = inode.stat();
                (UnixAddr::Path(path), Key::Inode(s.dev, s.ino))
            }
        };
        let mut names = self.registry.names.lock();
        if names.get(&key).is_some_and(|w| w.strong_count() > 0) {
            return Err(Errno::EADDRINUSE);
        }
        names.insert(key.clone(), self.me.clone());
        st.name = name;
        st.key = Some(key);
        Ok(())
    }

    fn do_send(
        &self,
        target: &Arc<UnixSocket>,
        data: &[u8],
        anc: &mut Ancillary,
        cred: Ucred,
    ) -> Result<usize, Errno> {
        let records = self.kind != SOCK_STREAM;
        if records && data.len() > QUEUE_BYTES {
            return Err(Errno::EMSGSIZE);
        }
        let from = self.st.lock().name.clone();
        let n = {
            let mut rx = target.rx.lock();
            if rx.closed {
                return Err(if self.connection_oriented() {
                    Errno::EPIPE
                } else {
                    Errno::ECONNREFUSED
                });
            }
            if self.connection_oriented() && rx.shut & RCV_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            if !Self::room(&rx, data.len(), records) {
                rx.waiting.push(self.me.clone());
                return Err(Errno::EAGAIN);
            }
            let n = if records {
                data.len()
            } else {
                data.len().min(QUEUE_BYTES - rx.bytes)
            };
            if n == 0 && !data.is_empty() {
                return Err(Errno::EAGAIN);
            }
            rx.bytes += n;
            rx.segs.push_back(Seg {
                data: data[..n].to_vec(),
                off: 0,
                fds: core::mem::take(&mut anc.fds),
                cred: anc.cred.take().unwrap_or(cred),
                from,
            });
            n
        };
        target.wq.wake_all(u64::from(POLLIN | POLLRDNORM));
        Ok(n)
    }

    fn do_recv(&self, buf: &mut [u8], flags: u32) -> Result<Got, Errno> {
        let peek = flags & MSG_PEEK != 0;
        let passcred = self.passcred.load(Ordering::Relaxed);
        let got = {
            let mut rx = self.rx.lock();
            if rx.segs.is_empty() {
                if self.connection_oriented() {
                    if rx.shut & RCV_SHUTDOWN != 0 {
                        return Ok(Got {
                            n: 0,
                            len: 0,
                            from: None,
                            anc: Ancillary::default(),
                        });
                    }
                    if matches!(self.st.lock().conn, Conn::None | Conn::Listening { .. }) {
                        return Err(Errno::EINVAL);
                    }
                }
                return Err(Errno::EAGAIN);
            }
            if self.kind == SOCK_STREAM {
                Self::recv_stream(&mut rx, buf, peek, passcred)
            } else {
                Self::recv_record(&mut rx, buf, peek, passcred)
            }
        };
        if !peek {
            if let Some(peer) = self.peer().filter(|_| self.connection_oriented()) {
                peer.wq.wake_all(u64::from(POLLOUT | POLLWRNORM));
            }
            self.wake_senders();
        }
        Ok(got)
    }

    /// A stream read: bytes across segments, but not past one that carries files (nor into
    /// one with other credentials when they are asked for), as unix_stream_read_generic.
    fn recv_stream(rx: &mut Rx, buf: &mut [u8], peek: bool, passcred: bool) -> Got {
        let mut n = 0;
        let mut anc = Ancillary::default();
        let mut i = 0;
        while n < buf.len() && i < rx.segs.len() {
            let seg = &mut rx.segs[i];
            if n > 0 && (!seg.fds.is_empty() || passcred && anc.cred != Some(seg.cred)) {
                break;
            }
            if n == 0 && passcred {
                anc.cred = Some(seg.cred);
            }
            if !seg.fds.is_empty() {
                anc.fds = if peek {
                    seg.fds.clone()
                } else {
                    core::mem::take(&mut seg.fds)
                };
            }
            let avail = &seg.data[seg.off..];
            let take = avail.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&avail[..take]);
            n += take;
            let had_fds = !anc.fds.is_empty();
            if !peek {
                seg.off += take;
                if seg.off == seg.data.len() {
                    rx.segs.remove(i);
                } else {
                    i += 1;
                }
                rx.bytes -= take;
            } else {
                i += 1;
            }
            if had_fds {
                break;
            }
        }
        Got {
            n,
            len: n,
            from: None,
            anc,
        }
    }

    fn recv_record(rx: &mut Rx, buf: &mut [u8], peek: bool, passcred: bool) -> Got {
        let seg = if peek { None } else { rx.segs.pop_front() };
        let seg_ref = match &seg {
            Some(s) => s,
            None => &rx.segs[0],
        };
        let n = seg_ref.data.len().min(buf.len());
        buf[..n].copy_from_slice(&seg_ref.data[..n]);
        let len = seg_ref.data.len();
        let from = Some(SockAddr::Unix(seg_ref.from.clone()));
        let cred = passcred.then_some(seg_ref.cred);
        let fds = match seg {
            Some(s) => {
                rx.bytes -= s.data.len();
                s.fds
            }
            None => rx.segs[0].fds.clone(),
        };
        Got {
            n,
            len,
            from,
            anc: Ancillary { fds, cred },
        }
    }
}

/// What a socket file holds: releases the socket when the file closes.
pub(crate) struct UnixHandle(Arc<UnixSocket>);

impl Drop for UnixHandle {
    fn drop(&mut self) {
        self.0.release();
    }
}

pub(super) fn new(p: &Current, kind: u32, protocol: i32) -> Result<Box<dyn Socket>, Errno> {
    check_kind(kind, protocol)?;
    let s = UnixSocket::create(kind, cred_of(p), p.sys.unix.clone());
    Ok(Box::new(UnixHandle(s)))
}

pub(super) fn pair(p: &Current, kind: u32, protocol: i32) -> Result<[Box<dyn Socket>; 2], Errno> {
    check_kind(kind, protocol)?;
    let cred = cred_of(p);
    let a = UnixSocket::create(kind, cred, p.sys.unix.clone());
    let b = UnixSocket::create(kind, cred, p.sys.unix.clone());
    a.connected(&b, cred);
    b.connected(&a, cred);
    Ok([Box::new(UnixHandle(a)), Box::new(UnixHandle(b))])
}

impl UnixHandle {
    /// SO_PEERCRED.
    pub(crate) fn peer_cred(&self) -> Option<Ucred> {
        match &self.0.st.lock().conn {
            Conn::Connected { peer_cred, .. } => Some(*peer_cred),
            _ => None,
        }
    }
}

impl Socket for UnixHandle {
    fn family(&self) -> u16 {
        AF_UNIX
    }

    fn kind(&self) -> u32 {
        self.0.kind
    }

    fn protocol(&self) -> i32 {
        0
    }

    fn bind(&self, p: &Current, addr: SockAddr) -> Result<(), Errno> {
        match addr {
            SockAddr::Unix(a) => self.0.bind_name(p, a),
            _ => Err(Errno::EINVAL),
        }
    }

    fn listen(&self, backlog: i32, _now: u64) -> Result<(), Errno> {
        let s = &self.0;
        if !s.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = s.st.lock();
        if st.name == UnixAddr::Unnamed {
            return Err(Errno::EINVAL);
        }
        // somaxconn caps the backlog (4096 on Linux 6.1).
        let backlog = (backlog.max(0) as usize).min(4096);
        match &mut st.conn {
            Conn::Connected { .. } => Err(Errno::EINVAL),
            Conn::Listening { backlog: b, .. } => {
                *b = backlog;
                Ok(())
            }
            c @ Conn::None => {
                *c = Conn::Listening {
                    backlog,
                    queue: VecDeque::new(),
                };
                Ok(())
            }
        }
    }

    fn accept(&self, _now: u64) -> Result<(Box<dyn Socket>, SockAddr), Errno> {
        let s = &self.0;
        if !s.connection_oriented() {
            return Err(Errno::EOPNOTSUPP);
        }
        let conn = {
            let mut st = s.st.lock();
            match &mut st.conn {
                Conn::Listening { queue, .. } => queue.pop_front().ok_or(Errno::EAGAIN)?,
                _ => return Err(Errno::EINVAL),
            }
        };
        // A connector waiting for room in the backlog may go on.
        s.wake_senders();
        let peer_name = conn
            .peer()
            .map(|p| p.st.lock().name.clone())
            .unwrap_or(UnixAddr::Unnamed);
        Ok((Box::new(UnixHandle(conn)), SockAddr::Unix(peer_name)))
    }

    fn connect(&self, p: &Current, addr: SockAddr, _now: u64) -> Result<(), Errno> {
        let s = &self.0;
        let addr = match addr {
            SockAddr::Unix(a) => a,
            SockAddr::Unspec if !s.connection_oriented() => {
                s.st.lock().conn = Conn::None;
                return Ok(());
            }
            _ => return Err(Errno::EINVAL),
        };
        if addr == UnixAddr::Unnamed {
            return Err(Errno::EINVAL);
        }
        let target = s.resolve(p, &addr)?;
        if target.kind != s.kind {
            return Err(Errno::EPROTOTYPE);
        }
        if !s.connection_oriented() {
            let cred = target.cred;
            s.connected(&target, cred);
            return Ok(());
        }
        match s.st.lock().conn {
            Conn::Connected { .. } => return Err(Errno::EISCONN),
            Conn::Listening { .. } => return Err(Errno::EINVAL),
            Conn::None => {}
        }
        let me = cred_of(p);
        let server = {
            let mut tst = target.st.lock();
            let name = tst.name.clone();
            let Conn::Listening { backlog, queue } = &mut tst.conn else {
                return Err(Errno::ECONNREFUSED);
            };
            // unix_recvq_full: more than the backlog waiting.
            if queue.len() > *backlog {
                drop(tst);
                target.rx.lock().waiting.push(s.me.clone());
                return Err(Errno::EAGAIN);
            }
            let server = UnixSocket::create(s.kind, target.cred, s.registry.clone());
            server.st.lock().name = name;
            server.connected(s, me);
            queue.push_back(server.clone());
            server
        };
        s.connected(&server, target.cred);
        target.wq.wake_all(u64::from(POLLIN | POLLRDNORM));
        Ok(())
    }

    fn send(
        &self,
        p: Option<&Current>,
        data: &[u8],
        to: Option<SockAddr>,
        anc: &mut Ancillary,
        _now: u64,
    ) -> Result<usize, Errno> {
        let s = &self.0;
        let cred = p.map_or(s.cred, cred_of);
        if s.connection_oriented() {
            if s.rx.lock().shut & SEND_SHUTDOWN != 0 {
                return Err(Errno::EPIPE);
            }
            let peer = match &s.st.lock().conn {
                Conn::Connected { peer, .. } => peer.clone(),
                _ if to.is_some() => return Err(Errno::EOPNOTSUPP),
                _ => return Err(Errno::ENOTCONN),
            };
            if to.is_some() {
                return Err(Errno::EISCONN);
            }
            return s.do_send(&peer, data, anc, cred);
        }
        let target = match to {
            Some(SockAddr::Unix(a)) => {
                let p = p.ok_or(Errno::EINVAL)?;
                s.resolve(p, &a)?
            }
            Some(_) => return Err(Errno::EINVAL),
            None => s.peer().ok_or(Errno::ENOTCONN)?,
        };
        // A socket connected elsewhere takes datagrams only from its peer (unix_may_send).
        if let Some(tp) = target.peer() {
            if !core::ptr::eq(&*tp, &**s) && !core::ptr::eq(&*target, &**s) {
                return Err(Errno::EPERM);
            }
        }
        s.do_send(&target, data, anc, cred)
    }

    fn recv(&self, buf: &mut [u8], flags: u32, _now: u64) -> Result<Got, Errno> {
        self.0.do_recv(buf, flags)
    }

    fn shutdown(&self, how: i32, _now: u64) -> Result<(), Errno> {
        let bits = match how {
            SHUT_RD => RCV_SHUTDOWN,
            SHUT_WR => SEND_SHUTDOWN,
            SHUT_RDWR => SHUTDOWN_MASK,
            _ => return Err(Errno::EINVAL),
        };
        let s = &self.0;
        let peer = s.peer();
        if s.connection_oriented() && peer.is_none() {
            return Err(Errno::ENOTCONN);
        }
        s.shut(bits);
        if let Some(peer) = peer.filter(|_| s.connection_oriented()) {
            let mirrored = ((bits & RCV_SHUTDOWN) << 1) | ((bits & SEND_SHUTDOWN) >> 1);
            peer.shut(mirrored);
        }
        Ok(())
    }

    fn name(&self) -> SockAddr {
        SockAddr::Unix(self.0.st.lock().name.clone())
    }

    fn peer(&self) -> Result<SockAddr, Errno> {
        let peer = self.0.peer().ok_or(Errno::ENOTCONN)?;
        let name = peer.st.lock().name.clone();
        Ok(SockAddr::Unix(name))
    }

    fn events(&self) -> u32 {
        let s = &self.0;
        let (has_data, shut) = {
            let rx = s.rx.lock();
            (!rx.segs.is_empty(), rx.shut)
        };
        let mut ev = 0;
        if shut == SHUTDOWN_MASK {
            ev |= POLLHUP;
        }
        if shut & RCV_SHUTDOWN != 0 {
            ev |= POLLIN | POLLRDNORM | POLLRDHUP;
        }
        if has_data {
            ev |= POLLIN | POLLRDNORM;
        }
        let (listening, peer) = {
            let st = s.st.lock();
            match &st.conn {
                Conn::Listening { queue, .. } => (Some(!queue.is_empty()), None),
                Conn::Connected { peer, .. } => (None, Some(peer.clone())),
                Conn::None => (None, None),
            }
        };
        if let Some(ready) = listening {
            return if ready { POLLIN | POLLRDNORM } else { 0 };
        }
        if s.connection_oriented() && peer.is_none() {
            // An unconnected stream socket is TCP_CLOSE: unix_poll says hung up and writable.
            return ev | POLLHUP | POLLOUT | POLLWRNORM;
        }
        let writable = match &peer {
            Some(peer) => {
                let rx = peer.rx.lock();
                rx.closed || UnixSocket::room(&rx, 1, s.kind != SOCK_STREAM)
            }
            None => true,
        };
        if writable || shut & SEND_SHUTDOWN != 0 {
            ev |= POLLOUT | POLLWRNORM;
        }
        ev
    }

    fn queue(&self) -> &WaitQueue {
        &self.0.wq
    }

    fn readable_bytes(&self) -> usize {
        let rx = self.0.rx.lock();
        if self.0.kind == SOCK_STREAM {
            rx.bytes
        } else {
            rx.segs.front().map_or(0, |s| s.data.len())
        }
    }

    fn take_error(&self) -> Option<Errno> {
        None
    }

    fn listening(&self) -> bool {
        matches!(self.0.st.lock().conn, Conn::Listening { .. })
    }

    fn get_opt(&self, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
        match (level, name) {
            (SOL_SOCKET, SO_PASSCRED) => Some(Ok((self.0.passcred.load(Ordering::Relaxed) as i32)
                .to_ne_bytes()
                .to_vec())),
            (SOL_SOCKET, SO_PEERCRED) => {
                // An unconnected socket reports no one: pid 0, uid and gid -1.
                let c = self.peer_cred().unwrap_or(Ucred {
                    pid: 0,
                    uid: u32::MAX,
                    gid: u32::MAX,
                });
                Some(Ok(coracle_abi::IntoBytes::as_bytes(&c).to_vec()))
            }
            (SOL_SOCKET, _) => None,
            _ => Some(Err(Errno::EOPNOTSUPP)),
        }
    }

    fn set_opt(&self, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
        match (level, name) {
            (SOL_SOCKET, SO_PASSCRED) => {
                let Some(b) = val.get(..4) else {
                    return Some(Err(Errno::EINVAL));
                };
                let on = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) != 0;
                self.0.passcred.store(on, Ordering::Relaxed);
                Some(Ok(()))
            }
            (SOL_SOCKET, _) => None,
            _ => Some(Err(Errno::EOPNOTSUPP)),
        }
    }
}
