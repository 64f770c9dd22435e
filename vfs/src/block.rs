//! Block devices as the filesystems see them: sectors to read and write, a cache flush, a
//! capacity, and completions that may come later.
//!
//! A driver (virtio-blk in the kernel, [`FakeBlock`] in tests) implements [`BlockDevice`];
//! a filesystem on it reads into and writes from page-cache pages ([`BlockBuf`]), so a
//! transfer needs no copy and its buffer lives until the device is done with it. Every request
//! ends by calling its [`Done`] exactly once: at once for a synchronous device, or later (from
//! the device's interrupt) for one that queues requests.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::page::{Page, PAGE_SIZE};
use crate::Errno;

/// Bytes in a sector: the unit of addresses and lengths on a block device.
pub const SECTOR_SIZE: usize = 512;

/// Why a block request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// The sectors lie (partly) past the device's capacity, or the buffer is not whole sectors.
    OutOfRange,
    /// The device reported an error.
    Io,
    /// A write to a read-only device.
    ReadOnly,
}

impl From<BlockError> for Errno {
    fn from(e: BlockError) -> Errno {
        match e {
            BlockError::OutOfRange => Errno::EINVAL,
            BlockError::Io => Errno::EIO,
            BlockError::ReadOnly => Errno::EROFS,
        }
    }
}

/// What ends a request: called once with its result.
pub type Done = Box<dyn FnOnce(Result<(), BlockError>) + Send>;

/// Part of a page: the memory a request reads into or writes from.
#[derive(Debug, Clone)]
pub struct BlockBuf {
    pub page: Arc<Page>,
    /// Where in the page (a multiple of [`SECTOR_SIZE`]).
    pub offset: usize,
    /// How many bytes (a multiple of [`SECTOR_SIZE`], within the page).
    pub len: usize,
}

impl BlockBuf {
    /// The whole page.
    pub fn page(page: Arc<Page>) -> Self {
        BlockBuf {
            page,
            offset: 0,
            len: PAGE_SIZE,
        }
    }

    fn sectors(&self) -> Option<u64> {
        let whole = self.offset.is_multiple_of(SECTOR_SIZE) && self.len.is_multiple_of(SECTOR_SIZE);
        let inside = self
            .offset
            .checked_add(self.len)
            .is_some_and(|e| e <= PAGE_SIZE);
        (whole && inside).then_some((self.len / SECTOR_SIZE) as u64)
    }
}

/// A disk.
pub trait BlockDevice: Send + Sync {
    /// Size in sectors.
    fn capacity(&self) -> u64;
    /// Whether writes are refused.
    fn read_only(&self) -> bool;
    /// Reads the sectors from `sector` on into `buf`; calls `done` when they are there.
    fn read(&self, sector: u64, buf: BlockBuf, done: Done);
    /// Writes `buf` to the sectors from `sector` on; calls `done` when the device has them.
    fn write(&self, sector: u64, buf: BlockBuf, done: Done);
    /// Makes every completed write durable; calls `done` when it is.
    fn flush(&self, done: Done);
}

/// Which requests a [`FakeBlock`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inject {
    /// Reads touching this sector fail with [`BlockError::Io`].
    ReadAt(u64),
    /// Writes touching this sector fail with [`BlockError::Io`].
    WriteAt(u64),
    /// Flushes fail.
    Flush,
}

/// An in-memory disk for tests: requests complete at once, or, when delayed, only when the
/// test calls [`FakeBlock::complete`] (as an interrupt would end them); errors can be injected.
pub struct FakeBlock {
    me: alloc::sync::Weak<FakeBlock>,
    data: Mutex<Vec<u8>>,
    read_only: bool,
    delayed: core::sync::atomic::AtomicBool,
    pending: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
    faults: Mutex<Vec<Inject>>,
    /// Counts of requests seen: (reads, writes, flushes).
    counts: Mutex<(u64, u64, u64)>,
}

impl core::fmt::Debug for FakeBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FakeBlock")
            .field("bytes", &self.data.lock().len())
            .finish_non_exhaustive()
    }
}

impl FakeBlock {
    /// A disk holding `data` (padded to whole sectors).
    pub fn new(mut data: Vec<u8>, read_only: bool) -> Arc<FakeBlock> {
        data.resize(data.len().next_multiple_of(SECTOR_SIZE), 0);
        Arc::new_cyclic(|me| FakeBlock {
            me: me.clone(),
            data: Mutex::new(data),
            read_only,
            delayed: core::sync::atomic::AtomicBool::new(false),
            pending: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            counts: Mutex::new((0, 0, 0)),
        })
    }

    /// From now on requests wait for [`FakeBlock::complete`] (`true`) or end at once.
    pub fn set_delayed(&self, delayed: bool) {
        self.delayed
            .store(delayed, core::sync::atomic::Ordering::Relaxed);
    }

    /// Fails the requests `inject` names from now on.
    pub fn inject(&self, inject: Inject) {
        self.faults.lock().push(inject);
    }

    /// Ends every request waiting; returns how many there were.
    pub fn complete(&self) -> usize {
        let pending = core::mem::take(&mut *self.pending.lock());
        let n = pending.len();
        for p in pending {
            p();
        }
        n
    }

    /// The disk's bytes.
    pub fn contents(&self) -> Vec<u8> {
        self.data.lock().clone()
    }

    /// Requests seen so far: (reads, writes, flushes).
    pub fn counts(&self) -> (u64, u64, u64) {
        *self.counts.lock()
    }

    fn range(&self, sector: u64, buf: &BlockBuf) -> Result<core::ops::Range<usize>, BlockError> {
        let n = buf.sectors().ok_or(BlockError::OutOfRange)?;
        let end = sector.checked_add(n).ok_or(BlockError::OutOfRange)?;
        if end > (self.data.lock().len() / SECTOR_SIZE) as u64 {
            return Err(BlockError::OutOfRange);
        }
        Ok(sector as usize * SECTOR_SIZE..end as usize * SECTOR_SIZE)
    }

    fn injected(&self, hit: impl Fn(&Inject) -> bool) -> bool {
        self.faults.lock().iter().any(hit)
    }

    /// Runs `finish` now, or keeps it for [`FakeBlock::complete`].
    fn finish(&self, finish: Box<dyn FnOnce() + Send>) {
        if self.delayed.load(core::sync::atomic::Ordering::Relaxed) {
            self.pending.lock().push(finish);
        } else {
            finish();
        }
    }
}

impl BlockDevice for FakeBlock {
    fn capacity(&self) -> u64 {
        (self.data.lock().len() / SECTOR_SIZE) as u64
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read(&self, sector: u64, buf: BlockBuf, done: Done) {
        self.counts.lock().0 += 1;
        let me = self.me.upgrade().expect("a device in use is alive");
        self.finish(Box::new(move || {
            let result = me.range(sector, &buf).and_then(|r| {
                let n = (r.len() / SECTOR_SIZE) as u64;
                if me.injected(
                    |i| matches!(i, Inject::ReadAt(s) if (sector..sector + n).contains(s)),
                ) {
                    return Err(BlockError::Io);
                }
                buf.page.write(buf.offset, &me.data.lock()[r]);
                Ok(())
            });
            done(result);
        }));
    }

    fn write(&self, sector: u64, buf: BlockBuf, done: Done) {
        self.counts.lock().1 += 1;
        let me = self.me.upgrade().expect("a device in use is alive");
        self.finish(Box::new(move || {
            let result = if me.read_only {
                Err(BlockError::ReadOnly)
            } else {
                me.range(sector, &buf).and_then(|r| {
                    let n = (r.len() / SECTOR_SIZE) as u64;
                    if me.injected(
                        |i| matches!(i, Inject::WriteAt(s) if (sector..sector + n).contains(s)),
                    ) {
                        return Err(BlockError::Io);
                    }
                    buf.page.read(buf.offset, &mut me.data.lock()[r]);
                    Ok(())
                })
            };
            done(result);
        }));
    }

    fn flush(&self, done: Done) {
        self.counts.lock().2 += 1;
        let me = self.me.upgrade().expect("a device in use is alive");
        self.finish(Box::new(move || {
            let failed = me.injected(|i| *i == Inject::Flush);
            done(if failed { Err(BlockError::Io) } else { Ok(()) });
        }));
    }
}

/// Threads whose system call met a block read still in flight wait here (the call returned
/// [`Errno::WAIT`] without a wait queue of its own); every completed [`read_tracked`] wakes
/// them all and they run the call again.
pub static IO_WAIT: crate::WaitQueue = crate::WaitQueue::new();

static IN_FLIGHT: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Block reads started with [`read_tracked`] and not yet completed: a thread that found
/// nothing in flight after registering on [`IO_WAIT`] must not wait.
pub fn reads_in_flight() -> usize {
    IN_FLIGHT.load(core::sync::atomic::Ordering::SeqCst)
}

/// `dev.read`, counted in [`reads_in_flight`], waking [`IO_WAIT`] when it ends.
pub fn read_tracked(dev: &dyn BlockDevice, sector: u64, buf: BlockBuf, done: Done) {
    use core::sync::atomic::Ordering;
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    dev.read(
        sector,
        buf,
        Box::new(move |r| {
            done(r);
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
            IO_WAIT.wake_everyone();
        }),
    );
}
