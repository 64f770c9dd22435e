//! memfd_create and the file seals (F_ADD_SEALS) that mmap and writes check.

use coracle_vfs::tmpfs::create_unnamed;
use coracle_vfs::types::oflags::*;
use coracle_vfs::{Errno, OpenFile};
use core::result::Result;

use crate::sys::io::install_new;
use crate::uaccess::read_cstr;
use crate::{Current, Platform, SysResult};

pub(crate) fn memfd_create(
    p: &mut Current,
    k: &mut dyn Platform,
    name: u64,
    flags: u32,
) -> SysResult {
    const MFD_CLOEXEC: u32 = 1;
    const MFD_ALLOW_SEALING: u32 = 2;
    const MFD_HUGETLB: u32 = 4;
    const MFD_NOEXEC_SEAL: u32 = 8;
    const MFD_EXEC: u32 = 0x10;
    const F_SEAL_SEAL: u32 = 1;
    let name = read_cstr(k, name, 250).map_err(|e| match e {
        Errno::ENAMETOOLONG => Errno::EINVAL,
        e => e,
    })?;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0
        || flags & MFD_HUGETLB != 0
        || (flags & MFD_NOEXEC_SEAL != 0 && flags & MFD_EXEC != 0)
    {
        return Err(Errno::EINVAL);
    }
    let cx = p.caller();
    let dir = p.sys.memfd_dir();
    let inode = create_unnamed(&dir, 0o777, cx.uid, cx.gid, false)?;
    let st = inode.stat();
    const F_SEAL_EXEC: u32 = 0x20;
    let seals = if flags & MFD_NOEXEC_SEAL != 0 {
        F_SEAL_EXEC
    } else if flags & MFD_ALLOW_SEALING != 0 {
        0
    } else {
        F_SEAL_SEAL
    };
    if flags & MFD_NOEXEC_SEAL != 0 {
        inode.set_mode(0o666)?;
    }
    p.sys.seals.lock().insert((st.dev, st.ino), seals);
    let mut path = b"/memfd:".to_vec();
    path.extend_from_slice(&name);
    path.extend_from_slice(b" (deleted)");
    let mut oflags = O_RDWR | O_LARGEFILE;
    if flags & MFD_CLOEXEC != 0 {
        oflags |= O_CLOEXEC;
    }
    let ops = p.sys.vfs.open_inode(&cx, &inode, oflags)?;
    install_new(p, inode, path, oflags, ops)
}

/// Seal bits.
pub(crate) const F_SEAL_SHRINK: u32 = 2;
pub(crate) const F_SEAL_GROW: u32 = 4;
pub(crate) const F_SEAL_WRITE: u32 = 8;
pub(crate) const F_SEAL_FUTURE_WRITE: u32 = 0x10;

/// The seals of `file` (0 for files that are not memfds).
pub(crate) fn seals_of(p: &Current, file: &OpenFile) -> u32 {
    let table = p.sys.seals.lock();
    if table.is_empty() {
        return 0;
    }
    let st = file.inode().stat();
    table.get(&(st.dev, st.ino)).copied().unwrap_or(0)
}

/// Whether the seals allow changing `file` to end at `new_end` (writes and truncation):
/// `EPERM` if not.
pub(crate) fn check_seals(
    p: &Current,
    file: &OpenFile,
    write: bool,
    new_end: impl FnOnce() -> u64,
) -> Result<(), Errno> {
    let seals = seals_of(p, file);
    if seals == 0 {
        return Ok(());
    }
    // Only sealed files pay for working out where the change ends.
    let new_end = new_end();
    let size = file.inode().stat().size;
    if write && seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
        return Err(Errno::EPERM);
    }
    if (new_end > size && seals & F_SEAL_GROW != 0)
        || (!write && new_end < size && seals & F_SEAL_SHRINK != 0)
    {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// F_ADD_SEALS / F_GET_SEALS on memfds.
pub(crate) fn seals(p: &Current, file: &OpenFile, add: bool, seals: u32) -> SysResult {
    const F_SEAL_SEAL: u32 = 1;
    const ALL: u32 = 0x3f;
    let st = file.inode().stat();
    let mut table = p.sys.seals.lock();
    let cur = table.get_mut(&(st.dev, st.ino)).ok_or(Errno::EINVAL)?;
    if !add {
        return Ok(u64::from(*cur));
    }
    if seals & !ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if !file.writable() {
        return Err(Errno::EPERM);
    }
    if *cur & F_SEAL_SEAL != 0 {
        return Err(Errno::EPERM);
    }
    // A shared mapping that may write would bypass the seal (mapping_deny_writable).
    if seals & F_SEAL_WRITE != 0 && p.process.mm.get().lock().maps_shared_writable(file.inode()) {
        return Err(Errno::EBUSY);
    }
    *cur |= seals;
    Ok(0)
}
