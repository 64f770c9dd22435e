//! Pipes and FIFOs: a bounded byte queue with reader and writer counts.
//!
//! Operations never block here: when a blocking call would have to wait they return `EAGAIN`
//! and the syscall layer waits for the pipe's readiness to change ([`Pipe::generation`] moves
//! on every change). Writes of at most `PIPE_BUF` bytes are all-or-nothing, as POSIX requires.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use crate::file::{events::*, FileOps};
use crate::types::Result;
use crate::wait::WaitQueue;
use crate::Errno;

/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
/// A new pipe's capacity (16 pages).
pub const DEFAULT_CAPACITY: usize = 65536;
/// `/proc/sys/fs/pipe-max-size`.
pub const MAX_CAPACITY: usize = 1 << 20;

#[derive(Debug)]
struct State {
    buf: VecDeque<u8>,
    capacity: usize,
    readers: u32,
    writers: u32,
    /// A writer was ever opened: a FIFO's reader sees POLLHUP only once a writer came and
    /// went (reads return end of file whenever there is no writer, as on Linux).
    had_writer: bool,
    /// How many times each end was opened (Linux's r_counter and w_counter): a FIFO opener
    /// waiting for its partner waits for the other count to move.
    reads_opened: u64,
    writes_opened: u64,
}

/// The shared part of a pipe.
#[derive(Debug)]
pub struct Pipe {
    state: Mutex<State>,
    generation: AtomicU64,
    /// Threads waiting for data, space, or an end to open or close.
    queue: WaitQueue,
}

impl Default for Pipe {
    fn default() -> Self {
        Pipe {
            state: Mutex::new(State {
                buf: VecDeque::new(),
                capacity: DEFAULT_CAPACITY,
                readers: 0,
                writers: 0,
                had_writer: false,
                reads_opened: 0,
                writes_opened: 0,
            }),
            generation: AtomicU64::new(0),
            queue: WaitQueue::new(),
        }
    }
}

impl Pipe {
    pub fn new() -> Arc<Pipe> {
        Arc::new(Pipe::default())
    }

    /// Moves on whenever the pipe's state changes (data, space, an end opened or closed).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Wakes the queue for a change that may have made the `mask` poll events true; an end
    /// opening or closing wakes everybody.
    fn changed(&self, mask: u32) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if mask == u32::MAX {
            self.queue.wake_everyone();
        } else {
            self.queue.wake_all(u64::from(mask));
        }
    }

    /// The queue of threads waiting for this pipe to change.
    pub fn queue(&self) -> &WaitQueue {
        &self.queue
    }

    /// Opens the read end (`pipe(2)`, or a FIFO opened for reading).
    pub fn open_reader(self: &Arc<Self>) -> Box<dyn FileOps> {
        self.open_end(true, false)
    }

    /// Opens the write end.
    pub fn open_writer(self: &Arc<Self>) -> Box<dyn FileOps> {
        self.open_end(false, true)
    }

    /// Opens both ends in one description (a FIFO opened `O_RDWR`).
    pub fn open_both(self: &Arc<Self>) -> Box<dyn FileOps> {
        self.open_end(true, true)
    }

    /// Counts the new reader and/or writer, wakes whoever waits for one, and gives the end.
    fn open_end(self: &Arc<Self>, read: bool, write: bool) -> Box<dyn FileOps> {
        let mut s = self.state.lock();
        if read {
            s.readers += 1;
            s.reads_opened += 1;
        }
        if write {
            s.writers += 1;
            s.writes_opened += 1;
            s.had_writer = true;
        }
        drop(s);
        self.changed(u32::MAX);
        Box::new(PipeEnd {
            pipe: self.clone(),
            read,
            write,
        })
    }

    pub fn readers(&self) -> u32 {
        self.state.lock().readers
    }

    pub fn writers(&self) -> u32 {
        self.state.lock().writers
    }

    /// How many times the (read, write) ends were ever opened.
    pub fn opened_counts(&self) -> (u64, u64) {
        let s = self.state.lock();
        (s.reads_opened, s.writes_opened)
    }

    /// The capacity (`F_GETPIPE_SZ`).
    pub fn capacity(&self) -> usize {
        self.state.lock().capacity
    }

    /// `F_SETPIPE_SZ`: rounds up to a power-of-two number of pages; `EINVAL` above 2 GiB,
    /// `EPERM` when a non-root caller grows it above the system maximum, `EBUSY` if the data in
    /// the pipe would not fit (Linux `pipe_set_size`, in that order).
    pub fn set_capacity(&self, want: usize, privileged: bool) -> Result<usize> {
        if want > (1 << 31) {
            return Err(Errno::EINVAL);
        }
        let pages = want.div_ceil(4096).max(1).next_power_of_two();
        let size = pages * 4096;
        let mut s = self.state.lock();
        if size > s.capacity && size > MAX_CAPACITY && !privileged {
            return Err(Errno::EPERM);
        }
        if s.buf.len() > size {
            return Err(Errno::EBUSY);
        }
        s.capacity = size;
        drop(s);
        self.changed(POLLOUT | POLLWRNORM);
        Ok(size)
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize> {
        let mut s = self.state.lock();
        if s.buf.is_empty() {
            if buf.is_empty() {
                return Ok(0);
            }
            return if s.writers == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let n = buf.len().min(s.buf.len());
        for (dst, src) in buf.iter_mut().zip(s.buf.drain(..n)) {
            *dst = src;
        }
        drop(s);
        // Room appeared: writers and EPOLLOUT interests care, readers do not (an edge-triggered
        // EPOLLIN interest must not fire again because someone read).
        self.changed(POLLOUT | POLLWRNORM);
        Ok(n)
    }

    /// Puts `data` back at the front (a reader's buffer faulted after [`Pipe::read`]). The
    /// pipe may hold more than its capacity for a moment if a writer filled it meanwhile.
    fn unread(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut s = self.state.lock();
        for &b in data.iter().rev() {
            s.buf.push_front(b);
        }
        drop(s);
        self.changed(POLLIN | POLLRDNORM);
    }

    fn write(&self, data: &[u8]) -> Result<usize> {
        // A null write succeeds even with no reader (pipe_write checks it first).
        if data.is_empty() {
            return Ok(0);
        }
        let mut s = self.state.lock();
        if s.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let room = s.capacity.saturating_sub(s.buf.len());
        let n = if data.len() <= PIPE_BUF {
            if room < data.len() {
                return Err(Errno::EAGAIN);
            }
            data.len()
        } else {
            if room == 0 {
                return Err(Errno::EAGAIN);
            }
            room.min(data.len())
        };
        s.buf.extend(&data[..n]);
        drop(s);
        self.changed(POLLIN | POLLRDNORM);
        Ok(n)
    }

    fn poll(&self, read: bool, write: bool) -> u32 {
        let s = self.state.lock();
        let mut ev = 0;
        if read {
            if !s.buf.is_empty() {
                ev |= POLLIN | POLLRDNORM;
            }
            if s.writers == 0 && s.had_writer {
                ev |= POLLHUP;
            }
        }
        if write {
            if s.capacity.saturating_sub(s.buf.len()) >= PIPE_BUF {
                ev |= POLLOUT | POLLWRNORM;
            }
            if s.readers == 0 {
                ev |= POLLERR;
            }
        }
        ev
    }
}

/// One end of a pipe (or both, for a FIFO opened read-write).
struct PipeEnd {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
}

impl PipeEnd {
    pub fn pipe(&self) -> &Arc<Pipe> {
        &self.pipe
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut s = self.pipe.state.lock();
        if self.read {
            s.readers -= 1;
        }
        if self.write {
            s.writers -= 1;
        }
        drop(s);
        self.pipe.changed(u32::MAX);
    }
}

impl FileOps for PipeEnd {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        self.pipe.read(buf)
    }
    fn write(&self, _pos: u64, data: &[u8]) -> Result<usize> {
        self.pipe.write(data)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn poll(&self) -> u32 {
        self.pipe.poll(self.read, self.write)
    }
    fn readable_bytes(&self) -> Option<usize> {
        Some(self.pipe.state.lock().buf.len())
    }
    fn unread(&self, data: &[u8]) {
        self.pipe.unread(data)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pipe.queue)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The pipe behind an open file's ops, if it is a pipe or FIFO end.
pub fn pipe_of(ops: &dyn FileOps) -> Option<&Arc<Pipe>> {
    ops.as_any().downcast_ref::<PipeEnd>().map(PipeEnd::pipe)
}
