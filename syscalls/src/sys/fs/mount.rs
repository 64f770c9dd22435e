//! mount and umount2: tmpfs, proc, sysfs and mqueue mounts, remounts.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::tmpfs::{new_tmpfs, TmpfsOptions};
use coracle_vfs::Errno;

use super::{lookup, AT_FDCWD};
use crate::uaccess::read_cstr;
use crate::{Current, Platform, SysResult};

pub(crate) fn mount(
    p: &mut Current,
    k: &mut dyn Platform,
    source: u64,
    target: u64,
    fstype: u64,
    flags: u64,
    data: u64,
) -> SysResult {
    const MS_REMOUNT: u64 = 32;
    const MS_BIND: u64 = 4096;
    const MS_MOVE: u64 = 8192;
    if p.process.euid() != 0 {
        return Err(Errno::EPERM);
    }
    let target_inode = lookup(p, k, AT_FDCWD, target, true, false)?;
    if !target_inode.stat().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if flags & MS_REMOUNT != 0 {
        return remount(p, &target_inode, flags);
    }
    if flags & (MS_BIND | MS_MOVE) != 0 {
        k.log(format_args!(
            "mount with flags {flags:#x} (bind, move) is not supported"
        ));
        return Err(Errno::EINVAL);
    }
    let fstype = if fstype == 0 {
        return Err(Errno::EINVAL);
    } else {
        read_cstr(k, fstype, 4096)?
    };
    let source = if source == 0 {
        b"none".to_vec()
    } else {
        read_cstr(k, source, 4096)?
    };
    let options = if data == 0 {
        Vec::new()
    } else {
        read_cstr(k, data, 4096)?
    };
    let root = match fstype.as_slice() {
        b"tmpfs" => {
            let mut opts = TmpfsOptions::default();
            for opt in options.split(|&b| b == b',') {
                if let Some(v) = opt.strip_prefix(b"mode=") {
                    opts.root_mode = parse_octal(v).ok_or(Errno::EINVAL)?;
                } else if let Some(v) = opt.strip_prefix(b"size=") {
                    opts.max_bytes = parse_size(v, p.sys.info.mem_total()).ok_or(Errno::EINVAL)?;
                }
            }
            new_tmpfs(p.sys.clock(), opts)
        }
        b"proc" => crate::procfs::new_procfs(Arc::downgrade(&p.sys)),
        b"sysfs" => crate::procfs::new_sysfs(Arc::downgrade(&p.sys)),
        // The one mqueue filesystem of the IPC namespace, wherever it is mounted.
        b"mqueue" => p.sys.ipc.mq.clone(),
        _ => return Err(Errno::ENODEV),
    };
    let mut shown = b"rw,relatime".to_vec();
    if !options.is_empty() {
        shown.push(b',');
        shown.extend_from_slice(&options);
    }
    const MS_RDONLY: u64 = 1;
    if flags & MS_RDONLY != 0 {
        shown = [b"ro".as_slice(), &shown[2..]].concat();
    }
    p.sys
        .vfs
        .mount(&target_inode, root.clone(), &fstype, &source, &shown)?;
    if flags & MS_RDONLY != 0 {
        p.sys.vfs.set_readonly(&root, true);
    }
    Ok(0)
}

/// MS_REMOUNT: a mounted filesystem turns read-only or writable again (its other options
/// stay). Read-only while a file on it is open for writing is `EBUSY`
/// (sb_prepare_remount_readonly); a directory that is no mount's root is `EINVAL`.
fn remount(p: &Current, root: &Arc<dyn coracle_vfs::Inode>, flags: u64) -> SysResult {
    const MS_RDONLY: u64 = 1;
    if !p.sys.vfs.is_mount_root(root) {
        return Err(Errno::EINVAL);
    }
    let readonly = flags & MS_RDONLY != 0;
    if readonly && !p.sys.vfs.is_readonly(root) {
        let dev = root.stat().dev;
        let writing = p.sys.tree.lock().values().any(|q| {
            q.files
                .lock()
                .iter()
                .any(|(_, f)| f.file.writable() && f.file.inode().stat().dev == dev)
        });
        if writing {
            return Err(Errno::EBUSY);
        }
    }
    p.sys.vfs.set_readonly(root, readonly);
    Ok(0)
}

pub(crate) fn umount2(p: &mut Current, k: &mut dyn Platform, target: u64, flags: i32) -> SysResult {
    const MNT_FORCE: i32 = 1;
    const MNT_DETACH: i32 = 2;
    const MNT_EXPIRE: i32 = 4;
    const UMOUNT_NOFOLLOW: i32 = 8;
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0
        || (flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0)
    {
        return Err(Errno::EINVAL);
    }
    if p.process.euid() != 0 {
        return Err(Errno::EPERM);
    }
    let root = lookup(p, k, AT_FDCWD, target, flags & UMOUNT_NOFOLLOW == 0, false)?;
    if !p.sys.vfs.is_mount_root(&root) {
        return Err(Errno::EINVAL);
    }
    // A busy mount (the cwd or root of the process inside it) refuses without MNT_DETACH.
    let dev = root.stat().dev;
    let fs = p.process.fs.lock().clone();
    let open_inside = p
        .process
        .files
        .lock()
        .iter()
        .any(|(_, f)| f.file.inode().stat().dev == dev);
    if flags & MNT_DETACH == 0
        && (open_inside || fs.cwd.stat().dev == dev || fs.root.stat().dev == dev)
    {
        return Err(Errno::EBUSY);
    }
    p.sys.vfs.unmount(&root)?;
    Ok(0)
}

pub(crate) fn parse_octal(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 11 {
        return None;
    }
    v.iter().try_fold(0u32, |acc, &c| {
        (b'0'..=b'7')
            .contains(&c)
            .then(|| acc * 8 + u32::from(c - b'0'))
    })
}

pub(crate) fn parse_size(v: &[u8], mem: u64) -> Option<u64> {
    let (num, mult) = match v.last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 1u64 << 10),
        b'm' | b'M' => (&v[..v.len() - 1], 1 << 20),
        b'g' | b'G' => (&v[..v.len() - 1], 1 << 30),
        b'%' => (&v[..v.len() - 1], 0),
        _ => (v, 1),
    };
    let n = core::str::from_utf8(num).ok()?.parse::<u64>().ok()?;
    if mult == 0 {
        return Some(mem / 100 * n);
    }
    n.checked_mul(mult)
}
