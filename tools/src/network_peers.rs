//! Names that follow a Coracle network's live VMs, without a daemon: each VM's supervisor
//! (`lifecycle::supervise`) tells the others' when its VM starts and ends, and they pass it
//! on to their guests as `host add|del` control records (`coracle_abi::peer_hosts`), which
//! the guest kernel applies to its /etc/hosts (docs/networks.md, "Names").
//!
//! Both steps run under the networks' lock (`networks::lock`), as `networks::join` does, so
//! a VM's start and another's end are seen in one order by everyone: the VM that comes up
//! second tells the first, and is told the first (whatever its /etc/hosts missed between its
//! address and its control socket). A supervisor that died without its last word is covered
//! by `coracle kill`/`rm`, which speak for it (`withdraw`), and by the liveness check of the
//! records, which leaves it out of every later list.

use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use coracle_abi::peer_hosts::Change;

use crate::lifecycle::Record;
use crate::signals::{self, ControlPipe};

/// How long a peer's supervisor may take to accept a few lines (it reads them at once;
/// a stuck one is skipped rather than holding the networks' lock).
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// The VM's network, name and address, if it is on a Coracle network.
fn place(record: &Record) -> Option<(&str, Ipv4Addr)> {
    Some((record.network.as_deref()?, record.address?))
}

/// Writes `payloads` to the control socket of the VM `id`, one per line, as `coracle kill`
/// does; false when its supervisor does not take them.
fn tell(id: &str, payloads: &[String]) -> bool {
    let socket = crate::lifecycle::dir_of(&crate::lifecycle::root(), id).join("control.sock");
    let Ok(mut stream) = connect(&socket) else {
        return false;
    };
    let _ = stream.set_write_timeout(Some(PEER_TIMEOUT));
    let text: String = payloads.iter().map(|p| format!("{p}\n")).collect();
    stream.write_all(text.as_bytes()).is_ok()
}

/// Connects to `path` without waiting: a Unix stream connect blocks while the listener's
/// backlog is full (a stuck supervisor), and this runs under the networks' lock. Non-blocking,
/// it fails with EAGAIN instead (unix(7)).
fn connect(path: &std::path::Path) -> std::io::Result<UnixStream> {
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )?;
    rustix::net::connect(&fd, &SocketAddrUnix::new(path)?)?;
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// `record`'s VM is up and its control socket serves: the network's other live VMs learn
/// its name, and its guest learns theirs (over `control`).
pub fn announce(record: &Record, control: &ControlPipe) {
    let Some((network, address)) = place(record) else {
        return;
    };
    let Ok(_lock) = crate::networks::lock(&crate::networks::root()) else {
        return;
    };
    let me = Change::Add {
        name: &record.name,
        addr: address,
    }
    .encode();
    for (id, name, addr) in crate::networks::members(network) {
        if id == record.id {
            continue;
        }
        tell(&id, std::slice::from_ref(&me));
        signals::send_record(control, &Change::Add { name: &name, addr }.encode());
    }
}

/// `record`'s VM has ended (or its supervisor was killed): the network's live VMs drop its
/// name (only with its address: a replacement of the same name keeps its line).
pub fn withdraw(record: &Record) {
    let Some((network, address)) = place(record) else {
        return;
    };
    let Ok(_lock) = crate::networks::lock(&crate::networks::root()) else {
        return;
    };
    let gone = Change::Remove {
        name: &record.name,
        addr: address,
    }
    .encode();
    for (id, _, _) in crate::networks::members(network) {
        if id != record.id {
            tell(&id, std::slice::from_ref(&gone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A supervisor that stopped accepting makes `connect` fail once its backlog is full,
    /// instead of holding the networks' lock forever.
    #[test]
    fn connect_does_not_wait_on_a_full_backlog() {
        let dir = crate::tempdir::TempDir::new().unwrap();
        let path = dir.path().join("control.sock");
        // A backlog of 1 (std's listener takes somaxconn: thousands of fds to fill).
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketType};
        let listener = rustix::net::socket(AddressFamily::UNIX, SocketType::STREAM, None).unwrap();
        rustix::net::bind(&listener, &SocketAddrUnix::new(&path).unwrap()).unwrap();
        rustix::net::listen(&listener, 1).unwrap();
        let mut held = Vec::new();
        let refused = (0..100).find_map(|_| match connect(&path) {
            Ok(s) => {
                held.push(s);
                None
            }
            Err(e) => Some(e),
        });
        let err = refused.expect("the backlog never filled");
        assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock, "{err}");
        assert!(!held.is_empty());
    }
}
