//! A file of a 9P export: the [`Inode`] operations as 9P2000.L calls on the file's fids.
//!
//! Each inode holds a path fid (walked, never opened: getattr, setattr, and the directory
//! operations) and, once it is read or written, an open fid. Reads and writes go to the
//! server; pages of a mapped file are cached ([`CachedFile`]) and kept coherent with
//! `read`/`write`: a write updates the cached pages it covers, a read sees them. Attributes
//! are those of the last `Tgetattr` (at lookup and after each change this inode makes).

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;
use core::any::Any;

use spin::Mutex;

use super::wire::{Attr, SetAttr};
use super::P9Fs;
use crate::cache::{CachedFile, PageCache};
use crate::inode::TimeChange;
use crate::page::{Page, PAGE_SIZE};
use crate::types::{
    major, minor, oflags, Caller, DirEntry, FileType, NewNode, Result, Stat, StatFs, Timespec,
    RENAME_NOREPLACE, S_IFDIR, S_IFMT,
};
use crate::{Errno, Inode};

/// `f_type` of a 9P filesystem (Linux's V9FS_MAGIC).
const V9FS_MAGIC: u64 = 0x0102_1997;
const AT_REMOVEDIR: u32 = 0x200;

/// Where a directory was found: its parent and its name there.
pub(super) type Parent = Option<(Arc<dyn Inode>, Vec<u8>)>;

/// A file on a 9P export.
pub struct P9Inode {
    fs: Arc<P9Fs>,
    me: Weak<P9Inode>,
    /// The walked (unopened) fid.
    fid: u32,
    attr: Mutex<Attr>,
    /// The open fid and whether it was opened for writing.
    io: Mutex<Option<(u32, bool)>>,
    cache: PageCache,
    /// A directory's entries as the last listing from position 2 found them.
    listing: Mutex<Vec<DirEntry>>,
    /// Where a directory was found, for `..` and getcwd.
    parent: Mutex<Parent>,
}

impl core::fmt::Debug for P9Inode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P9Inode")
            .field("fid", &self.fid)
            .field("attr", &*self.attr.lock())
            .finish_non_exhaustive()
    }
}

impl Drop for P9Inode {
    fn drop(&mut self) {
        // Stores made through a shared mapping by a process that ended without munmap or
        // msync are still only here: the file's last user is gone, so they go back now, as
        // Linux's writeback would write them later.
        for (index, page) in self.cache.dirty() {
            if page.take_dirty() {
                let _ = self.write_page(index, &page);
            }
        }
        let qid = self.attr.lock().qid.path;
        self.fs.forget(qid, self);
        self.fs.client.release(self.fid);
        if let Some((fid, _)) = self.io.lock().take() {
            self.fs.client.release(fid);
        }
    }
}

fn time((sec, nsec): (u64, u64)) -> Timespec {
    Timespec {
        sec: sec as i64,
        nsec: (nsec % 1_000_000_000) as u32,
    }
}

fn kind_of_dirent(dt: u8) -> FileType {
    match dt {
        1 => FileType::Fifo,
        2 => FileType::CharDevice,
        4 => FileType::Directory,
        6 => FileType::BlockDevice,
        10 => FileType::Symlink,
        12 => FileType::Socket,
        _ => FileType::Regular,
    }
}

impl P9Inode {
    pub(super) fn new(fs: Arc<P9Fs>, fid: u32, attr: Attr, parent: Parent) -> Arc<P9Inode> {
        Arc::new_cyclic(|me| P9Inode {
            fs,
            me: me.clone(),
            fid,
            attr: Mutex::new(attr),
            io: Mutex::new(None),
            cache: PageCache::new(),
            listing: Mutex::new(Vec::new()),
            parent: Mutex::new(parent),
        })
    }

    /// Takes newer attributes (and where the file was found again).
    pub(super) fn refresh(&self, attr: Attr, parent: Parent) {
        *self.attr.lock() = attr;
        if parent.is_some() {
            *self.parent.lock() = parent;
        }
    }

    fn reload(&self) -> Result<()> {
        let attr = self.fs.client.getattr(self.fid)?;
        self.attr.lock().clone_from(&attr);
        Ok(())
    }

    fn is_dir(&self) -> bool {
        self.attr.lock().mode & S_IFMT == S_IFDIR
    }

    fn size(&self) -> u64 {
        self.attr.lock().size
    }

    /// The open fid, opened now if needed; `write`: one opened for writing.
    fn io_fid(&self, write: bool) -> Result<u32> {
        let mut io = self.io.lock();
        if let Some((fid, writable)) = *io {
            if writable || !write {
                return Ok(fid);
            }
        }
        let client = &self.fs.client;
        let (fid, _) = client.walk(self.fid, None)?;
        let flags = if self.is_dir() {
            oflags::O_RDONLY | oflags::O_DIRECTORY
        } else {
            oflags::O_RDWR
        };
        // A file the host lets this server read only (the VFS checked the program's rights).
        let opened = match client.lopen(fid, flags) {
            Err(Errno::EACCES | Errno::EROFS | Errno::EPERM)
                if !write && flags == oflags::O_RDWR =>
            {
                client.lopen(fid, oflags::O_RDONLY).map(|_| false)
            }
            r => r.map(|_| flags == oflags::O_RDWR),
        };
        let writable = match opened {
            Ok(w) => w,
            Err(e) => {
                client.release(fid);
                return Err(e);
            }
        };
        if let Some((old, _)) = io.replace((fid, writable)) {
            client.release(old);
        }
        if write && !writable {
            return Err(Errno::EACCES);
        }
        Ok(fid)
    }

    /// Reads from the server into `buf` at `offset` until it is full or the file ends.
    fn read_server(&self, fid: u32, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            let n = self
                .fs
                .client
                .read(fid, offset + done as u64, &mut buf[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// Writes all of `data` to the server at `offset`.
    fn write_server(&self, fid: u32, offset: u64, data: &[u8]) -> Result<()> {
        let mut done = 0;
        while done < data.len() {
            let n = self
                .fs
                .client
                .write(fid, offset + done as u64, &data[done..])?;
            if n == 0 {
                return Err(Errno::EIO);
            }
            done += n;
        }
        Ok(())
    }

    /// Runs `each(page, offset in page, offset in the range, len)` for the cached pages
    /// overlapping `[offset, offset + len)`.
    fn cached_pages(
        &self,
        offset: u64,
        len: usize,
        mut each: impl FnMut(&Arc<Page>, usize, usize, usize),
    ) {
        if self.cache.is_empty() || len == 0 {
            return;
        }
        let page = PAGE_SIZE as u64;
        let end = offset + len as u64;
        for index in offset / page..end.div_ceil(page) {
            let Some(p) = self.cache.get(index) else {
                continue;
            };
            if p.state() != crate::page::PageState::UpToDate {
                continue;
            }
            let start = (index * page).max(offset);
            let stop = ((index + 1) * page).min(end);
            each(
                &p,
                (start - index * page) as usize,
                (start - offset) as usize,
                (stop - start) as usize,
            );
        }
    }

    /// The attribute change `attr`, then the attributes again.
    fn set(&self, attr: SetAttr) -> Result<()> {
        self.fs.client.setattr(self.fid, attr)?;
        self.reload()
    }

    /// The directory's entries from the server, `.` and `..` left out.
    fn list(&self) -> Result<Vec<DirEntry>> {
        let fid = self.io_fid(false)?;
        let mut entries = Vec::new();
        let mut offset = 0;
        loop {
            let mut next = offset;
            let any = self
                .fs
                .client
                .readdir(fid, offset, &mut |name, qid, dt, off| {
                    next = off;
                    if name != b"." && name != b".." {
                        entries.push(DirEntry {
                            ino: qid.path,
                            kind: kind_of_dirent(dt),
                            name: name.to_vec(),
                        });
                    }
                })?;
            // A server that does not move on would loop forever.
            if !any || next == offset {
                return Ok(entries);
            }
            offset = next;
        }
    }

    fn downcast(other: &Arc<dyn Inode>) -> Option<&P9Inode> {
        other.as_any().downcast_ref::<P9Inode>()
    }

    fn same_fs(&self, other: &P9Inode) -> bool {
        Arc::ptr_eq(&self.fs, &other.fs)
    }

    pub(super) fn fs(&self) -> &Arc<P9Fs> {
        &self.fs
    }

    fn me(&self) -> Option<Arc<dyn Inode>> {
        self.me.upgrade().map(|a| a as Arc<dyn Inode>)
    }
}

impl Inode for P9Inode {
    fn stat(&self) -> Stat {
        let a = *self.attr.lock();
        Stat {
            dev: self.fs.dev,
            ino: a.qid.path,
            mode: a.mode,
            nlink: a.nlink,
            uid: a.uid,
            gid: a.gid,
            rdev: a.rdev,
            size: a.size,
            blksize: a.blksize.min(u64::from(u32::MAX)) as u32,
            blocks: a.blocks,
            atime: time(a.atime),
            mtime: time(a.mtime),
            ctime: time(a.ctime),
            btime: Timespec::ZERO,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> StatFs {
        match self.fs.client.statfs(self.fid) {
            Ok(s) => StatFs {
                fs_type: V9FS_MAGIC,
                bsize: u64::from(s.bsize),
                blocks: s.blocks,
                bfree: s.bfree,
                bavail: s.bavail,
                files: s.files,
                ffree: s.ffree,
                fsid: s.fsid,
                namelen: u64::from(s.namelen),
                frsize: u64::from(s.bsize),
                flags: 0,
            },
            Err(_) => StatFs {
                fs_type: V9FS_MAGIC,
                ..StatFs::default()
            },
        }
    }

    fn set_mode(&self, mode: u32) -> Result<()> {
        self.set(SetAttr {
            valid: SetAttr::MODE,
            mode: mode & crate::types::MODE_BITS,
            ..SetAttr::default()
        })
    }

    fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let mut a = SetAttr::default();
        if let Some(uid) = uid {
            a.valid |= SetAttr::UID;
            a.uid = uid;
        }
        if let Some(gid) = gid {
            a.valid |= SetAttr::GID;
            a.gid = gid;
        }
        self.set(a)
    }

    fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<()> {
        let mut a = SetAttr {
            valid: SetAttr::CTIME,
            ..SetAttr::default()
        };
        let mut one = |change, bit, set_bit, slot: &mut (u64, u64)| match change {
            TimeChange::Omit => {}
            TimeChange::Now => a.valid |= bit,
            TimeChange::Set(t) => {
                a.valid |= bit | set_bit;
                *slot = (t.sec as u64, u64::from(t.nsec));
            }
        };
        let (mut at, mut mt) = ((0, 0), (0, 0));
        one(atime, SetAttr::ATIME, SetAttr::ATIME_SET, &mut at);
        one(mtime, SetAttr::MTIME, SetAttr::MTIME_SET, &mut mt);
        a.atime = at;
        a.mtime = mt;
        self.set(a)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        let fid = self.io_fid(false)?;
        let n = self.read_server(fid, offset, buf)?;
        // Cached pages hold stores made through mappings that are not written back yet.
        self.cached_pages(offset, n, |page, in_page, at, len| {
            page.read(in_page, &mut buf[at..at + len]);
        });
        Ok(n)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize> {
        if self.is_dir() {
            return Err(Errno::EISDIR);
        }
        let end = offset.checked_add(data.len() as u64).ok_or(Errno::EFBIG)?;
        let fid = self.io_fid(true)?;
        self.write_server(fid, offset, data)?;
        self.cached_pages(offset, data.len(), |page, in_page, at, len| {
            page.write(in_page, &data[at..at + len]);
        });
        let mut a = self.attr.lock();
        a.size = a.size.max(end);
        Ok(data.len())
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        self.reload()?;
        let at = self.size();
        self.write_at(at, data)?;
        Ok(at + data.len() as u64)
    }

    fn truncate(&self, size: u64) -> Result<()> {
        self.set(SetAttr {
            valid: SetAttr::SIZE,
            size,
            ..SetAttr::default()
        })?;
        let page = PAGE_SIZE as u64;
        let mut pages = self.cache.lock();
        pages.retain(|&i, _| i < size.div_ceil(page));
        if !size.is_multiple_of(page) {
            if let Some(p) = pages.get(&(size / page)) {
                p.zero((size % page) as usize, PAGE_SIZE);
            }
        }
        Ok(())
    }

    fn lookup(&self, _cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        Ok(self.walk_child(name, true)?)
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        let client = &self.fs.client;
        let type_bits = node.file_type().mode_bits();
        let rdev = |d: u64| (major(d), minor(d));
        match &node {
            NewNode::Directory => client.mkdir(self.fid, name, mode, gid)?,
            NewNode::Symlink(target) => client.symlink(self.fid, name, target, gid)?,
            NewNode::CharDevice(d) | NewNode::BlockDevice(d) => {
                client.mknod(self.fid, name, type_bits | mode, rdev(*d), gid)?
            }
            NewNode::Regular | NewNode::Fifo | NewNode::Socket => {
                client.mknod(self.fid, name, type_bits | mode, (0, 0), gid)?
            }
        };
        let made = self.walk_child(name, true)?;
        let a = *made.attr.lock();
        if (a.uid != uid || a.gid != gid) && !matches!(node, NewNode::Symlink(_)) {
            // The server made it as the attaching user (root); the caller may be another.
            let _ = made.set(SetAttr {
                valid: SetAttr::UID | SetAttr::GID,
                uid,
                gid,
                ..SetAttr::default()
            });
        }
        Ok(made)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        let t = Self::downcast(target)
            .filter(|t| self.same_fs(t))
            .ok_or(Errno::EXDEV)?;
        self.fs.client.link(self.fid, t.fid, name)?;
        t.reload()
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let gone = self.lookup_quiet(name);
        self.fs.client.unlinkat(self.fid, name, 0)?;
        if let Some(g) = gone {
            let _ = g.reload();
            let mut a = g.attr.lock();
            a.nlink = a.nlink.saturating_sub(1);
        }
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        self.fs.client.unlinkat(self.fid, name, AT_REMOVEDIR)
    }

    fn rename(
        &self,
        name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: u32,
    ) -> Result<()> {
        let to = Self::downcast(new_dir)
            .filter(|d| self.same_fs(d))
            .ok_or(Errno::EXDEV)?;
        match flags {
            0 => {}
            // 9P has no flags on renameat: a name taken now is refused here.
            RENAME_NOREPLACE => {
                if to.lookup_quiet(new_name).is_some() {
                    return Err(Errno::EEXIST);
                }
            }
            _ => return Err(Errno::EINVAL),
        }
        self.fs.client.renameat(self.fid, name, to.fid, new_name)?;
        // A directory moved keeps its `..` right.
        if let Some(moved) = to.lookup_quiet(new_name) {
            if let Some(dir) = to.me() {
                *moved.parent.lock() = Some((dir, new_name.to_vec()));
            }
        }
        Ok(())
    }

    fn readdir(&self, _cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let ino = self.attr.lock().qid.path;
        match pos {
            0 => {
                return Ok(Some((
                    DirEntry {
                        ino,
                        kind: FileType::Directory,
                        name: b".".to_vec(),
                    },
                    1,
                )))
            }
            1 => {
                let up = self
                    .parent
                    .lock()
                    .as_ref()
                    .map_or(ino, |(p, _)| p.stat().ino);
                return Ok(Some((
                    DirEntry {
                        ino: up,
                        kind: FileType::Directory,
                        name: b"..".to_vec(),
                    },
                    2,
                )));
            }
            _ => {}
        }
        let mut listing = self.listing.lock();
        if pos == 2 || listing.is_empty() {
            *listing = self.list()?;
        }
        let Ok(i) = usize::try_from(pos - 2) else {
            return Ok(None);
        };
        Ok(listing.get(i).map(|e| (e.clone(), pos + 1)))
    }

    fn parent(&self) -> Parent {
        self.parent.lock().clone()
    }

    fn readlink(&self, _cx: &Caller) -> Result<Vec<u8>> {
        if self.attr.lock().mode & S_IFMT != crate::types::S_IFLNK {
            return Err(Errno::EINVAL);
        }
        self.fs.client.readlink(self.fid)
    }

    fn open(&self, _cx: &Caller, _flags: u32) -> Option<Result<Box<dyn crate::FileOps>>> {
        None
    }

    fn cached(&self) -> Option<&dyn CachedFile> {
        let regular = self.attr.lock().mode & S_IFMT == crate::types::S_IFREG;
        regular.then_some(self as &dyn CachedFile)
    }

    fn sync(&self, data_only: bool) -> Result<()> {
        match self.cached() {
            Some(c) => crate::cache::write_back(c, data_only),
            None => Ok(()),
        }
    }
}

impl P9Inode {
    /// The child `name`, if it exists (for bookkeeping around changes; errors are "no").
    fn lookup_quiet(&self, name: &[u8]) -> Option<Arc<P9Inode>> {
        self.walk_child(name, false).ok()
    }

    /// Walks to the child `name` and reads its attributes (the fid goes back to the server
    /// when that fails); `with_parent` records this directory and the name as its parent.
    fn walk_child(&self, name: &[u8], with_parent: bool) -> Result<Arc<P9Inode>> {
        let client = &self.fs.client;
        let (fid, _) = client.walk(self.fid, Some(name))?;
        let attr = match client.getattr(fid) {
            Ok(a) => a,
            Err(e) => {
                client.release(fid);
                return Err(e);
            }
        };
        let parent = match with_parent {
            true => self.me().map(|me| (me, name.to_vec())),
            false => None,
        };
        Ok(self.fs.intern(fid, attr, parent))
    }
}

impl CachedFile for P9Inode {
    fn page_cache(&self) -> &PageCache {
        &self.cache
    }

    fn cached_size(&self) -> u64 {
        self.size()
    }

    fn fill_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        let fid = self.io_fid(false)?;
        let mut buf = vec![0; PAGE_SIZE];
        let n = self.read_server(fid, index * PAGE_SIZE as u64, &mut buf)?;
        page.write(0, &buf[..n]);
        page.finish_fill(Ok(()));
        Ok(())
    }

    fn write_page(&self, index: u64, page: &Arc<Page>) -> Result<()> {
        let start = index * PAGE_SIZE as u64;
        let size = self.size();
        if start >= size {
            return Ok(());
        }
        let len = ((size - start) as usize).min(PAGE_SIZE);
        let mut buf = vec![0; len];
        page.read(0, &mut buf);
        let fid = self.io_fid(true)?;
        self.write_server(fid, start, &buf)
    }

    fn flush(&self) -> Result<()> {
        let fid = self.io_fid(false)?;
        self.fs.client.fsync(fid, false)
    }

    fn has_backing_store(&self) -> bool {
        true
    }
}
