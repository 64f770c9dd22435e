//! The program's standard streams: fds 0-2 at start. Without `-t` they look like the pipes
//! `docker run` gives (fd 0 read-only, 1 and 2 write-only); with `-t` all three are the
//! read-write terminal /dev/pts/0 (the console [`crate::tty::Tty`], PID 1's controlling
//! terminal). Behind them, the link to the host: its framed input (`framing`), the input
//! queue and the control records (`host`); under `-t` the decoded input goes to the terminal's
//! line discipline instead of the queue, and the window size to the terminal.
//!
//! The kernel registers with [`set_output`] how the terminal's own output (its echoes, made
//! outside any process) reaches the host.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, Ordering};

use coracle_vfs::dev::HostOps;
use coracle_vfs::types::{makedev, oflags, Stat, S_IFCHR, S_IFIFO};
use coracle_vfs::{Caller, FileOps, HostDevice, Inode, OpenFile};

use crate::process::{StartInfo, System};
use crate::tty::{End, Tty, TtyFile};

/// The console terminal of the running system (the kernel has one system).
static CONSOLE: spin::Mutex<Option<alloc::sync::Weak<Tty>>> = spin::Mutex::new(None);
/// Where the console terminal's echoes go outside a process (the host's stdout).
static OUTPUT: spin::Mutex<Option<Writer>> = spin::Mutex::new(None);

/// The kernel's non-blocking writer to the host's stdout: how many leading bytes it took.
type Writer = fn(&[u8]) -> usize;

/// Registers the kernel's writer of terminal output to the host: it never blocks and returns
/// how many leading bytes the host took (0: later, [`output_ready`] tells when).
pub fn set_output(f: Writer) {
    *OUTPUT.lock() = Some(f);
}

/// Hands terminal output to the registered writer: how many bytes it took, `None` when there
/// is no writer yet.
pub(crate) fn emit(data: &[u8]) -> Option<usize> {
    let f = *OUTPUT.lock();
    f.map(|f| f(data))
}

/// The console terminal, once PID 1 has it (`-t`).
pub(crate) fn terminal() -> Option<Arc<Tty>> {
    CONSOLE.lock().as_ref().and_then(alloc::sync::Weak::upgrade)
}

/// Whether the host forwards its stdin (`-i`): only then does the end of input hang the
/// terminal up; without it the host ends the input at once and the terminal stays usable.
static STDIN_FORWARDED: AtomicBool = AtomicBool::new(false);

/// The host's input ended, under `-t`.
pub(crate) fn terminal_input_ended(tty: &Tty) {
    if STDIN_FORWARDED.load(Ordering::Relaxed) {
        tty.hang_up();
    }
}

/// The window size the host last sent, given to the terminal (SIGWINCH to its foreground
/// group when it changed).
pub(crate) fn terminal_winsize(tty: &Tty, (rows, cols): (u16, u16)) {
    if (rows, cols) == (0, 0) {
        return;
    }
    tty.set_winsize(coracle_abi::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ..Default::default()
    });
}

mod framing;
mod host;
pub(crate) mod peer_hosts;

pub use framing::{Decoder, Event, Record};
pub use host::{
    attach, end_of_input, feed_control, feed_stdin, input, input_ready, input_room, output_ready,
    readers, set_hooks, set_winsize, take_input, winsize, writers, Hooks,
};
pub(crate) use host::{input_taken, writable};

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
    let inode = sys
        .ttys
        .pts_dir
        .lock()
        .clone()?
        .lookup(&root_caller(sys), b"0")
        .ok()?;
    {
        let mut st = tty.state.lock();
        st.session = info.pid;
        st.pgrp = info.pid;
    }
    STDIN_FORWARDED.store(info.stdin_forwarded, Ordering::Relaxed);
    *CONSOLE.lock() = Some(Arc::downgrade(&tty));
    // What the host sent before the terminal existed: its size, and input queued so far.
    terminal_winsize(&tty, winsize());
    let mut buf = [0u8; 512];
    while let Some(n) = take_input(&mut buf) {
        if n == 0 {
            terminal_input_ended(&tty);
            break;
        }
        tty.receive(&buf[..n], true);
    }
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
        caps: coracle_vfs::cap::ALL,
        umask: 0o022,
        root: sys.vfs.root().clone(),
    }
}
