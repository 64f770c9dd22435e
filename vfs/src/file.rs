//! Open file descriptions: what an fd points to. `dup` and fork share one description, so the
//! offset and the status flags live here, behind the description's own lock.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use spin::Mutex;

use crate::inode::Inode;
use crate::notify::{self, mask::*};
use crate::types::{oflags::*, Caller, DirEntry, FileType, Result};
use crate::Errno;

/// poll(2) event bits.
pub use coracle_abi::poll as events;

/// Devices that only the kernel can serve (they need the host or the hardware). The syscall
/// layer serves reads and writes of files whose ops name one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostDevice {
    /// The program's stdin (the host's, when forwarded).
    Stdin,
    /// The program's stdout.
    Stdout,
    /// The program's stderr.
    Stderr,
    /// /dev/tty and /dev/console: the terminal when there is one.
    Tty,
    /// /dev/random and /dev/urandom.
    Random,
}

/// How one kind of open file reads and writes.
pub trait FileOps: Send + Sync + 'static {
    /// Reads at `pos` (ignored by streams).
    fn read(&self, _pos: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    /// Writes at `pos` (ignored by streams).
    fn write(&self, _pos: u64, _data: &[u8]) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    /// For `O_APPEND` writes to regular files: appends atomically, returns the new end.
    fn append(&self, _data: &[u8]) -> Option<Result<u64>> {
        None
    }

    /// Whether the file has an offset (`lseek`, `pread`); streams say no (`ESPIPE`).
    fn seekable(&self) -> bool {
        true
    }

    /// Current readiness as poll(2) event bits.
    fn poll(&self) -> u32 {
        events::POLLIN | events::POLLOUT | events::POLLRDNORM | events::POLLWRNORM
    }

    /// Bytes ready to read (`FIONREAD`), for files where that means something.
    fn readable_bytes(&self) -> Option<usize> {
        None
    }

    /// Puts back at the front bytes a stream's [`FileOps::read`] just gave but the reader could
    /// not take (its buffer faulted): Linux's pipe_read consumes only what it copied out.
    /// Streams without it drop them.
    fn unread(&self, _data: &[u8]) {}

    /// The queue woken whenever [`FileOps::poll`]'s answer may change, for files that can
    /// make a reader or writer wait. Files that are always ready have none.
    ///
    /// This pair is the whole readiness contract: blocked reads and writes, poll/select and
    /// epoll all register on this queue and then call `poll` again. A file wakes its queue
    /// with the poll bits that may have become true (`wake_all(POLLIN as u64)` when data
    /// arrives, `POLLOUT` when room appears, [`crate::WaitQueue::wake_everyone`] when an end
    /// closes or when unsure), and only after releasing the locks its `poll` takes: an epoll
    /// watching it takes its own lock in the wake and polls the file under that lock.
    fn wait_queue(&self) -> Option<&crate::wait::WaitQueue> {
        None
    }

    /// Whether epoll may watch the file (Linux's `file_can_poll`; regular files, directories
    /// and /dev/null are `EPERM`). Files with a queue can; a file that is always ready and has
    /// no queue says so here.
    fn pollable(&self) -> bool {
        self.wait_queue().is_some()
    }

    /// Each read and each write moves one whole record (eventfd, timerfd, datagram sockets):
    /// a write returns after one call of [`FileOps::write`] instead of looping over the
    /// user's buffer.
    fn record_io(&self) -> bool {
        false
    }

    /// lseek always lands at 0, whatever the whence (/dev/null, /dev/zero, inotify).
    fn seeks_to_zero(&self) -> bool {
        false
    }

    /// Writes succeed without reading the data (/dev/null, /dev/zero).
    fn discards_writes(&self) -> bool {
        false
    }

    /// The kernel device behind this file, if any.
    fn host_device(&self) -> Option<HostDevice> {
        None
    }

    /// For downcasting (pipes answer F_GETPIPE_SZ).
    fn as_any(&self) -> &dyn Any;
}

/// The ops of a regular file: reads and writes go to the inode.
struct RegularOps {
    inode: Arc<dyn Inode>,
}

impl FileOps for RegularOps {
    fn read(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        self.inode.read_at(pos, buf)
    }
    fn write(&self, pos: u64, data: &[u8]) -> Result<usize> {
        self.inode.write_at(pos, data)
    }
    fn append(&self, data: &[u8]) -> Option<Result<u64>> {
        Some(self.inode.append(data))
    }
    fn readable_bytes(&self) -> Option<usize> {
        None
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The ops of a directory or an `O_PATH` fd: no reads or writes.
struct NoIo(Errno);

impl FileOps for NoIo {
    fn read(&self, _pos: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(self.0)
    }
    fn write(&self, _pos: u64, _data: &[u8]) -> Result<usize> {
        Err(self.0)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Generic ops for a regular file's inode.
pub fn regular_ops(inode: Arc<dyn Inode>) -> Box<dyn FileOps> {
    Box::new(RegularOps { inode })
}

/// Generic ops for a directory.
pub fn directory_ops() -> Box<dyn FileOps> {
    Box::new(NoIo(Errno::EISDIR))
}

/// Ops for an `O_PATH` fd.
pub fn path_ops() -> Box<dyn FileOps> {
    Box::new(NoIo(Errno::EBADF))
}

/// An open file description.
pub struct OpenFile {
    inode: Arc<dyn Inode>,
    /// The absolute path it was opened by (what `/proc/self/fd/N` shows).
    path: Vec<u8>,
    flags: AtomicU32,
    /// The offset; also serialises reads and writes through this description (f_pos_lock).
    pos: Mutex<u64>,
    ops: Box<dyn FileOps>,
    /// The directory it was opened in and its name there: the parent that hears about reads,
    /// writes and closes (`crate::notify`).
    origin: spin::Once<(Arc<dyn Inode>, Vec<u8>)>,
}

impl core::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenFile")
            .field("path", &alloc::string::String::from_utf8_lossy(&self.path))
            .field("flags", &self.flags.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// `lseek` whence values.
pub const SEEK_SET: i32 = 0;
pub const SEEK_CUR: i32 = 1;
pub const SEEK_END: i32 = 2;
pub const SEEK_DATA: i32 = 3;
pub const SEEK_HOLE: i32 = 4;

/// Largest file offset (MAX_LFS_FILESIZE).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// Linux's `rw_verify_area`: a transfer that would end past the largest offset is `EINVAL`
/// (so a write at [`MAX_OFFSET`] is `EINVAL`, not `EFBIG`).
fn check_range(pos: u64, len: usize) -> Result<()> {
    match pos.checked_add(len as u64) {
        Some(end) if end <= MAX_OFFSET => Ok(()),
        _ => Err(Errno::EINVAL),
    }
}

/// Open file descriptions in existence, machine-wide (Linux's `nr_files`, the first number of
/// /proc/sys/fs/file-nr): the syscall layer refuses new ones past fs.file-max with `ENFILE`.
static OPEN_FILES: AtomicUsize = AtomicUsize::new(0);

/// How many open file descriptions exist now.
pub fn open_files() -> usize {
    OPEN_FILES.load(Ordering::Relaxed)
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        OPEN_FILES.fetch_sub(1, Ordering::Relaxed);
        // Linux's __fput: O_PATH descriptions report nothing.
        if !self.is_path() {
            let mask = if self.writable() {
                IN_CLOSE_WRITE
            } else {
                IN_CLOSE_NOWRITE
            };
            self.notify(mask);
        }
    }
}

impl OpenFile {
    /// A description of `inode` opened with `flags` (`O_CLOEXEC` and the creation flags are
    /// not kept; they are not status flags).
    pub fn new(
        inode: Arc<dyn Inode>,
        path: Vec<u8>,
        flags: u32,
        ops: Box<dyn FileOps>,
    ) -> Arc<OpenFile> {
        let kept = flags & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC);
        OPEN_FILES.fetch_add(1, Ordering::Relaxed);
        Arc::new(OpenFile {
            inode,
            path,
            flags: AtomicU32::new(kept),
            pos: Mutex::new(0),
            ops,
            origin: spin::Once::new(),
        })
    }

    /// Records where the file was opened (its directory and name), then reports the open
    /// (`fsnotify_open`).
    pub fn opened_in(&self, dir: Arc<dyn Inode>, name: &[u8]) {
        self.origin.call_once(|| (dir, name.to_vec()));
        if !self.is_path() {
            self.notify(IN_OPEN);
        }
    }

    /// The directory the file was opened in and its name there, when known.
    pub fn origin(&self) -> notify::Origin<'_> {
        self.origin.get().map(|(dir, name)| (dir, name.as_slice()))
    }

    /// Reports `mask` about this file to its watchers and its directory's.
    pub fn notify(&self, mask: u32) {
        notify::child_event(self.origin(), &self.inode, mask);
    }

    /// Reports a read or write that moved `n` bytes (none is reported for 0, as Linux).
    fn notify_io(&self, n: Result<usize>, mask: u32) -> Result<usize> {
        if matches!(n, Ok(x) if x > 0) {
            self.notify(mask);
        }
        n
    }

    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    pub fn path(&self) -> &[u8] {
        &self.path
    }

    pub fn ops(&self) -> &dyn FileOps {
        &*self.ops
    }

    /// The status flags and access mode (`F_GETFL`).
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// `F_SETFL`: changes the changeable status flags only.
    pub fn set_flags(&self, flags: u32) {
        let old = self.flags();
        let new = (old & !SETFL_MASK) | (flags & SETFL_MASK);
        self.flags.store(new, Ordering::Relaxed);
    }

    pub fn is_path(&self) -> bool {
        self.flags() & O_PATH != 0
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & O_NONBLOCK != 0
    }

    /// Opened for reading (and not O_PATH).
    pub fn readable(&self) -> bool {
        let f = self.flags();
        f & O_PATH == 0 && matches!(f & O_ACCMODE, O_RDONLY | O_RDWR)
    }

    /// Opened for writing (and not O_PATH).
    pub fn writable(&self) -> bool {
        let f = self.flags();
        f & O_PATH == 0 && matches!(f & O_ACCMODE, O_WRONLY | O_RDWR)
    }

    /// The current offset.
    pub fn offset(&self) -> u64 {
        *self.pos.lock()
    }

    /// `read`: at the offset, which advances.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        if !self.ops.seekable() {
            return self.notify_io(self.ops.read(0, buf), IN_ACCESS);
        }
        let mut pos = self.pos.lock();
        check_range(*pos, buf.len())?;
        let n = self.ops.read(*pos, buf)?;
        *pos += n as u64;
        drop(pos);
        self.notify_io(Ok(n), IN_ACCESS)
    }

    /// `write`: at the offset (at the end with `O_APPEND`), which advances.
    pub fn write(&self, data: &[u8]) -> Result<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        if !self.ops.seekable() {
            return self.notify_io(self.ops.write(0, data), IN_MODIFY);
        }
        let mut pos = self.pos.lock();
        // The range check uses the offset even with O_APPEND (rw_verify_area runs first).
        check_range(*pos, data.len())?;
        if data.is_empty() && self.inode.stat().file_type() == FileType::Regular {
            return Ok(0);
        }
        let appended = if self.flags() & O_APPEND != 0 {
            self.ops.append(data)
        } else {
            None
        };
        let n = match appended {
            Some(end) => {
                *pos = end?;
                data.len()
            }
            None => {
                let n = self.ops.write(*pos, data)?;
                *pos += n as u64;
                n
            }
        };
        drop(pos);
        self.notify_io(Ok(n), IN_MODIFY)
    }

    /// `pread`: at `offset`, which must be non-negative; the file offset stays.
    /// Gives back the bytes `data` that the last [`OpenFile::read`] returned but the reader
    /// could not take (its buffer faulted): a stream keeps them for the next read, a seekable
    /// file's offset moves back over them.
    pub fn give_back(&self, data: &[u8]) {
        if self.ops.seekable() {
            let mut pos = self.pos.lock();
            *pos = pos.saturating_sub(data.len() as u64);
        } else {
            self.ops.unread(data);
        }
    }

    pub fn pread(&self, offset: i64, buf: &mut [u8]) -> Result<usize> {
        // Linux's order (ksys_pread64): the offset, then seekability, then the access mode.
        let offset = u64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        if !self.is_path() && !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if !self.readable() {
            return Err(Errno::EBADF);
        }
        check_range(offset, buf.len())?;
        self.notify_io(self.ops.read(offset, buf), IN_ACCESS)
    }

    /// `pwrite`: at `offset` (at the end with `O_APPEND`, as Linux does).
    pub fn pwrite(&self, offset: i64, data: &[u8]) -> Result<usize> {
        let offset = u64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        if !self.is_path() && !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        check_range(offset, data.len())?;
        if data.is_empty() {
            return Ok(0);
        }
        let appended = if self.flags() & O_APPEND != 0 {
            self.ops.append(data)
        } else {
            None
        };
        let n = match appended {
            Some(end) => end.map(|_| data.len()),
            None => self.ops.write(offset, data),
        };
        self.notify_io(n, IN_MODIFY)
    }

    /// A write at the end of the file whatever the flags (`pwritev2(RWF_APPEND)`); the file
    /// offset stays.
    pub fn write_at_end(&self, data: &[u8]) -> Result<usize> {
        if !self.writable() {
            return Err(Errno::EBADF);
        }
        let n = match self.ops.append(data) {
            Some(end) => end.map(|_| data.len()),
            None => self.ops.write(self.inode.stat().size, data),
        };
        self.notify_io(n, IN_MODIFY)
    }

    /// `lseek`.
    pub fn seek(&self, offset: i64, whence: i32) -> Result<u64> {
        if self.is_path() {
            return Err(Errno::EBADF);
        }
        // Before the stream check: inotify is a stream whose lseek lands at 0 (noop_llseek).
        if self.ops.seeks_to_zero() {
            *self.pos.lock() = 0;
            return Ok(0);
        }
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        let is_dir = self.inode.stat().is_dir();
        let mut pos = self.pos.lock();
        let base: i128 = match whence {
            SEEK_SET => 0,
            SEEK_CUR => i128::from(*pos),
            SEEK_END if !is_dir => i128::from(self.inode.stat().size),
            SEEK_DATA | SEEK_HOLE if !is_dir => {
                let size = self.inode.stat().size;
                let off = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                if off >= size {
                    return Err(Errno::ENXIO);
                }
                // The filesystem knows its holes; otherwise the whole file is data (Linux's
                // generic implementation).
                let new = match self.inode.seek_data(off, whence == SEEK_HOLE) {
                    Some(r) => r?,
                    None if whence == SEEK_DATA => off,
                    None => size,
                };
                *pos = new;
                return Ok(new);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base + i128::from(offset);
        if new < 0 || new > i128::from(MAX_OFFSET) {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(*pos)
    }

    /// Reads directory entries from the offset on: `emit` gets each entry and the position
    /// after it and says whether it took it (false when the caller's buffer is full); the offset
    /// advances past the entries taken.
    pub fn getdents(
        &self,
        cx: &Caller,
        mut emit: impl FnMut(&DirEntry, u64) -> bool,
    ) -> Result<()> {
        if self.is_path() {
            return Err(Errno::EBADF);
        }
        if self.inode.stat().file_type() != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.pos.lock();
        let mut took = false;
        loop {
            let (entry, next) = match self.inode.readdir(cx, *pos) {
                Ok(Some(got)) => got,
                Ok(None) => break,
                // A block still being read (EROFS): give what was taken, else wait for it.
                Err(Errno::WAIT) if took => break,
                Err(e) => return Err(e),
            };
            if !emit(&entry, next) {
                break;
            }
            took = true;
            *pos = next;
        }
        drop(pos);
        // iterate_dir reports every listing.
        self.notify(IN_ACCESS);
        Ok(())
    }
}
