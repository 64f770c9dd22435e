//! The overlay's inode: one object of the merged filesystem, forwarding reads to the layer
//! that holds it (upper once copied up, else lower) and copying it up before any change.

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, Ordering};

use spin::{Mutex, Once};

use super::{downcast, Fs, OVERLAYFS_SUPER_MAGIC, UPPER_INO_TAG};
use crate::cache::CachedFile;
use crate::file::FileOps;
use crate::inode::{Inode, TimeChange};
use crate::pipe::Pipe;
use crate::types::*;
use crate::xattr::XattrOp;
use crate::Errno;

/// An object of the overlay.
pub struct Node {
    pub(super) fs: Arc<Fs>,
    me: Weak<Node>,
    /// What stat reports: the lower inode number if the object came from the lower layer
    /// (so it stays the same across copy-up), else the upper one tagged.
    pub(super) ino: u64,
    pub(super) kind: FileType,
    /// The lower object (for a directory, the lower directory merged into it).
    pub(super) lower: Option<Arc<dyn Inode>>,
    /// The upper object, once there is one; it never changes after.
    upper: Once<Arc<dyn Inode>>,
    /// For a directory, its parent and name; for anything else the name it was last found
    /// under (where copy-up puts it), `None` once that name is gone.
    pub(super) place: Mutex<Option<(Arc<Node>, Vec<u8>)>>,
    /// A directory that was removed.
    pub(super) removed: AtomicBool,
    /// A merged directory's link count (2 + subdirectories), counted when first asked.
    pub(super) nlink: Mutex<Option<u64>>,
}

impl core::fmt::Debug for Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("overlay::Node")
            .field("ino", &self.ino)
            .field("upper", &self.upper.get().is_some())
            .field("lower", &self.lower.is_some())
            .finish()
    }
}

impl Node {
    pub(super) fn new(
        fs: &Arc<Fs>,
        upper: Option<Arc<dyn Inode>>,
        lower: Option<Arc<dyn Inode>>,
        place: Option<(Arc<Node>, Vec<u8>)>,
    ) -> Arc<Node> {
        let (ino, st) = match (&lower, &upper) {
            (Some(l), _) => {
                let st = l.stat();
                (st.ino, st)
            }
            (None, Some(u)) => {
                let st = u.stat();
                (st.ino | UPPER_INO_TAG, st)
            }
            (None, None) => unreachable!("a node stands for an object of some layer"),
        };
        let once = Once::new();
        if let Some(u) = upper {
            once.call_once(|| u);
        }
        Arc::new_cyclic(|me| Node {
            fs: fs.clone(),
            me: me.clone(),
            ino,
            kind: st.file_type(),
            lower,
            upper: once,
            place: Mutex::new(place),
            removed: AtomicBool::new(false),
            nlink: Mutex::new(None),
        })
    }

    pub(super) fn arc(&self) -> Arc<Node> {
        self.me.upgrade().expect("a live node has a live Arc")
    }

    /// The upper object, if copied up.
    pub(super) fn upper(&self) -> Option<&Arc<dyn Inode>> {
        self.upper.get()
    }

    /// Records the upper object made by copy-up.
    pub(super) fn set_upper(&self, upper: Arc<dyn Inode>) {
        self.upper.call_once(|| upper);
    }

    /// The layer object reads go to.
    fn real(&self) -> &Arc<dyn Inode> {
        match (self.upper.get(), &self.lower) {
            (Some(u), _) => u,
            (None, Some(l)) => l,
            (None, None) => unreachable!("a node stands for an object of some layer"),
        }
    }

    fn is_dir(&self) -> bool {
        self.kind == FileType::Directory
    }

    /// The upper object, copying the node up first if needed.
    pub(super) fn ensure_upper(&self, with_data: bool) -> Result<Arc<dyn Inode>> {
        if let Some(u) = self.upper() {
            return Ok(u.clone());
        }
        if with_data {
            self.stage()?;
        }
        let mut t = self.fs.lock();
        self.copy_up(&mut t, with_data)
    }

    /// Forgets the cached link count (the directory's subdirectories changed).
    pub(super) fn dirs_changed(&self) {
        *self.nlink.lock() = None;
    }
}

impl Inode for Node {
    fn stat(&self) -> Stat {
        let mut st = self.real().stat();
        st.dev = self.fs.dev;
        st.ino = self.ino;
        match (self.upper(), &self.lower) {
            (Some(_), Some(_)) if self.is_dir() => {
                let cached = *self.nlink.lock();
                st.nlink = match cached {
                    Some(n) => n,
                    None => {
                        let (n, exact) = self.count_nlink();
                        if exact {
                            *self.nlink.lock() = Some(n);
                        }
                        n
                    }
                };
            }
            (Some(_), Some(l)) => {
                let t = self.fs.lock();
                if let Some(i) = t.index.get(&l.stat().ino) {
                    // Less the index's own link.
                    st.nlink = st.nlink.saturating_sub(1) + i.lower_names;
                }
            }
            _ => {}
        }
        st
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: OVERLAYFS_SUPER_MAGIC,
            ..self.fs.upper_root.statfs()
        }
    }

    fn set_mode(&self, mode: u32) -> Result<()> {
        self.ensure_upper(true)?.set_mode(mode)
    }

    /// Read from the layer that holds the object; a change copies it up first (overlayfs's
    /// `ovl_xattr_set`), except the removal of a name it does not have (`ENODATA`).
    fn xattr(&self, op: XattrOp<'_>) -> Result<Vec<u8>> {
        let read = |op| match self.real().xattr(op) {
            // A lower layer that keeps no xattrs (the EROFS image) has none to show.
            Err(Errno::EOPNOTSUPP) if self.upper().is_none() => match op {
                XattrOp::List => Ok(Vec::new()),
                _ => Err(Errno::ENODATA),
            },
            r => r,
        };
        match op {
            XattrOp::Get(_) | XattrOp::List => read(op),
            XattrOp::Remove(name) if self.upper().is_none() => {
                read(XattrOp::Get(name))?;
                self.ensure_upper(true)?.xattr(op)
            }
            XattrOp::Set { .. } | XattrOp::Remove(_) => self.ensure_upper(true)?.xattr(op),
        }
    }

    fn set_owner(&self, uid: Option<u32>, gid: Option<u32>) -> Result<()> {
        self.ensure_upper(true)?.set_owner(uid, gid)
    }

    fn set_times(&self, atime: TimeChange, mtime: TimeChange) -> Result<()> {
        self.ensure_upper(true)?.set_times(atime, mtime)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.real().read_at(offset, buf)
    }

    fn write_at(&self, offset: u64, data: &[u8]) -> Result<usize> {
        self.ensure_upper(true)?.write_at(offset, data)
    }

    fn append(&self, data: &[u8]) -> Result<u64> {
        self.ensure_upper(true)?.append(data)
    }

    fn truncate(&self, size: u64) -> Result<()> {
        // Truncating to nothing needs none of the old data.
        self.ensure_upper(size != 0)?.truncate(size)
    }

    fn allocate(&self, offset: u64, len: u64, keep_size: bool) -> Result<()> {
        self.ensure_upper(true)?.allocate(offset, len, keep_size)
    }

    fn punch_hole(&self, offset: u64, len: u64) -> Result<()> {
        self.ensure_upper(true)?.punch_hole(offset, len)
    }

    fn seek_data(&self, offset: u64, hole: bool) -> Option<Result<u64>> {
        self.real().seek_data(offset, hole)
    }

    fn lookup(&self, cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let _ = cx; // The overlay looks into its layers as itself.
        let found = self.find(None, name)?;
        let mut t = self.fs.lock();
        Ok(self.arc().node_of(&mut t, &found, name)?)
    }

    fn create(
        &self,
        name: &[u8],
        node: NewNode,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.arc().create_in(name, node, mode, uid, gid)?)
    }

    fn link(&self, name: &[u8], target: &Arc<dyn Inode>) -> Result<()> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let t = downcast(target)
            .filter(|t| Arc::ptr_eq(&t.fs, &self.fs))
            .ok_or(Errno::EXDEV)?;
        self.arc().link_in(name, &t)
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.arc().remove_in(name, false)
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.arc().remove_in(name, true)
    }

    fn rename(
        &self,
        name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: u32,
    ) -> Result<()> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let nd = downcast(new_dir)
            .filter(|d| Arc::ptr_eq(&d.fs, &self.fs))
            .ok_or(Errno::EXDEV)?;
        self.arc().rename_in(name, &nd, new_name, flags)
    }

    fn readdir(&self, cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.merged_entry(cx, pos)
    }

    fn parent(&self) -> Option<(Arc<dyn Inode>, Vec<u8>)> {
        if !self.is_dir() {
            return None;
        }
        self.place
            .lock()
            .as_ref()
            .map(|(p, n)| (p.clone() as Arc<dyn Inode>, n.clone()))
    }

    fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    fn readlink(&self, cx: &Caller) -> Result<Vec<u8>> {
        self.real().readlink(cx)
    }

    fn open(&self, cx: &Caller, flags: u32) -> Option<Result<Box<dyn FileOps>>> {
        use crate::types::oflags::*;
        let writes = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0;
        let copy = match self.kind {
            // The data is needed unless the open truncates it away.
            // (O_TRUNC truncates whatever the access mode.)
            FileType::Regular if writes && flags & O_PATH == 0 => Some(flags & O_TRUNC == 0),
            // A lower filesystem with no pipes of its own (an image) cannot serve a FIFO.
            FileType::Fifo if self.upper().is_none() && self.real().fifo().is_none() => Some(false),
            _ => None,
        };
        if let Some(with_data) = copy {
            if let Err(e) = self.ensure_upper(with_data) {
                return Some(Err(e));
            }
        }
        self.real().open(cx, flags)
    }

    fn fifo(&self) -> Option<Arc<Pipe>> {
        self.real().fifo()
    }

    fn cached(&self) -> Option<&dyn CachedFile> {
        self.real().cached()
    }

    fn sync(&self, data_only: bool) -> Result<()> {
        match self.upper() {
            Some(u) => u.sync(data_only),
            None => Ok(()),
        }
    }
}
