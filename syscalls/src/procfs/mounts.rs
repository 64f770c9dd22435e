//! /proc/<pid>/{mounts,mountinfo,fdinfo/N}: the mount table as the process sees it, and
//! where an fd stands, in Linux 6.1's formats (fs/proc_namespace.c, fs/proc/fd.c).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::{major, minor, oflags::O_CLOEXEC};
use coracle_vfs::{Errno, Inode, Mount, Result};

use super::pid::View;
use super::Out;

/// Mount ids: mount `i` of the table is `MNT_ID_BASE + i`; the root's parent is outside the
/// namespace, as in a container; kernel-internal mounts (pipes, the console) share one id.
const MNT_ID_BASE: u32 = 22;
const HIDDEN_PARENT_MNT_ID: u32 = 21;
const INTERNAL_MNT_ID: u32 = 13;

/// The id /proc shows for mount `i` of the table.
fn mnt_id(i: usize) -> u32 {
    MNT_ID_BASE + i as u32
}

/// The mount an inode lives on (the topmost mount of its filesystem).
pub(crate) fn mnt_id_of(mounts: &[Mount], inode: &Arc<dyn Inode>) -> u32 {
    let dev = inode.stat().dev;
    mounts
        .iter()
        .rposition(|m| m.root.stat().dev == dev)
        .map_or(INTERNAL_MNT_ID, mnt_id)
}

/// /proc/<pid>/fdinfo/<fd> (seq_show in fs/proc/fd.c).
pub(super) fn fdinfo(v: &View<'_>, fd: u32) -> Result<Vec<u8>> {
    let entry = v
        .proc
        .files
        .lock()
        .get(fd as i32)
        .map_err(|_| Errno::ENOENT)?;
    let file = &entry.file;
    let mut flags = file.flags();
    if entry.cloexec {
        flags |= O_CLOEXEC;
    }
    let mounts = v.sys.vfs.mounts();
    let mut o = Out::default();
    put!(o, "pos:\t{}\nflags:\t0{flags:o}\n", file.offset());
    put!(o, "mnt_id:\t{}\n", mnt_id_of(&mounts, file.inode()));
    put!(o, "ino:\t{}\n", file.inode().stat().ino);
    Ok(o.0)
}

/// Escapes what would break a mount table's fields (mangle(): space, tab, newline,
/// backslash as octal).
fn mangle(o: &mut Out, s: &[u8]) {
    for &b in s {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            put!(o, "\\{b:03o}");
        } else {
            o.bytes(&[b]);
        }
    }
}

/// The mounts visible from the process's root, with their ids, parent ids and paths.
fn visible_mounts(v: &View<'_>) -> Vec<(u32, u32, Mount, Vec<u8>)> {
    let mut cx = v.cx.clone();
    cx.root = v.proc.fs.lock().root.clone();
    let mounts = v.sys.vfs.mounts();
    let mut out = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        // A mount outside the process's root is not shown (SEQ_SKIP).
        let Ok(path) = v.sys.vfs.path_of(&cx, &m.root) else {
            continue;
        };
        let parent = m.mountpoint.as_ref().and_then(|point| {
            let dev = point.stat().dev;
            mounts[..i]
                .iter()
                .rposition(|pm| pm.root.stat().dev == dev)
                .map(mnt_id)
        });
        out.push((
            mnt_id(i),
            parent.unwrap_or(HIDDEN_PARENT_MNT_ID),
            m.clone(),
            path,
        ));
    }
    out
}

/// /proc/<pid>/mounts (show_vfsmnt): `source point type options 0 0`.
pub(super) fn mounts(v: &View<'_>) -> Result<Vec<u8>> {
    let mut o = Out::default();
    for (_, _, m, path) in visible_mounts(v) {
        mangle(&mut o, source(&m));
        o.bytes(b" ");
        mangle(&mut o, &path);
        o.bytes(b" ");
        mangle(&mut o, &m.fstype);
        o.bytes(b" ");
        mangle(&mut o, &m.options);
        o.bytes(b" 0 0\n");
    }
    Ok(o.0)
}

fn source(m: &Mount) -> &[u8] {
    if m.source.is_empty() {
        b"none"
    } else {
        &m.source
    }
}

/// Options that belong to the mount rather than the superblock (show_mnt_opts).
const MOUNT_FLAGS: [&[u8]; 7] = [
    b"nosuid",
    b"nodev",
    b"noexec",
    b"noatime",
    b"nodiratime",
    b"relatime",
    b"nosymfollow",
];

/// /proc/<pid>/mountinfo (show_mountinfo):
/// `id parent major:minor root point mount-options - type source super-options`.
pub(super) fn mountinfo(v: &View<'_>) -> Result<Vec<u8>> {
    let mut o = Out::default();
    for (id, parent, m, path) in visible_mounts(v) {
        let dev = m.root.stat().dev;
        put!(o, "{id} {parent} {}:{} / ", major(dev), minor(dev));
        mangle(&mut o, &path);
        let all: Vec<&[u8]> = m.options.split(|&b| b == b',').collect();
        let ro: &[u8] = if all.contains(&&b"ro"[..]) {
            b"ro"
        } else {
            b"rw"
        };
        let rest: Vec<&[u8]> = all
            .into_iter()
            .filter(|s| !s.is_empty() && *s != b"ro" && *s != b"rw")
            .collect();
        o.bytes(b" ");
        o.bytes(ro);
        for opt in rest.iter().filter(|s| MOUNT_FLAGS.contains(s)) {
            o.bytes(b",");
            mangle(&mut o, opt);
        }
        o.bytes(b" - ");
        mangle(&mut o, &m.fstype);
        o.bytes(b" ");
        mangle(&mut o, source(&m));
        o.bytes(b" ");
        o.bytes(ro);
        for opt in rest.iter().filter(|s| !MOUNT_FLAGS.contains(s)) {
            o.bytes(b",");
            mangle(&mut o, opt);
        }
        o.bytes(b"\n");
    }
    Ok(o.0)
}
