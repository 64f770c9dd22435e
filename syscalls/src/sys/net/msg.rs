//! Moving messages: send, sendto, sendmsg, sendmmsg, recvfrom, recvmsg, recvmmsg, and the
//! control messages (SCM_RIGHTS, SCM_CREDENTIALS) that ride along.
//!
//! A blocking stream send queues everything, waiting for room as often as needed; the bytes
//! already queued are kept in `p.progress` across the call's re-runs, as write does. A
//! blocking MSG_WAITALL receive fills the buffer the same way. EPIPE raises SIGPIPE unless
//! MSG_NOSIGNAL.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::socket::*;
use coracle_abi::{FromBytes, IntoBytes};
use coracle_vfs::OpenFile;

use super::addr::{self, SockAddr};
use super::calls::{dest, nonblocking};
use super::{blocking, sock_of, socket, Ancillary, Got, SocketFile};
use crate::signal::SIGPIPE;
use crate::uaccess::{read_iovecs, read_struct, write_struct, IoVec};
use crate::{Current, Errno, Platform, SysResult};

/// How much of a stream send or receive goes through the kernel at a time.
const CHUNK: usize = 64 * 1024;
/// The largest datagram buffered for one receive (a bigger one is truncated).
const MAX_RECORD: usize = 256 * 1024;
/// The largest control buffer a sendmsg may pass (sysctl optmem_max's default).
const OPTMEM_MAX: u64 = 20480;

/// Copies bytes `at..at + out.len()` of the user buffers into `out`.
fn gather(k: &dyn Platform, iovs: &[IoVec], at: usize, out: &mut [u8]) -> Result<(), Errno> {
    let (mut base, mut done) = (0usize, 0usize);
    for v in iovs {
        let len = v.len as usize;
        let start = at + done;
        if start < base + len && done < out.len() {
            let off = start - base;
            let n = (len - off).min(out.len() - done);
            k.read_user(v.base + off as u64, &mut out[done..done + n])?;
            done += n;
        }
        base += len;
        if done == out.len() {
            break;
        }
    }
    Ok(())
}

/// Copies `data` to bytes `at..` of the user buffers.
fn scatter(k: &mut dyn Platform, iovs: &[IoVec], at: usize, data: &[u8]) -> Result<(), Errno> {
    let (mut base, mut done) = (0usize, 0usize);
    for v in iovs {
        let len = v.len as usize;
        let start = at + done;
        if start < base + len && done < data.len() {
            let off = start - base;
            let n = (len - off).min(data.len() - done);
            k.write_user(v.base + off as u64, &data[done..done + n])?;
            done += n;
        }
        base += len;
        if done == data.len() {
            break;
        }
    }
    Ok(())
}

fn total(iovs: &[IoVec]) -> usize {
    iovs.iter()
        .map(|v| v.len as usize)
        .fold(0, usize::saturating_add)
}

/// Sends the bytes of `iovs` (with `anc`) to `to`.
fn send_bufs(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    iovs: &[IoVec],
    to: Option<SockAddr>,
    anc: Ancillary,
    flags: u32,
) -> SysResult {
    let s = socket(file);
    let nonblock = nonblocking(file, flags);
    let timeout = s.common.lock().sndtimeo;
    let count = total(iovs);
    let stream = s.sock.kind() == SOCK_STREAM;
    let mut anc = anc;
    let r = if stream {
        let mut buf = vec![0u8; count.min(CHUNK)];
        let mut done = (p.progress as usize).min(count);
        if done > 0 {
            // A re-run after a wait: the files went with the first bytes.
            anc = Ancillary::default();
        }
        loop {
            let want = (count - done).min(CHUNK);
            gather(k, iovs, done, &mut buf[..want])?;
            let r = blocking(p, k, file, nonblock, timeout, |p, k| {
                s.sock.send(
                    Some(p),
                    &buf[..want],
                    to.clone(),
                    &mut anc,
                    k.monotonic_ns(),
                )
            });
            match r {
                Ok(n) => {
                    done += n;
                    if done >= count || want == 0 {
                        break Ok(done as u64);
                    }
                    if nonblock && n < want {
                        break Ok(done as u64);
                    }
                }
                Err(Errno::WAIT) if done > 0 => {
                    p.progress = done as u64;
                    break Err(Errno::WAIT);
                }
                Err(Errno::WAIT) => break Err(Errno::WAIT),
                Err(_) if done > 0 => break Ok(done as u64),
                Err(e) => break Err(e),
            }
        }
    } else {
        let mut buf = vec![0u8; count];
        gather(k, iovs, 0, &mut buf)?;
        blocking(p, k, file, nonblock, timeout, |p, k| {
            s.sock
                .send(Some(p), &buf, to.clone(), &mut anc, k.monotonic_ns())
        })
        .map(|n| n as u64)
    };
    if r == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        crate::signal::raise(p, SIGPIPE);
    }
    r
}

/// Reads the control messages of a sendmsg.
fn read_control(p: &Current, k: &dyn Platform, ptr: u64, len: u64) -> Result<Ancillary, Errno> {
    let mut anc = Ancillary::default();
    if len == 0 {
        return Ok(anc);
    }
    if len > OPTMEM_MAX {
        return Err(Errno::ENOBUFS);
    }
    let mut raw = vec![0u8; len as usize];
    k.read_user(ptr, &mut raw)?;
    let mut off = 0usize;
    while off + size_of::<Cmsghdr>() <= raw.len() {
        let Ok((h, _)) = Cmsghdr::read_from_prefix(&raw[off..]) else {
            break;
        };
        let clen = usize::try_from(h.len).map_err(|_| Errno::EINVAL)?;
        if clen < size_of::<Cmsghdr>() || off + clen > raw.len() {
            return Err(Errno::EINVAL);
        }
        let data = &raw[off + size_of::<Cmsghdr>()..off + clen];
        match (h.level, h.ty) {
            (SOL_SOCKET, SCM_RIGHTS) => {
                let n = data.len() / 4;
                if n > SCM_MAX_FD || anc.fds.len() + n > SCM_MAX_FD {
                    return Err(Errno::EINVAL);
                }
                for c in data.chunks_exact(4) {
                    let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                    anc.fds.push(p.file(fd)?);
                }
            }
            (SOL_SOCKET, SCM_CREDENTIALS) => {
                let c = Ucred::read_from_bytes(data).map_err(|_| Errno::EINVAL)?;
                anc.cred = Some(c);
            }
            (SOL_SOCKET, _) => return Err(Errno::EINVAL),
            // Other levels are the protocol's (IP_PKTINFO...): not served, ignored.
            _ => {}
        }
        off += cmsg_align(clen);
    }
    Ok(anc)
}

/// read(2) and readv(2) on a socket with SO_RCVTIMEO: as recv, so the timeout holds (the
/// generic read path waits without one). None for other files.
pub(crate) fn timed_read(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    iovs: &[IoVec],
) -> Option<SysResult> {
    let s = file.ops().as_any().downcast_ref::<SocketFile>()?;
    s.common.lock().rcvtimeo?;
    Some(recv_bufs(p, k, file, iovs, 0).map(|(n, _)| n as u64))
}

/// write(2) and writev(2) on a socket with SO_SNDTIMEO, as send.
pub(crate) fn timed_write(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    iovs: &[IoVec],
) -> Option<SysResult> {
    let s = file.ops().as_any().downcast_ref::<SocketFile>()?;
    s.common.lock().sndtimeo?;
    Some(send_bufs(p, k, file, iovs, None, Ancillary::default(), 0))
}

pub(crate) fn sendto(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u32,
    ptr: u64,
    addrlen: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let family = socket(&file).sock.family();
    let to = if ptr != 0 {
        Some(dest(addr::read(k, ptr, addrlen, family)?)?)
    } else {
        None
    };
    crate::user_ptr::access_ok(buf, len)?;
    let iov = [IoVec {
        base: buf,
        len: len.min(i32::MAX as u64),
    }];
    send_bufs(p, k, &file, &iov, to, Ancillary::default(), flags)
}

fn sendmsg_one(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    m: &Msghdr,
    flags: u32,
) -> SysResult {
    let family = socket(file).sock.family();
    let to = if m.name != 0 && m.namelen != 0 {
        Some(dest(addr::read(k, m.name, m.namelen, family)?)?)
    } else {
        None
    };
    let iovs = read_iovecs(k, m.iov, m.iovlen)?;
    let anc = if family == AF_UNIX {
        read_control(p, k, m.control, m.controllen)?
    } else {
        Ancillary::default()
    };
    send_bufs(p, k, file, &iovs, to, anc, flags)
}

pub(crate) fn sendmsg(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    msg: u64,
    flags: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let m: Msghdr = read_struct(k, msg)?;
    sendmsg_one(p, k, &file, &m, flags)
}

/// sendmmsg: after the first message, one that would block ends the call.
pub(crate) fn sendmmsg(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    vec: u64,
    vlen: u32,
    flags: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let vlen = vlen.min(1024) as u64;
    let mut sent = 0u64;
    while sent < vlen {
        let at = vec + sent * size_of::<Mmsghdr>() as u64;
        let mut mm: Mmsghdr = read_struct(k, at)?;
        let f = if sent > 0 {
            flags | MSG_DONTWAIT
        } else {
            flags
        };
        match sendmsg_one(p, k, &file, &mm.hdr, f) {
            Ok(n) => {
                mm.len = n as u32;
                write_struct(k, at + 56, &mm.len)?;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent)
}

/// What a receive reports beside the byte count.
struct Meta {
    from: Option<SockAddr>,
    anc: Ancillary,
    truncated: bool,
    /// The record's full length (MSG_TRUNC's answer).
    len: usize,
}

/// Receives into `iovs`.
fn recv_bufs(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    iovs: &[IoVec],
    flags: u32,
) -> Result<(usize, Meta), Errno> {
    let s: &SocketFile = socket(file);
    let nonblock = nonblocking(file, flags);
    let timeout = s.common.lock().rcvtimeo;
    let count = total(iovs);
    let stream = s.sock.kind() == SOCK_STREAM;
    let sflags = flags & MSG_PEEK;
    if stream {
        if count == 0 {
            return Ok((
                0,
                Meta {
                    from: None,
                    anc: Ancillary::default(),
                    truncated: false,
                    len: 0,
                },
            ));
        }
        let waitall = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0 && !nonblock;
        let mut done = if waitall {
            (p.progress as usize).min(count)
        } else {
            0
        };
        let mut buf = vec![0u8; count.min(CHUNK)];
        let mut anc = Ancillary::default();
        loop {
            let want = (count - done).min(CHUNK);
            let r = blocking(p, k, file, nonblock, timeout, |_, k| {
                s.sock.recv(&mut buf[..want], sflags, k.monotonic_ns())
            });
            match r {
                Ok(g) => {
                    scatter(k, iovs, done, &buf[..g.n])?;
                    done += g.n;
                    if !g.anc.fds.is_empty() || g.anc.cred.is_some() {
                        anc = g.anc;
                    }
                    if !waitall || g.n == 0 || done >= count || !anc.fds.is_empty() {
                        return Ok((
                            done,
                            Meta {
                                from: g.from,
                                anc,
                                truncated: false,
                                len: done,
                            },
                        ));
                    }
                }
                Err(Errno::WAIT) if done > 0 => {
                    p.progress = done as u64;
                    return Err(Errno::WAIT);
                }
                Err(_) if done > 0 => {
                    return Ok((
                        done,
                        Meta {
                            from: None,
                            anc,
                            truncated: false,
                            len: done,
                        },
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
    let mut buf = vec![0u8; count.min(MAX_RECORD)];
    let g: Got = blocking(p, k, file, nonblock, timeout, |_, k| {
        s.sock.recv(&mut buf, sflags, k.monotonic_ns())
    })?;
    scatter(k, iovs, 0, &buf[..g.n])?;
    Ok((
        g.n,
        Meta {
            from: g.from,
            anc: g.anc,
            truncated: g.len > g.n,
            len: g.len,
        },
    ))
}

pub(crate) fn recvfrom(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    buf: u64,
    len: u64,
    flags: u32,
    ptr: u64,
    lenptr: u64,
) -> SysResult {
    let file = sock_of(p, fd)?;
    crate::user_ptr::access_ok(buf, len)?;
    let iov = [IoVec {
        base: buf,
        len: len.min(i32::MAX as u64),
    }];
    let (n, meta) = recv_bufs(p, k, &file, &iov, flags)?;
    let family = socket(&file).sock.family();
    if ptr != 0 {
        match &meta.from {
            Some(a) => addr::write(k, ptr, lenptr, a, family)?,
            // A stream socket has no sender: the length says none (0), as Linux.
            None => write_struct(k, lenptr, &0u32)?,
        }
    }
    Ok(if flags & MSG_TRUNC != 0 { meta.len } else { n } as u64)
}

/// Writes the control messages of a receive; returns the bytes used and whether it cut.
fn write_control(
    p: &Current,
    k: &mut dyn Platform,
    ptr: u64,
    room: u64,
    anc: Ancillary,
    flags: u32,
) -> Result<(u64, bool), Errno> {
    let mut out: Vec<u8> = Vec::new();
    let mut cut = false;
    let room = room as usize;
    let header = size_of::<Cmsghdr>();
    if let Some(c) = anc.cred {
        let len = header + size_of::<Ucred>();
        if room >= len {
            let h = Cmsghdr {
                len: len as u64,
                level: SOL_SOCKET,
                ty: SCM_CREDENTIALS,
            };
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(c.as_bytes());
            out.resize(cmsg_align(out.len()).min(room), 0);
        } else {
            cut = true;
        }
    }
    if !anc.fds.is_empty() {
        let space = room.saturating_sub(out.len());
        let fit = space.saturating_sub(header) / 4;
        let n = anc.fds.len().min(fit);
        if n < anc.fds.len() {
            cut = true;
        }
        if n > 0 {
            let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
            let mut fds = Vec::with_capacity(n);
            for f in anc.fds.into_iter().take(n) {
                match p.install(f, cloexec) {
                    Ok(fd) => fds.push(fd as i32),
                    Err(_) => {
                        cut = true;
                        break;
                    }
                }
            }
            let h = Cmsghdr {
                len: (header + 4 * fds.len()) as u64,
                level: SOL_SOCKET,
                ty: SCM_RIGHTS,
            };
            out.extend_from_slice(h.as_bytes());
            for fd in fds {
                out.extend_from_slice(&fd.to_ne_bytes());
            }
            out.resize(cmsg_align(out.len()).min(room), 0);
        }
    }
    if !out.is_empty() {
        k.write_user(ptr, &out)?;
    }
    Ok((out.len() as u64, cut))
}

fn recvmsg_one(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    at: u64,
    flags: u32,
) -> SysResult {
    let mut m: Msghdr = read_struct(k, at)?;
    let iovs = read_iovecs(k, m.iov, m.iovlen)?;
    let (n, meta) = recv_bufs(p, k, file, &iovs, flags)?;
    let family = socket(file).sock.family();
    let mut out_flags = 0;
    if meta.truncated {
        out_flags |= MSG_TRUNC;
    }
    if m.name != 0 {
        match &meta.from {
            Some(a) => {
                let bytes = addr::encode(a, family);
                let len = bytes.len().min(m.namelen as usize);
                k.write_user(m.name, &bytes[..len])?;
                m.namelen = bytes.len() as u32;
            }
            None => m.namelen = 0,
        }
    }
    let (used, cut) = if m.control != 0 {
        write_control(p, k, m.control, m.controllen, meta.anc, flags)?
    } else {
        (0, !meta.anc.fds.is_empty() || meta.anc.cred.is_some())
    };
    if cut {
        out_flags |= MSG_CTRUNC;
    }
    m.controllen = used;
    m.flags = out_flags;
    write_struct(k, at, &m)?;
    Ok(if flags & MSG_TRUNC != 0 { meta.len } else { n } as u64)
}

pub(crate) fn recvmsg(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    msg: u64,
    flags: u32,
) -> SysResult {
    let file = sock_of(p, fd)?;
    recvmsg_one(p, k, &file, msg, flags)
}

/// recvmmsg: after the first message, the rest are taken only if already there (the timeout
/// is not served).
pub(crate) fn recvmmsg(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    vec: u64,
    vlen: u32,
    flags: u32,
    _timeout: u64,
) -> SysResult {
    let file = sock_of(p, fd)?;
    let vlen = vlen.min(1024) as u64;
    let mut got = 0u64;
    while got < vlen {
        let at = vec + got * size_of::<Mmsghdr>() as u64;
        let f = if got > 0 {
            flags | MSG_DONTWAIT
        } else {
            flags & !MSG_WAITFORONE
        };
        match recvmsg_one(p, k, &file, at, f) {
            Ok(n) => write_struct(k, at + 56, &(n as u32))?,
            Err(e) if got == 0 => return Err(e),
            Err(_) => break,
        }
        got += 1;
    }
    Ok(got)
}
