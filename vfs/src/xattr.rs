//! Extended attributes: named values an inode carries beside its data, and the one inode
//! hook every filesystem answers them through ([`crate::Inode::xattr`]).
//!
//! The syscall layer checks names, namespaces, sizes and permissions (Linux's `fs/xattr.c`);
//! a filesystem only stores and finds. [`XattrMap`] is the in-memory store with Linux's
//! semantics (tmpfs's `simple_xattrs`), for tmpfs now and any filesystem that keeps its
//! attributes in memory; one that reads them from disk (EROFS) answers [`XattrOp`]s itself.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::types::Result;
use crate::Errno;

/// setxattr's flags: fail if the name exists / does not exist.
pub const XATTR_CREATE: u32 = 1;
pub const XATTR_REPLACE: u32 = 2;

/// One request to an inode's attributes, names with their namespace prefix (`user.mime`).
#[derive(Debug, Clone, Copy)]
pub enum XattrOp<'a> {
    /// The value of a name; `ENODATA` when it has none.
    Get(&'a [u8]),
    /// Every name, each followed by a NUL, in the filesystem's order.
    List,
    /// Sets a value; `flags` as setxattr's (`EEXIST`, `ENODATA`).
    Set {
        name: &'a [u8],
        value: &'a [u8],
        flags: u32,
    },
    /// Removes a name; `ENODATA` when it has none.
    Remove(&'a [u8]),
}

/// Attributes kept in memory.
#[derive(Debug, Default, Clone)]
pub struct XattrMap(BTreeMap<Vec<u8>, Vec<u8>>);

impl XattrMap {
    /// Answers `op`: the value (Get), the NUL-separated names (List), or nothing.
    pub fn apply(&mut self, op: XattrOp<'_>) -> Result<Vec<u8>> {
        match op {
            XattrOp::Get(name) => self.0.get(name).cloned().ok_or(Errno::ENODATA),
            XattrOp::List => {
                // tmpfs lists in its rbtree's order, which compares the other way round:
                // names in descending byte order.
                let mut out = Vec::new();
                for name in self.0.keys().rev() {
                    out.extend_from_slice(name);
                    out.push(0);
                }
                Ok(out)
            }
            XattrOp::Set { name, value, flags } => {
                let exists = self.0.contains_key(name);
                if flags & XATTR_CREATE != 0 && exists {
                    return Err(Errno::EEXIST);
                }
                if flags & XATTR_REPLACE != 0 && !exists {
                    return Err(Errno::ENODATA);
                }
                let mut v = Vec::new();
                v.try_reserve_exact(value.len())
                    .map_err(|_| Errno::ENOMEM)?;
                v.extend_from_slice(value);
                self.0.insert(name.to_vec(), v);
                Ok(Vec::new())
            }
            XattrOp::Remove(name) => self
                .0
                .remove(name)
                .map(|_| Vec::new())
                .ok_or(Errno::ENODATA),
        }
    }
}
