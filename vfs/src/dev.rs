//! /dev: the memory devices (null, zero, full) served here, device nodes for what the kernel
//! serves ([`HostDevice`]), and the layout Docker gives a container's /dev.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;

use crate::file::{events::*, FileOps, HostDevice};
use crate::inode::Inode;
use crate::types::{makedev, NewNode, Result};
use crate::vfs::{Device, Vfs};
use crate::Errno;

/// The memory devices of major 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemDevice {
    /// Reads end of file, writes vanish.
    Null,
    /// Reads zeros, writes vanish.
    Zero,
    /// Reads zeros, writes fail with `ENOSPC`.
    Full,
}

impl FileOps for MemDevice {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        match self {
            MemDevice::Null => Ok(0),
            MemDevice::Zero | MemDevice::Full => {
                buf.fill(0);
                Ok(buf.len())
            }
        }
    }
    fn write(&self, _pos: u64, data: &[u8]) -> Result<usize> {
        match self {
            MemDevice::Null | MemDevice::Zero => Ok(data.len()),
            MemDevice::Full => Err(Errno::ENOSPC),
        }
    }
    fn append(&self, data: &[u8]) -> Option<Result<u64>> {
        Some(self.write(0, data).map(|_| 0))
    }
    fn discards_writes(&self) -> bool {
        matches!(self, MemDevice::Null | MemDevice::Zero)
    }
    fn seeks_to_zero(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Device for MemDevice {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        Ok(Box::new(*self))
    }
}

/// A file served by the kernel: reads and writes go through the syscall layer.
#[derive(Debug, Clone, Copy)]
pub struct HostOps(pub HostDevice);

/// Where pollers of the console wait (poll, select, epoll): woken by the syscall layer when
/// host input arrives or ends and when the host took output, so readiness is the console's
/// real state rather than "always ready".
pub static CONSOLE_POLLERS: crate::wait::WaitQueue = crate::wait::WaitQueue::new();

impl FileOps for HostOps {
    fn seekable(&self) -> bool {
        // /dev/random and the console accept lseek and ignore it (Linux's noop_llseek for
        // the random devices; a pipe console is not seekable).
        matches!(self.0, HostDevice::Random)
    }
    fn host_device(&self) -> Option<HostDevice> {
        Some(self.0)
    }
    /// What the VFS alone can say; the syscall layer answers for the console
    /// (`poll_file`), which only it can see.
    fn poll(&self) -> u32 {
        POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM
    }
    /// The console can be polled; /dev/urandom cannot (Linux gives it no poll method:
    /// epoll refuses it, poll(2) sees the default mask).
    fn pollable(&self) -> bool {
        self.0 != HostDevice::Random
    }
    fn wait_queue(&self) -> Option<&crate::wait::WaitQueue> {
        (self.0 != HostDevice::Random).then_some(&CONSOLE_POLLERS)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Device for HostOps {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        Ok(Box::new(*self))
    }
}

/// /dev/random: /dev/urandom's data, but with a poll method (Linux's `random_poll`: readable
/// once the entropy pool is ready, which it always is here).
#[derive(Debug, Clone, Copy)]
pub struct RandomOps;

impl FileOps for RandomOps {
    fn host_device(&self) -> Option<HostDevice> {
        Some(HostDevice::Random)
    }
    fn poll(&self) -> u32 {
        POLLIN | POLLRDNORM
    }
    fn pollable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Device for RandomOps {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        Ok(Box::new(*self))
    }
}

/// A device number that cannot be opened (`ENXIO`), like /dev/tty without a terminal.
#[derive(Debug)]
pub struct NoDevice;

impl Device for NoDevice {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        Err(Errno::ENXIO)
    }
}

pub const DEV_NULL: (u32, u32) = (1, 3);
pub const DEV_ZERO: (u32, u32) = (1, 5);
pub const DEV_FULL: (u32, u32) = (1, 7);
pub const DEV_RANDOM: (u32, u32) = (1, 8);
pub const DEV_URANDOM: (u32, u32) = (1, 9);
pub const DEV_TTY: (u32, u32) = (5, 0);
pub const DEV_CONSOLE: (u32, u32) = (5, 1);

/// Fills the directory `dev` (a fresh tmpfs) with the nodes Docker gives a container, and
/// registers the drivers: null, zero, full, random, urandom, tty (a terminal only when
/// `tty`), console, the fd/stdin/stdout/stderr links into /proc, and the shm, pts and
/// mqueue directories.
pub fn populate_dev(vfs: &Vfs, dev: &Arc<dyn Inode>, tty: bool) -> Result<()> {
    let nodes: [(&[u8], (u32, u32), u32); 7] = [
        (b"null", DEV_NULL, 0o666),
        (b"zero", DEV_ZERO, 0o666),
        (b"full", DEV_FULL, 0o666),
        (b"random", DEV_RANDOM, 0o666),
        (b"urandom", DEV_URANDOM, 0o666),
        (b"tty", DEV_TTY, 0o666),
        (b"console", DEV_CONSOLE, 0o620),
    ];
    for (name, (maj, min), mode) in nodes {
        dev.create(name, NewNode::CharDevice(makedev(maj, min)), mode, 0, 0)?;
    }
    for (name, target) in [
        (&b"fd"[..], &b"/proc/self/fd"[..]),
        (b"stdin", b"/proc/self/fd/0"),
        (b"stdout", b"/proc/self/fd/1"),
        (b"stderr", b"/proc/self/fd/2"),
        (b"core", b"/proc/kcore"),
    ] {
        dev.create(name, NewNode::Symlink(target.to_vec()), 0o777, 0, 0)?;
    }
    for name in [&b"shm"[..], b"pts", b"mqueue"] {
        let mode = if name == b"shm" { 0o1777 } else { 0o755 };
        dev.create(name, NewNode::Directory, mode, 0, 0)?;
    }
    let reg = |n: (u32, u32), d: Arc<dyn Device>| vfs.register_device(makedev(n.0, n.1), d);
    reg(DEV_NULL, Arc::new(MemDevice::Null));
    reg(DEV_ZERO, Arc::new(MemDevice::Zero));
    reg(DEV_FULL, Arc::new(MemDevice::Full));
    reg(DEV_RANDOM, Arc::new(RandomOps));
    reg(DEV_URANDOM, Arc::new(HostOps(HostDevice::Random)));
    reg(DEV_CONSOLE, Arc::new(HostOps(HostDevice::Tty)));
    if tty {
        reg(DEV_TTY, Arc::new(HostOps(HostDevice::Tty)));
    } else {
        reg(DEV_TTY, Arc::new(NoDevice));
    }
    Ok(())
}
