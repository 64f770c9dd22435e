//! One page of file data: a 4 KiB frame the page cache holds and user mappings may show.
//!
//! A page's memory comes from the [`FrameSource`] the kernel installs at boot (its physical
//! frame allocator, reached through the direct map), so file data is not limited by the
//! kernel heap; without one (host tests, before boot) pages are page-aligned heap blocks.
//! [`Page::addr`] is the kernel address of the bytes either way, which is all the kernel needs
//! to map the page into user space.
//!
//! A page is held by `Arc`: by its file's [`crate::cache::PageCache`] while it is part of
//! the file, and by every mapping that shows it, so it outlives whichever lets go last.
//!
//! A page is *up to date* (its bytes are the file's), *being filled* (a read from the
//! backing store is in flight: whoever needs it waits on [`Page::waiters`]), or *failed* (the
//! read failed: EIO). It is *dirty* when it holds data its backing store does not have yet.
//!
//! The kernel reads and writes a page's bytes only through [`Page::read`], [`Page::write`]
//! and [`Page::zero`]; a program may store to a page it has mapped at any time, as on Linux:
//! copies in and out are plain byte copies that see whatever is there.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use spin::{Mutex, Once};

use crate::wait::WaitQueue;
use crate::Errno;

/// Bytes in a page (the ABI's page size, as a length).
pub const PAGE_SIZE: usize = coracle_abi::PAGE_SIZE as usize;

/// Where page memory comes from: the kernel's frame allocator. Frames are named by their
/// kernel address (page-aligned, in the kernel's direct map).
pub trait FrameSource: Send + Sync {
    /// A zeroed frame, or `None` when memory is exhausted.
    fn alloc_zeroed(&self) -> Option<u64>;
    /// Gives back a frame [`FrameSource::alloc_zeroed`] returned.
    fn free(&self, frame: u64);
    /// Copies `buf.len()` bytes from `offset` within `frame` (the range stays in the frame).
    fn read(&self, frame: u64, offset: usize, buf: &mut [u8]);
    /// Copies `data` to `offset` within `frame` (the range stays in the frame).
    fn write(&self, frame: u64, offset: usize, data: &[u8]);
    /// Zeroes bytes `[from, to)` of `frame`.
    fn zero(&self, frame: u64, from: usize, to: usize);
}

static FRAMES: Once<&'static dyn FrameSource> = Once::new();

/// Makes every page made from now on take its memory from `source` (once, at boot).
pub fn set_frame_source(source: &'static dyn FrameSource) {
    FRAMES.call_once(|| source);
}

#[repr(C, align(4096))]
struct Bytes([u8; PAGE_SIZE]);

/// Where a page's bytes live.
enum Store {
    /// A frame of the installed [`FrameSource`].
    Frame(&'static dyn FrameSource),
    /// A heap block (exactly one element: a boxed slice keeps the allocation fallible).
    Heap(Mutex<Box<[Bytes]>>),
}

const UPTODATE: u8 = 0;
const FILLING: u8 = 1;
const FAILED: u8 = 2;

/// The state of a page's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// The bytes are the file's.
    UpToDate,
    /// A read from the backing store is in flight.
    Filling,
    /// The read failed.
    Failed,
}

/// One page of file data.
pub struct Page {
    store: Store,
    /// Where the bytes are (a kernel address), fixed for the page's life.
    addr: u64,
    state: AtomicU8,
    dirty: AtomicBool,
    /// Used since the shrinker's hand last passed (the clock's referenced bit).
    accessed: AtomicBool,
    waiters: WaitQueue,
}

impl core::fmt::Debug for Page {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Page({:#x}, {:?})", self.addr, self.state())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        if let Store::Frame(source) = self.store {
            source.free(self.addr);
        }
    }
}

impl Page {
    /// A zeroed page, up to date; `ENOMEM` when there is no memory for it.
    pub fn new_zeroed() -> Result<Arc<Page>, Errno> {
        Self::make(UPTODATE)
    }

    /// A zeroed page whose contents a read from the backing store is still to bring: it is
    /// [`PageState::Filling`] until [`Page::finish_fill`].
    pub fn new_filling() -> Result<Arc<Page>, Errno> {
        Self::make(FILLING)
    }

    fn make(state: u8) -> Result<Arc<Page>, Errno> {
        let (store, addr) = match FRAMES.get() {
            Some(&source) => {
                let frame = source.alloc_zeroed().ok_or(Errno::ENOMEM)?;
                (Store::Frame(source), frame)
            }
            None => {
                let mut v: Vec<Bytes> = Vec::new();
                v.try_reserve_exact(1).map_err(|_| Errno::ENOMEM)?;
                v.push(Bytes([0; PAGE_SIZE]));
                let bytes: Box<[Bytes]> = v.into_boxed_slice();
                let addr = core::ptr::from_ref::<Bytes>(&bytes[0]) as u64;
                (Store::Heap(Mutex::new(bytes)), addr)
            }
        };
        let page = Page {
            store,
            addr,
            state: AtomicU8::new(state),
            dirty: AtomicBool::new(false),
            // A new page survives one pass of the shrinker's hand: a system call that
            // waited for its read finds it when it runs again.
            accessed: AtomicBool::new(true),
            waiters: WaitQueue::new(),
        };
        Ok(Arc::new(page))
    }

    /// The kernel address of the page's first byte (page-aligned).
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Copies `buf.len()` bytes from `offset` (which must stay within the page).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        match &self.store {
            Store::Frame(s) => s.read(self.addr, offset, buf),
            Store::Heap(b) => buf.copy_from_slice(&b.lock()[0].0[offset..offset + buf.len()]),
        }
    }

    /// Copies `data` to `offset` (which must stay within the page).
    pub fn write(&self, offset: usize, data: &[u8]) {
        match &self.store {
            Store::Frame(s) => s.write(self.addr, offset, data),
            Store::Heap(b) => b.lock()[0].0[offset..offset + data.len()].copy_from_slice(data),
        }
    }

    /// Zeroes bytes `[from, to)` of the page.
    pub fn zero(&self, from: usize, to: usize) {
        match &self.store {
            Store::Frame(s) => s.zero(self.addr, from, to),
            Store::Heap(b) => b.lock()[0].0[from..to].fill(0),
        }
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        let mut buf = [0u8; 512];
        (0..PAGE_SIZE / buf.len()).all(|i| {
            self.read(i * buf.len(), &mut buf);
            buf.iter().all(|&b| b == 0)
        })
    }

    /// Where the page's contents stand.
    pub fn state(&self) -> PageState {
        match self.state.load(Ordering::Acquire) {
            UPTODATE => PageState::UpToDate,
            FILLING => PageState::Filling,
            _ => PageState::Failed,
        }
    }

    /// Ends the fill that [`Page::new_filling`] started: the page is up to date (`Ok`) or
    /// failed (`Err`), and whoever waits for it is woken.
    pub fn finish_fill(&self, result: Result<(), Errno>) {
        let state = if result.is_ok() { UPTODATE } else { FAILED };
        self.state.store(state, Ordering::Release);
        self.waiters.wake_everyone();
    }

    /// The threads waiting for the page's fill to end.
    pub fn waiters(&self) -> &WaitQueue {
        &self.waiters
    }

    /// Notes that the page holds data its backing store does not have.
    pub fn set_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Clears the dirty mark and says whether it was set (a write-back takes the page).
    pub fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    /// Whether the page holds data its backing store does not have.
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Notes a use of the page (its cache found it again), so the shrinker keeps it a while.
    pub fn mark_accessed(&self) {
        if !self.accessed.load(Ordering::Relaxed) {
            self.accessed.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the use mark and says whether it was set (the shrinker's hand passing).
    pub fn take_accessed(&self) -> bool {
        self.accessed.swap(false, Ordering::Relaxed)
    }
}
