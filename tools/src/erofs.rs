//! Writes an EROFS image from the same entry stream the initrd gets: the root filesystem of a
//! run on a read-only virtio-blk drive, read by the guest on demand.
//!
//! Debian 12's mkfs.erofs cannot read tar streams and unpacking layers on the host needs root,
//! so `coracle` writes the image itself. [`ErofsWriter`] is an [`EntrySink`]: `rootfs::Tree`
//! and `image::tree::FsTree` stream their entries into it in path order, as into the cpio
//! writer. File data is copied to the output as it comes (whole blocks from block 1 on);
//! files up to [`INLINE_MAX`] bytes wait in memory and go inline after their inode. At
//! [`ErofsWriter::finish`] the metadata area follows the data: every inode (64-byte extended
//! form, so owners and mtimes are exact), then the directory blocks that are not inline, then
//! the superblock goes into block 0. No compression. Extended attributes go inline after their
//! inode (`coracle_vfs::erofs::xattrs`, sorted by name; no shared ones), before any inline
//! data; names EROFS has no prefix index for (no namespace Linux lets a file have) and values
//! over 65535 bytes cannot be stored and are left out. The same entries give the same bytes:
//! nothing depends on the clock or on hash order. The layout is `coracle_vfs::erofs::format`,
//! the guest reader's.

use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

use coracle_vfs::erofs::format::{
    self, DiskInode, SuperBlock, BLOCK_SIZE, EXTENDED_INODE_SIZE, LAYOUT_FLAT_INLINE,
    LAYOUT_FLAT_PLAIN, SLOT_SIZE,
};
use coracle_vfs::erofs::xattrs;

use crate::cpio::{EntrySink, Header, S_IFDIR, S_IFMT, S_IFREG};
use crate::xattrs::Xattrs;

/// Files, directories and symlinks whose last block holds at most this many bytes keep it
/// after their inode instead of in a block of its own.
pub const INLINE_MAX: usize = 2048;
const BS: u64 = BLOCK_SIZE as u64;

#[derive(Debug)]
enum Data {
    None,
    /// Small enough to go after the inode.
    Inline(Vec<u8>),
    /// Whole blocks from `start`, `len` bytes.
    Blocks {
        start: u32,
        len: u64,
    },
}

#[derive(Debug)]
struct Node {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    names: u32,
    /// The extended attributes' body after the inode, and its `i_xattr_icount`.
    xattrs: (Vec<u8>, u16),
    data: Data,
    /// A directory's entries: (name, node index).
    children: Vec<(Vec<u8>, usize)>,
    parent: usize,
}

/// Streams entries into an EROFS image on `out`; [`ErofsWriter::finish`] completes it.
#[derive(Debug)]
pub struct ErofsWriter<W: Write + Seek> {
    out: W,
    /// The next free data block.
    next_block: u64,
    next_ino: u32,
    nodes: Vec<Node>,
    /// Directory path (as in the archive, `.` for the root) to its node.
    dirs: HashMap<Vec<u8>, usize>,
    /// The entry stream's inode numbers of regular files, for hard links.
    files: HashMap<u32, usize>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl<W: Write + Seek> ErofsWriter<W> {
    /// A writer that starts the image at the beginning of `out`.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&[0; BLOCK_SIZE])?;
        Ok(ErofsWriter {
            out,
            next_block: 1,
            next_ino: 1,
            nodes: Vec::new(),
            dirs: HashMap::new(),
            files: HashMap::new(),
        })
    }

    /// Copies `len` bytes of `data` to the next data blocks, padding the last one.
    fn copy_blocks(&mut self, data: &mut dyn Read, len: u64, name: &[u8]) -> io::Result<u32> {
        let start = u32::try_from(self.next_block)
            .map_err(|_| bad("the image is larger than EROFS can address".into()))?;
        let copied = io::copy(&mut data.take(len), &mut self.out)?;
        if copied != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {copied} bytes read, {len} expected (did it change while being packed?)",
                    String::from_utf8_lossy(name)
                ),
            ));
        }
        let pad = (BS - len % BS) % BS;
        self.out.write_all(&vec![0; pad as usize])?;
        self.next_block += len.div_ceil(BS);
        Ok(start)
    }

    /// The data of an entry: inline when it is small and fits in a block with the inode and
    /// `xattr_len` bytes of attributes, else in blocks now.
    fn take_data(
        &mut self,
        data: &mut dyn Read,
        len: u64,
        name: &[u8],
        xattr_len: usize,
    ) -> io::Result<Data> {
        if len == 0 {
            return Ok(Data::None);
        }
        if len <= INLINE_MAX as u64 && fits_inline(len, xattr_len) {
            let mut buf = Vec::with_capacity(len as usize);
            data.take(len).read_to_end(&mut buf)?;
            if buf.len() as u64 != len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("{}: shorter than expected", String::from_utf8_lossy(name)),
                ));
            }
            return Ok(Data::Inline(buf));
        }
        let start = self.copy_blocks(data, len, name)?;
        Ok(Data::Blocks { start, len })
    }

    /// Adds the root's directories `names` (with permission bits `mode`, owned by root) that
    /// the entries did not bring: the mount points the guest needs on a read-only root.
    pub fn ensure_root_dirs(&mut self, names: &[(&[u8], u32)]) -> io::Result<()> {
        for &(name, mode) in names {
            if self.nodes.is_empty() || self.dirs.contains_key(name) {
                continue;
            }
            let taken = self.nodes[0].children.iter().any(|(n, _)| n == name);
            if !taken {
                let header = Header {
                    name,
                    ino: self.new_ino(),
                    mode: S_IFDIR | mode,
                    uid: 0,
                    gid: 0,
                    nlink: 2,
                    mtime: 0,
                    filesize: 0,
                };
                self.add(&header, &Xattrs::NONE, io::empty())?;
            }
        }
        Ok(())
    }

    /// Writes the metadata and the superblock; returns the output and the image's size.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.nodes.is_empty() {
            return Err(bad("no root directory (`.`) in the entries".into()));
        }
        let meta_blkaddr = self.next_block;
        // Directory contents, laid out with their nids known only by index for now.
        let kids: Vec<Vec<(Vec<u8>, usize)>> =
            (0..self.nodes.len()).map(|i| self.dir_entries(i)).collect();
        // Pass 1: each inode's place (nid) in the metadata area, and which directory blocks
        // go inline.
        let mut nids = vec![0u64; self.nodes.len()];
        let mut dir_sizes = vec![0u64; self.nodes.len()];
        // Slot 0 stays empty: Linux's EROFS reports an inode's nid as its `st_ino`, and
        // readers take a directory entry with `d_ino` 0 for a deleted one (Debian 12's busybox
        // `ls -a` showed neither `.` nor `..` of a root at nid 0).
        let mut cursor = SLOT_SIZE as u64;
        for (i, node) in self.nodes.iter().enumerate() {
            let xattr_len = node.xattrs.0.len();
            let tail = match &node.data {
                Data::Inline(d) => d.len() as u64,
                _ if node.mode & S_IFMT == S_IFDIR => {
                    let size = dir_size(&kids[i]);
                    dir_sizes[i] = size;
                    inline_tail(size, xattr_len)
                }
                _ => 0,
            };
            // Inode, attributes and inline tail stay in one block (Linux: "inline data cross
            // block boundary" is corruption); only attributes too big for one block start a
            // block and cross into the next.
            let need = (EXTENDED_INODE_SIZE + xattr_len) as u64 + tail;
            if cursor % BS + need > BS {
                cursor = cursor.next_multiple_of(BS);
            }
            nids[i] = cursor / SLOT_SIZE as u64;
            cursor += need.next_multiple_of(SLOT_SIZE as u64);
        }
        if nids[0] > u64::from(u16::MAX) {
            return Err(bad("the root inode is out of reach".into()));
        }
        let meta_blocks = cursor.div_ceil(BS);
        let mut next_dir_block = meta_blkaddr + meta_blocks;
        // Pass 2: encode every inode (and its inline tail) into the metadata area.
        let mut meta = vec![0u8; (meta_blocks * BS) as usize];
        let mut dir_blocks: Vec<u8> = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut disk = DiskInode {
                layout: LAYOUT_FLAT_PLAIN,
                xattr_icount: node.xattrs.1,
                mode: node.mode,
                nlink: node.names,
                size: 0,
                raw: 0,
                ino: u32::try_from(i + 1).map_err(|_| bad("too many inodes".into()))?,
                uid: node.uid,
                gid: node.gid,
                mtime: node.mtime,
                mtime_nsec: 0,
                extended: true,
            };
            let mut tail: Vec<u8> = Vec::new();
            if node.mode & S_IFMT == S_IFDIR {
                disk.nlink = 2 + kids[i]
                    .iter()
                    .filter(|(n, k)| {
                        n != b"." && n != b".." && self.nodes[*k].mode & S_IFMT == S_IFDIR
                    })
                    .count() as u32;
                let entries: Vec<(&[u8], u64, u8)> = kids[i]
                    .iter()
                    .map(|(n, k)| {
                        (
                            n.as_slice(),
                            nids[*k],
                            format::file_type(self.nodes[*k].mode),
                        )
                    })
                    .collect();
                let mut blocks = format::encode_dir(&entries);
                disk.size = dir_sizes[i];
                if inline_tail(disk.size, node.xattrs.0.len()) > 0 {
                    disk.layout = LAYOUT_FLAT_INLINE;
                    tail = blocks.pop().unwrap_or_default();
                }
                if !blocks.is_empty() {
                    disk.raw = block_u32(next_dir_block)?;
                    next_dir_block += blocks.len() as u64;
                    for b in &blocks {
                        dir_blocks.extend_from_slice(b);
                        dir_blocks.resize(dir_blocks.len().next_multiple_of(BLOCK_SIZE), 0);
                    }
                }
            } else {
                match &node.data {
                    Data::None => {}
                    Data::Inline(d) => {
                        disk.layout = LAYOUT_FLAT_INLINE;
                        disk.size = d.len() as u64;
                        tail = d.clone();
                    }
                    Data::Blocks { start, len } => {
                        disk.raw = *start;
                        disk.size = *len;
                    }
                }
            }
            let at = (nids[i] * SLOT_SIZE as u64) as usize;
            meta[at..at + EXTENDED_INODE_SIZE].copy_from_slice(&disk.encode());
            let x = at + EXTENDED_INODE_SIZE;
            meta[x..x + node.xattrs.0.len()].copy_from_slice(&node.xattrs.0);
            let t = x + node.xattrs.0.len();
            meta[t..t + tail.len()].copy_from_slice(&tail);
        }
        self.out.write_all(&meta)?;
        self.out.write_all(&dir_blocks)?;
        let blocks = next_dir_block;
        let sb = SuperBlock {
            root_nid: nids[0] as u16,
            inos: self.nodes.len() as u64,
            build_time: 0,
            build_time_nsec: 0,
            blocks: block_u32(blocks)?,
            meta_blkaddr: block_u32(meta_blkaddr)?,
            xattr_blkaddr: 0,
        };
        self.out
            .seek(SeekFrom::Start(format::SUPER_OFFSET as u64))?;
        self.out.write_all(&sb.encode())?;
        self.out.seek(SeekFrom::Start(blocks * BS))?;
        self.out.flush()?;
        Ok((self.out, blocks * BS))
    }

    /// Directory `i`'s entries with `.` and `..`, sorted by name bytes as EROFS wants.
    fn dir_entries(&self, i: usize) -> Vec<(Vec<u8>, usize)> {
        let node = &self.nodes[i];
        if node.mode & S_IFMT != S_IFDIR {
            return Vec::new();
        }
        let mut all = node.children.clone();
        all.push((b".".to_vec(), i));
        all.push((b"..".to_vec(), node.parent));
        all.sort();
        all
    }
}

/// Bytes of a directory's data: every block full but the last.
fn dir_size(entries: &[(Vec<u8>, usize)]) -> u64 {
    let refs: Vec<(&[u8], u64, u8)> = entries.iter().map(|(n, _)| (n.as_slice(), 0, 0)).collect();
    let blocks = format::encode_dir(&refs);
    let last = blocks.last().map_or(0, Vec::len) as u64;
    (blocks.len() as u64).saturating_sub(1) * BS + last
}

/// How many bytes of a directory of `size` bytes go inline after its inode and `xattr_len`
/// bytes of attributes (0: all in blocks).
fn inline_tail(size: u64, xattr_len: usize) -> u64 {
    let tail = size % BS;
    if tail > 0 && tail <= INLINE_MAX as u64 && fits_inline(tail, xattr_len) {
        tail
    } else {
        0
    }
}

/// Whether an inline tail of `len` bytes fits in one block after the inode and its attributes.
fn fits_inline(len: u64, xattr_len: usize) -> bool {
    (EXTENDED_INODE_SIZE + xattr_len) as u64 + len <= BS
}

/// The attribute body of an entry: the names EROFS can store, in name order.
fn encode_xattrs(all: &Xattrs, name: &[u8]) -> io::Result<(Vec<u8>, u16)> {
    let kept: Vec<(&[u8], &[u8])> = all
        .iter()
        .filter(|(n, _)| xattrs::split_name(n).is_some_and(|(_, rest)| rest.len() <= 255))
        .filter(|(_, v)| v.len() <= usize::from(u16::MAX))
        .collect();
    xattrs::encode(&kept).map_err(|e| {
        bad(format!(
            "{}: its extended attributes cannot be stored in EROFS ({e:?})",
            String::from_utf8_lossy(name)
        ))
    })
}

fn block_u32(block: u64) -> io::Result<u32> {
    u32::try_from(block).map_err(|_| bad("the image is larger than EROFS can address".into()))
}

impl<W: Write + Seek> EntrySink for ErofsWriter<W> {
    fn new_ino(&mut self) -> u32 {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    fn add(&mut self, header: &Header<'_>, xattrs: &Xattrs, mut data: impl Read) -> io::Result<()> {
        let name = header.name;
        let shown = || String::from_utf8_lossy(name).into_owned();
        let (parent, base) = if name == b"." {
            if !self.nodes.is_empty() {
                return Err(bad("`.` comes twice".into()));
            }
            (0, Vec::new())
        } else {
            let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
                Some(at) => (&name[..at], &name[at + 1..]),
                None => (&b"."[..], name),
            };
            let Some(&parent) = self.dirs.get(dir) else {
                return Err(bad(format!(
                    "{}: its directory is not in the image",
                    shown()
                )));
            };
            if base.is_empty() || base == b"." || base == b".." || base.len() > 255 {
                return Err(bad(format!("{}: not a valid name", shown())));
            }
            (parent, base.to_vec())
        };
        if name != b"." && self.nodes.is_empty() {
            return Err(bad("the root directory (`.`) must come first".into()));
        }
        let mode = header.mode;
        if format::file_type(mode) == format::FT_UNKNOWN {
            return Err(bad(format!("{}: unknown file type", shown())));
        }
        // A second name of a regular file: a hard link to the inode already written.
        if mode & S_IFMT == S_IFREG && header.filesize == 0 {
            if let Some(&node) = self.files.get(&header.ino) {
                self.nodes[node].names += 1;
                self.nodes[parent].children.push((base, node));
                return Ok(());
            }
        }
        let xattrs = encode_xattrs(xattrs, name)?;
        let data = match mode & S_IFMT {
            S_IFDIR => Data::None,
            _ => self.take_data(&mut data, u64::from(header.filesize), name, xattrs.0.len())?,
        };
        let index = self.nodes.len();
        self.nodes.push(Node {
            mode,
            uid: header.uid,
            gid: header.gid,
            mtime: u64::from(header.mtime),
            names: 1,
            xattrs,
            data,
            children: Vec::new(),
            parent,
        });
        if mode & S_IFMT == S_IFDIR {
            self.dirs.insert(name.to_vec(), index);
        } else if mode & S_IFMT == S_IFREG {
            self.files.insert(header.ino, index);
        }
        if index > 0 {
            self.nodes[parent].children.push((base, index));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "erofs_tests.rs"]
mod tests;
#[cfg(test)]
#[path = "erofs_xattr_tests.rs"]
mod xattr_tests;
