//! The program's standard streams: fds 0-2 at start. Without `-t` they look like the pipes
//! `docker run` gives (fd 0 read-only, 1 and 2 write-only); with `-t` all three are the
//! read-write terminal /dev/pts/0. Behind them, the link to the host: its framed input
//! (`framing`), the input queue and the control records (`host`).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use coracle_vfs::dev::HostOps;
use coracle_vfs::types::{makedev, oflags, Stat, S_IFCHR, S_IFIFO};
use coracle_vfs::{Caller, FileOps, HostDevice, Inode, OpenFile};

use crate::process::StartInfo;

mod framing;
mod host;

pub use framing::{Decoder, Event, Record};
pub use host::{
    attach, end_of_input, feed_control, feed_stdin, input, input_ready, input_room, output_ready,
    readers, set_winsize, take_input, winsize, writers,
};

/// The inode behind a console fd.
struct ConsoleInode {
    stat: Stat,
    dev: HostDevice,
}

impl Inode for ConsoleInode {
    fn stat(&self) -> Stat {
        self.stat
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    /// Reopening through /proc/self/fd/N or /dev/stdout gives the same stream.
    fn open(
        &self,
        _cx: &Caller,
        _flags: u32,
    ) -> Option<coracle_vfs::types::Result<Box<dyn FileOps>>> {
        Some(Ok(Box::new(HostOps(self.dev))))
    }
}

/// The device number pipes live on (pipefs).
const PIPEFS_DEV: u64 = 0xd;

/// The three open files of fds 0, 1 and 2.
pub(crate) fn console_files(info: &StartInfo) -> Vec<Arc<OpenFile>> {
    let devs = [HostDevice::Stdin, HostDevice::Stdout, HostDevice::Stderr];
    devs.iter()
        .enumerate()
        .map(|(i, &dev)| {
            let (stat, path, flags) = if info.tty {
                let stat = Stat {
                    dev: 0x18,
                    ino: 3,
                    nlink: 1,
                    mode: S_IFCHR | 0o620,
                    gid: 5,
                    rdev: makedev(136, 0),
                    blksize: 1024,
                    ..Stat::default()
                };
                (stat, b"/dev/pts/0".to_vec(), oflags::O_RDWR)
            } else {
                let ino = 101 + i as u64;
                let stat = Stat {
                    dev: PIPEFS_DEV,
                    ino,
                    nlink: 1,
                    mode: S_IFIFO | 0o600,
                    blksize: 4096,
                    ..Stat::default()
                };
                let path = alloc::format!("pipe:[{ino}]").into_bytes();
                let flags = if i == 0 {
                    oflags::O_RDONLY
                } else {
                    oflags::O_WRONLY
                };
                (stat, path, flags)
            };
            let inode: Arc<dyn Inode> = Arc::new(ConsoleInode { stat, dev });
            OpenFile::new(inode, path, flags, Box::new(HostOps(dev)))
        })
        .collect()
}
