//! An image's root filesystem held in memory: what its layers leave, ready for the initrd.
//!
//! `layer` fills a [`FsTree`] from tar streams; nothing is ever written to the host's
//! filesystem, so no hostile entry can reach a host path. Paths are keys relative to the root
//! (raw bytes, no leading `/`, no `.` or `..` components), kept sorted so that every directory
//! precedes its contents, the order docs/guest-protocol.md wants. [`FsTree::lookup`] follows
//! symlinks inside the tree the way the guest kernel will; `config` uses it for the command,
//! the working directory and `/etc/passwd`, and [`FsTree::write`] packs the tree through `cpio`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::sync::Arc;

use crate::cpio::{self, EntrySink, Header};
use crate::resolve::MAX_SYMLINKS;
use crate::xattrs::Xattrs;

/// The directory of launch records in the archive; an image entry of that name is left out.
const RESERVED: &[u8] = b".coracle";
/// Skipped entries named in the warning; the rest are counted.
const WARN_NAMES: usize = 10;

/// Owner, permissions, modification time and extended attributes of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits, setuid, setgid and sticky included (`0o7777`).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since 1970.
    pub mtime: u64,
    pub xattrs: Xattrs,
}

impl Meta {
    /// What Docker gives a directory it has to create for an entry whose parent is missing.
    pub const IMPLIED_DIR: Meta = Meta {
        perm: 0o755,
        uid: 0,
        gid: 0,
        mtime: 0,
        xattrs: Xattrs::NONE,
    };
}

/// A regular file's inode: every hard link to it shares one.
#[derive(Debug, PartialEq, Eq)]
pub struct File {
    pub meta: Meta,
    pub data: Vec<u8>,
}

/// One name in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir(Meta),
    File(Arc<File>),
    Symlink {
        meta: Meta,
        target: Vec<u8>,
    },
    Fifo(Meta),
    /// A character or block device node (kept, but the initrd cannot carry it).
    Device {
        meta: Meta,
        block: bool,
        major: u32,
        minor: u32,
    },
}

impl Node {
    pub fn meta(&self) -> &Meta {
        match self {
            Node::File(file) => &file.meta,
            Node::Dir(meta)
            | Node::Fifo(meta)
            | Node::Symlink { meta, .. }
            | Node::Device { meta, .. } => meta,
        }
    }

    pub fn is_dir(&self) -> bool {
        matches!(self, Node::Dir(_))
    }
}

/// Why a path does not lead anywhere in the tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no such file or directory")]
    NotFound,
    #[error("not a directory")]
    NotADirectory,
    #[error("too many levels of symbolic links")]
    Loop,
}

/// A whole root filesystem in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsTree {
    root: Meta,
    nodes: BTreeMap<Vec<u8>, Node>,
}

impl Default for FsTree {
    fn default() -> Self {
        Self {
            root: Meta::IMPLIED_DIR,
            nodes: BTreeMap::new(),
        }
    }
}

impl FsTree {
    pub fn root_meta(&self) -> &Meta {
        &self.root
    }

    pub fn set_root_meta(&mut self, meta: Meta) {
        self.root = meta;
    }

    /// The node at `key` (a cleaned relative path), symlinks not followed.
    pub fn get(&self, key: &[u8]) -> Option<&Node> {
        self.nodes.get(key)
    }

    /// Every name in archive order, with its node.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Node)> {
        self.nodes.iter().map(|(k, v)| (k.as_slice(), v))
    }

    /// Puts `node` at `key`, whose parent must be a directory of the tree (the root for a key
    /// without `/`). A directory over a directory keeps its contents; anything else replaces
    /// what was there, a directory with everything below it.
    pub fn insert(&mut self, key: Vec<u8>, node: Node) {
        if !(node.is_dir() && self.nodes.get(&key).is_some_and(Node::is_dir)) {
            self.remove_below(&key);
        }
        self.nodes.insert(key, node);
    }

    /// Removes `key` and, for a directory, everything below it.
    pub fn remove(&mut self, key: &[u8]) {
        self.nodes.remove(key);
        self.remove_below(key);
    }

    /// Removes everything below `key` for which `keep` is false.
    pub fn remove_children(&mut self, key: &[u8], keep: impl Fn(&[u8]) -> bool) {
        let doomed: Vec<Vec<u8>> = self
            .below(key)
            .filter(|k| !keep(k))
            .map(<[u8]>::to_vec)
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    fn remove_below(&mut self, key: &[u8]) {
        let doomed: Vec<Vec<u8>> = self.below(key).map(<[u8]>::to_vec).collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// The keys strictly below directory `key` ("" is the root): a contiguous range, since
    /// `key/` sorts before anything else starting with it and `key0` (`'0'` is `'/'` + 1)
    /// after.
    fn below<'a>(&'a self, key: &[u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (start, end) = if key.is_empty() {
            (Vec::new(), None)
        } else {
            ([key, b"/"].concat(), Some([key, b"0"].concat()))
        };
        let root = key.is_empty();
        self.nodes
            .range(start.clone()..)
            .map(|(k, _)| k.as_slice())
            .take_while(move |k| match &end {
                Some(end) => *k < end.as_slice(),
                None => true,
            })
            .filter(move |k| root || k.starts_with(&start))
    }

    /// The key `path` leads to, every symlink followed inside the tree (an absolute target
    /// starts again at the root, `..` stops at the root, at most [`MAX_SYMLINKS`]), the last
    /// component too when `follow_last`. A missing last component is [`LookupError::NotFound`]
    /// unless `allow_missing_last`, which returns where it would be. `""` is the root.
    pub fn lookup(
        &self,
        path: &[u8],
        follow_last: bool,
        allow_missing_last: bool,
    ) -> Result<Vec<u8>, LookupError> {
        let mut done: Vec<Vec<u8>> = Vec::new();
        let mut todo: VecDeque<Vec<u8>> = components(path).collect();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            if part == b".." {
                done.pop();
                continue;
            }
            done.push(part);
            let key = done.join(&b'/');
            let last = todo.is_empty();
            match self.nodes.get(&key) {
                None if last && allow_missing_last => return Ok(key),
                None => return Err(LookupError::NotFound),
                Some(Node::Symlink { target, .. }) if !last || follow_last => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(LookupError::Loop);
                    }
                    done.pop();
                    if target.starts_with(b"/") {
                        done.clear();
                    }
                    for part in components(target).collect::<Vec<_>>().into_iter().rev() {
                        todo.push_front(part);
                    }
                }
                Some(node) if !last && !node.is_dir() => return Err(LookupError::NotADirectory),
                Some(_) => {}
            }
        }
        Ok(done.join(&b'/'))
    }

    /// The node `path` names, symlinks followed; `None` for the root or nothing.
    pub fn resolve(&self, path: &[u8]) -> Result<Option<&Node>, LookupError> {
        let key = self.lookup(path, true, false)?;
        Ok(self.nodes.get(&key))
    }

    /// Total bytes of file data (each inode once).
    pub fn data_bytes(&self) -> u64 {
        let mut seen = std::collections::HashSet::new();
        self.nodes
            .values()
            .filter_map(|n| match n {
                Node::File(f) if seen.insert(Arc::as_ptr(f)) => Some(f.data.len() as u64),
                _ => None,
            })
            .sum()
    }

    /// What the initrd cannot hold (device nodes, a `.coracle` entry), one line, or `None`.
    pub fn skipped_warning(&self) -> Option<String> {
        let skipped: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|(k, n)| skip_reason(k, n).map(|why| (k, why)))
            .map(|(k, why)| format!("{} ({why})", String::from_utf8_lossy(k)))
            .collect();
        if skipped.is_empty() {
            return None;
        }
        let mut named: Vec<String> = skipped.iter().take(WARN_NAMES).cloned().collect();
        if skipped.len() > WARN_NAMES {
            named.push(format!("and {} more", skipped.len() - WARN_NAMES));
        }
        Some(format!("not packed from the image: {}", named.join(", ")))
    }

    /// Writes `.` and every entry in name order (docs/guest-protocol.md): directories with
    /// `c_nlink` 2 + subdirectories, hard links sharing one inode number whose first name
    /// carries the data.
    pub fn write(&self, out: &mut impl EntrySink) -> io::Result<()> {
        let packed = |k: &[u8], n: &Node| skip_reason(k, n).is_none();
        let mut subdirs: HashMap<&[u8], u32> = HashMap::new();
        let mut names: HashMap<*const File, u32> = HashMap::new();
        for (key, node) in self.nodes.iter().filter(|(k, n)| packed(k, n)) {
            match node {
                Node::Dir(_) => *subdirs.entry(parent(key)).or_default() += 1,
                Node::File(file) => *names.entry(Arc::as_ptr(file)).or_default() += 1,
                _ => {}
            }
        }
        let mut inos: HashMap<*const File, u32> = HashMap::new();
        let root = Node::Dir(self.root.clone());
        let all = std::iter::once((&b"."[..], &root))
            .chain(self.nodes.iter().map(|(k, n)| (k.as_slice(), n)));
        for (key, node) in all.filter(|(k, n)| packed(k, n)) {
            let meta = node.meta();
            let mut header = Header {
                name: key,
                ino: 0,
                mode: meta.perm & 0o7777,
                uid: meta.uid,
                gid: meta.gid,
                nlink: 1,
                mtime: u32::try_from(meta.mtime).unwrap_or(u32::MAX),
                filesize: 0,
            };
            match node {
                Node::Dir(_) => {
                    let own = if key == b"." { &b""[..] } else { key };
                    header.mode |= cpio::S_IFDIR;
                    header.nlink = 2 + subdirs.get(own).copied().unwrap_or(0);
                }
                Node::Fifo(_) => header.mode |= cpio::S_IFIFO,
                Node::Symlink { target, .. } => {
                    header.mode = cpio::S_IFLNK | 0o777;
                    header.ino = out.new_ino();
                    header.filesize = cpio::size_u32(target.len() as u64)?;
                    out.add(&header, &meta.xattrs, target.as_slice())?;
                    continue;
                }
                Node::File(file) => {
                    let id = Arc::as_ptr(file);
                    header.mode |= cpio::S_IFREG;
                    header.nlink = names[&id];
                    if let Some(&ino) = inos.get(&id) {
                        header.ino = ino;
                        out.add(&header, &meta.xattrs, io::empty())?;
                        continue;
                    }
                    header.ino = out.new_ino();
                    inos.insert(id, header.ino);
                    header.filesize = cpio::size_u32(file.data.len() as u64).map_err(|e| {
                        io::Error::new(e.kind(), format!("{}: {e}", String::from_utf8_lossy(key)))
                    })?;
                    out.add(&header, &meta.xattrs, file.data.as_slice())?;
                    continue;
                }
                Node::Device { .. } => unreachable!("filtered out by skip_reason"),
            }
            header.ino = out.new_ino();
            out.add(&header, &meta.xattrs, io::empty())?;
        }
        Ok(())
    }
}

fn skip_reason(key: &[u8], node: &Node) -> Option<&'static str> {
    if key == RESERVED || key.starts_with(b".coracle/") {
        return Some("a name reserved for the launch records");
    }
    match node {
        Node::Device { block: true, .. } => Some("a block device"),
        Node::Device { block: false, .. } => Some("a character device"),
        _ => None,
    }
}

/// The key of the directory holding `key` (`""` for the root).
pub fn parent(key: &[u8]) -> &[u8] {
    match key.iter().rposition(|&b| b == b'/') {
        Some(slash) => &key[..slash],
        None => b"",
    }
}

/// The components of a path, without empty ones and `.` (`..` is kept).
fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}
