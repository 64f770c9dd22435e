//! Unpacking a cpio `newc` archive into a directory, as Linux's initramfs unpacker does:
//! files, directories, symlinks, FIFOs and hard links with their modes, owners and mtimes.
//! Directory mtimes are set last, since adding entries changes them.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cpio::{CpioError, Entry, Reader};
use crate::inode::{Inode, TimeChange};
use crate::types::*;
use crate::Errno;

/// Counts of what was unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub dirs: u64,
    pub links: u64,
    pub bytes: u64,
}

/// Why unpacking stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnpackError {
    /// The archive is malformed.
    Archive(CpioError),
    /// Entry `name` could not be created.
    Entry { name: Vec<u8>, errno: Errno },
}

impl core::fmt::Display for UnpackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UnpackError::Archive(e) => write!(f, "{e}"),
            UnpackError::Entry { name, errno } => write!(
                f,
                "cannot unpack {:?}: {}",
                alloc::string::String::from_utf8_lossy(name),
                errno.name()
            ),
        }
    }
}

/// Unpacks every entry of `archive` for which `wanted(name)` is true into the directory
/// `root`. An entry named `.` sets the root's own mode, owner and mtime. Missing parent
/// directories are created (mode 0755); names with `..` components are refused.
pub fn unpack(
    root: &Arc<dyn Inode>,
    cx: &Caller,
    archive: &[u8],
    wanted: impl Fn(&[u8]) -> bool,
) -> core::result::Result<Unpacked, UnpackError> {
    unpack_releasing(root, cx, archive, wanted, &mut |_| {})
}

/// How much of a file's data is written between two [`unpack_releasing`] reports.
const CHUNK: usize = 64 << 10;

/// Where unpacking has got to in the archive, for the caller to give memory back.
struct Progress<'a> {
    /// The archive's address.
    base: usize,
    /// Told how many leading bytes of the archive are never read again.
    release: &'a mut dyn FnMut(usize),
}

impl Progress<'_> {
    /// Everything before `at` (a position in the archive's bytes) is done with.
    fn done_before(&mut self, at: &[u8]) {
        let pos = (at.as_ptr() as usize).saturating_sub(self.base);
        (self.release)(pos);
    }
}

/// [`unpack`], telling `release` as it goes how many leading bytes of `archive` it will never
/// read again (a growing count), so that the memory holding them can be reused while the
/// rest is unpacked: the initrd and the files made from it need not fit in memory together.
pub fn unpack_releasing(
    root: &Arc<dyn Inode>,
    cx: &Caller,
    archive: &[u8],
    wanted: impl Fn(&[u8]) -> bool,
    release: &mut dyn FnMut(usize),
) -> core::result::Result<Unpacked, UnpackError> {
    let mut progress = Progress {
        base: archive.as_ptr() as usize,
        release,
    };
    let mut done = Unpacked::default();
    // Hard links: archive inode number → the inode made for its first name.
    let mut links: BTreeMap<u32, Arc<dyn Inode>> = BTreeMap::new();
    let mut dir_times: Vec<(Arc<dyn Inode>, u32)> = Vec::new();
    for entry in Reader::new(archive) {
        let entry = entry.map_err(UnpackError::Archive)?;
        if !wanted(entry.name) {
            continue;
        }
        let fail = |errno| UnpackError::Entry {
            name: entry.name.to_vec(),
            errno,
        };
        if entry.name == b"." {
            apply_meta(root, &entry).map_err(fail)?;
            dir_times.push((root.clone(), entry.mtime));
            continue;
        }
        let (dir, name) = parent_dir(root, cx, entry.name).map_err(fail)?;
        let made = make(
            &dir,
            cx,
            &entry,
            &name,
            &mut links,
            &mut done,
            &mut progress,
        )
        .map_err(fail)?;
        if let Some(inode) = made {
            if entry.is_dir() {
                dir_times.push((inode, entry.mtime));
            }
        }
    }
    for (dir, mtime) in dir_times.iter().rev() {
        let t = TimeChange::Set(Timespec {
            sec: i64::from(*mtime),
            nsec: 0,
        });
        let _ = dir.set_times(t, t);
    }
    Ok(done)
}

/// The directory that holds `path`'s last component, creating missing directories.
fn parent_dir(
    root: &Arc<dyn Inode>,
    cx: &Caller,
    path: &[u8],
) -> Result<(Arc<dyn Inode>, Vec<u8>)> {
    let comps: Vec<&[u8]> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if comps.iter().any(|c| *c == b"..") {
        return Err(Errno::EINVAL);
    }
    let (last, parents) = comps.split_last().ok_or(Errno::EINVAL)?;
    check_name(last)?;
    let mut dir = root.clone();
    for c in parents {
        check_name(c)?;
        dir = match dir.lookup(cx, c) {
            Ok(d) => d,
            Err(Errno::ENOENT) => dir.create(c, NewNode::Directory, 0o755, 0, 0)?,
            Err(e) => return Err(e),
        };
        if !dir.stat().is_dir() {
            return Err(Errno::ENOTDIR);
        }
    }
    Ok((dir, last.to_vec()))
}

fn apply_meta(inode: &Arc<dyn Inode>, e: &Entry<'_>) -> Result<()> {
    if FileType::from_mode(e.mode) != Some(FileType::Symlink) {
        inode.set_mode(e.mode & MODE_BITS)?;
    }
    inode.set_owner(Some(e.uid), Some(e.gid))?;
    let t = TimeChange::Set(Timespec {
        sec: i64::from(e.mtime),
        nsec: 0,
    });
    inode.set_times(t, t)
}

fn make(
    dir: &Arc<dyn Inode>,
    cx: &Caller,
    e: &Entry<'_>,
    name: &[u8],
    links: &mut BTreeMap<u32, Arc<dyn Inode>>,
    done: &mut Unpacked,
    progress: &mut Progress<'_>,
) -> Result<Option<Arc<dyn Inode>>> {
    let Some(kind) = FileType::from_mode(e.mode) else {
        return Err(Errno::EINVAL);
    };
    let existing = match dir.lookup(cx, name) {
        Ok(i) => Some(i),
        Err(Errno::ENOENT) => None,
        Err(err) => return Err(err),
    };
    if let Some(old) = &existing {
        if kind == FileType::Directory && old.stat().is_dir() {
            apply_meta(old, e)?;
            return Ok(Some(old.clone()));
        }
        if old.stat().is_dir() {
            dir.rmdir(name)?;
        } else {
            dir.unlink(name)?;
        }
    }
    if kind == FileType::Regular && e.nlink > 1 {
        if let Some(first) = links.get(&e.ino) {
            dir.link(name, first)?;
            done.links += 1;
            if !e.data.is_empty() {
                first.truncate(0)?;
                write_all(first, e.data, progress)?;
                done.bytes += e.data.len() as u64;
            }
            // Every name's entry sets the inode's metadata, the last one winning (Linux's
            // do_name and do_copy); otherwise writing the data would leave mtime at now.
            apply_meta(first, e)?;
            return Ok(None);
        }
    }
    let node = match kind {
        FileType::Regular => NewNode::Regular,
        FileType::Directory => NewNode::Directory,
        FileType::Symlink => NewNode::Symlink(e.data.to_vec()),
        FileType::Fifo => NewNode::Fifo,
        FileType::Socket => NewNode::Socket,
        // Device nodes carry no device number in this reader: the tool never packs them.
        FileType::CharDevice | FileType::BlockDevice => return Ok(None),
    };
    let inode = dir.create(name, node, e.mode & MODE_BITS, e.uid, e.gid)?;
    match kind {
        FileType::Regular => {
            write_all(&inode, e.data, progress)?;
            done.files += 1;
            done.bytes += e.data.len() as u64;
            if e.nlink > 1 {
                links.insert(e.ino, inode.clone());
            }
        }
        FileType::Directory => done.dirs += 1,
        _ => done.files += 1,
    }
    apply_meta(&inode, e)?;
    Ok(Some(inode))
}

fn write_all(inode: &Arc<dyn Inode>, data: &[u8], progress: &mut Progress<'_>) -> Result<()> {
    let mut off = 0;
    while off < data.len() {
        let end = (off + CHUNK).min(data.len());
        let n = inode.write_at(off as u64, &data[off..end])?;
        if n == 0 {
            return Err(Errno::ENOSPC);
        }
        off += n;
        progress.done_before(&data[off..]);
    }
    Ok(())
}
