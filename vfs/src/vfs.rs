//! The mount table, path resolution and opening by path.
//!
//! Resolution follows Linux's `namei`: components are looked up one at a time from the root
//! (absolute paths) or a starting directory (the cwd or a dirfd); each directory crossed needs
//! search permission; `..` stops at the caller's root and climbs out of mounted filesystems;
//! symlinks are expanded in place, at most [`MAX_SYMLINKS`] per resolution (`ELOOP`); a
//! trailing slash demands a directory and follows a final symlink.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::file::{directory_ops, path_ops, regular_ops, FileOps};
use crate::inode::{same_inode, Inode};
use crate::types::{oflags::*, *};
use crate::Errno;

/// openat2's `RESOLVE_*` flags.
pub const RESOLVE_NO_XDEV: u32 = 0x01;
pub const RESOLVE_NO_MAGICLINKS: u32 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u32 = 0x04;
pub const RESOLVE_BENEATH: u32 = 0x08;
pub const RESOLVE_IN_ROOT: u32 = 0x10;
pub const RESOLVE_CACHED: u32 = 0x20;

/// A driver for device nodes with one device number.
pub trait Device: Send + Sync {
    /// Opens the device.
    fn open(&self, flags: u32) -> Result<Box<dyn FileOps>>;
}

/// One mounted filesystem.
#[derive(Clone)]
pub struct Mount {
    /// The mounted filesystem's root directory.
    pub root: Arc<dyn Inode>,
    /// The directory it covers (`None` for the root filesystem).
    pub mountpoint: Option<Arc<dyn Inode>>,
    /// What /proc/mounts shows: source, type, options.
    pub source: Vec<u8>,
    pub fstype: Vec<u8>,
    pub options: Vec<u8>,
    /// Mounted read-only (MS_RDONLY): changes are EROFS.
    pub readonly: bool,
}

impl core::fmt::Debug for Mount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Mount")
            .field(
                "fstype",
                &alloc::string::String::from_utf8_lossy(&self.fstype),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Mounts {
    /// In mount order; the root filesystem first.
    list: Vec<Mount>,
    /// (dev, ino) of a covered directory → index in `list` of the topmost mount on it.
    by_point: BTreeMap<(u64, u64), usize>,
    /// dev of a mounted root → index in `list`.
    by_root: BTreeMap<u64, usize>,
}

/// The result of resolving a path: the object, and where it was found.
#[derive(Clone)]
pub struct Lookup {
    /// The directory holding the last component (after following symlinks).
    pub dir: Arc<dyn Inode>,
    /// The last component's name; `.`, `..` or empty (for `/`) when the path ended so.
    pub name: Vec<u8>,
    /// The object, or `None` when only the last component is missing (see
    /// [`Vfs::resolve_parent`]).
    pub inode: Option<Arc<dyn Inode>>,
    /// The path ended in `/` (or a followed symlink's target did): a directory is required.
    pub trailing_slash: bool,
}

impl core::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lookup")
            .field("name", &alloc::string::String::from_utf8_lossy(&self.name))
            .field("found", &self.inode.is_some())
            .field("trailing_slash", &self.trailing_slash)
            .finish()
    }
}

impl Lookup {
    /// Whether the last component is a real name (not `.`, `..` or the root).
    pub fn has_name(&self) -> bool {
        !(self.name.is_empty() || self.name == b"." || self.name == b"..")
    }
}

/// The filesystem namespace: the root, the mounts, the device drivers.
pub struct Vfs {
    root: Arc<dyn Inode>,
    mounts: Mutex<Mounts>,
    devices: Mutex<BTreeMap<u64, Arc<dyn Device>>>,
}

impl core::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Vfs").finish_non_exhaustive()
    }
}

impl Vfs {
    /// A namespace whose root is the directory `root` (of filesystem `fstype`).
    pub fn new(root: Arc<dyn Inode>, fstype: &[u8], source: &[u8], options: &[u8]) -> Vfs {
        let mut mounts = Mounts::default();
        mounts.by_root.insert(root.stat().dev, 0);
        mounts.list.push(Mount {
            root: root.clone(),
            mountpoint: None,
            source: source.to_vec(),
            fstype: fstype.to_vec(),
            options: options.to_vec(),
            readonly: false,
        });
        Vfs {
            root,
            mounts: Mutex::new(mounts),
            devices: Mutex::new(BTreeMap::new()),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Arc<dyn Inode> {
        &self.root
    }

    /// Mounts the filesystem rooted at `fs_root` on the directory `on`.
    pub fn mount(
        &self,
        on: &Arc<dyn Inode>,
        fs_root: Arc<dyn Inode>,
        fstype: &[u8],
        source: &[u8],
        options: &[u8],
    ) -> Result<()> {
        let point = on.stat();
        if !point.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut m = self.mounts.lock();
        let idx = m.list.len();
        m.list.push(Mount {
            root: fs_root.clone(),
            mountpoint: Some(on.clone()),
            source: source.to_vec(),
            fstype: fstype.to_vec(),
            options: options.to_vec(),
            readonly: false,
        });
        m.by_point.insert((point.dev, point.ino), idx);
        m.by_root.insert(fs_root.stat().dev, idx);
        Ok(())
    }

    /// Makes the filesystem `inode` is on read-only (or writable again).
    pub fn set_readonly(&self, inode: &Arc<dyn Inode>, readonly: bool) {
        let dev = inode.stat().dev;
        let mut m = self.mounts.lock();
        if let Some(&i) = m.by_root.get(&dev) {
            let mount = &mut m.list[i];
            mount.readonly = readonly;
            // The options /proc/mounts shows start with "rw" or "ro".
            if mount.options.starts_with(b"rw") || mount.options.starts_with(b"ro") {
                mount.options[1] = if readonly { b'o' } else { b'w' };
            }
        }
    }

    /// Whether the filesystem `inode` is on is mounted read-only.
    pub fn is_readonly(&self, inode: &Arc<dyn Inode>) -> bool {
        let dev = inode.stat().dev;
        let m = self.mounts.lock();
        m.by_root.get(&dev).is_some_and(|&i| m.list[i].readonly)
    }

    /// Whether `dir` is the root of a mounted filesystem (not the root filesystem).
    pub fn is_mount_root(&self, dir: &Arc<dyn Inode>) -> bool {
        let m = self.mounts.lock();
        let dev = dir.stat().dev;
        m.by_root
            .get(&dev)
            .is_some_and(|&i| i > 0 && same_inode(&m.list[i].root, dir))
    }

    /// Unmounts the filesystem whose root is `root` (what a path to the mount point resolves
    /// to): `EINVAL` if it is not a mount's root, `EBUSY` if something is mounted below it.
    pub fn unmount(&self, root: &Arc<dyn Inode>) -> Result<()> {
        let mut m = self.mounts.lock();
        let dev = root.stat().dev;
        let idx = *m.by_root.get(&dev).ok_or(Errno::EINVAL)?;
        if idx == 0 || !same_inode(&m.list[idx].root, root) {
            // The root filesystem, or not the root of a mount.
            return Err(if idx == 0 {
                Errno::EBUSY
            } else {
                Errno::EINVAL
            });
        }
        let covers_other = m
            .list
            .iter()
            .any(|x| x.mountpoint.as_ref().is_some_and(|p| p.stat().dev == dev));
        if covers_other {
            return Err(Errno::EBUSY);
        }
        let mount = m.list.remove(idx);
        let point = mount.mountpoint.as_ref().map(|p| p.stat());
        // Rebuild the indexes (mounts are few).
        m.by_point.clear();
        m.by_root.clear();
        let entries: Vec<((u64, u64), u64)> = m
            .list
            .iter()
            .map(|x| {
                let p = x.mountpoint.as_ref().map_or((0, 0), |p| {
                    let s = p.stat();
                    (s.dev, s.ino)
                });
                (p, x.root.stat().dev)
            })
            .collect();
        for (i, (p, rdev)) in entries.into_iter().enumerate() {
            if i > 0 {
                m.by_point.insert(p, i);
            }
            m.by_root.insert(rdev, i);
        }
        let _ = point;
        Ok(())
    }

    /// The mounts, in mount order (for /proc/mounts).
    pub fn mounts(&self) -> Vec<Mount> {
        self.mounts.lock().list.clone()
    }

    /// Registers the driver of device number `rdev` (a [`makedev`] value).
    pub fn register_device(&self, rdev: u64, dev: Arc<dyn Device>) {
        self.devices.lock().insert(rdev, dev);
    }

    /// If `inode` is covered by a mount, the root of what is mounted there (topmost).
    fn cross_mounts(&self, inode: Arc<dyn Inode>) -> Arc<dyn Inode> {
        let mut cur = inode;
        loop {
            let st = cur.stat();
            let m = self.mounts.lock();
            match m.by_point.get(&(st.dev, st.ino)) {
                Some(&i) if !same_inode(&m.list[i].root, &cur) => {
                    let next = m.list[i].root.clone();
                    drop(m);
                    cur = next;
                }
                _ => return cur,
            }
        }
    }

    /// The directory `..` of `dir` leads to.
    fn dotdot(&self, cx: &Caller, dir: &Arc<dyn Inode>) -> Arc<dyn Inode> {
        let mut cur = dir.clone();
        loop {
            if same_inode(&cur, &cx.root) {
                return cur;
            }
            if let Some((parent, _)) = cur.parent() {
                return self.cross_mounts(parent);
            }
            // The root of a mounted filesystem: continue from the directory it covers.
            let dev = cur.stat().dev;
            let m = self.mounts.lock();
            match m
                .by_root
                .get(&dev)
                .and_then(|&i| m.list[i].mountpoint.clone())
            {
                Some(point) => {
                    drop(m);
                    cur = point;
                }
                None => return cur,
            }
        }
    }

    /// The absolute path of directory `dir` as seen from the caller's root (`getcwd`);
    /// `ENOENT` if it was removed.
    pub fn path_of(&self, cx: &Caller, dir: &Arc<dyn Inode>) -> Result<Vec<u8>> {
        if dir.is_removed() {
            return Err(Errno::ENOENT);
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut cur = dir.clone();
        let mut steps = 0;
        loop {
            steps += 1;
            if steps > 4096 {
                return Err(Errno::ENAMETOOLONG);
            }
            if same_inode(&cur, &cx.root) {
                break;
            }
            if let Some((parent, name)) = cur.parent() {
                names.push(name);
                cur = parent;
                continue;
            }
            let dev = cur.stat().dev;
            let point = {
                let m = self.mounts.lock();
                m.by_root
                    .get(&dev)
                    .and_then(|&i| m.list[i].mountpoint.clone())
            };
            match point {
                Some(p) => cur = p,
                // Not below the caller's root.
                None => return Err(Errno::ENOENT),
            }
        }
        if names.is_empty() {
            return Ok(b"/".to_vec());
        }
        let mut out = Vec::new();
        for name in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(name);
        }
        Ok(out)
    }

    /// The path of the object a lookup found (`dir` + `name`), for `/proc/self/fd`.
    pub fn path_in(&self, cx: &Caller, l: &Lookup) -> Vec<u8> {
        if let Some(inode) = &l.inode {
            if inode.stat().is_dir() {
                if let Ok(p) = self.path_of(cx, inode) {
                    return p;
                }
            }
        }
        let mut p = self.path_of(cx, &l.dir).unwrap_or_default();
        if l.has_name() {
            if p != b"/" {
                p.push(b'/');
            }
            p.extend_from_slice(&l.name);
        }
        p
    }

    /// Resolves `path` from `base` (used for relative paths) to an existing object.
    /// `follow` says whether a final symlink is followed.
    pub fn resolve(
        &self,
        cx: &Caller,
        base: &Arc<dyn Inode>,
        path: &[u8],
        follow: bool,
    ) -> Result<Lookup> {
        self.resolve_with(cx, base, path, follow, 0)
    }

    /// [`Vfs::resolve`] confined by openat2's `RESOLVE_*` flags.
    pub fn resolve_with(
        &self,
        cx: &Caller,
        base: &Arc<dyn Inode>,
        path: &[u8],
        follow: bool,
        scope: u32,
    ) -> Result<Lookup> {
        let l = self.walk(cx, base, path, follow, false, scope)?;
        if l.inode.is_none() {
            return Err(Errno::ENOENT);
        }
        Ok(l)
    }

    /// Resolves `path` up to its last component, which may not exist (`inode` is then
    /// `None`): for operations that create or remove names. With `follow`, a final symlink is
    /// followed to where it points (as `open(O_CREAT)` does for a dangling link).
    pub fn resolve_parent(
        &self,
        cx: &Caller,
        base: &Arc<dyn Inode>,
        path: &[u8],
        follow: bool,
    ) -> Result<Lookup> {
        self.walk(cx, base, path, follow, true, 0)
    }

    fn walk(
        &self,
        cx: &Caller,
        base: &Arc<dyn Inode>,
        path: &[u8],
        follow: bool,
        allow_missing: bool,
        scope: u32,
    ) -> Result<Lookup> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        if path.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        // RESOLVE_IN_ROOT: the start directory is the root for absolute paths and `..`.
        let scoped_cx;
        let cx = if scope & RESOLVE_IN_ROOT != 0 {
            scoped_cx = Caller {
                root: base.clone(),
                ..cx.clone()
            };
            &scoped_cx
        } else {
            cx
        };
        if scope & RESOLVE_BENEATH != 0 && path[0] == b'/' {
            return Err(Errno::EXDEV);
        }
        let base_dev = base.stat().dev;
        let mut comps: VecDeque<Vec<u8>> = VecDeque::new();
        push_components(&mut comps, path);
        let mut trailing = path.ends_with(b"/");
        let mut dir = if path[0] == b'/' {
            cx.root.clone()
        } else {
            base.clone()
        };
        let mut links = 0u32;
        // Where the walk currently stands: `dir` + `name` → `cur`.
        let mut name: Vec<u8> = Vec::new();
        let mut cur: Option<Arc<dyn Inode>> = Some(dir.clone());
        while let Some(comp) = comps.pop_front() {
            let here = cur.clone().ok_or(Errno::ENOENT)?;
            let st = here.stat();
            if !st.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            check_access(cx, &st, MAY_EXEC)?;
            check_name(&comp)?;
            let is_last = comps.is_empty();
            if comp == b"." {
                dir = here.clone();
                name = comp;
                cur = Some(here);
                continue;
            }
            if comp == b".." {
                if scope & RESOLVE_BENEATH != 0 && same_inode(&here, base) {
                    return Err(Errno::EXDEV);
                }
                let up = self.dotdot(cx, &here);
                if scope & RESOLVE_NO_XDEV != 0 && up.stat().dev != base_dev {
                    return Err(Errno::EXDEV);
                }
                dir = up.clone();
                name = comp;
                cur = Some(up);
                continue;
            }
            let child = match here.lookup(cx, &comp) {
                Ok(c) => Some(self.cross_mounts(c)),
                Err(Errno::ENOENT) if is_last && allow_missing => None,
                Err(e) => return Err(e),
            };
            if scope & RESOLVE_NO_XDEV != 0
                && child.as_ref().is_some_and(|c| c.stat().dev != base_dev)
            {
                return Err(Errno::EXDEV);
            }
            dir = here;
            name = comp;
            cur = child;
            let Some(child) = cur.clone() else {
                break;
            };
            let is_link = child.stat().file_type() == FileType::Symlink;
            // A trailing slash makes a lookup follow the final symlink; calls that create or
            // remove names (allow_missing) look at the link itself, as Linux's LOOKUP_PARENT.
            if is_link && (!is_last || follow || (trailing && !allow_missing)) {
                links += 1;
                if links > MAX_SYMLINKS || scope & RESOLVE_NO_SYMLINKS != 0 {
                    return Err(Errno::ELOOP);
                }
                if let Some(target) = child.follow_magic(cx) {
                    if scope & RESOLVE_NO_MAGICLINKS != 0 {
                        return Err(Errno::ELOOP);
                    }
                    if scope & (RESOLVE_BENEATH | RESOLVE_IN_ROOT) != 0 {
                        return Err(Errno::EXDEV);
                    }
                    let target = target?;
                    cur = Some(target);
                    continue;
                }
                let text = child.readlink(cx)?;
                if text.is_empty() {
                    return Err(Errno::ENOENT);
                }
                if is_last && text.ends_with(b"/") {
                    trailing = true;
                }
                let mut expanded = VecDeque::new();
                push_components(&mut expanded, &text);
                expanded.append(&mut comps);
                comps = expanded;
                if text[0] == b'/' {
                    if scope & RESOLVE_BENEATH != 0 {
                        return Err(Errno::EXDEV);
                    }
                    cur = Some(cx.root.clone());
                    dir = cx.root.clone();
                    name = Vec::new();
                } else {
                    cur = Some(dir.clone());
                }
            }
        }
        if let Some(inode) = &cur {
            if trailing && !allow_missing && !inode.stat().is_dir() {
                return Err(Errno::ENOTDIR);
            }
        }
        if name.is_empty() {
            // The path named the root itself ("/", "//", or a symlink to "/").
            dir = cur.clone().unwrap_or_else(|| cx.root.clone());
        }
        Ok(Lookup {
            dir,
            name,
            inode: cur,
            trailing_slash: trailing,
        })
    }

    /// Opens `inode` with `flags`: the filesystem's own open, or the generic one for its type.
    pub fn open_inode(
        &self,
        cx: &Caller,
        inode: &Arc<dyn Inode>,
        flags: u32,
    ) -> Result<Box<dyn FileOps>> {
        if flags & O_PATH != 0 {
            return Ok(path_ops());
        }
        if let Some(ops) = inode.open(cx, flags) {
            return ops;
        }
        let st = inode.stat();
        match st.file_type() {
            FileType::Regular => Ok(regular_ops(inode.clone())),
            FileType::Directory => Ok(directory_ops()),
            FileType::Fifo => {
                let pipe = inode.fifo().ok_or(Errno::ENXIO)?;
                match flags & O_ACCMODE {
                    O_RDONLY => Ok(pipe.open_reader()),
                    O_WRONLY => {
                        if flags & O_NONBLOCK != 0 && pipe.readers() == 0 {
                            return Err(Errno::ENXIO);
                        }
                        Ok(pipe.open_writer())
                    }
                    _ => Ok(pipe.open_both()),
                }
            }
            FileType::CharDevice => {
                let dev = self.devices.lock().get(&st.rdev).cloned();
                dev.ok_or(Errno::ENXIO)?.open(flags)
            }
            FileType::Symlink => Err(Errno::ELOOP),
            FileType::BlockDevice | FileType::Socket => Err(Errno::ENXIO),
        }
    }
}

/// Splits `path` into its non-empty components (`a//b/` → `a`, `b`), appended to `out`.
fn push_components(out: &mut VecDeque<Vec<u8>>, path: &[u8]) {
    for c in path.split(|&b| b == b'/') {
        if !c.is_empty() {
            out.push_back(c.to_vec());
        }
    }
}
