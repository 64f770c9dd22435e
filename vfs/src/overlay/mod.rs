//! overlay: one writable POSIX filesystem made of a read-only lower filesystem (the image)
//! and a writable in-memory upper one (a tmpfs), with Linux overlayfs's semantics.
//!
//! An object lives in the lower layer until something changes it; then it is *copied up*
//! (data, mode, owner, times) into the upper layer at the same place, and every later access
//! goes there. Deleting a lower name leaves a *whiteout* in the upper directory (a character
//! device 0/0, as overlayfs writes it); readdir merges the upper and lower entries.
//!
//! Where Linux keeps overlay metadata in xattrs of the upper layer, this overlay keeps it in
//! its own tables (the upper is private and in memory): `origin` maps an upper inode to the
//! lower object it was copied up from (overlayfs's `origin` and `redirect` xattrs), so a
//! renamed lower directory keeps merging its lower contents wherever it goes and a directory
//! made over a whiteout (no origin) is opaque; `index` maps a hard-linked lower file to its
//! copied-up inode, also linked into a work directory of the upper layer (overlayfs's index
//! directory) so that it keeps a name while all of its visible names are lower ones. Upper
//! entries whose names start with `/` (the work directory, entries about to be renamed into
//! place) can never be reached by a path and are left out of listings.
//! Differences from Docker's overlay2 are in docs/overlay.md.
//!
//! Neighbours: [`node`] is the [`Inode`] the VFS sees, [`copyup`] moves objects up,
//! [`names`] changes the namespace, [`readdir`] merges directories.

mod copyup;
mod names;
mod node;
mod readdir;

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use hashbrown::HashMap;
use spin::{Mutex, MutexGuard};

use crate::inode::Inode;
use crate::types::*;
use crate::Errno;

pub use node::Node;

/// `OVERLAYFS_SUPER_MAGIC`, what statfs reports for the overlay.
pub const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;

/// Inode numbers of objects born in the upper layer carry this bit, so they never collide with
/// the lower layer's (overlayfs's `xino`: the layer in the high bits).
const UPPER_INO_TAG: u64 = 1 << 48;

/// The work directory's name in the upper root: no path can name it.
const WORK_DIR: &[u8] = b"/work";

/// Whether an upper entry is the overlay's own, never shown.
fn is_private(name: &[u8]) -> bool {
    name.first() == Some(&b'/')
}

/// Which layer object a node stands for: a lower inode number, or an upper one for objects
/// with no lower origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Lower(u64),
    Upper(u64),
}

/// A hard-linked lower file that was copied up.
struct Indexed {
    upper: Arc<dyn Inode>,
    /// How many of its lower names are still visible (not yet replaced by an upper name or
    /// a whiteout): they count in its link count.
    lower_names: u64,
}

/// The overlay's own metadata, behind the namespace lock.
struct Tables {
    /// Upper inode number → the lower object it was copied up from.
    origin: HashMap<u64, Arc<dyn Inode>>,
    /// Lower inode number of a copied-up file with several lower names → its upper inode.
    index: HashMap<u64, Indexed>,
    /// The live nodes, so that every path to one object reaches one node.
    nodes: HashMap<Key, Weak<Node>>,
    /// When `nodes` is next swept of dead entries.
    sweep_at: usize,
}

/// A copy-up in progress: the unnamed upper file, the bytes copied so far, the lower file's
/// stat when the copy began.
type StagedCopy = (Arc<dyn Inode>, u64, Stat);

/// One overlay instance.
struct Fs {
    dev: u64,
    upper_root: Arc<dyn Inode>,
    /// The upper layer's work directory (see the module comment).
    work: Arc<dyn Inode>,
    /// Taken by every namespace change and copy-up, and briefly by lookups for the tables.
    /// A spin lock: layer calls made under it must not sleep (tmpfs and a lower read through
    /// the page cache do not).
    tables: Mutex<Tables>,
    /// A root caller for the lookups the overlay makes on its own behalf.
    cx: Caller,
    /// Names for temporary whiteouts (see [`names`]).
    next_tmp: core::sync::atomic::AtomicU64,
    /// Lower inode number of a regular file being copied up → its unnamed upper copy and
    /// how many bytes of it are copied, and the lower file's stat when the copy began (see
    /// [`copyup`]).
    staged: Mutex<HashMap<u64, StagedCopy>>,
}

impl Fs {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock()
    }
}

/// The overlay of the writable `upper` (the root of an empty tmpfs) over the read-only
/// `lower` (a filesystem's root directory); returns the overlay's root. The overlay never
/// changes `lower`. The upper root takes the lower root's mode, owner and times.
pub fn new_overlay(lower: Arc<dyn Inode>, upper: Arc<dyn Inode>) -> Result<Arc<dyn Inode>> {
    let ls = lower.stat();
    let us = upper.stat();
    if !ls.is_dir() || !us.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    let work = upper.create(WORK_DIR, NewNode::Directory, 0o700, 0, 0)?;
    upper.set_mode(ls.mode & MODE_BITS)?;
    upper.set_owner(Some(ls.uid), Some(ls.gid))?;
    upper.set_times(
        crate::TimeChange::Set(ls.atime),
        crate::TimeChange::Set(ls.mtime),
    )?;
    let mut origin = HashMap::new();
    origin.insert(us.ino, lower.clone());
    let fs = Arc::new(Fs {
        dev: anon_dev(),
        upper_root: upper.clone(),
        work,
        tables: Mutex::new(Tables {
            origin,
            index: HashMap::new(),
            nodes: HashMap::new(),
            sweep_at: 1024,
        }),
        cx: Caller {
            pid: 0,
            tid: 0,
            uid: 0,
            gid: 0,
            groups: Vec::new(),
            // Copy-up acts for the filesystem itself: every capability.
            caps: crate::cap::ALL,
            umask: 0,
            root: upper.clone(),
        },
        next_tmp: core::sync::atomic::AtomicU64::new(0),
        staged: Mutex::new(HashMap::new()),
    });
    let root = Node::new(&fs, Some(upper), Some(lower), None);
    fs.lock()
        .nodes
        .insert(Key::Lower(ls.ino), Arc::downgrade(&root));
    Ok(root)
}

/// Whether an upper entry is a whiteout.
fn is_whiteout(inode: &Arc<dyn Inode>) -> bool {
    let st = inode.stat();
    st.mode & S_IFMT == S_IFCHR && st.rdev == 0
}

/// What a name in a directory is made of, layer by layer.
#[derive(Clone)]
struct Found {
    /// The upper entry (never a whiteout).
    upper: Option<Arc<dyn Inode>>,
    /// Whether the upper directory has a whiteout under the name.
    whiteout: bool,
    /// The lower object the name shows: the upper entry's origin, or the lower entry when the
    /// upper has nothing there.
    lower: Option<Arc<dyn Inode>>,
    /// Whether the directory's lower side has the name (a removal must leave a whiteout).
    lower_has: bool,
}

impl Found {
    fn exists(&self) -> bool {
        self.upper.is_some() || (!self.whiteout && self.lower.is_some())
    }
}

/// Looks `name` up in a layer directory: `None` if absent.
fn layer_lookup(cx: &Caller, dir: &Arc<dyn Inode>, name: &[u8]) -> Result<Option<Arc<dyn Inode>>> {
    match dir.lookup(cx, name) {
        Ok(i) => Ok(Some(i)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Node {
    /// The layers behind `name` in this directory. `t`: the tables when the caller holds
    /// them (else they are taken briefly).
    fn find(&self, t: Option<&Tables>, name: &[u8]) -> Result<Found> {
        let cx = &self.fs.cx;
        let mut found = Found {
            upper: None,
            whiteout: false,
            lower: None,
            lower_has: false,
        };
        if let Some(u) = self.upper() {
            if let Some(e) = layer_lookup(cx, u, name)? {
                if is_whiteout(&e) {
                    found.whiteout = true;
                } else {
                    let ino = e.stat().ino;
                    found.lower = match t {
                        Some(t) => t.origin.get(&ino).cloned(),
                        None => self.fs.lock().origin.get(&ino).cloned(),
                    };
                    found.upper = Some(e);
                }
            }
        }
        if let Some(l) = &self.lower {
            let entry = layer_lookup(cx, l, name)?;
            found.lower_has = entry.is_some();
            if found.upper.is_none() && !found.whiteout {
                found.lower = entry;
            }
        }
        Ok(found)
    }

    /// The node for what `found` shows under `name` in this directory, made if none is live.
    fn node_of(self: &Arc<Self>, t: &mut Tables, found: &Found, name: &[u8]) -> Result<Arc<Node>> {
        if !found.exists() {
            return Err(Errno::ENOENT);
        }
        let key = match (&found.lower, &found.upper) {
            (Some(l), _) => Key::Lower(l.stat().ino),
            (None, Some(u)) => Key::Upper(u.stat().ino),
            (None, None) => return Err(Errno::ENOENT),
        };
        let place = Some((self.clone(), name.to_vec()));
        if let Some(n) = t.nodes.get(&key).and_then(Weak::upgrade) {
            *n.place.lock() = place;
            return Ok(n);
        }
        let upper = found.upper.clone().or_else(|| match key {
            Key::Lower(ino) => t.index.get(&ino).map(|i| i.upper.clone()),
            Key::Upper(_) => None,
        });
        let node = Node::new(&self.fs, upper, found.lower.clone(), place);
        t.remember(key, &node);
        Ok(node)
    }
}

impl Tables {
    /// Records a live node, sweeping dead ones now and then.
    fn remember(&mut self, key: Key, node: &Arc<Node>) {
        if self.nodes.len() >= self.sweep_at {
            self.nodes.retain(|_, w| w.strong_count() > 0);
            self.sweep_at = (self.nodes.len() * 2).max(1024);
        }
        self.nodes.insert(key, Arc::downgrade(node));
    }
}

/// `O_TMPFILE` in an overlay directory: an unnamed file of the upper layer (see
/// [`crate::tmpfs::create_unnamed`]); `None` if `dir` is not an overlay's.
pub fn create_unnamed(
    dir: &Arc<dyn Inode>,
    mode: u32,
    uid: u32,
    gid: u32,
    linkable: bool,
) -> Option<Result<Arc<dyn Inode>>> {
    let d = downcast(dir)?;
    Some((|| {
        if d.kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        let du = d.ensure_upper(true)?;
        let f = crate::tmpfs::create_unnamed(&du, mode, uid, gid, linkable)?;
        let key = Key::Upper(f.stat().ino);
        let node = Node::new(&d.fs, Some(f), None, None);
        d.fs.lock().remember(key, &node);
        Ok(node as Arc<dyn Inode>)
    })())
}

/// The overlay node behind an inode of this overlay, if it is one.
fn downcast(inode: &Arc<dyn Inode>) -> Option<Arc<Node>> {
    inode.as_any().downcast_ref::<Node>().map(Node::arc)
}
