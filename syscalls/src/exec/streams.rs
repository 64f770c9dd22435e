//! An exec'd process's fds 0-2 without `-t`: stdin reads its session's input queue, stdout
//! and stderr write messages to the exec output port. They look like the pipes `docker exec`
//! gives (`S_IFIFO`, `pipe:[N]` in /proc/PID/fd), and block, poll and wake as pipes do.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use coracle_abi::exec_wire::{self, MAX_PAYLOAD};
use coracle_abi::poll::{POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use coracle_abi::WaitQueue;
use coracle_vfs::types::{oflags, Stat, S_IFIFO};
use coracle_vfs::{Caller, Errno, FileOps, Inode, OpenFile};

use super::{flush_outbox, Session, HOOKS, WRITERS};

/// Wakes everyone waiting on `queue` (readers, writers, pollers).
pub(super) fn wake(queue: &WaitQueue) {
    queue.wake_everyone();
}

/// fd 0: the session's input.
#[derive(Debug, Clone)]
struct Input(Arc<Session>);

impl FileOps for Input {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> coracle_vfs::types::Result<usize> {
        let n = {
            let mut input = self.0.input.lock();
            if input.queue.is_empty() {
                return if input.ended {
                    Ok(0)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            let n = buf.len().min(input.queue.len());
            for (dst, src) in buf.iter_mut().zip(input.queue.drain(..n)) {
                *dst = src;
            }
            n
        };
        if let Some(h) = HOOKS.get() {
            (h.input_taken)();
        }
        Ok(n)
    }
    fn write(&self, _pos: u64, _data: &[u8]) -> coracle_vfs::types::Result<usize> {
        Err(Errno::EBADF)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn poll(&self) -> u32 {
        let input = self.0.input.lock();
        match (input.queue.is_empty(), input.ended) {
            (false, _) => POLLIN | POLLRDNORM,
            // The host's end is closed: as a pipe whose writer went away.
            (true, true) => POLLHUP,
            (true, false) => 0,
        }
    }
    fn readable_bytes(&self) -> Option<usize> {
        Some(self.0.input.lock().queue.len())
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.readers)
    }
    fn pollable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// fd 1 or 2: messages of `kind` for session `id`.
#[derive(Debug, Clone, Copy)]
struct Output {
    id: u32,
    kind: u8,
}

impl FileOps for Output {
    fn read(&self, _pos: u64, _buf: &mut [u8]) -> coracle_vfs::types::Result<usize> {
        Err(Errno::EBADF)
    }
    /// One message per call, as much as one takes; `EAGAIN` (the caller waits on
    /// [`WRITERS`]) while the port is full or the kernel's own messages wait to go first.
    fn write(&self, _pos: u64, data: &[u8]) -> coracle_vfs::types::Result<usize> {
        let Some(h) = HOOKS.get() else {
            return Ok(data.len());
        };
        if data.is_empty() {
            return Ok(0);
        }
        if !flush_outbox() {
            return Err(Errno::EAGAIN);
        }
        let n = data.len().min(MAX_PAYLOAD);
        let head = exec_wire::header(self.kind, self.id, n);
        if (h.send)(&head, &data[..n]) {
            Ok(n)
        } else {
            Err(Errno::EAGAIN)
        }
    }
    fn seekable(&self) -> bool {
        false
    }
    fn poll(&self) -> u32 {
        match HOOKS.get() {
            Some(h) if !(h.writable)() => 0,
            _ => POLLOUT | POLLWRNORM,
        }
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&WRITERS)
    }
    fn pollable(&self) -> bool {
        true
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The inode behind the streams: a pipe's stat; reopening (/proc/self/fd/N) gives the same
/// stream.
struct StreamInode {
    stat: Stat,
    ops: Box<dyn Fn() -> Box<dyn FileOps> + Send + Sync>,
}

impl Inode for StreamInode {
    fn stat(&self) -> Stat {
        self.stat
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn open(
        &self,
        _cx: &Caller,
        _flags: u32,
    ) -> Option<coracle_vfs::types::Result<Box<dyn FileOps>>> {
        Some(Ok((self.ops)()))
    }
}

/// The device number pipes live on (pipefs), as `console` gives PID 1's.
const PIPEFS_DEV: u64 = 0xd;
/// Inode numbers of the exec streams start here (far from the console's 101-103).
const FIRST_INO: u64 = 0x1000;

/// The open files of fds 0, 1 and 2 of `session`'s process.
pub(super) fn files(session: &Arc<Session>) -> Vec<Arc<OpenFile>> {
    let id = session.id;
    let make = |i: u64, ops: Box<dyn Fn() -> Box<dyn FileOps> + Send + Sync>| {
        let ino = FIRST_INO + u64::from(id) * 3 + i;
        let stat = Stat {
            dev: PIPEFS_DEV,
            ino,
            nlink: 1,
            mode: S_IFIFO | 0o600,
            blksize: 4096,
            ..Stat::default()
        };
        let flags = if i == 0 {
            oflags::O_RDONLY
        } else {
            oflags::O_WRONLY
        };
        let first = ops();
        let inode: Arc<dyn Inode> = Arc::new(StreamInode { stat, ops });
        OpenFile::new(
            inode,
            alloc::format!("pipe:[{ino}]").into_bytes(),
            flags,
            first,
        )
    };
    let s = session.clone();
    alloc::vec![
        make(0, Box::new(move || Box::new(Input(s.clone())))),
        make(
            1,
            Box::new(move || {
                Box::new(Output {
                    id,
                    kind: exec_wire::STDOUT,
                })
            }),
        ),
        make(
            2,
            Box::new(move || {
                Box::new(Output {
                    id,
                    kind: exec_wire::STDERR,
                })
            }),
        ),
    ]
}
