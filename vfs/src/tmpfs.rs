//! tmpfs: files, directories, symlinks, FIFOs and device nodes kept in memory, with Linux
//! tmpfs's observable behaviour (sizes, `st_blocks`, link counts, timestamps, newest-first
//! directory order).
//!
//! Locking: every inode has one lock over its metadata and contents. Operations that change
//! the namespace (create, link, unlink, rmdir, rename) first take the filesystem's namespace
//! lock and may then lock several inodes; every other operation holds one inode lock at a
//! time. That makes any order of inode locks inside a namespace change deadlock-free.
//!
//! Directories look names up in a hash map and list entries through an ordered map of
//! creation sequence numbers, so lookups, inserts, removals and each readdir step are O(1) or
//! O(log n) however large the directory.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;
use spin::Mutex;

use crate::cache::{CachedFile, PageCache};
use crate::inode::{Inode, TimeChange};
use crate::page::{Page, PAGE_SIZE as PAGE};
use crate::pipe::Pipe;
use crate::types::*;
use crate::Errno;

/// Linux tmpfs counts each directory entry as 20 bytes of directory size (BOGO_DIRENT_SIZE),
/// and an empty directory as two.
const DIRENT_SIZE: u64 = 20;
/// Symlink targets longer than this take a page (SHORT_SYMLINK_LEN).
const SHORT_SYMLINK_LEN: usize = 128;
/// Readdir positions of entries count down from here (see [`TmpInode::readdir`]).
const POS_BASE: u64 = 1 << 62;

/// What one tmpfs instance shares among its inodes.
struct Shared {
    dev: u64,
    magic: u64,
    next_ino: AtomicU64,
    clock: Arc<dyn Clock>,
    /// Held by every namespace change (see the module comment).
    ns_lock: Mutex<()>,
    /// Pages of file data in use and allowed.
    used_pages: AtomicU64,
    max_pages: u64,
    /// Inodes in use and allowed.
    used_inodes: AtomicU64,
    max_inodes: u64,
}

impl Shared {
    fn now(&self) -> Timespec {
        self.clock.now()
    }

    fn charge_pages(&self, n: u64) -> Result<()> {
        let mut cur = self.used_pages.load(Ordering::Relaxed);
        loop {
            let new = cur.checked_add(n).filter(|&v| v <= self.max_pages);
            let Some(new) = new else {
                return Err(Errno::ENOSPC);
            };
            match self.used_pages.compare_exchange_weak(
                cur,
                new,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(v) => cur = v,
            }
        }
    }

    fn uncharge_pages(&self, n: u64) {
        self.used_pages.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Options of a tmpfs instance.
#[derive(Debug, Clone, Copy)]
pub struct TmpfsOptions {
    /// The statfs magic (tmpfs, or ramfs-like uses such as /dev).
    pub magic: u64,
    /// Largest total file data, in bytes.
    pub max_bytes: u64,
    /// Most inodes.
    pub max_inodes: u64,
    /// The root directory's permission bits.
    pub root_mode: u32,
}

impl Default for TmpfsOptions {
    fn default() -> Self {
        TmpfsOptions {
            magic: TMPFS_MAGIC,
            max_bytes: 1 << 30,
            max_inodes: 1 << 20,
            root_mode: 0o1777,
        }
    }
}

/// A new tmpfs; returns its root directory.
pub fn new_tmpfs(clock: Arc<dyn Clock>, opts: TmpfsOptions) -> Arc<dyn Inode> {
    let shared = Arc::new(Shared {
        dev: anon_dev(),
        magic: opts.magic,
        next_ino: AtomicU64::new(2),
        clock,
        ns_lock: Mutex::new(()),
        used_pages: AtomicU64::new(0),
        max_pages: opts.max_bytes / PAGE as u64,
        used_inodes: AtomicU64::new(1),
        max_inodes: opts.max_inodes,
    });
    let now = shared.now();
    let mut meta = Meta::new(S_IFDIR | (opts.root_mode & MODE_BITS), 0, 0, now);
    meta.nlink = 2;
    Arc::new_cyclic(|me: &Weak<TmpInode>| TmpInode {
        fs: shared.clone(),
        ino: 1,
        me: me.clone(),
        state: Mutex::new(State {
            meta,
            data: Data::Dir(Dir::new(Weak::new(), Vec::new())),
        }),
        cache: PageCache::new(),
    })
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    atime: Timespec,
    mtime: Timespec,
    ctime: Timespec,
    btime: Timespec,
    xattrs: crate::xattr::XattrMap,
}

impl Meta {
    /// relatime (Linux `relatime_need_update`): atime moves when it is not newer than mtime
    /// or ctime, or is a day old.
    fn accessed(&mut self, now: Timespec) {
        if self.atime <= self.mtime
            || self.atime <= self.ctime
            || now.sec.saturating_sub(self.atime.sec) >= 24 * 60 * 60
        {
            self.atime = now;
        }
    }

    fn new(mode: u32, uid: u32, gid: u32, now: Timespec) -> Meta {
        Meta {
            mode,
            uid,
            gid,
            nlink: 1,
            atime: now,
            mtime: now,
            ctime: now,
            btime: now,
            xattrs: crate::xattr::XattrMap::default(),
        }
    }
}

struct Slot {
    inode: Arc<TmpInode>,
    seq: u64,
    ino: u64,
    kind: FileType,
}

struct Dir {
    entries: HashMap<Vec<u8>, Slot>,
    /// Creation sequence → name, for readdir.
    order: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    parent: Weak<TmpInode>,
    name: Vec<u8>,
    removed: bool,
    subdirs: u64,
}

impl Dir {
    fn new(parent: Weak<TmpInode>, name: Vec<u8>) -> Dir {
        Dir {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 1,
            parent,
            name,
            removed: false,
            subdirs: 0,
        }
    }

    fn insert(&mut self, name: Vec<u8>, inode: Arc<TmpInode>, ino: u64, kind: FileType) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if kind == FileType::Directory {
            self.subdirs += 1;
        }
        self.order.insert(seq, name.clone());
        self.entries.insert(
            name,
            Slot {
                inode,
                seq,
                ino,
                kind,
            },
        );
    }

    fn remove(&mut self, name: &[u8]) -> Option<Slot> {
        let slot = self.entries.remove(name)?;
        self.order.remove(&slot.seq);
        if slot.kind == FileType::Directory {
            self.subdirs -= 1;
        }
        Some(slot)
    }
}

/// The pages of a file, in its inode's page cache.
type Pages = BTreeMap<u64, Arc<Page>>;

struct FileData {
    size: u64,
    /// Unnamed (O_TMPFILE) and may still be linked in.
    linkable: bool,
}

enum Data {
    File(FileData),
    Dir(Dir),
    Symlink(Vec<u8>),
    Fifo(Arc<Pipe>),
    Device(u64),
    Socket,
}

struct State {
    meta: Meta,
    data: Data,
}

/// A tmpfs inode.
pub struct TmpInode {
    fs: Arc<Shared>,
    ino: u64,
    me: Weak<TmpInode>,
    state: Mutex<State>,
    /// A regular file's data: tmpfs keeps it nowhere else. Locked after `state`.
    cache: PageCache,
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        if let Data::File(_) = &st.data {
            self.fs.uncharge_pages(self.cache.len() as u64);
        }
        self.fs.used_inodes.fetch_sub(1, Ordering::Relaxed);
    }
}

impl core::fmt::Debug for TmpInode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TmpInode").field("ino", &self.ino).finish()
    }
}

fn downcast(inode: &Arc<dyn Inode>) -> Option<&TmpInode> {
    inode.as_any().downcast_ref::<TmpInode>()
}

/// A zeroed page, or `ENOSPC` when memory is short.
fn new_page() -> Result<Arc<Page>> {
    Page::new_zeroed().map_err(|_| Errno::ENOSPC)
}

impl FileData {
    fn read(&self, pages: &Pages, offset: u64, buf: &mut [u8]) -> usize {
        if offset >= self.size {
            return 0;
        }
        let n = ((self.size - offset) as usize).min(buf.len());
        let mut done = 0;
        while done < n {
            let pos = offset + done as u64;
            let (page, within) = (pos / PAGE as u64, (pos % PAGE as u64) as usize);
            let len = (PAGE - within).min(n - done);
            match pages.get(&page) {
                Some(p) => p.read(within, &mut buf[done..done + len]),
                None => buf[done..done + len].fill(0),
            }
            done += len;
        }
        n
    }

    fn write(&mut self, pages: &mut Pages, fs: &Shared, offset: u64, data: &[u8]) -> Result<usize> {
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (page, within) = (pos / PAGE as u64, (pos % PAGE as u64) as usize);
            let len = (PAGE - within).min(data.len() - done);
            let p = match pages.get_mut(&page) {
                Some(p) => p,
                None => {
                    let charged = fs
                        .charge_pages(1)
                        .and_then(|()| new_page().inspect_err(|_| fs.uncharge_pages(1)));
                    match charged {
                        Ok(p) => pages.entry(page).or_insert(p),
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
            };
            p.write(within, &data[done..done + len]);
            done += len;
        }
        self.size = self.size.max(offset + done as u64);
        Ok(done)
    }

    /// Drops whole pages in `[from, to)` (page indexes) and returns how many.
    fn drop_pages(pages: &mut Pages, fs: &Shared, from: u64, to: u64) {
        let keys: Vec<u64> = pages.range(from..to).map(|(&k, _)| k).collect();
        for k in &keys {
            pages.remove(k);
        }
        fs.uncharge_pages(keys.len() as u64);
    }

    /// Zeroes bytes `[from, to)` that lie in allocated pages. Visits only the pages present,
    /// so a range over a huge sparse file costs nothing.
    fn zero_range(pages: &Pages, from: u64, to: u64) {
        if from >= to {
            return;
        }
        let page = PAGE as u64;
        for (&k, p) in pages.range(from / page..=(to - 1) / page) {
            let base = k * page;
            let start = from.saturating_sub(base) as usize;
            let end = (to - base).min(page) as usize;
            p.zero(start, end);
        }
    }

    /// How many pages in `[first, last)` (page indexes) are not allocated.
    fn missing_pages(pages: &Pages, first: u64, last: u64) -> u64 {
        (last - first) - pages.range(first..last).count() as u64
    }

    fn truncate(&mut self, pages: &mut Pages, fs: &Shared, size: u64) {
        if size < self.size {
            let first_gone = size.div_ceil(PAGE as u64);
            Self::drop_pages(pages, fs, first_gone, u64::MAX);
            // The tail of the last page must read as zeros if the file grows again.
            let end = first_gone * PAGE as u64;
            Self::zero_range(pages, size, end);
        }
        self.size = size;
    }
}

impl TmpInode {
    fn arc(&self) -> Arc<TmpInode> {
        self.me.upgrade().expect("a live inode has a live Arc")
    }

    fn new_child(&self, node: &NewNode, mode: u32, uid: u32, gid: u32) -> Result<Arc<TmpInode>> {
        let fs = &self.fs;
        if fs.used_inodes.fetch_add(1, Ordering::Relaxed) >= fs.max_inodes {
            fs.used_inodes.fetch_sub(1, Ordering::Relaxed);
            return Err(Errno::ENOSPC);
        }
        let now = fs.now();
        let kind = node.file_type();
        let mut meta = Meta::new(kind.mode_bits() | (mode & MODE_BITS), uid, gid, now);
        let data = match node {
            NewNode::Regular => Data::File(FileData {
                size: 0,
                linkable: false,
            }),
            NewNode::Directory => {
                meta.nlink = 2;
                Data::Dir(Dir::new(self.me.clone(), Vec::new()))
            }
            NewNode::Symlink(target) => {
                meta.mode = S_IFLNK | 0o777;
                Data::Symlink(target.clone())
            }
            NewNode::Fifo => Data::Fifo(Pipe::new()),
            NewNode::CharDevice(rdev) | NewNode::BlockDevice(rdev) => Data::Device(*rdev),
            NewNode::Socket => Data::Socket,
        };
        let ino = fs.next_ino.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new_cyclic(|me| TmpInode {
            fs: fs.clone(),
            ino,
            me: me.clone(),
            state: Mutex::new(State { meta, data }),
            cache: PageCache::new(),
        }))
    }

    fn touch_dir(meta: &mut Meta, now: Timespec) {
        meta.mtime = now;
        meta.ctime = now;
    }

    fn kind(&self) -> FileType {
        FileType::from_mode(self.state.lock().meta.mode).unwrap_or(FileType::Regular)
    }

    /// Whether `self` is `other` or one of its ancestors (for rename loops).
    fn is_ancestor_of(&self, other: &Arc<TmpInode>) -> bool {
        let mut cur = Some(other.clone());
        while let Some(c) = cur {
            if c.ino == self.ino {
                return true;
            }
            cur = match &c.state.lock().data {
                Data::Dir(d) => d.parent.upgrade(),
                _ => None,
            };
        }
        false
    }

    fn with_file<T>(
        &self,
        f: impl FnOnce(&mut Meta, &mut FileData, &mut Pages) -> Result<T>,
    ) -> Result<T> {
        let mut st = self.state.lock();
        let State { meta, data } = &mut *st;
        match data {
            Data::File(fd) => f(meta, fd, &mut self.cache.lock()),
            Data::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn with_dir<T>(&self, f: impl FnOnce(&mut Meta, &mut Dir) -> Result<T>) -> Result<T> {
        let mut st = self.state.lock();
        let State { meta, data } = &mut *st;
        match data {
            Data::Dir(d) => f(meta, d),
            _ => Err(Errno::ENOTDIR),
        }
    }
}

impl Inode for TmpInode {
    fn stat(&self) -> Stat {
        let st = self.state.lock();
        let m = &st.meta;
        let (size, blocks, rdev) = match &st.data {
            Data::File(f) => (f.size, self.cache.len() as u64 * 8, 0),
            Data::Dir(d) => (2 * DIRENT_SIZE + d.entries.len() as u64 * DIRENT_SIZE, 0, 0),
            Data::Symlink(t) => (
                t.len() as u64,
                if t.len() > SHORT_SYMLINK_LEN { 8 } else { 0 },
                0,
            ),
            Data::Device(rdev) => (0, 0, *rdev),
            Data::Fifo(_) | Data::Socket => (0, 0, 0),
        };
        Stat {
            dev: self.fs.dev,
            ino: self.ino,
            mode: m.mode,
            nlink: m.nlink,
            uid: m.uid,
            gid: m.gid,
            rdev,
            size,
            blksize: PAGE as u32,
            blocks,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
            btime: m.btime,
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> StatFs {
        let fs = &self.fs;
        let used = fs.used_pages.load(Ordering::Relaxed);
        let inodes = fs.used_inodes.load(Ordering::Relaxed);
        StatFs {
            fs_type: fs.magic,
            bsize: PAGE as u64,
            blocks: fs.max_pages,
            bfree: fs.max_pages.saturating_sub(used),
            bavail: fs.max_pages.saturating_sub(used),
            files: fs.max_inodes,
            ffree: fs.max_inodes.saturating_sub(inodes),
            fsid: 0,
            namelen: NAME_MAX as u64,
            frsize: PAGE as u64,
            flags: 0x20, // ST_RELATIME
        }
    }

    fn set_mode(&self, mode: u32) -> Result<()> {
        let now = self.fs.now();
        let mut st = self.state.lock();
        st.meta.mode = (st.meta.mode & S_IFMT) | (mode & MODE_BITS);
        st.meta.ctime = now;
        Ok(())
    }

    fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        let now = self.fs.now();
        let mut st = self.state.lock();
        if let Some(uid) = uid {
            st.meta.uid = uid;
        }
        if let Some(gid) = gid {
            st.meta.gid = gid;
        }
        st.meta.ctime = now;
        Ok(())
    }

    fn xattr(&self, op: crate::xattr::XattrOp<'_>) -> Result<Vec<u8>> {
        let changes = matches!(
            op,
            crate::xattr::XattrOp::Set { .. } | crate::xattr::XattrOp::Remove(_)
        );
        let now = self.fs.now();
        let mut st = self.state.lock();
        let r = st.meta.xattrs.apply(op)?;
        if changes {
            st.meta.ctime = now;
        }
        Ok(r)
    }

    fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<()> {
        // utimensat with both UTIME_OMIT changes nothing, not even ctime.
        if (atime, mtime) == (TimeChange::Omit, TimeChange::Omit) {
            return Ok(());
        }
        let now = self.fs.now();
        let mut st = self.state.lock();
        let pick = |c: TimeChange, old: Timespec| match c {
            TimeChange::Omit => old,
            TimeChange::Now => now,
            TimeChange::Set(t) => t,
        };
        st.meta.atime = pick(atime, st.meta.atime);
        st.meta.mtime = pick(mtime, st.meta.mtime);
        st.meta.ctime = now;
        Ok(())
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let now = self.fs.now();
        self.with_file(|meta, f, pages| {
            let n = f.read(pages, offset, buf);
            meta.accessed(now);
            Ok(n)
        })
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize> {
        let now = self.fs.now();
        let fs = self.fs.clone();
        self.with_file(|meta, f, pages| {
            let n = f.write(pages, &fs, offset, data)?;
            meta.mtime = now;
            meta.ctime = now;
            // Writing clears set-user-ID (and set-group-ID with group execute), as Linux does
            // for unprivileged writers; root keeps them, so nothing to do for root here.
            Ok(n)
        })
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        let now = self.fs.now();
        let fs = self.fs.clone();
        self.with_file(|meta, f, pages| {
            let end = f.size;
            // generic_write_check_limits: nothing past MAX_LFS_FILESIZE, a short write up to it.
            let room = (i64::MAX as u64).saturating_sub(end);
            if room == 0 {
                return Err(Errno::EFBIG);
            }
            let data = &data[..data.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
            let n = f.write(pages, &fs, end, data)?;
            meta.mtime = now;
            meta.ctime = now;
            Ok(end + n as u64)
        })
    }

    fn truncate(&self, size: u64) -> Result<()> {
        let now = self.fs.now();
        let fs = self.fs.clone();
        self.with_file(|meta, f, pages| {
            f.truncate(pages, &fs, size);
            meta.mtime = now;
            meta.ctime = now;
            Ok(())
        })
    }

    fn allocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        let now = self.fs.now();
        let fs = self.fs.clone();
        self.with_file(|meta, f, pages| {
            let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
            let (first, last) = (offset / PAGE as u64, end.div_ceil(PAGE as u64));
            fs.charge_pages(FileData::missing_pages(pages, first, last))?;
            for p in first..last {
                if let alloc::collections::btree_map::Entry::Vacant(v) = pages.entry(p) {
                    match new_page() {
                        Ok(page) => {
                            v.insert(page);
                        }
                        Err(e) => {
                            // The pages made so far stay allocated and charged.
                            fs.uncharge_pages(FileData::missing_pages(pages, p, last));
                            return Err(e);
                        }
                    }
                }
            }
            if !keep_size && end > f.size {
                f.size = end;
                meta.mtime = now;
            }
            meta.ctime = now;
            Ok(())
        })
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        let now = self.fs.now();
        let fs = self.fs.clone();
        self.with_file(|meta, _, pages| {
            // Pages past the end (from allocate with keep_size) are punched too.
            let end = offset.saturating_add(len);
            let first_full = offset.div_ceil(PAGE as u64);
            let last_full = end / PAGE as u64;
            if first_full < last_full {
                FileData::drop_pages(pages, &fs, first_full, last_full);
            }
            FileData::zero_range(pages, offset, end);
            meta.mtime = now;
            meta.ctime = now;
            Ok(())
        })
    }

    fn seek_data(&self, offset: u64, hole: bool) -> Option<Result<u64>> {
        let st = self.state.lock();
        let Data::File(f) = &st.data else {
            return None;
        };
        let page = offset / PAGE as u64;
        let pages = self.cache.lock();
        Some(if hole {
            // The first page from `page` on that is not allocated, or the end of the file.
            let mut p = page;
            for (&k, _) in pages.range(page..) {
                if k != p {
                    break;
                }
                p += 1;
            }
            Ok((p * PAGE as u64).max(offset).min(f.size))
        } else {
            match pages.range(page..).next() {
                Some((&k, _)) if k * (PAGE as u64) < f.size => Ok((k * PAGE as u64).max(offset)),
                _ => Err(Errno::ENXIO),
            }
        })
    }

    fn lookup(&self, _cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let st = self.state.lock();
        match &st.data {
            Data::Dir(d) => match d.entries.get(name) {
                Some(slot) => Ok(slot.inode.clone() as Arc<dyn Inode>),
                None => Err(Errno::ENOENT),
            },
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        let _ns = self.fs.ns_lock.lock();
        let now = self.fs.now();
        // Fail early without allocating.
        self.with_dir(|_, d| {
            if d.removed {
                Err(Errno::ENOENT)
            } else if d.entries.contains_key(name) {
                Err(Errno::EEXIST)
            } else {
                Ok(())
            }
        })?;
        // A set-group-ID directory passes its group (and, to subdirectories, the bit) on.
        let (dir_mode, dir_gid) = {
            let st = self.state.lock();
            (st.meta.mode, st.meta.gid)
        };
        let (gid, mode) = if dir_mode & S_ISGID != 0 {
            let m = if matches!(node, NewNode::Directory) {
                mode | S_ISGID
            } else {
                mode
            };
            (dir_gid, m)
        } else {
            (gid, mode)
        };
        let kind = node.file_type();
        let child = self.new_child(&node, mode, uid, gid)?;
        if let Data::Dir(d) = &mut child.state.lock().data {
            d.name = name.to_vec();
        }
        let ino = child.ino;
        self.with_dir(|meta, d| {
            d.insert(name.to_vec(), child.clone(), ino, kind);
            if kind == FileType::Directory {
                meta.nlink += 1;
            }
            Self::touch_dir(meta, now);
            Ok(())
        })?;
        Ok(child)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        let Some(t) = downcast(target).filter(|t| Arc::ptr_eq(&t.fs, &self.fs)) else {
            return Err(Errno::EXDEV);
        };
        let _ns = self.fs.ns_lock.lock();
        let now = self.fs.now();
        let t = t.arc();
        // Linux's order (vfs_link): the new name first, then the target.
        self.with_dir(|_, d| {
            if d.entries.contains_key(name) {
                Err(Errno::EEXIST)
            } else if d.removed {
                Err(Errno::ENOENT)
            } else {
                Ok(())
            }
        })?;
        let kind = {
            let ts = t.state.lock();
            let kind = FileType::from_mode(ts.meta.mode).unwrap_or(FileType::Regular);
            if kind == FileType::Directory {
                return Err(Errno::EPERM);
            }
            let linkable = matches!(&ts.data, Data::File(f) if f.linkable);
            if ts.meta.nlink == 0 && !linkable {
                return Err(Errno::ENOENT);
            }
            kind
        };
        self.with_dir(|meta, d| {
            d.insert(name.to_vec(), t.clone(), t.ino, kind);
            Self::touch_dir(meta, now);
            Ok(())
        })?;
        let mut ts = t.state.lock();
        // An O_TMPFILE file is linkable once, and only a link that succeeded uses that up.
        if let Data::File(f) = &mut ts.data {
            f.linkable = false;
        }
        ts.meta.nlink += 1;
        ts.meta.ctime = now;
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let _ns = self.fs.ns_lock.lock();
        let now = self.fs.now();
        let child = self.with_dir(|meta, d| {
            match d.entries.get(name) {
                None => return Err(Errno::ENOENT),
                Some(s) if s.kind == FileType::Directory => return Err(Errno::EISDIR),
                Some(_) => {}
            }
            let slot = d.remove(name).ok_or(Errno::ENOENT)?;
            Self::touch_dir(meta, now);
            Ok(slot.inode)
        })?;
        let mut cs = child.state.lock();
        cs.meta.nlink = cs.meta.nlink.saturating_sub(1);
        cs.meta.ctime = now;
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        let _ns = self.fs.ns_lock.lock();
        let now = self.fs.now();
        let child = self.with_dir(|_, d| match d.entries.get(name) {
            None => Err(Errno::ENOENT),
            Some(s) if s.kind != FileType::Directory => Err(Errno::ENOTDIR),
            Some(s) => Ok(s.inode.clone()),
        })?;
        child.with_dir(|meta, d| {
            if !d.entries.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            d.removed = true;
            meta.nlink = 0;
            meta.ctime = now;
            Ok(())
        })?;
        self.with_dir(|meta, d| {
            d.remove(name);
            meta.nlink -= 1;
            Self::touch_dir(meta, now);
            Ok(())
        })
    }

    fn rename(
        &self,
        name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: u32,
    ) -> Result<()> {
        let Some(nd) = downcast(new_dir).filter(|d| Arc::ptr_eq(&d.fs, &self.fs)) else {
            return Err(Errno::EXDEV);
        };
        let nd = nd.arc();
        let _ns = self.fs.ns_lock.lock();
        let now = self.fs.now();
        let same_dir = nd.ino == self.ino;
        let get = |dir: &TmpInode, n: &[u8]| -> Result<Option<(Arc<TmpInode>, FileType)>> {
            dir.with_dir(|_, d| {
                if d.removed {
                    return Err(Errno::ENOENT);
                }
                Ok(d.entries.get(n).map(|s| (s.inode.clone(), s.kind)))
            })
        };
        let (src, src_kind) = get(self, name)?.ok_or(Errno::ENOENT)?;
        let dst = get(&nd, new_name)?;
        if flags & RENAME_EXCHANGE != 0 {
            let (dst, dst_kind) = dst.ok_or(Errno::ENOENT)?;
            if Arc::ptr_eq(&src, &dst) {
                return Ok(());
            }
            // Neither may be an ancestor of the other's new place.
            if src_kind == FileType::Directory && src.is_ancestor_of(&nd) {
                return Err(Errno::EINVAL);
            }
            if dst_kind == FileType::Directory && dst.is_ancestor_of(&self.arc()) {
                return Err(Errno::EINVAL);
            }
            self.with_dir(|meta, d| {
                d.remove(name);
                d.insert(name.to_vec(), dst.clone(), dst.ino, dst_kind);
                Self::touch_dir(meta, now);
                Ok(())
            })?;
            nd.with_dir(|meta, d| {
                d.remove(new_name);
                d.insert(new_name.to_vec(), src.clone(), src.ino, src_kind);
                Self::touch_dir(meta, now);
                Ok(())
            })?;
            if !same_dir {
                let delta = |k: FileType| u64::from(k == FileType::Directory);
                let (s, t) = (delta(src_kind), delta(dst_kind));
                self.state.lock().meta.nlink += t;
                self.state.lock().meta.nlink -= s;
                nd.state.lock().meta.nlink += s;
                nd.state.lock().meta.nlink -= t;
            }
            for (inode, parent, n) in [(&src, &nd, new_name), (&dst, &self.arc(), name)] {
                let mut st = inode.state.lock();
                st.meta.ctime = now;
                if let Data::Dir(d) = &mut st.data {
                    d.parent = Arc::downgrade(parent);
                    d.name = n.to_vec();
                }
            }
            return Ok(());
        }
        // The checks in Linux's order (do_renameat2, then vfs_rename): an existing target with
        // RENAME_NOREPLACE, a directory moved below itself, a target that is an ancestor of the
        // source, renaming onto the same inode (a no-op), then the kinds.
        if dst.is_some() && flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if src_kind == FileType::Directory && src.is_ancestor_of(&nd) {
            return Err(Errno::EINVAL);
        }
        if let Some((dst, dst_kind)) = &dst {
            if *dst_kind == FileType::Directory && dst.is_ancestor_of(&self.arc()) {
                return Err(Errno::ENOTEMPTY);
            }
            if Arc::ptr_eq(&src, dst) {
                return Ok(());
            }
            match (
                src_kind == FileType::Directory,
                *dst_kind == FileType::Directory,
            ) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) => {
                    let empty = dst.with_dir(|_, d| Ok(d.entries.is_empty()))?;
                    if !empty {
                        return Err(Errno::ENOTEMPTY);
                    }
                }
                (false, false) => {}
            }
        }
        // Remove the replaced target.
        if let Some((dst, dst_kind)) = dst {
            nd.with_dir(|meta, d| {
                d.remove(new_name);
                if dst_kind == FileType::Directory {
                    meta.nlink -= 1;
                }
                Ok(())
            })?;
            let mut ds = dst.state.lock();
            ds.meta.ctime = now;
            if let Data::Dir(d) = &mut ds.data {
                d.removed = true;
                ds.meta.nlink = 0;
            } else {
                ds.meta.nlink = ds.meta.nlink.saturating_sub(1);
            }
        }
        self.with_dir(|meta, d| {
            d.remove(name);
            if src_kind == FileType::Directory {
                meta.nlink -= 1;
            }
            Self::touch_dir(meta, now);
            Ok(())
        })?;
        nd.with_dir(|meta, d| {
            d.insert(new_name.to_vec(), src.clone(), src.ino, src_kind);
            if src_kind == FileType::Directory {
                meta.nlink += 1;
            }
            Self::touch_dir(meta, now);
            Ok(())
        })?;
        let mut ss = src.state.lock();
        ss.meta.ctime = now;
        if let Data::Dir(d) = &mut ss.data {
            d.parent = Arc::downgrade(&nd);
            d.name = new_name.to_vec();
        }
        Ok(())
    }

    fn readdir(&self, _cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        let now = self.fs.now();
        let mut st = self.state.lock();
        let State { meta, data } = &mut *st;
        let Data::Dir(d) = data else {
            return Err(Errno::ENOTDIR);
        };
        meta.accessed(now);
        match pos {
            0 => {
                return Ok(Some((
                    DirEntry {
                        ino: self.ino,
                        kind: FileType::Directory,
                        name: b".".to_vec(),
                    },
                    1,
                )))
            }
            1 => {
                let ino = d.parent.upgrade().map_or(self.ino, |p| p.ino);
                return Ok(Some((
                    DirEntry {
                        ino,
                        kind: FileType::Directory,
                        name: b"..".to_vec(),
                    },
                    2,
                )));
            }
            _ => {}
        }
        // Entries come newest first, as in Linux tmpfs: position p (>= 2) means "entries with
        // a sequence number below POS_BASE + 2 - p", so the position after entry s is
        // POS_BASE + 2 - s. Removals and additions during a listing keep positions valid.
        if pos > POS_BASE + 1 {
            return Ok(None);
        }
        let bound = POS_BASE + 2 - pos;
        let Some((&seq, name)) = d.order.range(..bound).next_back() else {
            return Ok(None);
        };
        let slot = &d.entries[name];
        Ok(Some((
            DirEntry {
                ino: slot.ino,
                kind: slot.kind,
                name: name.clone(),
            },
            POS_BASE + 2 - seq,
        )))
    }

    fn parent(&self) -> Option<(Arc<dyn Inode>, Vec<u8>)> {
        let st = self.state.lock();
        match &st.data {
            Data::Dir(d) => d
                .parent
                .upgrade()
                .map(|p| (p as Arc<dyn Inode>, d.name.clone())),
            _ => None,
        }
    }

    fn is_removed(&self) -> bool {
        matches!(&self.state.lock().data, Data::Dir(d) if d.removed)
    }

    fn readlink(&self, _cx: &Caller) -> Result<Vec<u8>> {
        match &self.state.lock().data {
            Data::Symlink(t) => Ok(t.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn fifo(&self) -> Option<Arc<Pipe>> {
        match &self.state.lock().data {
            Data::Fifo(p) => Some(p.clone()),
            _ => None,
        }
    }

    fn cached(&self) -> Option<&dyn CachedFile> {
        matches!(self.state.lock().data, Data::File(_)).then_some(self as &dyn CachedFile)
    }
}

/// tmpfs keeps file data only in the cache: a page that is not there is a hole, which a
/// mapping fills with a zeroed page charged to the filesystem; nothing is ever written back.
impl CachedFile for TmpInode {
    fn page_cache(&self) -> &PageCache {
        &self.cache
    }

    fn cached_size(&self) -> u64 {
        match &self.state.lock().data {
            Data::File(f) => f.size,
            _ => 0,
        }
    }

    fn fill_page(&self, _index: u64, page: &Arc<Page>) -> Result<()> {
        self.fs.charge_pages(1)?;
        page.finish_fill(Ok(()));
        Ok(())
    }

    fn write_page(&self, _index: u64, _page: &Arc<Page>) -> Result<()> {
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }

    fn has_backing_store(&self) -> bool {
        false
    }
}

/// Creates an unnamed regular file on the filesystem of directory `dir` (`O_TMPFILE`): link
/// count 0, linkable once with `linkat` unless opened with `O_EXCL`. Works on tmpfs and on an
/// overlay (whose upper layer is a tmpfs).
pub fn create_unnamed(
    dir: &Arc<dyn Inode>,
    mode: u32,
    uid: u32,
    gid: u32,
    linkable: bool,
) -> Result<Arc<dyn Inode>> {
    let Some(d) = downcast(dir) else {
        return crate::overlay::create_unnamed(dir, mode, uid, gid, linkable)
            .unwrap_or(Err(Errno::EOPNOTSUPP));
    };
    if d.kind() != FileType::Directory {
        return Err(Errno::ENOTDIR);
    }
    let child = d.new_child(&NewNode::Regular, mode, uid, gid)?;
    {
        let mut st = child.state.lock();
        st.meta.nlink = 0;
        if let Data::File(f) = &mut st.data {
            f.linkable = linkable;
        }
    }
    Ok(child)
}
