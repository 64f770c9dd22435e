//! Calls on file descriptors, one module per family: read/write ([`rw`]), the fd table, fcntl
//! and locks, ioctl, pipes, poll/select, in-kernel copies, sync.
//!
//! Data moves through one reusable kernel bounce buffer, 64 KiB at a time. Files the kernel
//! serves itself (the console, /dev/random) are named by [`coracle_vfs::HostDevice`] and handled in
//! [`host`]. The syscall table names every handler as `io::NAME`, hence the re-exports.

mod copy;
mod fcntl;
mod fdtable;
pub(crate) mod host;
mod ioctl;
pub(crate) mod pipe;
mod poll;
mod rw;
mod splice;
mod sync;

pub(crate) use copy::*;
pub(crate) use fcntl::*;
pub(crate) use fdtable::*;
pub(crate) use ioctl::*;
pub(crate) use pipe::*;
pub(crate) use poll::*;
pub(crate) use rw::*;
pub(crate) use splice::*;
pub(crate) use sync::*;

use alloc::vec;

use coracle_vfs::{OpenFile, Wake};

use crate::{Current, Errno};

/// Largest byte count one read or write moves (MAX_RW_COUNT: INT_MAX rounded down to a page).
pub(crate) const MAX_RW_COUNT: u64 = 0x7fff_f000;
/// How much is copied through the kernel at a time.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Runs `f` with the process's bounce buffer (CHUNK bytes, allocated once and reused).
pub(crate) fn with_bounce<T>(p: &mut Current, f: impl FnOnce(&mut Current, &mut [u8]) -> T) -> T {
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let r = f(p, &mut buf);
    p.bounce = buf;
    r
}

/// The step after an operation on `file` found it would block: the first time, register on
/// the file's wait queue and say "try again" (`None`) so a change that raced with the
/// registration is not missed; the second time, wait. A signal ends the wait with
/// ERESTARTSYS.
pub(crate) fn wait_for_file(
    p: &mut Current,
    file: &OpenFile,
    registered: &mut bool,
) -> Option<Errno> {
    if p.resumed() == Some(Wake::Interrupted) {
        return Some(Errno::ERESTARTSYS);
    }
    if *registered {
        return Some(Errno::WAIT);
    }
    *registered = true;
    match file.ops().wait_queue() {
        Some(q) => p.wait_on(q, u64::MAX),
        None => {
            p.begin_wait();
        }
    }
    None
}
