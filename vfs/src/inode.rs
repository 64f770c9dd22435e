//! The object every filesystem provides: an inode, behind `Arc<dyn Inode>`.
//!
//! Each operation defaults to the errno Linux gives when an inode of the wrong kind is asked
//! for it (a directory operation on a file is `ENOTDIR`, reading a directory is `EISDIR`), so a
//! filesystem implements only what its inodes can do. Name arguments are single components,
//! already checked by the path walk (non-empty, no `/`, at most NAME_MAX, not `.` or `..`).

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use crate::file::FileOps;
use crate::types::{Caller, DirEntry, NewNode, Result, Stat, StatFs, Timespec};
use crate::Errno;

/// A time change for [`Inode::set_times`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeChange {
    /// Leave it (UTIME_OMIT).
    Omit,
    /// The current time (UTIME_NOW).
    Now,
    /// This time.
    Set(Timespec),
}

/// A filesystem object.
pub trait Inode: Send + Sync + 'static {
    /// Everything `stat` reports.
    fn stat(&self) -> Stat;

    /// For downcasting to the filesystem's own type (rename and link across directories).
    fn as_any(&self) -> &dyn Any;

    /// `statfs` of the filesystem this inode is on.
    fn statfs(&self) -> StatFs {
        StatFs::default()
    }

    /// Extended attributes (`crate::xattr`): names already checked by the caller. A
    /// filesystem without them says `EOPNOTSUPP`, as Linux's without xattr handlers.
    fn xattr(&self, _op: crate::xattr::XattrOp<'_>) -> Result<Vec<u8>> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Sets the permission bits (`mode & 0o7777`); the type bits stay.
    fn set_mode(&self, _mode: u32) -> Result<()> {
        Err(Errno::EPERM)
    }

    /// Changes the owner and/or group.
    fn set_owner(&self, _uid: Option<u32>, _gid: Option<u32>) -> Result<()> {
        Err(Errno::EPERM)
    }

    /// Changes access and modification times; ctime becomes now.
    fn set_times(&self, _atime: TimeChange, _mtime: TimeChange) -> Result<()> {
        Err(Errno::EPERM)
    }

    // ---- regular files ----

    /// Reads at `offset`; 0 at or past the end.
    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(self.wrong_kind_io())
    }

    /// Writes at `offset`, growing the file as needed.
    fn write_at(&self, _offset: u64, _data: &[u8]) -> Result<usize> {
        Err(self.wrong_kind_io())
    }

    /// Appends `data` atomically; returns the new end of file.
    fn append(&self, _data: &[u8]) -> Result<u64> {
        Err(self.wrong_kind_io())
    }

    /// Sets the size (truncate or extend with zeros).
    fn truncate(&self, _size: u64) -> Result<()> {
        Err(self.wrong_kind_io())
    }

    /// `fallocate`: makes `[offset, offset+len)` allocated; grows the size unless `keep_size`.
    fn allocate(&self, _offset: u64, _len: u64, _keep_size: bool) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// `fallocate(FALLOC_FL_PUNCH_HOLE)`: `[offset, offset+len)` reads as zeros again.
    fn punch_hole(&self, _offset: u64, _len: u64) -> Result<()> {
        Err(Errno::EOPNOTSUPP)
    }

    /// SEEK_DATA (`hole` false) or SEEK_HOLE from `offset` (below the size): the next data
    /// or hole offset, `ENXIO` if there is no more data. `None`: no holes are tracked.
    fn seek_data(&self, _offset: u64, _hole: bool) -> Option<Result<u64>> {
        None
    }

    // ---- directories ----

    /// The child called `name`.
    fn lookup(&self, _cx: &Caller, _name: &[u8]) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Creates a child; `EEXIST` if the name is taken. `mode` holds the permission bits
    /// (umask already applied), `uid`/`gid` the owner.
    fn create(
        &self,
        _name: &[u8],
        _node: NewNode,
        _mode: u32,
        _uid: u32,
        _gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        Err(self.wrong_kind_dir())
    }

    /// Adds a hard link `name` to `target`.
    fn link(&self, _name: &[u8], _target: &Arc<dyn Inode>) -> Result<()> {
        Err(self.wrong_kind_dir())
    }

    /// Removes the non-directory `name` (`EISDIR` for a directory).
    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(self.wrong_kind_dir())
    }

    /// Removes the empty directory `name` (`ENOTDIR` for anything else, `ENOTEMPTY`).
    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(self.wrong_kind_dir())
    }

    /// Moves `name` to `new_dir`/`new_name` with `RENAME_*` flags; `EXDEV` if `new_dir` is on
    /// another filesystem.
    fn rename(
        &self,
        _name: &[u8],
        _new_dir: &Arc<dyn Inode>,
        _new_name: &[u8],
        _flags: u32,
    ) -> Result<()> {
        Err(self.wrong_kind_dir())
    }

    /// The entry at directory position `pos` and the position after it, or `None` at the end.
    /// Positions 0 and 1 are `.` and `..`.
    fn readdir(&self, _cx: &Caller, _pos: u64) -> Result<Option<(DirEntry, u64)>> {
        Err(Errno::ENOTDIR)
    }

    /// A directory's parent on the same filesystem (`None` at the filesystem's root) and this
    /// directory's name in it, for `..` and `getcwd`.
    fn parent(&self) -> Option<(Arc<dyn Inode>, Vec<u8>)> {
        None
    }

    /// Whether this directory was removed (getcwd then says "(unreachable)"/ENOENT).
    fn is_removed(&self) -> bool {
        false
    }

    // ---- symlinks ----

    /// A symlink's target text (`EINVAL` for anything else).
    fn readlink(&self, _cx: &Caller) -> Result<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// For magic links only (`/proc/self/fd/N`, `/proc/self/exe`): the object the link
    /// jumps to, whatever its text says (it may be deleted, or a pipe).
    fn follow_magic(&self, _cx: &Caller) -> Option<Result<Arc<dyn Inode>>> {
        None
    }

    // ---- opening ----

    /// Filesystems with their own kind of open file (generated /proc files, device nodes the
    /// filesystem itself serves) return it here; `None` means the VFS's generic open for the
    /// inode's type.
    fn open(&self, _cx: &Caller, _flags: u32) -> Option<Result<Box<dyn FileOps>>> {
        None
    }

    /// For FIFOs: the pipe that all opens of this FIFO share.
    fn fifo(&self) -> Option<Arc<crate::pipe::Pipe>> {
        None
    }

    // ---- the page cache ----

    /// A regular file's page cache and the filesystem's way of filling and writing back its
    /// pages: mmap, exec and fsync reach the file's data through it. `None`: the file
    /// cannot be mapped (mmap says ENODEV) and has nothing to write back.
    fn cached(&self) -> Option<&dyn crate::cache::CachedFile> {
        None
    }

    /// fsync (`data_only`: fdatasync): writes the file's dirty pages back through its
    /// filesystem and flushes the device. `EIO` when the device fails.
    fn sync(&self, data_only: bool) -> Result<()> {
        match self.cached() {
            Some(c) => crate::cache::write_back(c, data_only),
            None => Ok(()),
        }
    }

    /// The errno for a file operation on this kind of inode.
    fn wrong_kind_io(&self) -> Errno {
        if self.stat().is_dir() {
            Errno::EISDIR
        } else {
            Errno::EINVAL
        }
    }

    /// The errno for a directory operation on this inode.
    fn wrong_kind_dir(&self) -> Errno {
        if self.stat().is_dir() {
            Errno::EPERM
        } else {
            Errno::ENOTDIR
        }
    }
}

/// Whether two inode handles are the same object.
pub fn same_inode(a: &Arc<dyn Inode>, b: &Arc<dyn Inode>) -> bool {
    if core::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)) {
        return true;
    }
    let (sa, sb) = (a.stat(), b.stat());
    sa.dev == sb.dev && sa.ino == sb.ino
}
