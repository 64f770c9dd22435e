//! A host directory tree as the root filesystem of a run: scanned once, then streamed into
//! the initrd.
//!
//! [`Tree::scan`] walks ROOTFS_DIR without following symlinks and keeps, per entry, only what
//! the archive needs (type, mode, owner, mtime, size, link target, host inode, extended
//! attributes for the EROFS image); [`Tree::write`]
//! emits the entries in docs/guest-protocol.md order through `cpio`, copying file data
//! straight from the host files. Paths inside the tree are resolved by `resolve`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::cpio::{self, EntrySink, Header};
use crate::xattrs::Xattrs;

/// The directory of launch records in the archive; a rootfs entry of that name would be
/// mistaken for them, so it is left out.
const RESERVED: &[u8] = b".coracle";
/// Skipped entries named in the warning; the rest are counted.
const WARN_NAMES: usize = 10;

/// What the archive keeps of one host file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir { subdirs: u32 },
    File { size: u32 },
    Symlink { target: Vec<u8> },
    Fifo,
}

#[derive(Debug, Clone)]
struct Node {
    /// Path below the root, no leading `/` (empty for the root itself).
    name: Vec<u8>,
    kind: Kind,
    /// Permission bits (`0o7777`).
    perm: u32,
    uid: u32,
    gid: u32,
    mtime: u32,
    /// Host identity, to find hard links; only meaningful for files with `host_nlink > 1`.
    host_id: (u64, u64),
    host_nlink: u64,
    xattrs: Xattrs,
}

/// A scanned root filesystem; [`Tree::write`] packs it.
#[derive(Debug)]
pub struct Tree {
    root: PathBuf,
    top: Node,
    /// Sorted by name bytes, so every directory precedes its contents.
    nodes: Vec<Node>,
    skipped: Vec<(Vec<u8>, &'static str)>,
}

impl Tree {
    /// Walks `root` (a directory; symlinks inside are not followed).
    pub fn scan(root: &Path) -> io::Result<Tree> {
        let with_path = |path: &Path| {
            let path = path.to_path_buf();
            move |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        };
        let meta = fs::metadata(root).map_err(with_path(root))?;
        let xattrs = Xattrs::of_host_file(root)?;
        let mut top = node(Vec::new(), &meta, Kind::Dir { subdirs: 0 }, xattrs);
        let mut nodes = Vec::new();
        let mut skipped = Vec::new();
        // (directory name, its index in `nodes`; None for the root)
        let mut pending: Vec<(Vec<u8>, Option<usize>)> = vec![(Vec::new(), None)];
        while let Some((dir, index)) = pending.pop() {
            let host_dir = root.join(OsStr::from_bytes(&dir));
            let mut subdirs = 0;
            for entry in fs::read_dir(&host_dir).map_err(with_path(&host_dir))? {
                let entry = entry.map_err(with_path(&host_dir))?;
                let mut name = dir.clone();
                if !name.is_empty() {
                    name.push(b'/');
                }
                name.extend_from_slice(entry.file_name().as_bytes());
                if name == RESERVED {
                    skipped.push((name, "a name reserved for the launch records"));
                    continue;
                }
                let path = entry.path();
                let meta = entry.metadata().map_err(with_path(&path))?;
                let file_type = meta.file_type();
                let kind = if file_type.is_dir() {
                    subdirs += 1;
                    pending.push((name.clone(), Some(nodes.len())));
                    Kind::Dir { subdirs: 0 }
                } else if file_type.is_file() {
                    let size = cpio::size_u32(meta.len()).map_err(with_path(&path))?;
                    Kind::File { size }
                } else if file_type.is_symlink() {
                    let target = fs::read_link(&path).map_err(with_path(&path))?;
                    Kind::Symlink {
                        target: target.into_os_string().into_vec(),
                    }
                } else if file_type.is_fifo() {
                    Kind::Fifo
                } else {
                    let what = if file_type.is_socket() {
                        "a socket"
                    } else if file_type.is_char_device() {
                        "a character device"
                    } else {
                        "a block device"
                    };
                    skipped.push((name, what));
                    continue;
                };
                let xattrs = Xattrs::of_host_file(&path)?;
                nodes.push(node(name, &meta, kind, xattrs));
            }
            let slot = match index {
                Some(i) => &mut nodes[i].kind,
                None => &mut top.kind,
            };
            *slot = Kind::Dir { subdirs };
        }
        nodes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        skipped.sort();
        Ok(Tree {
            root: root.to_path_buf(),
            top,
            nodes,
            skipped,
        })
    }

    /// One line naming what the archive cannot hold (sockets, device nodes, a `.coracle`
    /// entry), or `None` when everything is packed.
    pub fn skipped_warning(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let mut named: Vec<String> = self
            .skipped
            .iter()
            .take(WARN_NAMES)
            .map(|(name, what)| format!("{} ({what})", String::from_utf8_lossy(name)))
            .collect();
        if self.skipped.len() > WARN_NAMES {
            named.push(format!("and {} more", self.skipped.len() - WARN_NAMES));
        }
        Some(format!(
            "not packed from {}: {}",
            self.root.display(),
            named.join(", ")
        ))
    }

    /// Writes `.` and then every entry, in name order. Hard links share one inode number and
    /// `c_nlink` (the names in the archive); the first name carries the data.
    pub fn write(&self, out: &mut impl EntrySink) -> io::Result<()> {
        let mut names_per_inode: HashMap<(u64, u64), u32> = HashMap::new();
        for n in self.nodes.iter().filter(|n| is_linked(n)) {
            *names_per_inode.entry(n.host_id).or_default() += 1;
        }
        let mut written: HashMap<(u64, u64), u32> = HashMap::new();
        let top = Node {
            name: b".".to_vec(),
            ..self.top.clone()
        };
        for n in std::iter::once(&top).chain(&self.nodes) {
            let mut header = Header {
                name: &n.name,
                ino: 0,
                mode: n.perm,
                uid: n.uid,
                gid: n.gid,
                nlink: 1,
                mtime: n.mtime,
                filesize: 0,
            };
            match &n.kind {
                Kind::Dir { subdirs } => {
                    header.mode |= cpio::S_IFDIR;
                    header.nlink = 2 + subdirs;
                }
                Kind::Fifo => header.mode |= cpio::S_IFIFO,
                Kind::Symlink { target } => {
                    // Linux symlinks have no permissions of their own; lstat shows 0777.
                    header.mode = cpio::S_IFLNK | 0o777;
                    header.ino = out.new_ino();
                    header.filesize = cpio::size_u32(target.len() as u64)?;
                    out.add(&header, &n.xattrs, target.as_slice())?;
                    continue;
                }
                Kind::File { size } => {
                    header.mode |= cpio::S_IFREG;
                    if is_linked(n) {
                        header.nlink = names_per_inode[&n.host_id];
                        if let Some(&ino) = written.get(&n.host_id) {
                            header.ino = ino;
                            out.add(&header, &n.xattrs, io::empty())?;
                            continue;
                        }
                        header.ino = out.new_ino();
                        written.insert(n.host_id, header.ino);
                    } else {
                        header.ino = out.new_ino();
                    }
                    header.filesize = *size;
                    let path = self.root.join(OsStr::from_bytes(&n.name));
                    let file = File::open(&path).map_err(|e| {
                        io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
                    })?;
                    out.add(&header, &n.xattrs, file)?;
                    continue;
                }
            }
            header.ino = out.new_ino();
            out.add(&header, &n.xattrs, io::empty())?;
        }
        Ok(())
    }
}

/// A regular file with other names on the host: maybe a hard link inside the archive.
fn is_linked(n: &Node) -> bool {
    matches!(n.kind, Kind::File { .. }) && n.host_nlink > 1
}

fn node(name: Vec<u8>, meta: &fs::Metadata, kind: Kind, xattrs: Xattrs) -> Node {
    Node {
        name,
        kind,
        perm: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        mtime: u32::try_from(meta.mtime().max(0)).unwrap_or(u32::MAX),
        host_id: (meta.dev(), meta.ino()),
        host_nlink: meta.nlink(),
        xattrs,
    }
}
