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
    let Ok(mut stream) = UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_write_timeout(Some(PEER_TIMEOUT));
    let text: String = payloads.iter().map(|p| format!("{p}\n")).collect();
    stream.write_all(text.as_bytes()).is_ok()
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
