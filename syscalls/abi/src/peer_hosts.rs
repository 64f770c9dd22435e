//! The names of a Coracle network's other VMs in a guest's /etc/hosts (docs/networks.md,
//! "Names"), shared by the host tool, which writes the `host` control records, and the
//! kernel, which applies them (docs/guest-protocol.md, "Input framing").
//!
//! The host writes /etc/hosts at boot with a [`MARKER`] line after the image's, the
//! `--add-host` and the VM's own lines; the lines after the marker are the network's other
//! VMs, `ADDRESS\tNAME`. Records keep that part current as VMs start and end:
//! `host add name=NAME addr=A.B.C.D` and `host del name=NAME addr=A.B.C.D`. Lines before the
//! marker are never touched, so an `--add-host` of the same name keeps winning (resolvers
//! take the first match). Records come from the host and, through it, from other VMs'
//! supervisors: everything is checked, sizes are bounded, and nothing here panics.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::net::Ipv4Addr;

/// The start of the line after which the network's VMs are listed.
pub const MARKER: &str = "# Coracle network";
/// The longest name: Docker's names have no limit, but a record is at most 255 bytes and a
/// DNS label 63; 64 is what `coracle network create` takes.
pub const MAX_NAME: usize = 64;
/// The most VMs listed after the marker; an `add` beyond it is refused.
pub const MAX_PEERS: usize = 1024;
/// The largest /etc/hosts the kernel reads to update it.
pub const MAX_FILE: usize = 256 * 1024;

/// One change to the network's part of /etc/hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// `NAME` now lives at the address (replacing any earlier address of that name).
    Add { name: &'a str, addr: Ipv4Addr },
    /// The VM `NAME` at the address has ended (a line of that name with another address,
    /// a replacement's, stays).
    Remove { name: &'a str, addr: Ipv4Addr },
}

/// Why a record or an update was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Not `host add|del name=NAME addr=A.B.C.D`.
    Malformed,
    /// The name is not `[a-zA-Z0-9][a-zA-Z0-9_.-]*` of at most [`MAX_NAME`] bytes.
    BadName,
    /// The address is not a dotted IPv4 address.
    BadAddress,
    /// [`MAX_PEERS`] names are listed already, or the file is over [`MAX_FILE`].
    Full,
}

/// Whether `name` is a VM name as Docker takes it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &[u8]) -> bool {
    name.len() <= MAX_NAME
        && name.first().is_some_and(u8::is_ascii_alphanumeric)
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
}

impl<'a> Change<'a> {
    /// Parses a record's payload (`host add name=db addr=172.18.0.2`); fields in any order.
    pub fn parse(payload: &'a [u8]) -> Result<Self, Error> {
        let text = core::str::from_utf8(payload).map_err(|_| Error::Malformed)?;
        let mut words = text.split_ascii_whitespace();
        if words.next() != Some("host") {
            return Err(Error::Malformed);
        }
        let verb = words.next().ok_or(Error::Malformed)?;
        let (mut name, mut addr) = (None, None);
        for word in words {
            match word.split_once('=') {
                Some(("name", v)) if name.is_none() => name = Some(v),
                Some(("addr", v)) if addr.is_none() => addr = Some(v),
                _ => return Err(Error::Malformed),
            }
        }
        let name = name.ok_or(Error::Malformed)?;
        if !valid_name(name.as_bytes()) {
            return Err(Error::BadName);
        }
        let addr = parse_addr(addr.ok_or(Error::Malformed)?)?;
        match verb {
            "add" => Ok(Change::Add { name, addr }),
            "del" => Ok(Change::Remove { name, addr }),
            _ => Err(Error::Malformed),
        }
    }

    /// The record's payload, as [`Change::parse`] reads it.
    pub fn encode(&self) -> String {
        let (verb, name, addr) = match self {
            Change::Add { name, addr } => ("add", name, addr),
            Change::Remove { name, addr } => ("del", name, addr),
        };
        let mut s = String::new();
        let _ = write!(s, "host {verb} name={name} addr={addr}");
        s
    }
}

/// Dotted decimal only (`core`'s parser: four parts, no leading zeros).
fn parse_addr(text: &str) -> Result<Ipv4Addr, Error> {
    text.parse().map_err(|_| Error::BadAddress)
}

/// A line of the network's part: its address and first name, if it is such a line.
fn entry(line: &[u8]) -> Option<(Ipv4Addr, &[u8])> {
    let text = core::str::from_utf8(line).ok()?;
    let mut words = text.split_ascii_whitespace();
    let addr = parse_addr(words.next()?).ok()?;
    Some((addr, words.next()?.as_bytes()))
}

/// `hosts` with `change` applied to the lines after its [`MARKER`] (a marker is appended if
/// it has none); `Ok(None)` when the file would not change.
pub fn apply(hosts: &[u8], change: Change<'_>) -> Result<Option<Vec<u8>>, Error> {
    if hosts.len() > MAX_FILE {
        return Err(Error::Full);
    }
    let marker = hosts
        .split_inclusive(|&b| b == b'\n')
        .scan(0, |at, line| {
            let start = *at;
            *at += line.len();
            Some((start, line))
        })
        .find(|(_, line)| line.starts_with(MARKER.as_bytes()));
    let (head, tail): (Vec<u8>, &[u8]) = match marker {
        Some((start, line)) => (
            hosts[..start + line.len()].to_vec(),
            &hosts[start + line.len()..],
        ),
        None => {
            let mut head = hosts.to_vec();
            if !head.is_empty() && !head.ends_with(b"\n") {
                head.push(b'\n');
            }
            head.extend_from_slice(MARKER.as_bytes());
            head.extend_from_slice(b": its other VMs\n");
            (head, &[])
        }
    };
    let mut lines: Vec<&[u8]> = tail
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .collect();
    let before = lines.len();
    let (name, addr) = match change {
        Change::Add { name, addr } | Change::Remove { name, addr } => (name, addr),
    };
    let line = alloc::format!("{addr}\t{name}").into_bytes();
    let name = name.as_bytes();
    match change {
        Change::Add { .. } => {
            if lines.contains(&line.as_slice()) {
                return Ok(None);
            }
            lines.retain(|l| entry(l).is_none_or(|(_, n)| n != name));
            if lines.len() >= MAX_PEERS {
                return Err(Error::Full);
            }
            lines.push(&line);
        }
        Change::Remove { .. } => {
            lines.retain(|l| entry(l) != Some((addr, name)));
            if lines.len() == before {
                return Ok(None);
            }
        }
    }
    let mut out = head;
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "peer_hosts_tests.rs"]
mod tests;
