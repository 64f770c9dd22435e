//! Coracle's filesystem layer: the VFS (mounts, path resolution, open file descriptions),
//! tmpfs, pipes, the memory devices and /dev's layout, the initrd (cpio `newc`) reader, and
//! EROFS images on block devices.
//!
//! Everything here is portable and host-tested. Filesystems implement [`Inode`]; what only the
//! kernel can do (console, randomness) is named by [`file::HostDevice`] and served by the
//! syscall layer. /proc lives in the syscall crate, which knows the processes.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod block;
pub mod cache;
pub mod cpio;
pub mod dev;
pub mod erofs;
pub mod evict;
pub use coracle_abi::errno;
pub mod fakefs;
pub mod file;
pub mod inode;
pub mod notify;
pub mod overlay;
pub mod p9;
pub mod page;
pub mod perm;
pub mod pipe;
pub mod tmpfs;
pub mod types;
pub mod unpack;
mod vfs;
pub mod xattr;
pub use coracle_abi::wait;

#[cfg(test)]
mod tests;

pub use errno::Errno;
pub use file::{FileOps, HostDevice, OpenFile};
pub use inode::{Inode, TimeChange};
pub use perm::{cap, sticky_ok};
pub use types::*;
pub use vfs::{
    Device, Lookup, Mount, Vfs, RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
};
pub use wait::{WaitQueue, Waiter, Wake, Waker};
