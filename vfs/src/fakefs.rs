//! A one-file filesystem on a block device, for tests: the shape a real filesystem on a disk
//! takes behind the page cache.
//!
//! [`DiskFile`] is a regular file whose bytes are the device's from sector 0 on. Its pages
//! are read from the device when first needed (a delayed [`crate::block::FakeBlock`] makes
//! them complete later, as an interrupt would), writes land in the cache and mark pages
//! dirty, and `fsync` writes them back and flushes the device. The code that maps, faults
//! and syncs files is tested against it without knowing it is not tmpfs.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;

use spin::Mutex;

use crate::block::{BlockBuf, BlockDevice, BlockError, SECTOR_SIZE};
use crate::cache::{get_page, CachedFile, Got, PageCache};
use crate::inode::Inode;
use crate::page::{Page, PAGE_SIZE};
use crate::types::{Result, Stat, Timespec, S_IFREG};
use crate::Errno;

const SECTORS_PER_PAGE: u64 = (PAGE_SIZE / SECTOR_SIZE) as u64;

/// A regular file of `size` bytes stored on `dev` from sector 0.
pub struct DiskFile {
    dev: Arc<dyn BlockDevice>,
    size: u64,
    cache: Arc<PageCache>,
}

impl core::fmt::Debug for DiskFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DiskFile")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl DiskFile {
    /// The file of `size` bytes on `dev` (which must hold them).
    pub fn new(dev: Arc<dyn BlockDevice>, size: u64) -> Arc<DiskFile> {
        Self::with_cache(dev, size, Arc::new(PageCache::new()))
    }

    /// [`DiskFile::new`] with its pages in `cache` (an evictable one, to test the shrinker).
    pub fn with_cache(
        dev: Arc<dyn BlockDevice>,
        size: u64,
        cache: Arc<PageCache>,
    ) -> Arc<DiskFile> {
        Arc::new(DiskFile { dev, size, cache })
    }

    /// The sectors page `index` occupies on the device: `(first, count)`, cut at its end.
    fn sectors(&self, index: u64) -> (u64, u64) {
        let first = index * SECTORS_PER_PAGE;
        let count = SECTORS_PER_PAGE.min(self.dev.capacity().saturating_sub(first));
        (first, count)
    }

    /// The page at `index`, if it is in memory (an up-to-date page); `EAGAIN` while it is
    /// being read.
    fn ready_page(&self, index: u64) -> Result<Arc<Page>> {
        match get_page(self, index)? {
            Got::Ready(p) => Ok(p),
            Got::Wait(_) => Err(Errno::EAGAIN),
        }
    }
}

/// Runs a device request that must end at once (this test filesystem does not wait for
/// writes): `EAGAIN` if the device queued it.
fn now(start: impl FnOnce(crate::block::Done)) -> Result<()> {
    let result: Arc<Mutex<Option<core::result::Result<(), BlockError>>>> = Arc::default();
    let slot = result.clone();
    start(Box::new(move |r| *slot.lock() = Some(r)));
    let got = *result.lock();
    match got {
        Some(r) => r.map_err(Errno::from),
        None => Err(Errno::EAGAIN),
    }
}

impl CachedFile for DiskFile {
    fn page_cache(&self) -> &PageCache {
        &self.cache
    }

    fn cached_size(&self) -> u64 {
        self.size
    }

    fn fill_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        let (first, count) = self.sectors(index);
        if count == 0 {
            page.finish_fill(Ok(()));
            return Ok(());
        }
        let buf = BlockBuf {
            page: page.clone(),
            offset: 0,
            len: count as usize * SECTOR_SIZE,
        };
        let done_page = page.clone();
        self.dev.read(
            first,
            buf,
            Box::new(move |r| done_page.finish_fill(r.map_err(Errno::from))),
        );
        Ok(())
    }

    fn write_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        let (first, count) = self.sectors(index);
        let buf = BlockBuf {
            page: page.clone(),
            offset: 0,
            len: count as usize * SECTOR_SIZE,
        };
        now(|done| self.dev.write(first, buf, done))
    }

    fn flush(&self) -> Result<()> {
        now(|done| self.dev.flush(done))
    }

    fn has_backing_store(&self) -> bool {
        true
    }
}

impl Inode for DiskFile {
    fn stat(&self) -> Stat {
        Stat {
            mode: S_IFREG | 0o644,
            nlink: 1,
            size: self.size,
            blksize: PAGE_SIZE as u32,
            blocks: self.size.div_ceil(512),
            atime: Timespec::default(),
            ..Stat::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let within = (offset % PAGE_SIZE as u64) as usize;
        let n = buf
            .len()
            .min(PAGE_SIZE - within)
            .min((self.size - offset) as usize);
        self.ready_page(offset / PAGE_SIZE as u64)?
            .read(within, &mut buf[..n]);
        Ok(n)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize> {
        // The file keeps its size: a disk image does not grow.
        if offset >= self.size {
            return Err(Errno::EFBIG);
        }
        let within = (offset % PAGE_SIZE as u64) as usize;
        let n = data
            .len()
            .min(PAGE_SIZE - within)
            .min((self.size - offset) as usize);
        let page = self.ready_page(offset / PAGE_SIZE as u64)?;
        page.write(within, &data[..n]);
        page.set_dirty();
        Ok(n)
    }

    fn cached(&self) -> Option<&dyn CachedFile> {
        Some(self)
    }
}
