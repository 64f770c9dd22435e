//! EROFS, read-only, on a block device: the root filesystem of a run as `coracle` writes it.
//!
//! The image is untrusted input: every offset, size and name is checked against the device
//! before use, and a damaged image is `EIO` for the program, never a panic. Blocks are read
//! on demand: metadata (inodes, directories, symlinks, inline file tails) through one page
//! cache of device blocks, file data through each file's own page cache (`crate::cache`),
//! which mmap and exec share. Reads complete later (from the device's interrupt): an
//! operation that needs a block still in flight returns [`Errno::WAIT`], and the system-call
//! layer waits on [`crate::block::IO_WAIT`] and runs the call again.
//!
//! The layout is in [`format`], shared with the writer in `coracle` (tools/src/erofs).

pub mod format;
mod inode;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod tests_xattrs;
pub mod xattrs;

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::block::{read_tracked, BlockBuf, BlockDevice, SECTOR_SIZE};
use crate::cache::{get_page, CachedFile, Got, PageCache};
use crate::inode::Inode;
use crate::page::{Page, PAGE_SIZE};
use crate::types::{anon_dev, Result};
use crate::Errno;
use format::{Corrupt, DiskInode, SuperBlock, BLOCK_SIZE, EXTENDED_INODE_SIZE, SLOT_SIZE};
pub use inode::ErofsInode;

/// `EROFS_SUPER_MAGIC_V1`, as statfs reports it.
pub const EROFS_MAGIC: u64 = format::MAGIC as u64;

const SECTORS_PER_BLOCK: u64 = (BLOCK_SIZE / SECTOR_SIZE) as u64;
/// Pages one read call starts at most before it waits (its read-ahead).
const READ_AHEAD: u64 = 32;

/// One mounted EROFS image.
pub struct Erofs {
    dev: Arc<dyn BlockDevice>,
    sb: SuperBlock,
    /// Blocks the device holds (the superblock's count may not exceed it).
    blocks: u64,
    /// Device blocks read as metadata, by block number.
    meta: Arc<DeviceBlocks>,
    /// The `st_dev` of every inode.
    st_dev: u64,
    /// Inodes in use, by nid: one object per file while it is in use.
    inodes: Mutex<BTreeMap<u64, Weak<ErofsInode>>>,
    /// Regular files' page caches, by nid: they outlive the inode objects (as Linux's inode
    /// cache keeps a closed file's pages), so a system call that dropped its inode to wait
    /// for a read finds the page when it runs again, and a file opened again is not read
    /// again. Clean pages go under memory pressure ([`crate::evict`]).
    caches: Mutex<BTreeMap<u64, Arc<PageCache>>>,
}

impl core::fmt::Debug for Erofs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Erofs")
            .field("sb", &self.sb)
            .finish_non_exhaustive()
    }
}

/// The device's blocks as one cached "file": where metadata is read.
struct DeviceBlocks {
    dev: Arc<dyn BlockDevice>,
    cache: Arc<PageCache>,
    bytes: u64,
}

impl CachedFile for DeviceBlocks {
    fn page_cache(&self) -> &PageCache {
        &self.cache
    }
    fn cached_size(&self) -> u64 {
        self.bytes
    }
    fn fill_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        start_block_read(&*self.dev, index, page, 0, PAGE_SIZE);
        Ok(())
    }
    fn write_page(&self, _index: u64, _page: &Arc<Page>) -> Result<()> {
        Err(Errno::EROFS)
    }
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    fn has_backing_store(&self) -> bool {
        false
    }
}

/// Reads device block `block` into `page`, then keeps `len` bytes from `from` in the block,
/// moved to the page's start, and zeroes the rest (a file's last block or inline tail).
fn start_block_read(dev: &dyn BlockDevice, block: u64, page: &Arc<Page>, from: usize, len: usize) {
    let done_page = page.clone();
    read_tracked(
        dev,
        block * SECTORS_PER_BLOCK,
        BlockBuf::page(page.clone()),
        alloc::boxed::Box::new(move |r| {
            if r.is_ok() && (from, len) != (0, PAGE_SIZE) {
                let mut keep = alloc::vec![0u8; len];
                done_page.read(from, &mut keep);
                done_page.zero(0, PAGE_SIZE);
                done_page.write(0, &keep);
            }
            done_page.finish_fill(r.map_err(|_| Errno::EIO));
        }),
    );
}

/// The up-to-date page of `file` at `index`: `WAIT` while it is read, `EIO` when reading
/// failed or the page lies past the end (a damaged image pointing outside the device).
fn ready(file: &dyn CachedFile, index: u64) -> Result<Arc<Page>> {
    match get_page(file, index) {
        Ok(Got::Ready(p)) => Ok(p),
        Ok(Got::Wait(_)) => Err(Errno::WAIT),
        Err(Errno::ENOMEM) => Err(Errno::ENOMEM),
        Err(_) => Err(Errno::EIO),
    }
}

fn corrupt(_: Corrupt) -> Errno {
    Errno::EIO
}

/// An image being mounted: its superblock may still be on its way.
pub struct Mounting {
    meta: Arc<DeviceBlocks>,
}

impl core::fmt::Debug for Mounting {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mounting").finish_non_exhaustive()
    }
}

impl Mounting {
    /// Reads and checks the superblock. `WAIT` while block 0 is being read (call again once
    /// [`crate::block::reads_in_flight`] drops), `EIO` for an image that is not EROFS as
    /// Coracle writes it.
    pub fn finish(&self) -> Result<Arc<Erofs>> {
        let meta = &self.meta;
        let page = ready(&**meta, 0)?;
        let mut raw = [0u8; format::SUPER_SIZE];
        page.read(format::SUPER_OFFSET, &mut raw);
        let sb = SuperBlock::decode(&raw).map_err(corrupt)?;
        let blocks = meta.bytes / BLOCK_SIZE as u64;
        if u64::from(sb.blocks) > blocks || u64::from(sb.meta_blkaddr) >= u64::from(sb.blocks) {
            return Err(Errno::EIO);
        }
        Ok(Arc::new(Erofs {
            dev: meta.dev.clone(),
            sb,
            blocks: u64::from(sb.blocks),
            meta: meta.clone(),
            st_dev: anon_dev(),
            inodes: Mutex::new(BTreeMap::new()),
            caches: Mutex::new(BTreeMap::new()),
        }))
    }
}

impl Erofs {
    /// Starts mounting the image on `dev`; [`Mounting::finish`] completes it.
    pub fn start(dev: Arc<dyn BlockDevice>) -> Mounting {
        let blocks = dev.capacity() / SECTORS_PER_BLOCK;
        Mounting {
            meta: Arc::new(DeviceBlocks {
                dev,
                cache: PageCache::evictable(),
                bytes: blocks * BLOCK_SIZE as u64,
            }),
        }
    }

    /// Mounts the image on a device whose reads complete at once (tests, tools).
    pub fn mount(dev: Arc<dyn BlockDevice>) -> Result<Arc<Erofs>> {
        Self::start(dev).finish()
    }

    /// The root directory. `WAIT` while its inode is read.
    pub fn root(self: &Arc<Self>) -> Result<Arc<dyn Inode>> {
        let root: Arc<dyn Inode> = self.inode(u64::from(self.sb.root_nid), None)?;
        if !root.stat().is_dir() {
            return Err(Errno::EIO);
        }
        Ok(root)
    }

    /// The metadata pages holding device bytes `pos..pos+len`. Every block needed is asked
    /// for before any wait, so a multi-block read waits once.
    fn meta_pages(&self, pos: u64, len: u64) -> Result<Vec<Arc<Page>>> {
        // Nothing to read (a directory with no whole blocks, whose block address means
        // nothing): no check of where it would be.
        if len == 0 {
            return Ok(Vec::new());
        }
        let end = pos.checked_add(len).ok_or(Errno::EIO)?;
        if end > self.blocks * BLOCK_SIZE as u64 {
            return Err(Errno::EIO);
        }
        let first = pos / BLOCK_SIZE as u64;
        let last = (end - 1) / BLOCK_SIZE as u64;
        let mut pages = Vec::new();
        let mut waiting = false;
        for block in first..=last {
            match ready(&*self.meta, block) {
                Ok(p) => pages.push(p),
                Err(Errno::WAIT) => waiting = true,
                Err(e) => return Err(e),
            }
        }
        if waiting {
            return Err(Errno::WAIT);
        }
        Ok(pages)
    }

    /// Asks for the metadata blocks holding device bytes `pos..pos+len` without copying
    /// them: `WAIT` while any is read.
    fn request_meta(&self, pos: u64, len: u64) -> Result<()> {
        self.meta_pages(pos, len).map(drop)
    }

    /// Copies `buf.len()` metadata bytes from device byte `pos` (one wait for all blocks).
    fn read_meta(&self, pos: u64, buf: &mut [u8]) -> Result<()> {
        let pages = self.meta_pages(pos, buf.len() as u64)?;
        let mut at = pos;
        let mut done = 0;
        for page in pages {
            let off = (at % BLOCK_SIZE as u64) as usize;
            let n = (BLOCK_SIZE - off).min(buf.len() - done);
            page.read(off, &mut buf[done..done + n]);
            done += n;
            at += n as u64;
        }
        Ok(())
    }

    /// The page cache of the regular file `nid`, shared by every inode object made for it.
    fn cache_of(&self, nid: u64) -> Arc<PageCache> {
        self.caches
            .lock()
            .entry(nid)
            .or_insert_with(PageCache::evictable)
            .clone()
    }

    /// The device byte where inode `nid` starts, if the inode lies on the device.
    fn inode_pos(&self, nid: u64) -> Result<u64> {
        let pos = nid
            .checked_mul(SLOT_SIZE as u64)
            .and_then(|o| o.checked_add(u64::from(self.sb.meta_blkaddr) * BLOCK_SIZE as u64))
            .ok_or(Errno::EIO)?;
        Ok(pos)
    }

    /// The inode `nid`, shared with every other user of it; a directory found by name keeps
    /// `parent` (its parent and its name there) for `..` and getcwd.
    fn inode(
        self: &Arc<Self>,
        nid: u64,
        parent: Option<(Arc<dyn Inode>, Vec<u8>)>,
    ) -> Result<Arc<ErofsInode>> {
        if let Some(i) = self.inodes.lock().get(&nid).and_then(Weak::upgrade) {
            return Ok(i);
        }
        let pos = self.inode_pos(nid)?;
        // The compact form is 32 bytes: read 64 only where the device has them.
        let avail = (self.blocks * BLOCK_SIZE as u64).saturating_sub(pos);
        let mut raw = [0u8; EXTENDED_INODE_SIZE];
        let len = (EXTENDED_INODE_SIZE as u64).min(avail) as usize;
        self.read_meta(pos, &mut raw[..len])?;
        let disk = DiskInode::decode(&raw[..len], &self.sb).map_err(corrupt)?;
        let body = pos + disk.size_on_disk() as u64;
        let xattrs = xattrs::load(self, body, disk.xattr_icount)?;
        let node = ErofsInode::new(self.clone(), nid, pos, disk, parent, xattrs)?;
        let mut table = self.inodes.lock();
        if let Some(i) = table.get(&nid).and_then(Weak::upgrade) {
            return Ok(i);
        }
        if table.len() > 64 && table.len().is_power_of_two() {
            table.retain(|_, w| w.strong_count() > 0);
        }
        table.insert(nid, Arc::downgrade(&node));
        Ok(node)
    }
}
