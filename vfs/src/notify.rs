//! File-system change notification, Linux's fsnotify: what happened to which inode, reported
//! by the VFS and the path calls for every filesystem alike.
//!
//! The VFS and the syscall layer call the functions here after a change succeeds (the names
//! follow `include/linux/fsnotify.h`); they turn it into events on the inode itself and, for
//! the events Linux also reports to a watching parent directory, on the directory with the
//! child's name. One [`Listener`] (inotify, in the syscall crate) receives them. Until it says
//! it is [`Listener::active`] (something is watched), nothing is looked at: the cost is one
//! load per call.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::inode::Inode;

/// Event bits, as `<sys/inotify.h>` numbers them (fsnotify's `FS_*` share the values).
pub mod mask {
    pub const IN_ACCESS: u32 = 0x1;
    pub const IN_MODIFY: u32 = 0x2;
    pub const IN_ATTRIB: u32 = 0x4;
    pub const IN_CLOSE_WRITE: u32 = 0x8;
    pub const IN_CLOSE_NOWRITE: u32 = 0x10;
    pub const IN_OPEN: u32 = 0x20;
    pub const IN_MOVED_FROM: u32 = 0x40;
    pub const IN_MOVED_TO: u32 = 0x80;
    pub const IN_CREATE: u32 = 0x100;
    pub const IN_DELETE: u32 = 0x200;
    pub const IN_DELETE_SELF: u32 = 0x400;
    pub const IN_MOVE_SELF: u32 = 0x800;
    pub const IN_UNMOUNT: u32 = 0x2000;
    pub const IN_Q_OVERFLOW: u32 = 0x4000;
    pub const IN_IGNORED: u32 = 0x8000;
    pub const IN_ISDIR: u32 = 0x4000_0000;
    /// Every event a watch can ask for.
    pub const IN_ALL_EVENTS: u32 = 0xfff;
    /// The events a directory also hears about its children (`FS_EVENTS_POSS_ON_CHILD`).
    pub const ON_CHILD: u32 =
        IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN;
}
use mask::*;

/// Who hears about changes.
pub trait Listener: Send + Sync {
    /// Whether anything is watched; while not, no event is even built.
    fn active(&self) -> bool;

    /// `mask` (with `IN_ISDIR` for a directory) happened to `inode`, or, when `name` is not
    /// empty, to the child `name` of the directory `inode`. `unlinked`: that child has no name
    /// left (for `IN_EXCL_UNLINK`). An `IN_DELETE_SELF` ends every watch on `inode`.
    fn event(&self, inode: &Arc<dyn Inode>, mask: u32, cookie: u32, name: &[u8], unlinked: bool);
}

static LISTENER: spin::Once<&'static dyn Listener> = spin::Once::new();

/// Installs the listener (the first call wins; there is one per machine).
pub fn set_listener(listener: &'static dyn Listener) {
    LISTENER.call_once(|| listener);
}

fn listener() -> Option<&'static dyn Listener> {
    LISTENER.get().copied().filter(|l| l.active())
}

/// Where an object was reached from: its directory and its name there.
pub type Origin<'a> = Option<(&'a Arc<dyn Inode>, &'a [u8])>;

fn isdir(inode: &Arc<dyn Inode>) -> u32 {
    if inode.stat().is_dir() {
        IN_ISDIR
    } else {
        0
    }
}

/// Linux's `fsnotify_parent` + `fsnotify`: an event on `inode`, heard first by its parent
/// directory (with the name) when it is one the parent hears about, then by the inode.
pub fn child_event(origin: Origin<'_>, inode: &Arc<dyn Inode>, mask: u32) {
    let Some(l) = listener() else {
        return;
    };
    let st = inode.stat();
    let mask = mask | if st.is_dir() { IN_ISDIR } else { 0 };
    if let Some((dir, name)) = origin {
        if mask & ON_CHILD != 0 {
            l.event(dir, mask, 0, name, st.nlink == 0);
        }
    }
    l.event(inode, mask, 0, b"", false);
}

/// An event on `inode` alone (`fsnotify_inode`).
fn inode_event(l: &dyn Listener, inode: &Arc<dyn Inode>, mask: u32) {
    l.event(inode, mask | isdir(inode), 0, b"", false);
}

/// `name` was made in `dir` (`fsnotify_create`, `fsnotify_mkdir`).
pub fn created(dir: &Arc<dyn Inode>, name: &[u8], is_dir: bool) {
    if let Some(l) = listener() {
        let mask = IN_CREATE | if is_dir { IN_ISDIR } else { 0 };
        l.event(dir, mask, 0, name, false);
    }
}

/// `inode` got the new name `name` in `dir` (`fsnotify_link`).
pub fn linked(dir: &Arc<dyn Inode>, name: &[u8], inode: &Arc<dyn Inode>) {
    if let Some(l) = listener() {
        inode_event(l, inode, IN_ATTRIB);
        l.event(dir, IN_CREATE, 0, name, false);
    }
}

/// `victim`, a directory when `is_dir`, lost its name `name` in `dir` (`vfs_unlink` and
/// `vfs_rmdir`): its link count changed, it is gone once nothing names it.
pub fn removed(dir: &Arc<dyn Inode>, name: &[u8], victim: &Arc<dyn Inode>, is_dir: bool) {
    let Some(l) = listener() else {
        return;
    };
    let flag = if is_dir { IN_ISDIR } else { 0 };
    if !is_dir {
        l.event(victim, IN_ATTRIB, 0, b"", false);
    }
    if is_dir || victim.stat().nlink == 0 {
        l.event(victim, IN_DELETE_SELF | flag, 0, b"", false);
    }
    l.event(dir, IN_DELETE | flag, 0, name, false);
}

/// The cookie that pairs an `IN_MOVED_FROM` with its `IN_MOVED_TO`.
fn next_cookie() -> u32 {
    static COOKIE: AtomicU32 = AtomicU32::new(0);
    COOKIE.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

/// One side of a rename.
pub struct Moved<'a> {
    pub dir: &'a Arc<dyn Inode>,
    pub name: &'a [u8],
    /// What the name held before (after, for the destination).
    pub inode: Option<&'a Arc<dyn Inode>>,
}

impl core::fmt::Debug for Moved<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Moved")
            .field("name", &alloc::string::String::from_utf8_lossy(self.name))
            .finish_non_exhaustive()
    }
}

/// A rename from `from` to `to` (`fsnotify_move`); with `exchange`, both objects moved.
pub fn moved(from: &Moved<'_>, to: &Moved<'_>, exchange: bool) {
    let Some(l) = listener() else {
        return;
    };
    let Some(src) = from.inode else {
        return;
    };
    move_one(l, from, to, src, if exchange { None } else { to.inode });
    if exchange {
        if let Some(other) = to.inode {
            move_one(l, to, from, other, None);
        }
    }
}

fn move_one(
    l: &dyn Listener,
    from: &Moved<'_>,
    to: &Moved<'_>,
    src: &Arc<dyn Inode>,
    replaced: Option<&Arc<dyn Inode>>,
) {
    let flag = isdir(src);
    let cookie = next_cookie();
    l.event(from.dir, IN_MOVED_FROM | flag, cookie, from.name, false);
    l.event(to.dir, IN_MOVED_TO | flag, cookie, to.name, false);
    if let Some(old) = replaced {
        inode_event(l, old, IN_ATTRIB);
    }
    inode_event(l, src, IN_MOVE_SELF);
    if let Some(old) = replaced {
        let st = old.stat();
        if st.is_dir() || st.nlink == 0 {
            inode_event(l, old, IN_DELETE_SELF);
        }
    }
}
