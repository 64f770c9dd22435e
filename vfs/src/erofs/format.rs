//! EROFS on-disk layout: the superblock, the extended inode and the directory entry, as Linux's
//! `fs/erofs/erofs_fs.h` lays them out, with checked decoding and encoding.
//!
//! Shared by the reader (`super::fs`, in the guest) and the writer (`coracle`'s `erofs`
//! module, on the host), so both agree on every offset. Decoding never panics: a field that
//! cannot be right is [`Corrupt`]; the reader turns that into `EIO`.
//!
//! Only what Coracle writes is read: 4 KiB blocks, no compression, no chunks, no extra
//! devices; inodes may be compact (32 bytes) or extended (64 bytes), data plain (whole blocks
//! from `raw_blkaddr`) or inline (the tail right after the inode and its extended attributes,
//! whose body is `super::xattrs`').

/// Where the superblock starts on the device.
pub const SUPER_OFFSET: usize = 1024;
/// `EROFS_SUPER_MAGIC_V1`.
pub const MAGIC: u32 = 0xE0F5_E1E2;
/// log2 of the block size Coracle uses (and the only one it reads): the page size.
pub const BLOCK_BITS: u8 = 12;
/// Bytes in a block.
pub const BLOCK_SIZE: usize = 1 << BLOCK_BITS;
/// Bytes in an inode slot: a nid counts these from the metadata area's start.
pub const SLOT_SIZE: usize = 32;
/// Bytes in a compact inode.
pub const COMPACT_INODE_SIZE: usize = 32;
/// Bytes in an extended inode.
pub const EXTENDED_INODE_SIZE: usize = 64;
/// Bytes in a directory entry.
pub const DIRENT_SIZE: usize = 12;

/// `i_format` data layouts.
pub const LAYOUT_FLAT_PLAIN: u16 = 0;
pub const LAYOUT_FLAT_INLINE: u16 = 2;

/// `file_type` of a directory entry (`EROFS_FT_*`).
pub const FT_UNKNOWN: u8 = 0;
pub const FT_REG_FILE: u8 = 1;
pub const FT_DIR: u8 = 2;
pub const FT_CHRDEV: u8 = 3;
pub const FT_BLKDEV: u8 = 4;
pub const FT_FIFO: u8 = 5;
pub const FT_SOCK: u8 = 6;
pub const FT_SYMLINK: u8 = 7;

const S_IFMT: u32 = 0o170000;

/// Why a structure cannot be read: the image is damaged (or not EROFS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// The superblock fields Coracle uses (the rest are written as zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SuperBlock {
    pub root_nid: u16,
    /// Inodes in the filesystem (statfs' `f_files`).
    pub inos: u64,
    /// The mtime of compact inodes.
    pub build_time: u64,
    pub build_time_nsec: u32,
    /// Blocks in the filesystem.
    pub blocks: u32,
    /// The block where nid 0 lives.
    pub meta_blkaddr: u32,
    /// The block where shared extended attributes start (their ids count 4 bytes from it).
    pub xattr_blkaddr: u32,
}

/// Bytes of the superblock.
pub const SUPER_SIZE: usize = 128;

impl SuperBlock {
    /// Reads the 128 bytes at [`SUPER_OFFSET`].
    pub fn decode(b: &[u8]) -> Result<SuperBlock, Corrupt> {
        if b.len() < SUPER_SIZE {
            return Err(Corrupt("short superblock"));
        }
        if u32_at(b, 0) != MAGIC {
            return Err(Corrupt("not an EROFS image (bad magic)"));
        }
        if b[12] != BLOCK_BITS {
            return Err(Corrupt("block size is not 4096"));
        }
        if b[13] != 0 {
            return Err(Corrupt("superblock extension slots"));
        }
        // feature_incompat (80): compression, chunks, devices, ztailpacking, fragments,
        // dedupe, long xattr name prefixes... none of which Coracle reads. extra_devices (86) too.
        if u32_at(b, 80) != 0 || u16_at(b, 86) != 0 {
            return Err(Corrupt("incompatible features"));
        }
        Ok(SuperBlock {
            root_nid: u16_at(b, 14),
            inos: u64_at(b, 16),
            build_time: u64_at(b, 24),
            build_time_nsec: u32_at(b, 32),
            blocks: u32_at(b, 36),
            meta_blkaddr: u32_at(b, 40),
            xattr_blkaddr: u32_at(b, 44),
        })
    }

    /// The 128 bytes to write at [`SUPER_OFFSET`].
    pub fn encode(&self) -> [u8; SUPER_SIZE] {
        let mut b = [0u8; SUPER_SIZE];
        put(&mut b, 0, &MAGIC.to_le_bytes());
        b[12] = BLOCK_BITS;
        put(&mut b, 14, &self.root_nid.to_le_bytes());
        put(&mut b, 16, &self.inos.to_le_bytes());
        put(&mut b, 24, &self.build_time.to_le_bytes());
        put(&mut b, 32, &self.build_time_nsec.to_le_bytes());
        put(&mut b, 36, &self.blocks.to_le_bytes());
        put(&mut b, 40, &self.meta_blkaddr.to_le_bytes());
        put(&mut b, 44, &self.xattr_blkaddr.to_le_bytes());
        b
    }
}

/// One inode, compact or extended, as the fields Coracle uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiskInode {
    /// `LAYOUT_FLAT_PLAIN` or `LAYOUT_FLAT_INLINE`.
    pub layout: u16,
    /// `i_xattr_icount`: the size of the attribute body after the inode
    /// (`super::xattrs::ibody_size`).
    pub xattr_icount: u16,
    /// Type and permission bits.
    pub mode: u32,
    pub nlink: u32,
    pub size: u64,
    /// Plain and inline data: the first block of the data; devices: the device number.
    pub raw: u32,
    /// The inode number for 32-bit stat (Linux reports the nid on 64-bit).
    pub ino: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u64,
    pub mtime_nsec: u32,
    /// Whether it is the 64-byte form (the writer always writes it).
    pub extended: bool,
}

impl DiskInode {
    /// How many bytes the inode takes.
    pub fn size_on_disk(&self) -> usize {
        if self.extended {
            EXTENDED_INODE_SIZE
        } else {
            COMPACT_INODE_SIZE
        }
    }

    /// Reads an inode from `b` (its first bytes; 64 are enough for either form).
    /// `sb` gives compact inodes their mtime.
    pub fn decode(b: &[u8], sb: &SuperBlock) -> Result<DiskInode, Corrupt> {
        if b.len() < COMPACT_INODE_SIZE {
            return Err(Corrupt("short inode"));
        }
        let format = u16_at(b, 0);
        let extended = format & 1 == 1;
        let layout = (format >> 1) & 0x7;
        // Bits past the layout (EROFS_I_ALL) must be clear.
        if format >> 4 != 0 {
            return Err(Corrupt("unknown inode format bits"));
        }
        if layout != LAYOUT_FLAT_PLAIN && layout != LAYOUT_FLAT_INLINE {
            return Err(Corrupt("unsupported data layout (compressed or chunked)"));
        }
        let mode = u32::from(u16_at(b, 4));
        let inode = if extended {
            if b.len() < EXTENDED_INODE_SIZE {
                return Err(Corrupt("short inode"));
            }
            DiskInode {
                layout,
                xattr_icount: u16_at(b, 2),
                mode,
                nlink: u32_at(b, 44),
                size: u64_at(b, 8),
                raw: u32_at(b, 16),
                ino: u32_at(b, 20),
                uid: u32_at(b, 24),
                gid: u32_at(b, 28),
                mtime: u64_at(b, 32),
                mtime_nsec: u32_at(b, 40),
                extended,
            }
        } else {
            DiskInode {
                layout,
                xattr_icount: u16_at(b, 2),
                mode,
                nlink: u32::from(u16_at(b, 6)),
                size: u64::from(u32_at(b, 8)),
                raw: u32_at(b, 16),
                ino: u32_at(b, 20),
                uid: u32::from(u16_at(b, 24)),
                gid: u32::from(u16_at(b, 26)),
                mtime: sb.build_time,
                mtime_nsec: sb.build_time_nsec,
                extended,
            }
        };
        if file_type(inode.mode) == FT_UNKNOWN {
            return Err(Corrupt("unknown file type"));
        }
        Ok(inode)
    }

    /// The 64 bytes of the extended form.
    pub fn encode(&self) -> [u8; EXTENDED_INODE_SIZE] {
        let mut b = [0u8; EXTENDED_INODE_SIZE];
        put(&mut b, 0, &((self.layout << 1) | 1).to_le_bytes());
        put(&mut b, 2, &self.xattr_icount.to_le_bytes());
        put(&mut b, 4, &(self.mode as u16).to_le_bytes());
        put(&mut b, 8, &self.size.to_le_bytes());
        put(&mut b, 16, &self.raw.to_le_bytes());
        put(&mut b, 20, &self.ino.to_le_bytes());
        put(&mut b, 24, &self.uid.to_le_bytes());
        put(&mut b, 28, &self.gid.to_le_bytes());
        put(&mut b, 32, &self.mtime.to_le_bytes());
        put(&mut b, 40, &self.mtime_nsec.to_le_bytes());
        put(&mut b, 44, &self.nlink.to_le_bytes());
        b
    }
}

/// The directory-entry type of a mode, [`FT_UNKNOWN`] for a malformed one.
pub fn file_type(mode: u32) -> u8 {
    match mode & S_IFMT {
        0o100000 => FT_REG_FILE,
        0o040000 => FT_DIR,
        0o020000 => FT_CHRDEV,
        0o060000 => FT_BLKDEV,
        0o010000 => FT_FIFO,
        0o140000 => FT_SOCK,
        0o120000 => FT_SYMLINK,
        _ => FT_UNKNOWN,
    }
}

/// One directory entry: the nid of the inode, its name, and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub nid: u64,
    pub file_type: u8,
    pub name: &'a [u8],
}

/// One directory block, its entries read one at a time: a lookup decodes only the few its
/// binary search visits, a readdir only the one it returns. `block` holds the block's used
/// bytes (the whole block, or the directory's last bytes). Names run from their `nameoff` to
/// the next entry's, the last one to the block's end or its first NUL.
#[derive(Debug, Clone, Copy)]
pub struct DirBlock<'a> {
    block: &'a [u8],
    /// Entries in the block: at least one.
    count: usize,
}

impl<'a> DirBlock<'a> {
    /// Checks the block's size and where its names start.
    pub fn new(block: &'a [u8]) -> Result<Self, Corrupt> {
        if block.len() < DIRENT_SIZE || block.len() > BLOCK_SIZE {
            return Err(BAD_DIR);
        }
        let first = usize::from(u16_at(block, 8));
        if first < DIRENT_SIZE || first % DIRENT_SIZE != 0 || first > block.len() {
            return Err(BAD_DIR);
        }
        Ok(DirBlock {
            block,
            count: first / DIRENT_SIZE,
        })
    }

    /// How many entries the block holds (at least one).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Never: a directory block holds at least one entry.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `i` (below [`DirBlock::len`]), its name checked to lie in the name area.
    pub fn get(&self, i: usize) -> Result<Dirent<'a>, Corrupt> {
        let block = self.block;
        if i >= self.count {
            return Err(BAD_DIR);
        }
        let first = self.count * DIRENT_SIZE;
        let at = i * DIRENT_SIZE;
        let start = usize::from(u16_at(block, at + 8));
        let end = if i + 1 < self.count {
            usize::from(u16_at(block, at + DIRENT_SIZE + 8))
        } else {
            let tail = &block[start.min(block.len())..];
            start + tail.iter().position(|&c| c == 0).unwrap_or(tail.len())
        };
        if start < first || end <= start || end > block.len() || end - start > 255 {
            return Err(BAD_DIR);
        }
        Ok(Dirent {
            nid: u64_at(block, at),
            file_type: block[at + 10],
            name: &block[start..end],
        })
    }

    /// The entry named `name`, by binary search (names are sorted in a block).
    pub fn find(&self, name: &[u8]) -> Result<Option<Dirent<'a>>, Corrupt> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.get(mid)?;
            match e.name.cmp(name) {
                core::cmp::Ordering::Equal => return Ok(Some(e)),
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }
}

const BAD_DIR: Corrupt = Corrupt("bad directory block");

/// Lays `entries` (sorted by name) out in directory blocks; each inner vector is one block's
/// used bytes (every block but the last is padded to [`BLOCK_SIZE`] with zeros).
pub fn encode_dir(entries: &[(&[u8], u64, u8)]) -> alloc::vec::Vec<alloc::vec::Vec<u8>> {
    let mut blocks = alloc::vec::Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let mut n = 0;
        let mut used = 0;
        while i + n < entries.len() && used + DIRENT_SIZE + entries[i + n].0.len() <= BLOCK_SIZE {
            used += DIRENT_SIZE + entries[i + n].0.len();
            n += 1;
        }
        // A name is at most 255 bytes, so at least one entry always fits.
        let group = &entries[i..i + n.max(1)];
        let mut b = alloc::vec![0u8; group.len() * DIRENT_SIZE];
        let mut nameoff = b.len();
        for (k, (name, nid, ft)) in group.iter().enumerate() {
            put(&mut b, k * DIRENT_SIZE, &nid.to_le_bytes());
            put(&mut b, k * DIRENT_SIZE + 8, &(nameoff as u16).to_le_bytes());
            b[k * DIRENT_SIZE + 10] = *ft;
            nameoff += name.len();
        }
        for (name, _, _) in group {
            b.extend_from_slice(name);
        }
        blocks.push(b);
        i += group.len();
    }
    let last = blocks.len().saturating_sub(1);
    for b in blocks.iter_mut().take(last) {
        b.resize(BLOCK_SIZE, 0);
    }
    blocks
}
