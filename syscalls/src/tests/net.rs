//! Sockets through the system-call table on the fake platform: TCP and UDP over lo, Unix
//! pairs with fd passing, addresses as they reach user memory, and the errors of misuse.

use crate::nr::*;
use std::vec::Vec;

use crate::tests::fake::{call, err, setup, sys, Fake, SCRATCH};
use crate::{Current, Errno, Outcome};

const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const SOCK_STREAM: u64 = 1;
const SOCK_DGRAM: u64 = 2;
const SOCK_NONBLOCK: u64 = 0o4000;

/// `struct sockaddr_in` for 127.0.0.1:`port`.
fn sin(port: u16) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(AF_INET as u16).to_ne_bytes());
    v.extend_from_slice(&port.to_be_bytes());
    v.extend_from_slice(&[127, 0, 0, 1]);
    v.extend_from_slice(&[0; 8]);
    v
}

fn u32_at(k: &Fake, addr: u64) -> u32 {
    let b = k.peek(addr, 4);
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// getsockname's port.
fn port_of(p: &mut Current, k: &mut Fake, fd: i64) -> u16 {
    k.poke(SCRATCH + 0x900, &16u32.to_ne_bytes());
    assert_eq!(
        sys(
            p,
            k,
            SYS_getsockname,
            &[fd as u64, SCRATCH + 0x800, SCRATCH + 0x900]
        ),
        0
    );
    assert_eq!(u32_at(k, SCRATCH + 0x900), 16);
    let b = k.peek(SCRATCH + 0x802, 2);
    u16::from_be_bytes([b[0], b[1]])
}

#[test]
fn tcp_over_lo_through_the_table() {
    let (mut p, mut k) = setup();
    let p = &mut p;
    let k = &mut k;
    let l = sys(p, k, SYS_socket, &[AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0]);
    assert!(l >= 0);
    k.poke(SCRATCH, &sin(0));
    assert_eq!(sys(p, k, SYS_bind, &[l as u64, SCRATCH, 16]), 0);
    assert_eq!(sys(p, k, SYS_listen, &[l as u64, 4]), 0);
    let port = port_of(p, k, l);
    assert!(port >= 32768);
    assert_eq!(sys(p, k, SYS_accept, &[l as u64, 0, 0]), err(Errno::EAGAIN));
    let c = sys(p, k, SYS_socket, &[AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0]);
    k.poke(SCRATCH, &sin(port));
    assert_eq!(
        sys(p, k, SYS_connect, &[c as u64, SCRATCH, 16]),
        err(Errno::EINPROGRESS)
    );
    // Over lo the handshake finished within the call.
    assert_eq!(sys(p, k, SYS_connect, &[c as u64, SCRATCH, 16]), 0);
    k.poke(SCRATCH + 0x100, &16u32.to_ne_bytes());
    let s = sys(
        p,
        k,
        SYS_accept4,
        &[l as u64, SCRATCH + 0x200, SCRATCH + 0x100, 0],
    );
    assert!(s >= 0);
    assert_eq!(u32_at(k, SCRATCH + 0x100), 16);
    assert_eq!(k.peek(SCRATCH + 0x204, 4), [127, 0, 0, 1]);
    k.poke(SCRATCH + 0x300, b"ping");
    assert_eq!(
        sys(p, k, SYS_sendto, &[c as u64, SCRATCH + 0x300, 4, 0, 0, 0]),
        4
    );
    assert_eq!(sys(p, k, SYS_read, &[s as u64, SCRATCH + 0x400, 64]), 4);
    assert_eq!(k.peek(SCRATCH + 0x400, 4), b"ping");
    // shutdown(SHUT_WR) then a send: EPIPE (and SIGPIPE unless MSG_NOSIGNAL).
    assert_eq!(sys(p, k, SYS_shutdown, &[c as u64, 1]), 0);
    assert_eq!(sys(p, k, SYS_read, &[s as u64, SCRATCH + 0x400, 64]), 0);
    let msg_nosignal = 0x4000;
    assert_eq!(
        sys(
            p,
            k,
            SYS_sendto,
            &[c as u64, SCRATCH + 0x300, 4, msg_nosignal, 0, 0]
        ),
        err(Errno::EPIPE)
    );
    // Readiness through poll: the listener has nothing, the server can write.
    let pollfd = |fd: i64| [&(fd as i32).to_ne_bytes()[..], &5u16.to_ne_bytes(), &[0, 0]].concat();
    k.poke(SCRATCH + 0x500, &pollfd(s));
    assert_eq!(sys(p, k, SYS_poll, &[SCRATCH + 0x500, 1, 0]), 1);
    let revents = k.peek(SCRATCH + 0x506, 2);
    assert_eq!(u16::from_ne_bytes([revents[0], revents[1]]) & 4, 4);
}

#[test]
fn addresses_and_misuse_give_linux_errors() {
    let (mut p, mut k) = setup();
    let p = &mut p;
    let k = &mut k;
    assert_eq!(
        sys(p, k, SYS_socket, &[99, SOCK_STREAM, 0]),
        err(Errno::EAFNOSUPPORT)
    );
    assert_eq!(
        sys(p, k, SYS_socket, &[AF_INET, 9, 0]),
        err(Errno::ESOCKTNOSUPPORT)
    );
    assert_eq!(
        sys(p, k, SYS_socket, &[AF_INET, SOCK_DGRAM, 6]),
        err(Errno::EPROTONOSUPPORT)
    );
    let u = sys(p, k, SYS_socket, &[AF_INET, SOCK_DGRAM, 0]);
    // An address longer than sockaddr_storage, and one the caller cannot read.
    assert_eq!(
        sys(p, k, SYS_bind, &[u as u64, SCRATCH, 129]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(p, k, SYS_bind, &[u as u64, 0x10, 16]),
        err(Errno::EFAULT)
    );
    // A non-socket fd.
    assert_eq!(sys(p, k, SYS_listen, &[1, 1]), err(Errno::ENOTSOCK));
    assert_eq!(sys(p, k, SYS_listen, &[77, 1]), err(Errno::EBADF));
    assert_eq!(
        sys(p, k, SYS_listen, &[u as u64, 1]),
        err(Errno::EOPNOTSUPP)
    );
    // UDP: no destination, then a datagram to itself.
    k.poke(SCRATCH, &sin(0));
    assert_eq!(sys(p, k, SYS_bind, &[u as u64, SCRATCH, 16]), 0);
    assert_eq!(
        sys(p, k, SYS_sendto, &[u as u64, SCRATCH + 0x100, 1, 0, 0, 0]),
        err(Errno::EDESTADDRREQ)
    );
    let port = port_of(p, k, u);
    k.poke(SCRATCH, &sin(port));
    k.poke(SCRATCH + 0x100, b"hey");
    assert_eq!(
        sys(
            p,
            k,
            SYS_sendto,
            &[u as u64, SCRATCH + 0x100, 3, 0, SCRATCH, 16]
        ),
        3
    );
    // recvfrom with an address buffer of 8 bytes: cut, but the full length is told.
    k.poke(SCRATCH + 0x600, &8u32.to_ne_bytes());
    assert_eq!(
        sys(
            p,
            k,
            SYS_recvfrom,
            &[
                u as u64,
                SCRATCH + 0x200,
                64,
                0,
                SCRATCH + 0x700,
                SCRATCH + 0x600
            ]
        ),
        3
    );
    assert_eq!(u32_at(k, SCRATCH + 0x600), 16);
    assert_eq!(k.peek(SCRATCH + 0x704, 4), [127, 0, 0, 1]);
    // getsockopt: SO_TYPE, and a negative length.
    k.poke(SCRATCH + 0x600, &4u32.to_ne_bytes());
    assert_eq!(
        sys(
            p,
            k,
            SYS_getsockopt,
            &[u as u64, 1, 3, SCRATCH + 0x610, SCRATCH + 0x600]
        ),
        0
    );
    assert_eq!(u32_at(k, SCRATCH + 0x610), SOCK_DGRAM as u32);
    k.poke(SCRATCH + 0x600, &(-1i32).to_ne_bytes());
    assert_eq!(
        sys(
            p,
            k,
            SYS_getsockopt,
            &[u as u64, 1, 3, SCRATCH + 0x610, SCRATCH + 0x600]
        ),
        err(Errno::EINVAL)
    );
}

#[test]
fn unix_pair_passes_a_pipe() {
    let (mut p, mut k) = setup();
    let p = &mut p;
    let k = &mut k;
    assert_eq!(
        sys(p, k, SYS_socketpair, &[AF_UNIX, SOCK_STREAM, 0, SCRATCH]),
        0
    );
    let (a, b) = (u32_at(k, SCRATCH) as u64, u32_at(k, SCRATCH + 4) as u64);
    assert_eq!(sys(p, k, SYS_pipe2, &[SCRATCH + 8, 0]), 0);
    let (pr, pw) = (
        u32_at(k, SCRATCH + 8) as u64,
        u32_at(k, SCRATCH + 12) as u64,
    );
    // sendmsg: one byte with SCM_RIGHTS carrying the pipe's write end.
    let iov = SCRATCH + 0x100;
    let ctl = SCRATCH + 0x200;
    let msg = SCRATCH + 0x300;
    k.poke(SCRATCH + 0x80, b"F");
    k.poke(
        iov,
        &[(SCRATCH + 0x80).to_ne_bytes(), 1u64.to_ne_bytes()].concat(),
    );
    let cmsg = [
        &20u64.to_ne_bytes()[..],
        &1i32.to_ne_bytes(),
        &1i32.to_ne_bytes(),
        &(pw as i32).to_ne_bytes(),
        &[0; 4],
    ]
    .concat();
    k.poke(ctl, &cmsg);
    let hdr = |ctl_len: u64| {
        [
            &0u64.to_ne_bytes()[..],
            &0u64.to_ne_bytes(),
            &iov.to_ne_bytes(),
            &1u64.to_ne_bytes(),
            &ctl.to_ne_bytes(),
            &ctl_len.to_ne_bytes(),
            &0u64.to_ne_bytes(),
        ]
        .concat()
    };
    k.poke(msg, &hdr(24));
    assert_eq!(sys(p, k, SYS_sendmsg, &[a, msg, 0]), 1);
    assert_eq!(sys(p, k, SYS_close, &[pw]), 0);
    // recvmsg gets the byte and a new fd for the write end.
    k.poke(ctl, &[0u8; 24]);
    k.poke(msg, &hdr(24));
    assert_eq!(sys(p, k, SYS_recvmsg, &[b, msg, 0]), 1);
    let got = k.peek(ctl, 20);
    assert_eq!(&got[..8], &20u64.to_ne_bytes());
    let fd = i32::from_ne_bytes([got[16], got[17], got[18], got[19]]) as u64;
    k.poke(SCRATCH + 0x400, b"via");
    assert_eq!(sys(p, k, SYS_write, &[fd, SCRATCH + 0x400, 3]), 3);
    assert_eq!(sys(p, k, SYS_read, &[pr, SCRATCH + 0x500, 8]), 3);
    assert_eq!(k.peek(SCRATCH + 0x500, 3), b"via");
    // A blocking read on the empty pair waits.
    assert_eq!(
        call(p, k, SYS_read, &[b, SCRATCH + 0x500, 8]),
        Outcome::Wait
    );
}
