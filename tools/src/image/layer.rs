//! Applying one image layer (a tar stream, plain, gzip or zstd) onto an in-memory [`FsTree`].
//!
//! Follows the OCI image spec's "Applying Changesets" and Docker's layer unpacking: entries
//! replace what lower layers had (a directory over a directory keeps its contents), `.wh.NAME`
//! deletes NAME from lower layers, `.wh..wh..opq` hides everything lower layers put in its
//! directory, other `.wh..wh.` names are the aufs driver's bookkeeping and are ignored. A
//! missing parent directory is created (0755, as Docker does); a parent that is a symlink is
//! followed inside the tree. Names with `..` components are refused; absolute names are taken
//! relative to the root, as tar does. Extended attributes come from the entry's PAX records
//! (`crate::xattrs`). Since the tree is in memory, no entry can reach the host.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::Arc;

use super::tree::{parent, File, FsTree, LookupError, Meta, Node};
use crate::xattrs::Xattrs;

/// The aufs/overlay whiteout prefix and the opaque-directory marker (OCI image spec,
/// layer.md "Whiteouts").
const WHITEOUT: &[u8] = b".wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
const AUFS_META: &[u8] = b".wh..wh.";

/// Limits against decompression bombs and runaway trees.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Uncompressed bytes one layer may hold.
    pub layer_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            layer_bytes: 8 << 30,
        }
    }
}

/// Why a layer could not be applied; `entry` names the tar member.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("entry {entry:?}: {why}")]
    Entry { entry: String, why: String },
    #[error("{0}")]
    Archive(io::Error),
}

fn entry_error(name: &[u8], why: impl Into<String>) -> LayerError {
    LayerError::Entry {
        entry: String::from_utf8_lossy(name).into_owned(),
        why: why.into(),
    }
}

/// The compression of a layer, from its first bytes (media types lie more often than magic
/// numbers, and docker-archive layers have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// `reader` decompressed as its first bytes say.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut reader = io::BufReader::new(reader);
    let head = io::BufRead::fill_buf(&mut reader)?;
    Ok(match Compression::sniff(head) {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(reader)?),
    })
}

/// A reader that fails, rather than stops, past `limit` bytes.
#[derive(Debug)]
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min(
            usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        );
        let n = self.inner.read(&mut buf[..want])?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(io::Error::other(format!(
                "the layer unpacks to more than {} bytes (a decompression bomb?)",
                self.limit
            ))),
        }
    }
}

/// Applies the uncompressed tar stream `layer` onto `tree`.
pub fn apply(tree: &mut FsTree, layer: impl Read) -> Result<(), LayerError> {
    let mut archive = tar::Archive::new(layer);
    // Paths created by this layer: whiteouts and opaque markers only hide lower layers.
    let mut ours: HashSet<Vec<u8>> = HashSet::new();
    for entry in archive.entries().map_err(LayerError::Archive)? {
        let mut entry = entry.map_err(LayerError::Archive)?;
        let raw = entry.path_bytes().into_owned();
        let key = clean(&raw).ok_or_else(|| entry_error(&raw, "the path has a `..` component"))?;
        let xattrs = match entry.pax_extensions() {
            Ok(Some(records)) => Xattrs::of_pax(records),
            Ok(None) => Ok(Xattrs::NONE),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|why| entry_error(&raw, why))?;
        let header = entry.header();
        let kind = header.entry_type();
        let meta = Meta {
            perm: header
                .mode()
                .map_err(|e| entry_error(&raw, e.to_string()))?
                & 0o7777,
            uid: id(header.uid(), &raw)?,
            gid: id(header.gid(), &raw)?,
            mtime: header.mtime().unwrap_or(0),
            xattrs,
        };
        if key.is_empty() {
            if kind.is_dir() {
                tree.set_root_meta(meta);
                continue;
            }
            return Err(entry_error(&raw, "the root can only be a directory"));
        }
        let (dir, name) = split(&key);
        let dir = parent_dir(tree, dir, &ours).map_err(|why| entry_error(&raw, why))?;
        let join = |name: &[u8]| -> Vec<u8> {
            if dir.is_empty() {
                name.to_vec()
            } else {
                [dir.as_slice(), b"/", name].concat()
            }
        };
        if name == OPAQUE {
            tree.remove_children(&dir, |k| ours.contains(k));
            continue;
        }
        if name.starts_with(AUFS_META) {
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                return Err(entry_error(&raw, "a whiteout of nothing"));
            }
            tree.remove(&join(hidden));
            continue;
        }
        let key = join(name);
        let node = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                let mut data = Vec::with_capacity(usize::try_from(size.min(64 << 20)).unwrap_or(0));
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| entry_error(&raw, e.to_string()))?;
                Node::File(Arc::new(File { meta, data }))
            }
            tar::EntryType::Directory => Node::Dir(meta),
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| entry_error(&raw, "a symlink without a target"))?
                    .into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(entry_error(&raw, "an empty symlink target"));
                }
                Node::Symlink { meta, target }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| entry_error(&raw, "a hard link without a target"))?
                    .into_owned();
                let target_key = clean(&target)
                    .ok_or_else(|| entry_error(&raw, "the hard link's target has `..`"))?;
                let found = tree
                    .lookup(&target_key, false, false)
                    .ok()
                    .and_then(|k| tree.get(&k).cloned());
                match found {
                    Some(Node::Dir(_)) => {
                        return Err(entry_error(&raw, "a hard link to a directory"))
                    }
                    Some(node) => node,
                    None => {
                        return Err(entry_error(
                            &raw,
                            format!(
                                "a hard link to {:?}, which is not in the image",
                                String::from_utf8_lossy(&target)
                            ),
                        ))
                    }
                }
            }
            tar::EntryType::Fifo => Node::Fifo(meta),
            tar::EntryType::Char | tar::EntryType::Block => Node::Device {
                meta,
                block: kind == tar::EntryType::Block,
                major: header.device_major().ok().flatten().unwrap_or(0),
                minor: header.device_minor().ok().flatten().unwrap_or(0),
            },
            tar::EntryType::XGlobalHeader => continue,
            other => {
                return Err(entry_error(
                    &raw,
                    format!("unsupported tar entry type {other:?}"),
                ))
            }
        };
        tree.insert(key.clone(), node);
        ours.insert(key);
    }
    Ok(())
}

fn id(value: io::Result<u64>, raw: &[u8]) -> Result<u32, LayerError> {
    let value = value.map_err(|e| entry_error(raw, e.to_string()))?;
    u32::try_from(value).map_err(|_| entry_error(raw, format!("owner id {value} is too large")))
}

/// The entry name as a tree key: no leading `/` or `./`, no empty or `.` components; `None`
/// if a component is `..`.
pub fn clean(raw: &[u8]) -> Option<Vec<u8>> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return None,
            _ => parts.push(part),
        }
    }
    Some(parts.join(&b'/'))
}

/// (directory, last component) of a cleaned, non-empty key.
fn split(key: &[u8]) -> (&[u8], &[u8]) {
    let dir = parent(key);
    let name = if dir.is_empty() {
        key
    } else {
        &key[dir.len() + 1..]
    };
    (dir, name)
}

/// The tree key of directory `dir`, symlinks followed inside the tree, missing directories
/// created as Docker creates them (root-owned, 0755).
fn parent_dir(tree: &mut FsTree, dir: &[u8], ours: &HashSet<Vec<u8>>) -> Result<Vec<u8>, String> {
    let _ = ours;
    let mut made = Vec::new();
    for part in dir.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        let path = if made.is_empty() {
            part.to_vec()
        } else {
            [made.as_slice(), b"/", part].concat()
        };
        let key = match tree.lookup(&path, true, true) {
            Ok(key) => key,
            Err(LookupError::NotFound) => {
                return Err(format!("{}: a symlink to nothing", show(&path)))
            }
            Err(e) => return Err(format!("{}: {e}", show(&path))),
        };
        match tree.get(&key) {
            None if key.is_empty() => {}
            None => tree.insert(key.clone(), Node::Dir(Meta::IMPLIED_DIR)),
            Some(Node::Dir(_)) => {}
            Some(_) => return Err(format!("{}: not a directory", show(&path))),
        }
        made = key;
    }
    Ok(made)
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

#[cfg(test)]
#[path = "layer_tests.rs"]
mod tests;
