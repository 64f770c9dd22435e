//! name_to_handle_at and open_by_handle_at (open_by_handle_at(2)): a file named by bytes the
//! filesystem chose instead of a path.
//!
//! Handles are laid out as tmpfs's (`shmem_encode_fh`): type 1, three 32-bit words, the
//! generation (always 0 here) then the inode number's low and high halves. Opening one needs
//! CAP_DAC_READ_SEARCH, which a container's root does not have (`EPERM` once the handle's
//! header and the fd are checked, as Linux 6.18 orders it); with it, the inode is found by a
//! bounded walk of the mount's tree, since filesystems here have no inode-number index.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::{oflags::*, Caller, FileType};
use coracle_vfs::{cap, Errno, Inode};

use super::{lookup, start_dir, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW};
use crate::sys::io::install_new;
use crate::uaccess::write_u32;
use crate::{Current, Platform, SysResult};

/// `AT_HANDLE_*` flags of name_to_handle_at (Linux 6.12).
const AT_HANDLE_MNT_ID_UNIQUE: i32 = 0x001;
const AT_HANDLE_CONNECTABLE: i32 = 0x002;
const AT_HANDLE_FID: i32 = 0x200;
/// `MAX_HANDLE_SZ`.
const MAX_HANDLE_SZ: u32 = 128;
/// The bytes and type of our handles; `FILEID_INVALID` answers a buffer too small.
const HANDLE_BYTES: u32 = 12;
const HANDLE_TYPE: u32 = 1;
const FILEID_INVALID: u32 = 255;
/// Objects looked at before open_by_handle_at gives up with `ESTALE`.
const SEARCH_LIMIT: usize = 1 << 16;

pub(crate) fn name_to_handle_at(
    p: &mut Current,
    k: &mut dyn Platform,
    dirfd: i32,
    path: u64,
    handle: u64,
    mount_id: u64,
    flags: i32,
) -> SysResult {
    let known = AT_SYMLINK_FOLLOW
        | AT_EMPTY_PATH
        | AT_HANDLE_FID
        | AT_HANDLE_MNT_ID_UNIQUE
        | AT_HANDLE_CONNECTABLE;
    if flags & !known != 0 || (flags & AT_HANDLE_CONNECTABLE != 0 && flags & AT_HANDLE_FID != 0) {
        return Err(Errno::EINVAL);
    }
    let follow = flags & AT_SYMLINK_FOLLOW != 0;
    let inode = lookup(p, k, dirfd, path, follow, flags & AT_EMPTY_PATH != 0)?;
    let mut header = [0u8; 8];
    k.read_user(handle, &mut header)?;
    let room = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
    if room > MAX_HANDLE_SZ {
        return Err(Errno::EINVAL);
    }
    let fits = room >= HANDLE_BYTES;
    let mut out = Vec::with_capacity(20);
    out.extend_from_slice(&HANDLE_BYTES.to_ne_bytes());
    let kind = if fits { HANDLE_TYPE } else { FILEID_INVALID };
    out.extend_from_slice(&kind.to_ne_bytes());
    if fits {
        let ino = inode.stat().ino;
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&(ino as u32).to_ne_bytes());
        out.extend_from_slice(&((ino >> 32) as u32).to_ne_bytes());
    }
    let id = crate::procfs::mnt_id_of(&p.sys.vfs.mounts(), &inode);
    if flags & AT_HANDLE_MNT_ID_UNIQUE != 0 {
        crate::uaccess::write_u64(k, mount_id, u64::from(id))?;
    } else {
        write_u32(k, mount_id, id)?;
    }
    k.write_user(handle, &out)?;
    if fits {
        Ok(0)
    } else {
        Err(Errno::EOVERFLOW)
    }
}

pub(crate) fn open_by_handle_at(
    p: &mut Current,
    k: &mut dyn Platform,
    mount_fd: i32,
    handle: u64,
    flags: i32,
) -> SysResult {
    // handle_to_path (Linux 6.18): the handle's header, then the anchor fd, then the
    // capability, then the rest of the handle.
    let mut header = [0u8; 8];
    k.read_user(handle, &mut header)?;
    let bytes = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
    let kind = i32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
    if bytes == 0 || bytes > MAX_HANDLE_SZ || kind < 0 {
        return Err(Errno::EINVAL);
    }
    let anchor = if mount_fd == AT_FDCWD {
        start_dir(p, AT_FDCWD, b".")?
    } else {
        p.file(mount_fd)?.inode().clone()
    };
    let cx = p.caller();
    if !cx.capable(cap::DAC_READ_SEARCH) {
        return Err(Errno::EPERM);
    }
    let mut words = alloc::vec![0u8; bytes as usize];
    k.read_user(handle + 8, &mut words)?;
    if bytes != HANDLE_BYTES || kind as u32 != HANDLE_TYPE {
        return Err(Errno::ESTALE);
    }
    let word = |i: usize| u32::from_ne_bytes([words[i], words[i + 1], words[i + 2], words[i + 3]]);
    let ino = u64::from(word(4)) | (u64::from(word(8)) << 32);
    let root = mount_root(p, &anchor);
    let inode = find(&cx, root, ino).ok_or(Errno::ESTALE)?;
    let flags = flags as u32;
    if inode.stat().file_type() == FileType::Symlink && flags & O_PATH == 0 {
        return Err(Errno::ELOOP);
    }
    let ops = p.sys.vfs.open_inode(&cx, &inode, flags)?;
    install_new(p, inode, Vec::new(), flags | O_LARGEFILE, ops)
}

/// The root of the mount `inode` is on.
fn mount_root(p: &Current, inode: &Arc<dyn Inode>) -> Arc<dyn Inode> {
    let dev = inode.stat().dev;
    p.sys
        .vfs
        .mounts()
        .into_iter()
        .rev()
        .find(|m| m.root.stat().dev == dev)
        .map_or_else(|| inode.clone(), |m| m.root)
}

/// The object numbered `ino` under `root` on the same filesystem, by a bounded walk.
fn find(cx: &Caller, root: Arc<dyn Inode>, ino: u64) -> Option<Arc<dyn Inode>> {
    let dev = root.stat().dev;
    let mut todo = alloc::vec![root];
    let mut seen = 0;
    while let Some(dir) = todo.pop() {
        let st = dir.stat();
        if st.ino == ino {
            return Some(dir);
        }
        if !st.is_dir() {
            continue;
        }
        let mut pos = 2;
        while let Ok(Some((entry, next))) = dir.readdir(cx, pos) {
            pos = next;
            seen += 1;
            if seen > SEARCH_LIMIT {
                return None;
            }
            if let Ok(child) = dir.lookup(cx, &entry.name) {
                if child.stat().dev == dev {
                    todo.push(child);
                }
            }
        }
    }
    None
}
