//! getdents64: the entries of a directory fd, as `struct linux_dirent64` records.

use alloc::vec::Vec;
use coracle_abi::stat::Dirent64;
use coracle_abi::IntoBytes;

use coracle_vfs::Errno;

use crate::sys::io::MAX_RW_COUNT;
use crate::{Current, Platform, SysResult};

pub(crate) fn getdents64(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    dirp: u64,
    count: u64,
) -> SysResult {
    let file = p.file(fd)?;
    if file.inode().is_removed() && !file.is_path() {
        return Err(Errno::ENOENT);
    }
    let cx = p.caller();
    let cap = count.min(MAX_RW_COUNT) as usize;
    let start = file.offset();
    let mut out: Vec<u8> = Vec::new();
    let mut too_small = false;
    file.getdents(&cx, |e, next| {
        const HEAD: usize = size_of::<Dirent64>();
        let reclen = (HEAD + e.name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > cap {
            too_small = out.is_empty();
            return false;
        }
        let start = out.len();
        out.resize(start + reclen, 0);
        let rec = &mut out[start..];
        let head = Dirent64 {
            d_ino: e.ino,
            d_off: next as i64,
            d_reclen: reclen as u16,
            d_type: e.kind.dirent_type(),
        };
        rec[..HEAD].copy_from_slice(head.as_bytes());
        rec[HEAD..HEAD + e.name.len()].copy_from_slice(&e.name);
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    if let Err(e) = k.write_user(dirp, &out) {
        // Nothing was delivered: the next call starts from the same entry, as on Linux.
        file.seek(start as i64, coracle_vfs::file::SEEK_SET)?;
        return Err(e);
    }
    Ok(out.len() as u64)
}
