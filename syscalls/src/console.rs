//! The program's standard streams: fds 0-2 at start. Without `-t` they look like the pipes
//! `docker run` gives (fd 0 read-only, 1 and 2 write-only); with `-t` all three are the
//! read-write terminal /dev/pts/0 (the console [`crate::tty::Tty`], PID 1's controlling
//! terminal).
//!
//! The kernel's way in: [`input`] (bytes typed at the host), [`input_ended`],
//! [`set_winsize`] (the host terminal's size) and [`set_output`] (where the terminal's own
//! output, its echoes, goes when no process is writing).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use coracle_vfs::dev::HostOps;
use coracle_vfs::types::{makedev, oflags, Stat, S_IFCHR, S_IFIFO};
use coracle_vfs::{Caller, FileOps, HostDevice, Inode, OpenFile};

use crate::process::{StartInfo, System};
use crate::tty::{End, Tty, TtyFile};

/// The console terminal of the running system (the kernel has one system).
static CONSOLE: spin::Mutex<Option<alloc::sync::Weak<Tty>>> = spin::Mutex::new(None);
/// Where the console terminal's echoes go outside a process (the host's stdout).
static OUTPUT: spin::Mutex<Option<fn(&[u8])>> = spin::Mutex::new(None);

/// Registers the kernel's writer of terminal output to the host.
pub fn set_output(f: fn(&[u8])) {
    *OUTPUT.lock() = Some(f);
}

/// Writes terminal output through the registered writer; false when there is none yet.
pub(crate) fn emit(data: &[u8]) -> bool {
    let f = *OUTPUT.lock();
    match f {
        Some(f) => {
            f(data);
            true
        }
        None => false,
    }
}

fn console() -> Option<Arc<Tty>> {
    CONSOLE.lock().as_ref().and_then(alloc::sync::Weak::upgrade)
}

/// Bytes typed at the host's terminal (`-t`): through the line discipline (echo, signals
/// to the foreground group), kept in order when readers are behind. From here on, readers
/// no longer fetch input themselves.
pub fn input(data: &[u8]) {
    if let Some(tty) = console() {
        tty.state.lock().pull_input = false;
        tty.receive(data, true);
    }
}

/// The host's input ended: the terminal is hung up (reads see end of file).
pub fn input_ended() {
    if let Some(tty) = console() {
        tty.state.lock().pull_input = false;
        tty.hang_up();
    }
}

/// The host terminal's size: TIOCGWINSZ answers it, and SIGWINCH tells the foreground
/// group when it changed.
pub fn set_winsize(rows: u16, cols: u16) {
    if let Some(tty) = console() {
        tty.set_winsize(coracle_abi::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ..Default::default()
        });
    }
}

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
pub(crate) fn console_files(sys: &System, info: &StartInfo) -> Vec<Arc<OpenFile>> {
    if info.tty {
        if let Some(files) = terminal_files(sys, info) {
            return files;
        }
    }
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

/// Under `-t`: fds 0-2 on the console terminal, /dev/pts/0, which becomes the controlling
/// terminal of PID 1's session with PID 1's group in the foreground (as runc sets it up).
fn terminal_files(sys: &System, info: &StartInfo) -> Option<Vec<Arc<OpenFile>>> {
    let tty = sys.ttys.console.lock().clone()?;
    let inode = sys.ttys.pts_dir.lock().clone()?.lookup(&root_caller(sys), b"0").ok()?;
    {
        let mut st = tty.state.lock();
        st.session = info.pid;
        st.pgrp = info.pid;
        st.pull_input = info.stdin_forwarded;
    }
    *CONSOLE.lock() = Some(Arc::downgrade(&tty));
    let file = OpenFile::new(
        inode,
        b"/dev/pts/0".to_vec(),
        oflags::O_RDWR | oflags::O_LARGEFILE,
        Box::new(TtyFile::new(tty, End::Slave)),
    );
    Some(alloc::vec![file.clone(), file.clone(), file])
}

fn root_caller(sys: &System) -> coracle_vfs::Caller {
    coracle_vfs::Caller {
        pid: 0,
        tid: 0,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        umask: 0o022,
        root: sys.vfs.root().clone(),
    }
}
