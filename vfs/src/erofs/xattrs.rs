//! EROFS extended attributes: the body that follows an inode (`erofs_xattr_ibody_header`, the
//! ids of shared entries, then inline entries), as Linux's `fs/erofs/erofs_fs.h` lays it out.
//!
//! [`encode`] is the writer's half (`coracle`'s `erofs` module: inline entries only, sorted by
//! name, so the same attributes give the same bytes); the rest is the reader's: an inode's
//! attributes are read and checked once, with the inode ([`load`]), so that answering
//! getxattr/listxattr never waits for a block (the overlay's copy-up lists and reads them
//! after it has made the upper object, where a `WAIT` could not be taken back). A damaged body
//! leaves the inode usable: only its attribute calls say `EIO`, as Linux's `-EFSCORRUPTED`.
//!
//! Names are stored as a prefix index and the rest of the name (`EROFS_XATTR_INDEX_*`); the
//! two POSIX ACL indexes stand for whole names. Long name prefixes (an incompatible feature)
//! are not read: the superblock check refuses images that use them.

use alloc::vec::Vec;

use super::format::{Corrupt, BLOCK_SIZE};
use super::Erofs;
use crate::types::Result;
use crate::xattr::XattrOp;
use crate::Errno;

/// Bytes of `erofs_xattr_ibody_header`.
pub const HEADER_SIZE: usize = 12;
/// Bytes of `erofs_xattr_entry` before the name; entries are aligned to it.
const ENTRY_HEAD: usize = 4;
/// The most bytes of attributes the reader keeps for one inode (its names and values): more
/// than Linux's XATTR_LIST_MAX names of XATTR_SIZE_MAX values would never be shown anyway.
const LOAD_MAX: usize = 1 << 20;

/// Name prefixes by index (`EROFS_XATTR_INDEX_*`; 5, Lustre's, has no handler in Linux).
const PREFIXES: [(u8, &[u8]); 5] = [
    (1, b"user."),
    (2, b"system.posix_acl_access"),
    (3, b"system.posix_acl_default"),
    (4, b"trusted."),
    (6, b"security."),
];

/// Whether the index stands for a whole name (the ACLs), not a prefix.
fn whole_name(index: u8) -> bool {
    matches!(index, 2 | 3)
}

/// The index and the rest of `name`, or `None` for a name EROFS cannot store without long
/// prefixes (an unknown namespace such as `system.foo`).
pub fn split_name(name: &[u8]) -> Option<(u8, &[u8])> {
    PREFIXES.iter().find_map(|&(index, prefix)| {
        let rest = name.strip_prefix(prefix)?;
        (!whole_name(index) || rest.is_empty()).then_some((index, rest))
    })
}

/// The full name of an entry, or `None` for an index Linux has no handler for.
fn full_name(index: u8, suffix: &[u8]) -> Option<Vec<u8>> {
    let &(_, prefix) = PREFIXES.iter().find(|(i, _)| *i == index)?;
    let mut name = Vec::new();
    name.try_reserve_exact(prefix.len() + suffix.len()).ok()?;
    name.extend_from_slice(prefix);
    name.extend_from_slice(suffix);
    Some(name)
}

/// Bytes of the attribute body of an inode whose `i_xattr_icount` is `icount`.
pub fn ibody_size(icount: u16) -> usize {
    match icount {
        0 => 0,
        n => HEADER_SIZE + 4 * (usize::from(n) - 1),
    }
}

/// Why attributes cannot be written as EROFS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// A name in a namespace without a prefix index.
    Namespace,
    /// A name past its prefix longer than 255 bytes, or a value longer than 65535.
    TooLong,
    /// More than `i_xattr_icount` can count.
    TooMany,
}

/// The body (header and inline entries, in the order given) and the `i_xattr_icount` of
/// `attrs` (name, value); empty and 0 for none.
pub fn encode(attrs: &[(&[u8], &[u8])]) -> core::result::Result<(Vec<u8>, u16), EncodeError> {
    if attrs.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut body = alloc::vec![0u8; HEADER_SIZE];
    for &(name, value) in attrs {
        let (index, suffix) = split_name(name).ok_or(EncodeError::Namespace)?;
        let name_len = u8::try_from(suffix.len()).map_err(|_| EncodeError::TooLong)?;
        let value_size = u16::try_from(value.len()).map_err(|_| EncodeError::TooLong)?;
        body.push(name_len);
        body.push(index);
        body.extend_from_slice(&value_size.to_le_bytes());
        body.extend_from_slice(suffix);
        body.extend_from_slice(value);
        body.resize(body.len().next_multiple_of(ENTRY_HEAD), 0);
    }
    let icount =
        u16::try_from((body.len() - HEADER_SIZE) / 4 + 1).map_err(|_| EncodeError::TooMany)?;
    Ok((body, icount))
}

/// One entry as stored: its prefix index, the rest of its name and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub index: u8,
    pub suffix: &'a [u8],
    pub value: &'a [u8],
}

/// The size of the entry whose first bytes are `head`, padding included.
fn entry_size(head: &[u8]) -> usize {
    let value = usize::from(u16::from_le_bytes([head[2], head[3]]));
    (ENTRY_HEAD + usize::from(head[0]) + value).next_multiple_of(ENTRY_HEAD)
}

/// The entry at the start of `b`, which must hold all of it.
fn entry_at(b: &[u8]) -> core::result::Result<Entry<'_>, Corrupt> {
    let bad = Corrupt("xattr entry past its area");
    if b.len() < ENTRY_HEAD {
        return Err(bad);
    }
    let name_end = ENTRY_HEAD + usize::from(b[0]);
    let value_end = name_end + usize::from(u16::from_le_bytes([b[2], b[3]]));
    if value_end > b.len() {
        return Err(bad);
    }
    Ok(Entry {
        index: b[1],
        suffix: &b[ENTRY_HEAD..name_end],
        value: &b[name_end..value_end],
    })
}

/// The shared ids and the inline entries of a body of [`ibody_size`] bytes.
pub fn decode(body: &[u8]) -> core::result::Result<(Vec<u32>, Vec<Entry<'_>>), Corrupt> {
    if body.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    if body.len() < HEADER_SIZE {
        return Err(Corrupt("short xattr header"));
    }
    let shared_end = HEADER_SIZE + 4 * usize::from(body[4]);
    if shared_end > body.len() {
        return Err(Corrupt("xattr shared ids past the body"));
    }
    let shared = body[HEADER_SIZE..shared_end]
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut entries = Vec::new();
    let mut at = shared_end;
    while at < body.len() {
        let entry = entry_at(&body[at..])?;
        entries
            .try_reserve(1)
            .map_err(|_| Corrupt("too many xattrs"))?;
        entries.push(entry);
        at += entry_size(&body[at..]);
    }
    Ok((shared, entries))
}

/// An inode's attributes as the reader keeps them: (full name, value), inline entries first
/// and then shared ones (Linux's listing order); `EIO` for a damaged body.
pub(super) type Loaded = core::result::Result<Vec<(Vec<u8>, Vec<u8>)>, Errno>;

/// Reads the attributes of the inode whose body (of `icount`) starts at device byte `pos`.
/// `WAIT` (and `ENOMEM`) are for the caller to pass on; anything else damaged is kept as the
/// inode's [`Loaded`] error.
pub(super) fn load(fs: &Erofs, pos: u64, icount: u16) -> Result<Loaded> {
    match read_all(fs, pos, icount) {
        Ok(all) => Ok(Ok(all)),
        Err(e @ (Errno::WAIT | Errno::ENOMEM)) => Err(e),
        Err(_) => Ok(Err(Errno::EIO)),
    }
}

fn read_all(fs: &Erofs, pos: u64, icount: u16) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut body = Vec::new();
    body.try_reserve_exact(ibody_size(icount))
        .map_err(|_| Errno::ENOMEM)?;
    body.resize(ibody_size(icount), 0);
    fs.read_meta(pos, &mut body)?;
    let (shared, inline) = decode(&body).map_err(super::corrupt)?;
    let mut out = Vec::new();
    let mut total = 0;
    let mut keep = |e: Entry<'_>| -> Result<()> {
        total += e.suffix.len() + e.value.len() + 32;
        if total > LOAD_MAX {
            return Err(Errno::EIO);
        }
        if let Some(name) = full_name(e.index, e.suffix) {
            let mut value = Vec::new();
            value
                .try_reserve_exact(e.value.len())
                .map_err(|_| Errno::ENOMEM)?;
            value.extend_from_slice(e.value);
            out.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
            out.push((name, value));
        }
        Ok(())
    };
    for e in inline {
        keep(e)?;
    }
    let area = u64::from(fs.sb.xattr_blkaddr) * BLOCK_SIZE as u64;
    for id in shared {
        let at = area + u64::from(id) * 4;
        let mut head = [0u8; ENTRY_HEAD];
        fs.read_meta(at, &mut head)?;
        let mut entry = alloc::vec![0u8; entry_size(&head)];
        fs.read_meta(at, &mut entry)?;
        keep(entry_at(&entry).map_err(super::corrupt)?)?;
    }
    Ok(out)
}

/// Answers `op` from an inode's [`Loaded`] attributes: the image is read-only.
pub(super) fn answer(loaded: &Loaded, op: XattrOp<'_>) -> Result<Vec<u8>> {
    let all = loaded.as_ref().map_err(|e| *e)?;
    match op {
        XattrOp::Get(name) => {
            let (_, value) = all.iter().find(|(n, _)| n == name).ok_or(Errno::ENODATA)?;
            let mut out = Vec::new();
            out.try_reserve_exact(value.len())
                .map_err(|_| Errno::ENOMEM)?;
            out.extend_from_slice(value);
            Ok(out)
        }
        XattrOp::List => {
            let mut out = Vec::new();
            for (name, _) in all {
                out.try_reserve(name.len() + 1).map_err(|_| Errno::ENOMEM)?;
                out.extend_from_slice(name);
                out.push(0);
            }
            Ok(out)
        }
        XattrOp::Set { .. } | XattrOp::Remove(_) => Err(Errno::EROFS),
    }
}
