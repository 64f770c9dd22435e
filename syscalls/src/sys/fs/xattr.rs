//! Extended attributes: setxattr, getxattr, listxattr, removexattr and their `l` (no final
//! symlink) and `f` (an open file) forms, with Linux's checks (`fs/xattr.c`) before the
//! inode's [`Inode::xattr`] hook stores or finds.
//!
//! Namespaces as a Docker container's root meets them on tmpfs: `user.*` on regular files
//! and directories, with the file's permissions; `security.*` read by anyone, written only
//! with CAP_SYS_ADMIN (`security.capability` with CAP_SETFCAP, which root has); `trusted.*`
//! needs CAP_SYS_ADMIN, which Docker does not give (writes `EPERM`, reads `ENODATA`, lists
//! leave them out); `system.*` would be POSIX ACLs, which this tmpfs does not keep
//! (`EOPNOTSUPP`, as without CONFIG_TMPFS_POSIX_ACL).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::{check_access, FileType, MAY_READ, MAY_WRITE};
use coracle_vfs::xattr::{XattrOp, XATTR_CREATE, XATTR_REPLACE};
use coracle_vfs::Inode;

use coracle_vfs::notify::{self, mask::IN_ATTRIB};

use super::{as_origin, check_rofs, fd_found, lookup_found, read_path, Origin, AT_FDCWD};
use crate::uaccess::read_cstr;
use crate::{Current, Errno, Platform, SysResult};

/// XATTR_NAME_MAX, XATTR_SIZE_MAX, XATTR_LIST_MAX.
const NAME_MAX: usize = 255;
const SIZE_MAX: u64 = 65536;
const LIST_MAX: u64 = 65536;

/// Whether Coracle's programs hold CAP_SYS_ADMIN: Docker does not give it.
const CAP_SYS_ADMIN: bool = false;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Space {
    User,
    Trusted,
    Security,
}

/// Reads an attribute name: `ERANGE` when empty or longer than XATTR_NAME_MAX, `EOPNOTSUPP`
/// for an unknown namespace (or `system.*`), `EINVAL` for a bare prefix.
fn read_name(k: &dyn Platform, ptr: u64) -> Result<(Vec<u8>, Space), Errno> {
    let name = match read_cstr(k, ptr, NAME_MAX + 1) {
        Err(Errno::ENAMETOOLONG) => return Err(Errno::ERANGE),
        r => r?,
    };
    if name.is_empty() {
        return Err(Errno::ERANGE);
    }
    let spaces: [(&[u8], Option<Space>); 4] = [
        (b"user.", Some(Space::User)),
        (b"trusted.", Some(Space::Trusted)),
        (b"security.", Some(Space::Security)),
        (b"system.", None),
    ];
    for (prefix, space) in spaces {
        if let Some(rest) = name.strip_prefix(prefix) {
            let Some(space) = space else {
                return Err(Errno::EOPNOTSUPP);
            };
            if rest.is_empty() {
                return Err(Errno::EINVAL);
            }
            return Ok((name, space));
        }
    }
    Err(Errno::EOPNOTSUPP)
}

/// xattr_permission and the capability hooks: may the caller read (`write` false) or write
/// `space` names on `inode`?
fn permission(
    p: &Current,
    inode: &Arc<dyn Inode>,
    name: &[u8],
    space: Space,
    write: bool,
) -> Result<(), Errno> {
    let denied = if write { Errno::EPERM } else { Errno::ENODATA };
    let st = inode.stat();
    match space {
        Space::Trusted if !CAP_SYS_ADMIN => return Err(denied),
        Space::Security => {
            if write && name != b"security.capability" && !CAP_SYS_ADMIN {
                return Err(Errno::EPERM);
            }
            return Ok(());
        }
        Space::User => {
            let kind = st.file_type();
            if kind != FileType::Regular && kind != FileType::Directory {
                return Err(denied);
            }
        }
        Space::Trusted => {}
    }
    check_access(&p.caller(), &st, if write { MAY_WRITE } else { MAY_READ })
}

/// The inode of a path (following a final symlink unless `l`) or of an open fd.
enum Target {
    Path { path: u64, follow: bool },
    Fd(i32),
}

fn target(p: &Current, k: &dyn Platform, t: Target) -> Result<Arc<dyn Inode>, Errno> {
    target_found(p, k, t).map(|f| f.0)
}

/// [`target`], with where the object was found (for the `IN_ATTRIB` a change reports).
fn target_found(
    p: &Current,
    k: &dyn Platform,
    t: Target,
) -> Result<(Arc<dyn Inode>, Origin), Errno> {
    match t {
        Target::Path { path, follow } => {
            let path = read_path(k, path)?;
            lookup_found(p, AT_FDCWD, &path, follow, false)
        }
        Target::Fd(fd) => fd_found(p, fd),
    }
}

fn set(
    p: &mut Current,
    k: &mut dyn Platform,
    t: Target,
    name: u64,
    value: u64,
    size: u64,
    flags: i32,
) -> SysResult {
    let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    if flags & !(XATTR_CREATE | XATTR_REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let (name, space) = read_name(k, name)?;
    if size > SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let mut data = alloc::vec![0u8; size as usize];
    if size > 0 {
        k.read_user(value, &mut data)?;
    }
    if name == b"security.capability" && !matches!(size, 12 | 20 | 24) {
        // cap_convert_nscap: not a vfs_cap_data of a known revision.
        return Err(Errno::EINVAL);
    }
    let (inode, origin) = target_found(p, k, t)?;
    check_rofs(p, &inode)?;
    permission(p, &inode, &name, space, true)?;
    inode.xattr(XattrOp::Set {
        name: &name,
        value: &data,
        flags,
    })?;
    notify::child_event(as_origin(&origin), &inode, IN_ATTRIB);
    Ok(0)
}

fn get(
    p: &mut Current,
    k: &mut dyn Platform,
    t: Target,
    name: u64,
    value: u64,
    size: u64,
) -> SysResult {
    let inode = target(p, k, t)?;
    let (name, space) = read_name(k, name)?;
    permission(p, &inode, &name, space, false)?;
    let v = inode.xattr(XattrOp::Get(&name))?;
    copy_out(k, value, size.min(SIZE_MAX), &v)
}

fn list(p: &mut Current, k: &mut dyn Platform, t: Target, out: u64, size: u64) -> SysResult {
    let inode = target(p, k, t)?;
    let all = match inode.xattr(XattrOp::List) {
        Ok(all) => all,
        // A filesystem without attributes lists none.
        Err(Errno::EOPNOTSUPP) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut names = Vec::with_capacity(all.len());
    for name in all.split_inclusive(|&b| b == 0) {
        if !CAP_SYS_ADMIN && name.starts_with(b"trusted.") {
            continue;
        }
        names.extend_from_slice(name);
    }
    copy_out(k, out, size.min(LIST_MAX), &names)
}

/// The get/list answer: a `size` of 0 asks only for the length; a buffer too small is
/// `ERANGE`; else the bytes are copied out and their length returned.
fn copy_out(k: &mut dyn Platform, out: u64, size: u64, bytes: &[u8]) -> SysResult {
    if size == 0 {
        return Ok(bytes.len() as u64);
    }
    if bytes.len() as u64 > size {
        return Err(Errno::ERANGE);
    }
    k.write_user(out, bytes)?;
    Ok(bytes.len() as u64)
}

fn remove(p: &mut Current, k: &mut dyn Platform, t: Target, name: u64) -> SysResult {
    let (name, space) = read_name(k, name)?;
    let (inode, origin) = target_found(p, k, t)?;
    check_rofs(p, &inode)?;
    permission(p, &inode, &name, space, true)?;
    inode.xattr(XattrOp::Remove(&name))?;
    notify::child_event(as_origin(&origin), &inode, IN_ATTRIB);
    Ok(0)
}

fn on_path(path: u64, follow: bool) -> Target {
    Target::Path { path, follow }
}

/// The three entry points of one operation: `$path` follows a final symlink, `$lpath` does
/// not, `$fd` works on an open file; the arguments after the target are `$op`'s.
macro_rules! path_lpath_fd {
    ($op:ident($($arg:ident: $ty:ty),*) => $path:ident, $lpath:ident, $fd:ident) => {
        path_lpath_fd!(@one $path(pathname: u64) => $op(on_path(pathname, true)) $($arg: $ty),*);
        path_lpath_fd!(@one $lpath(pathname: u64) => $op(on_path(pathname, false)) $($arg: $ty),*);
        path_lpath_fd!(@one $fd(fd: i32) => $op(Target::Fd(fd)) $($arg: $ty),*);
    };
    (@one $name:ident($at:ident: $at_ty:ty) => $op:ident($target:expr) $($arg:ident: $ty:ty),*) => {
        pub(crate) fn $name(
            p: &mut Current,
            k: &mut dyn Platform,
            $at: $at_ty,
            $($arg: $ty),*
        ) -> SysResult {
            $op(p, k, $target, $($arg),*)
        }
    };
}

path_lpath_fd!(set(name: u64, value: u64, size: u64, flags: i32) => setxattr, lsetxattr, fsetxattr);
path_lpath_fd!(get(name: u64, value: u64, size: u64) => getxattr, lgetxattr, fgetxattr);
path_lpath_fd!(list(list_: u64, size: u64) => listxattr, llistxattr, flistxattr);
path_lpath_fd!(remove(name: u64) => removexattr, lremovexattr, fremovexattr);
