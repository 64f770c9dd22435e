//! bind, listen, accept and accept4, connect, getsockname, getpeername, shutdown.

use coracle_abi::socket::*;
use coracle_vfs::types::oflags::O_NONBLOCK;

use super::addr::{self, SockAddr};
use super::{blocking, install, sock_of, socket};
use crate::{Current, Errno, Platform, SysResult};

pub(crate) fn bind(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    len: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    let a = addr::read(k, ptr, len, s.sock.family())?;
    s.sock.bind(p, a)?;
    Ok(0)
}

pub(crate) fn listen(p: &mut Current, k: &mut dyn Platform, fd: i32, backlog: i32) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    if s.sock.kind() == SOCK_DGRAM {
        return Err(Errno::EOPNOTSUPP);
    }
    s.sock.listen(backlog, k.monotonic_ns())?;
    Ok(0)
}

pub(crate) fn accept4(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    lenptr: u64,
    flags: i32,
) -> SysResult {
    let flags = flags as u32;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    if s.sock.kind() == SOCK_DGRAM {
        return Err(Errno::EOPNOTSUPP);
    }
    if !s.sock.listening() {
        return Err(Errno::EINVAL);
    }
    let timeout = s.common.lock().rcvtimeo;
    let (conn, peer) = blocking(p, k, &file, file.nonblocking(), timeout, |_, k| {
        s.sock.accept(k.monotonic_ns())
    })?;
    let family = conn.family();
    let newfd = install(p, conn, flags)?;
    // sk_clone_lock: the new socket starts with its listener's options.
    let common = *s.common.lock();
    if let Ok(f) = sock_of(p, newfd as i32) {
        *socket(&f).common.lock() = common;
    }
    if ptr != 0 {
        if let Err(e) = addr::write(k, ptr, lenptr, &peer, family) {
            let gone = p.process.files.lock().remove(newfd as usize);
            drop(gone);
            return Err(e);
        }
    }
    Ok(newfd)
}

pub(crate) fn accept(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    lenptr: u64,
) -> SysResult {
    accept4(p, k, fd, ptr, lenptr, 0)
}

pub(crate) fn connect(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    len: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    let a = addr::read(k, ptr, len, s.sock.family())?;
    let nonblock = file.nonblocking();
    let timeout = s.common.lock().sndtimeo;
    // A blocking connect waits while the handshake runs (EINPROGRESS, then EALREADY) and
    // returns its outcome; a non-blocking one says EINPROGRESS and leaves SO_ERROR to tell.
    let mut started = false;
    let r = blocking(p, k, &file, nonblock, timeout, |p, k| {
        match s.sock.connect(p, a.clone(), k.monotonic_ns()) {
            Err(Errno::EINPROGRESS) if !nonblock => {
                started = true;
                Err(Errno::EAGAIN)
            }
            Err(Errno::EALREADY) if !nonblock && (started || p.resumed().is_some()) => {
                Err(Errno::EAGAIN)
            }
            r => r,
        }
    });
    match r {
        // A blocking connect that timed out: Linux says EINPROGRESS after SO_SNDTIMEO.
        Err(Errno::EAGAIN) if !nonblock && s.sock.family() != AF_UNIX => Err(Errno::EINPROGRESS),
        r => r.map(|()| 0),
    }
}

pub(crate) fn getsockname(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    lenptr: u64,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    addr::write(k, ptr, lenptr, &s.sock.name(), s.sock.family())?;
    Ok(0)
}

pub(crate) fn getpeername(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    ptr: u64,
    lenptr: u64,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    let peer = s.sock.peer()?;
    addr::write(k, ptr, lenptr, &peer, s.sock.family())?;
    Ok(0)
}

pub(crate) fn shutdown(p: &mut Current, k: &mut dyn Platform, fd: i32, how: i32) -> SysResult {
    let file = sock_of(p, fd)?;
    let s = socket(&file);
    if !(SHUT_RD..=SHUT_RDWR).contains(&how) {
        return Err(Errno::EINVAL);
    }
    s.sock.shutdown(how, k.monotonic_ns())?;
    Ok(0)
}

/// Whether a call on `file` must not wait (O_NONBLOCK or MSG_DONTWAIT).
pub(super) fn nonblocking(file: &coracle_vfs::OpenFile, flags: u32) -> bool {
    file.flags() & O_NONBLOCK != 0 || flags & MSG_DONTWAIT != 0
}

/// `SockAddr::Unspec` is only meaningful to connect.
pub(super) fn dest(a: SockAddr) -> Result<SockAddr, Errno> {
    match a {
        SockAddr::Unspec => Err(Errno::EAFNOSUPPORT),
        a => Ok(a),
    }
}
