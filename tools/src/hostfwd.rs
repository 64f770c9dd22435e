//! Published TCP ports queue connections as a host server's do: the backlog of QEMU's
//! `hostfwd` listening sockets raised from 1 to Linux's default `somaxconn`.
//!
//! QEMU's user network (libslirp) listens on a published port with `listen(s, 1)` and accepts
//! one connection per turn of its main loop. A burst of connections (redis-benchmark opens
//! its 50 clients at once, wrk its 50) overflows that accept queue: Linux then drops the
//! handshake's last ACK, so the client believes it is connected while the server side never
//! is, and only the client's retransmissions (0.2, 0.6, 1.4, 3 ... s, backing off) get it in
//! once QEMU has made room. A few clients wait seconds, tens of seconds, or give up with a
//! reset; the guest never sees them (they looked like the guest's retransmission timeouts).
//! Docker's port proxy listens with the host's `somaxconn`. QEMU has no option for it, but
//! Linux lets `listen(2)` on a listening socket change its backlog, and `coracle`, QEMU's
//! parent, may take a copy of QEMU's socket with `pidfd_getfd(2)` (Linux 5.6; the caller
//! must be allowed to ptrace QEMU, as its parent is): [`widen_backlogs`] does that.
//! `vm` (the Coracle side) and `bench` (the Linux VM it compares with) call it after
//! spawning QEMU.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::sockopt;
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags};

use crate::network::{Protocol, Publish};

/// The backlog given: Linux's default `net.core.somaxconn` since 5.4 (the kernel caps it at
/// the host's own setting).
pub const BACKLOG: i32 = 4096;

/// How long to look for QEMU's sockets: it opens them while it sets up its network, before
/// the guest runs, so they appear within milliseconds of the spawn.
const SEARCH: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(5);

/// The host ports of the TCP ports published with `-p`.
pub fn tcp_ports(publish: &[Publish]) -> Vec<u16> {
    publish
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp)
        .map(|p| p.host_port)
        .collect()
}

/// Raises, in the background, the backlog of the listening TCP sockets process `pid` has on
/// `ports` (the host ports of `-p .../tcp`) to [`BACKLOG`], as soon as they exist. Failures
/// (an old kernel, a sandbox that forbids pidfd_getfd) leave QEMU's backlog of 1; they are
/// reported with `verbose` only, as the forwarding still works.
pub fn widen_backlogs(pid: u32, ports: Vec<u16>, verbose: bool) {
    if ports.is_empty() {
        return;
    }
    thread::spawn(move || {
        let result = widen_until(pid, &ports, Instant::now() + SEARCH);
        if verbose {
            match result {
                Ok(missing) if missing.is_empty() => {}
                Ok(missing) => eprintln!(
                    "coracle: QEMU's listening sockets for ports {missing:?} not found; \
                     their backlog stays at 1"
                ),
                Err(e) => eprintln!(
                    "coracle: cannot raise the backlog of the published ports ({e}); \
                     bursts of connections will wait for retransmissions"
                ),
            }
        }
    });
}

/// Looks at `pid`'s sockets until every port of `ports` had its listener widened or
/// `deadline` passes; the ports not found.
pub fn widen_until(pid: u32, ports: &[u16], deadline: Instant) -> io::Result<Vec<u16>> {
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let pid_ref = raw.ok_or_else(|| io::Error::other("not a process id"))?;
    let pidfd = rustix::process::pidfd_open(pid_ref, PidfdFlags::empty())?;
    let fd_dir = Path::new("/proc").join(pid.to_string()).join("fd");
    let mut seen = HashSet::new();
    let mut left: Vec<u16> = ports.to_vec();
    loop {
        // The process is gone: nothing left to widen.
        let Ok(entries) = std::fs::read_dir(&fd_dir) else {
            return Ok(left);
        };
        for entry in entries.flatten() {
            let Some(fd) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<RawFd>().ok())
            else {
                continue;
            };
            let is_socket = std::fs::read_link(entry.path())
                .is_ok_and(|l| l.as_os_str().as_encoded_bytes().starts_with(b"socket:"));
            if !is_socket || !seen.insert(fd) {
                continue;
            }
            let copy = match rustix::process::pidfd_getfd(&pidfd, fd, PidfdGetfdFlags::empty()) {
                Ok(copy) => copy,
                // Closed since the directory was read.
                Err(rustix::io::Errno::BADF) => continue,
                Err(e) => return Err(e.into()),
            };
            if let Some(port) = listening_port(&copy).filter(|p| left.contains(p)) {
                rustix::net::listen(&copy, BACKLOG)?;
                left.retain(|&p| p != port);
            }
        }
        if left.is_empty() || Instant::now() >= deadline {
            return Ok(left);
        }
        thread::sleep(POLL);
    }
}

/// The local port of a listening TCP socket (None for anything else).
fn listening_port(fd: &OwnedFd) -> Option<u16> {
    let stream = sockopt::socket_type(fd.as_fd()).ok()? == rustix::net::SocketType::STREAM;
    let listening = sockopt::socket_acceptconn(fd.as_fd()).ok()?;
    if !(stream && listening) {
        return None;
    }
    let addr: std::net::SocketAddr = rustix::net::getsockname(fd.as_fd()).ok()?.try_into().ok()?;
    Some(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    /// Server-side sockets of `port` that finished their handshake (in the accept queue or
    /// accepted), from /proc/net/tcp: local port `port`, state 01 (ESTABLISHED).
    fn established_at(port: u16) -> usize {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let local = format!(":{port:04X}");
        table
            .lines()
            .skip(1)
            .filter(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && cols[1].ends_with(&local) && cols[3] == "01"
            })
            .count()
    }

    /// A listener made with QEMU's backlog of 1 queues every connection of a burst once
    /// widened (unwidened, Linux admits 2 and the rest wait for retransmissions that never
    /// find room while nothing accepts).
    #[test]
    fn a_widened_listener_queues_a_burst() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        rustix::net::listen(&listener, 1).unwrap();
        let port = listener.local_addr().unwrap().port();
        let missing = widen_until(
            std::process::id(),
            &[port],
            Instant::now() + Duration::from_secs(5),
        )
        .expect("pidfd_getfd on our own process");
        assert!(missing.is_empty(), "our listener was not found");
        const BURST: usize = 16;
        let addr = listener.local_addr().unwrap();
        // Unwidened, Linux drops the SYNs it has no room for: those connects time out.
        let clients: Vec<TcpStream> = (0..BURST)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while established_at(port) < BURST && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            established_at(port),
            BURST,
            "connections left out of the queue"
        );
        drop(clients);
    }

    /// Ports the process does not listen on are reported missing, after the deadline.
    #[test]
    fn a_port_nobody_listens_on_is_missing() {
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = free.local_addr().unwrap().port();
        drop(free);
        let missing = widen_until(std::process::id(), &[port], Instant::now()).unwrap();
        assert_eq!(missing, vec![port]);
    }
}
