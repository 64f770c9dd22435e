//! One EROFS inode: stat, a regular file's pages, a directory's entries, a symlink's target,
//! its extended attributes (read with it, `super::xattrs`).
//!
//! Where an inode's data lies is checked once, when the inode is read ([`ErofsInode::new`]):
//! plain data must be whole blocks inside the filesystem, an inline tail must sit in the
//! inode's own block. After that, reads cannot reach outside what was checked.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use spin::Once;

use super::format::{self, DirBlock, DiskInode, BLOCK_SIZE, LAYOUT_FLAT_INLINE};
use super::{ready, start_block_read, Erofs, READ_AHEAD};
use crate::cache::{CachedFile, PageCache};
use crate::inode::Inode;
use crate::page::{Page, PAGE_SIZE};
use crate::pipe::Pipe;
use crate::types::*;
use crate::{Errno, TimeChange};

const BS: u64 = BLOCK_SIZE as u64;

/// An inode of a mounted [`Erofs`].
pub struct ErofsInode {
    fs: Arc<Erofs>,
    nid: u64,
    disk: DiskInode,
    /// Blocks of data at `disk.raw` (the inline tail excluded).
    full_blocks: u64,
    /// Device byte of the inline tail and its length (0 when plain).
    tail: (u64, usize),
    parent: Option<(Arc<dyn Inode>, Vec<u8>)>,
    /// A regular file's pages ([`Erofs::cache_of`]); an empty cache of its own otherwise.
    cache: Arc<PageCache>,
    fifo: Once<Arc<Pipe>>,
    xattrs: super::xattrs::Loaded,
}

impl core::fmt::Debug for ErofsInode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ErofsInode")
            .field("nid", &self.nid)
            .field("disk", &self.disk)
            .finish_non_exhaustive()
    }
}

impl ErofsInode {
    /// Checks where the data of `disk` (read at device byte `pos`) lies.
    pub(super) fn new(
        fs: Arc<Erofs>,
        nid: u64,
        pos: u64,
        disk: DiskInode,
        parent: Option<(Arc<dyn Inode>, Vec<u8>)>,
        xattrs: super::xattrs::Loaded,
    ) -> Result<Arc<ErofsInode>> {
        let kind = format::file_type(disk.mode);
        let has_data = matches!(
            kind,
            format::FT_REG_FILE | format::FT_DIR | format::FT_SYMLINK
        );
        let size = if has_data { disk.size } else { 0 };
        let blocks = size.div_ceil(BS);
        let (full_blocks, tail) = if disk.layout == LAYOUT_FLAT_INLINE && size > 0 {
            let tail_len = size - (blocks - 1) * BS;
            let at = pos
                + disk.size_on_disk() as u64
                + super::xattrs::ibody_size(disk.xattr_icount) as u64;
            // Linux: "inline data cross block boundary" is corruption.
            if at % BS + tail_len > BS {
                return Err(Errno::EIO);
            }
            (blocks - 1, (at, tail_len as usize))
        } else {
            (blocks, (0, 0))
        };
        if full_blocks > 0 {
            let end = u64::from(disk.raw)
                .checked_add(full_blocks)
                .ok_or(Errno::EIO)?;
            if end > fs.blocks {
                return Err(Errno::EIO);
            }
        }
        if kind == format::FT_SYMLINK && (size == 0 || size >= PAGE_SIZE as u64) {
            return Err(Errno::EIO);
        }
        let cache = if kind == format::FT_REG_FILE {
            fs.cache_of(nid)
        } else {
            Arc::default()
        };
        Ok(Arc::new(ErofsInode {
            fs,
            nid,
            disk,
            full_blocks,
            tail,
            parent,
            cache,
            fifo: Once::new(),
            xattrs,
        }))
    }

    fn kind(&self) -> u8 {
        format::file_type(self.disk.mode)
    }

    /// The used bytes of data block `index` (a directory's or a symlink's), from the metadata
    /// cache.
    fn data_block(&self, index: u64) -> Result<Vec<u8>> {
        let (pos, len) = if index < self.full_blocks {
            ((u64::from(self.disk.raw) + index) * BS, BLOCK_SIZE)
        } else if index == self.full_blocks && self.tail.1 > 0 {
            self.tail
        } else {
            return Err(Errno::EIO);
        };
        let len = len.min((self.disk.size - index * BS) as usize);
        let mut buf = alloc::vec![0u8; len];
        self.fs.read_meta(pos, &mut buf)?;
        Ok(buf)
    }

    /// Blocks of a directory's data.
    fn dir_blocks(&self) -> u64 {
        self.disk.size.div_ceil(BS)
    }

    /// Asks for every block of the directory, so that a walk through it waits once (the
    /// blocks are only asked for, not copied).
    fn prefetch_dir(&self) -> Result<()> {
        let full = self.full_blocks.min(self.dir_blocks());
        let waiting = [
            self.fs
                .request_meta(u64::from(self.disk.raw) * BS, full * BS),
            self.fs.request_meta(self.tail.0, self.tail.1 as u64),
        ];
        for r in waiting {
            r?;
        }
        Ok(())
    }

    fn child(
        self: &ErofsInode,
        me: Arc<dyn Inode>,
        nid: u64,
        name: &[u8],
    ) -> Result<Arc<dyn Inode>> {
        let node = self.fs.inode(nid, Some((me, name.to_vec())))?;
        Ok(node)
    }
}

fn file_type_of(ft: u8) -> FileType {
    match ft {
        format::FT_DIR => FileType::Directory,
        format::FT_SYMLINK => FileType::Symlink,
        format::FT_FIFO => FileType::Fifo,
        format::FT_CHRDEV => FileType::CharDevice,
        format::FT_BLKDEV => FileType::BlockDevice,
        format::FT_SOCK => FileType::Socket,
        _ => FileType::Regular,
    }
}

impl Inode for ErofsInode {
    fn stat(&self) -> Stat {
        let d = &self.disk;
        let time = Timespec {
            sec: d.mtime as i64,
            nsec: d.mtime_nsec.min(999_999_999),
        };
        let device = matches!(self.kind(), format::FT_CHRDEV | format::FT_BLKDEV);
        Stat {
            dev: self.fs.st_dev,
            ino: self.nid,
            mode: d.mode,
            nlink: u64::from(d.nlink),
            uid: d.uid,
            gid: d.gid,
            rdev: if device { u64::from(d.raw) } else { 0 },
            size: d.size,
            blksize: BLOCK_SIZE as u32,
            blocks: d.size.div_ceil(BS) * (BS / 512),
            atime: time,
            mtime: time,
            ctime: time,
            btime: Timespec::default(),
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: super::EROFS_MAGIC,
            bsize: BS,
            blocks: self.fs.blocks,
            bfree: 0,
            bavail: 0,
            files: self.fs.sb.inos,
            ffree: 0,
            fsid: 0,
            namelen: 255,
            frsize: BS,
            flags: 1, // ST_RDONLY
        }
    }

    fn set_mode(&self, _mode: u32) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn set_owner(&self, _uid: Option<u32>, _gid: Option<u32>) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn set_times(&self, _atime: TimeChange, _mtime: TimeChange) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn xattr(&self, op: crate::xattr::XattrOp<'_>) -> Result<Vec<u8>> {
        super::xattrs::answer(&self.xattrs, op)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if self.kind() != format::FT_REG_FILE {
            return Err(self.wrong_kind_io());
        }
        let size = self.disk.size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let len = (buf.len() as u64).min(size - offset) as usize;
        let first = offset / PAGE_SIZE as u64;
        let last = (offset + len as u64 - 1) / PAGE_SIZE as u64;
        // Ask for every page first (the read-ahead), then wait once if any is in flight.
        let mut pages = Vec::new();
        let mut waiting = false;
        for index in first..=last.min(first + READ_AHEAD - 1) {
            match ready(self, index) {
                Ok(p) => pages.push(p),
                Err(Errno::WAIT) => waiting = true,
                Err(e) => return Err(e),
            }
        }
        if waiting {
            return Err(Errno::WAIT);
        }
        let mut done = 0;
        for page in pages {
            let at = offset + done as u64;
            let off = (at % PAGE_SIZE as u64) as usize;
            let n = (PAGE_SIZE - off).min(len - done);
            page.read(off, &mut buf[done..done + n]);
            done += n;
        }
        Ok(done)
    }

    fn write_at(&self, _offset: u64, _data: &[u8]) -> Result<usize> {
        Err(if self.kind() == format::FT_REG_FILE {
            Errno::EROFS
        } else {
            self.wrong_kind_io()
        })
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        self.write_at(0, data).map(|_| 0)
    }

    fn truncate(&self, _size: u64) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn allocate(&self, _offset: u64, _len: u64, _keep_size: bool) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn punch_hole(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Errno::EROFS)
    }

    fn lookup(&self, _cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if self.kind() != format::FT_DIR {
            return Err(Errno::ENOTDIR);
        }
        // Names are sorted across blocks: binary search on each block's first and last, then
        // in the block. Only the blocks the search visits are read (a few of a big directory
        // such as /usr/bin), one wait each.
        let (mut lo, mut hi) = (0, self.dir_blocks());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let data = self.data_block(mid)?;
            let block = DirBlock::new(&data).map_err(super::corrupt)?;
            let first = block.get(0).map_err(super::corrupt)?;
            let last = block.get(block.len() - 1).map_err(super::corrupt)?;
            if name < first.name {
                hi = mid;
            } else if name > last.name {
                lo = mid + 1;
            } else {
                let e = block
                    .find(name)
                    .map_err(super::corrupt)?
                    .ok_or(Errno::ENOENT)?;
                let me = self.fs.inode(self.nid, None)?;
                return self.child(me, e.nid, name);
            }
        }
        Err(Errno::ENOENT)
    }

    fn create(
        &self,
        _name: &[u8],
        _node: NewNode,
        _mode: u32,
        _uid: u32,
        _gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        Err(self.dir_or(Errno::EROFS))
    }

    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<()> {
        Err(self.dir_or(Errno::EROFS))
    }

    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(self.dir_or(Errno::EROFS))
    }

    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(self.dir_or(Errno::EROFS))
    }

    fn rename(
        &self,
        _old_name: &[u8],
        _new_dir: &Arc<dyn Inode>,
        _new_name: &[u8],
        _flags: u32,
    ) -> Result<()> {
        Err(self.dir_or(Errno::EROFS))
    }

    fn readdir(&self, _cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        if self.kind() != format::FT_DIR {
            return Err(Errno::ENOTDIR);
        }
        let dot = |name: &[u8], ino, next| {
            Ok(Some((
                DirEntry {
                    ino,
                    kind: FileType::Directory,
                    name: name.to_vec(),
                },
                next,
            )))
        };
        match pos {
            0 => return dot(b".", self.nid, 1),
            1 => {
                let up = self.parent.as_ref().map_or(self.nid, |(p, _)| p.stat().ino);
                return dot(b"..", up, 2);
            }
            _ => {}
        }
        self.prefetch_dir()?;
        // Position 2 + block * BLOCK_SIZE + index in the block: stable across calls.
        let mut block = (pos - 2) / BS;
        let mut index = ((pos - 2) % BS) as usize;
        while block < self.dir_blocks() {
            let data = self.data_block(block)?;
            let entries = DirBlock::new(&data).map_err(super::corrupt)?;
            while index < entries.len() {
                let e = entries.get(index).map_err(super::corrupt)?;
                index += 1;
                if e.name == b"." || e.name == b".." {
                    continue;
                }
                let next = 2 + block * BS + index as u64;
                return Ok(Some((
                    DirEntry {
                        ino: e.nid,
                        kind: file_type_of(e.file_type),
                        name: e.name.to_vec(),
                    },
                    next,
                )));
            }
            block += 1;
            index = 0;
        }
        Ok(None)
    }

    fn parent(&self) -> Option<(Arc<dyn Inode>, Vec<u8>)> {
        self.parent.clone()
    }

    fn readlink(&self, _cx: &Caller) -> Result<Vec<u8>> {
        if self.kind() != format::FT_SYMLINK {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::new();
        for b in 0..self.disk.size.div_ceil(BS) {
            out.extend_from_slice(&self.data_block(b)?);
        }
        Ok(out)
    }

    fn fifo(&self) -> Option<Arc<Pipe>> {
        (self.kind() == format::FT_FIFO).then(|| self.fifo.call_once(Pipe::new).clone())
    }

    fn cached(&self) -> Option<&dyn CachedFile> {
        (self.kind() == format::FT_REG_FILE).then_some(self as &dyn CachedFile)
    }

    fn sync(&self, _data_only: bool) -> Result<()> {
        Ok(())
    }
}

impl ErofsInode {
    /// `err` for a directory, ENOTDIR for anything else.
    fn dir_or(&self, err: Errno) -> Errno {
        if self.kind() == format::FT_DIR {
            err
        } else {
            Errno::ENOTDIR
        }
    }
}

impl CachedFile for ErofsInode {
    fn page_cache(&self) -> &PageCache {
        &self.cache
    }

    fn cached_size(&self) -> u64 {
        self.disk.size
    }

    fn fill_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        let dev = &*self.fs.dev;
        let used = (self.disk.size - index * BS).min(BS) as usize;
        if index < self.full_blocks {
            start_block_read(dev, u64::from(self.disk.raw) + index, page, 0, used);
        } else if index == self.full_blocks && self.tail.1 > 0 {
            let (at, len) = self.tail;
            start_block_read(dev, at / BS, page, (at % BS) as usize, len);
        } else {
            return Err(Errno::EIO);
        }
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
