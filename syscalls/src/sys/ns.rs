//! setns(2): joining a namespace through its /proc/<pid>/ns file.
//!
//! There is one set of namespaces, so joining is joining the ones the caller is in: with
//! CAP_SYS_ADMIN it succeeds and changes nothing; without (Docker's default set) it is
//! `EPERM`, as each namespace's `install` says. The user namespace cannot be re-entered
//! (`EINVAL`, `userns_install`).

use coracle_vfs::cap;

use crate::procfs::ns::{of_inode, CLONE_NEWUSER};
use crate::{Current, Errno, Platform, SysResult};

pub(crate) fn setns(p: &mut Current, _k: &mut dyn Platform, fd: i32, nstype: i32) -> SysResult {
    let file = p.file(fd)?;
    let ns = of_inode(file.inode()).ok_or(Errno::EINVAL)?;
    if nstype != 0 && nstype as u32 != ns.clone_flag {
        return Err(Errno::EINVAL);
    }
    if ns.clone_flag == CLONE_NEWUSER {
        return Err(Errno::EINVAL);
    }
    if !p.caller().capable(cap::SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    Ok(0)
}
