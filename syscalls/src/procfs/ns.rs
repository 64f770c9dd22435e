//! /proc/<pid>/ns/*: one magic link per namespace, reading `net:[4026531833]`, that opens the
//! namespace's nsfs file (what setns(2) takes).
//!
//! Coracle runs one set of namespaces, so every process shows the same ones. The numbers are
//! those Linux 6.18 gives its initial namespaces (`PROC_*_INIT_INO`).

use alloc::sync::Arc;
use core::any::Any;

use coracle_vfs::types::{Stat, S_IFREG};
use coracle_vfs::Inode;

/// One kind of namespace: its entry name, the kind its link names, its inode number and its
/// `CLONE_NEW*` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ns {
    pub entry: &'static str,
    pub kind: &'static str,
    pub ino: u64,
    pub clone_flag: u32,
}

const fn ns(entry: &'static str, kind: &'static str, ino: u64, clone_flag: u32) -> Ns {
    Ns {
        entry,
        kind,
        ino,
        clone_flag,
    }
}

pub(crate) const CLONE_NEWUSER: u32 = 0x1000_0000;

/// In Linux's listing order (`ns_entries`).
pub(crate) const NAMESPACES: [Ns; 10] = [
    ns("net", "net", 0xeffffff9, 0x4000_0000),
    ns("uts", "uts", 0xeffffffe, 0x0400_0000),
    ns("ipc", "ipc", 0xefffffff, 0x0800_0000),
    ns("pid", "pid", 0xeffffffc, 0x2000_0000),
    ns("pid_for_children", "pid", 0xeffffffc, 0x2000_0000),
    ns("user", "user", 0xeffffffd, CLONE_NEWUSER),
    ns("mnt", "mnt", 0xeffffff8, 0x0002_0000),
    ns("cgroup", "cgroup", 0xeffffffb, 0x0200_0000),
    ns("time", "time", 0xeffffffa, 0x80),
    ns("time_for_children", "time", 0xeffffffa, 0x80),
];

/// nsfs's device number (0:4 on Linux 6.18).
const NSFS_DEV: u64 = 4;

/// The link text: `kind:[ino]`.
pub(crate) fn link_text(ns: &Ns) -> alloc::vec::Vec<u8> {
    alloc::format!("{}:[{}]", ns.kind, ns.ino).into_bytes()
}

/// The nsfs file a link opens: empty, no reads or writes (`EINVAL`).
pub(crate) struct NsInode(pub Ns);

impl Inode for NsInode {
    fn stat(&self) -> Stat {
        Stat {
            dev: NSFS_DEV,
            ino: self.0.ino,
            mode: S_IFREG | 0o444,
            nlink: 1,
            blksize: 4096,
            ..Stat::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The namespace an open file is, if it is one.
pub(crate) fn of_inode(inode: &Arc<dyn Inode>) -> Option<Ns> {
    inode.as_any().downcast_ref::<NsInode>().map(|n| n.0)
}
