//! `coracle exec -u USER[:GROUP]`: the user looked up in the container's own /etc/passwd and
//! /etc/group, as runc does for `docker exec -u` (names or numbers; a number missing from
//! passwd is taken as is with group 0; supplementary groups are those listing the user when
//! no group is given, and the primary group).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::{Errno, Inode};

use crate::creds::Creds;
use crate::process::System;

/// Why a user cannot be had.
#[derive(Debug)]
pub(super) enum Error {
    /// A file is still being read from disk: try again later.
    Wait,
    /// The message for the host.
    Refused(Vec<u8>),
}

/// The most of /etc/passwd or /etc/group read.
const MAX_FILE: usize = 1 << 20;

/// The bytes of `path` in the container, empty when it is missing.
fn read(sys: &System, path: &[u8]) -> Result<Vec<u8>, Error> {
    let cx = Creds::container(0, 0, &[]).caller(0, 0, 0o022, sys.vfs.root().clone());
    let inode: Arc<dyn Inode> = match sys.vfs.resolve(&cx, sys.vfs.root(), path, true) {
        Ok(l) => match l.inode {
            Some(i) => i,
            None => return Ok(Vec::new()),
        },
        Err(Errno::WAIT) => return Err(Error::Wait),
        Err(_) => return Ok(Vec::new()),
    };
    let mut data = alloc::vec![0u8; (inode.stat().size as usize).min(MAX_FILE)];
    let mut off = 0;
    while off < data.len() {
        match inode.read_at(off as u64, &mut data[off..]) {
            Ok(0) => break,
            Ok(n) => off += n,
            Err(Errno::WAIT) => return Err(Error::Wait),
            Err(_) => break,
        }
    }
    data.truncate(off);
    Ok(data)
}

fn number(text: &[u8]) -> Option<u32> {
    core::str::from_utf8(text).ok()?.parse().ok()
}

/// The lines of a colon-separated file, split into fields.
fn records(data: &[u8]) -> impl Iterator<Item = Vec<&[u8]>> {
    data.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && l[0] != b'#')
        .map(|l| l.split(|&b| b == b':').collect::<Vec<_>>())
}

fn refused(what: &str, name: &[u8], file: &str) -> Error {
    Error::Refused(
        alloc::format!(
            "coracle exec: unable to find {what} {}: no matching entries in {file} file\n",
            core::str::from_utf8(name).unwrap_or("?")
        )
        .into_bytes(),
    )
}

/// The credentials of `spec` (`USER`, `UID`, `USER:GROUP`, `UID:GID`...).
pub(super) fn resolve(sys: &System, spec: &[u8]) -> Result<Creds, Error> {
    let (user, group) = match spec.iter().position(|&b| b == b':') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    let passwd = read(sys, b"/etc/passwd")?;
    let groups_file = read(sys, b"/etc/group")?;
    let entry = records(&passwd).find(|f| {
        f.len() >= 4 && (f[0] == user || (number(user).is_some() && number(f[2]) == number(user)))
    });
    let (uid, mut gid, name) = match (&entry, number(user)) {
        (Some(f), _) => (
            number(f[2]).unwrap_or(0),
            number(f[3]).unwrap_or(0),
            Some(f[0]),
        ),
        (None, Some(uid)) => (uid, 0, None),
        (None, None) => return Err(refused("user", user, "passwd")),
    };
    if let Some(group) = group {
        gid = match number(group) {
            Some(g) => g,
            None => records(&groups_file)
                .find(|f| f.len() >= 3 && f[0] == group)
                .and_then(|f| number(f[2]))
                .ok_or_else(|| refused("group", group, "group"))?,
        };
    }
    // As `coracle run -u` sends them (runc's way): the groups listing the user when no group
    // was given, and the primary group.
    let mut groups: Vec<u32> = match name.filter(|_| group.is_none()) {
        Some(name) => records(&groups_file)
            .filter(|f| f.len() >= 4 && f[3].split(|&b| b == b',').any(|m| m == name))
            .filter_map(|f| number(f[2]))
            .collect(),
        None => Vec::new(),
    };
    groups.push(gid);
    groups.sort_unstable();
    groups.dedup();
    Ok(Creds::container(uid, gid, &groups))
}
