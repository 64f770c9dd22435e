//! Anonymous files: the one inode behind eventfd, timerfd and epoll fds (and signalfd), as
//! Linux's anon_inodefs gives them.
//!
//! `fstat` shows mode 0600 without a file type, and `/proc/self/fd/N` reads
//! `anon_inode:[NAME]`.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;

use coracle_vfs::types::{oflags::*, Stat};
use coracle_vfs::{FileOps, Inode, OpenFile};

use crate::{Current, SysResult};

/// The device and inode numbers anon_inodefs had on a Debian 6.1 machine.
const ANON_DEV: u64 = 0xe;
const ANON_INO: u64 = 1057;

struct AnonInode;

impl Inode for AnonInode {
    fn stat(&self) -> Stat {
        Stat {
            dev: ANON_DEV,
            ino: ANON_INO,
            mode: 0o600,
            nlink: 1,
            blksize: 4096,
            ..Stat::default()
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new open file `anon_inode:[name]` with `ops`, read-write, with `flags`' `O_NONBLOCK`.
pub(crate) fn anon_file(name: &str, flags: u32, ops: Box<dyn FileOps>) -> Arc<OpenFile> {
    let path = alloc::format!("anon_inode:[{name}]").into_bytes();
    anon_file_at(path, O_RDWR | (flags & O_NONBLOCK), ops)
}

/// An anonymous file with link text `path` and status flags `flags`.
fn anon_file_at(path: alloc::vec::Vec<u8>, flags: u32, ops: Box<dyn FileOps>) -> Arc<OpenFile> {
    let inode: Arc<dyn Inode> = Arc::new(AnonInode);
    OpenFile::new(inode, path, flags, ops)
}

/// Installs an anonymous file at the lowest free fd (`O_CLOEXEC` in `flags` sets the flag).
pub(crate) fn install_anon(
    p: &Current,
    name: &str,
    flags: u32,
    ops: Box<dyn FileOps>,
) -> SysResult {
    let file = anon_file(name, flags, ops);
    p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
}

/// [`install_anon`] for the few files whose link text has no brackets (`anon_inode:inotify`),
/// opened with `access` (`O_RDONLY` for inotify).
pub(crate) fn install_anon_named(
    p: &Current,
    path: &str,
    access: u32,
    flags: u32,
    ops: Box<dyn FileOps>,
) -> SysResult {
    let file = anon_file_at(path.as_bytes().to_vec(), access | (flags & O_NONBLOCK), ops);
    p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
}
