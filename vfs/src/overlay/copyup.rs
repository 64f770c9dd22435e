//! Copy-up: making the upper twin of a lower object (and of its ancestors) before it changes,
//! with its data, mode, owner and times, as overlayfs's `ovl_copy_up` does.
//!
//! A regular file is copied into an unnamed upper file and linked into place only when
//! complete, so no one ever sees half a copy. A lower file with several names is also
//! linked into the work directory under its lower inode number (the index). Copying up leaves the parent directory's times
//! as they were (overlayfs restores them too). Extended attributes are not copied: the VFS
//! has none yet.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec;

use super::{Indexed, Node, Tables};
use crate::inode::{Inode, TimeChange};
use crate::tmpfs::create_unnamed;
use crate::types::*;
use crate::Errno;

/// How much data one copy step moves.
const CHUNK: usize = 64 * 1024;

impl Node {
    /// Copies this node up (its ancestors first) with the tables locked; returns the upper
    /// object. `with_data`: copy a regular file's contents (not when it is about to be
    /// truncated to nothing).
    pub(super) fn copy_up(&self, t: &mut Tables, with_data: bool) -> Result<Arc<dyn Inode>> {
        if let Some(u) = self.upper() {
            return Ok(u.clone());
        }
        let lower = self.lower.clone().ok_or(Errno::EIO)?;
        let st = lower.stat();
        let place = self.place.lock().clone();
        let upper = match place {
            Some((parent, name)) => {
                let dir = parent.copy_up(t, true)?;
                let times = dir.stat();
                let made = self.make_upper(&lower, &st, &dir, &name, with_data);
                // The parent's times stay what they were before the copy-up.
                dir.set_times(TimeChange::Set(times.atime), TimeChange::Set(times.mtime))?;
                made?
            }
            // A file whose name is gone (unlinked while open) is copied up without a name.
            // (Linkable only into the index, when it has other names.)
            None if st.file_type() == FileType::Regular => {
                let linkable = st.nlink > 1;
                let f = create_unnamed(&self.fs.upper_root, st.mode & MODE_BITS, 0, 0, linkable)?;
                fill(&lower, &st, &f, with_data)?;
                f
            }
            None => return Err(Errno::EIO),
        };
        if !self.is_dir_kind() && st.nlink > 1 {
            self.fs
                .work
                .link(format!("{}", st.ino).as_bytes(), &upper)?;
            t.index.insert(
                st.ino,
                Indexed {
                    upper: upper.clone(),
                    lower_names: st.nlink - 1,
                },
            );
        }
        t.origin.insert(upper.stat().ino, lower.clone());
        self.set_upper(upper.clone());
        Ok(upper)
    }

    fn is_dir_kind(&self) -> bool {
        self.kind == FileType::Directory
    }

    /// Makes the upper twin of `lower` as `dir/name`.
    fn make_upper(
        &self,
        lower: &Arc<dyn Inode>,
        st: &Stat,
        dir: &Arc<dyn Inode>,
        name: &[u8],
        with_data: bool,
    ) -> Result<Arc<dyn Inode>> {
        let mode = st.mode & MODE_BITS;
        let new = |node: NewNode| dir.create(name, node, mode, st.uid, st.gid);
        let upper = match st.file_type() {
            FileType::Regular => {
                let f = create_unnamed(dir, mode, st.uid, st.gid, true)?;
                fill(lower, st, &f, with_data)?;
                dir.link(name, &f)?;
                return Ok(f);
            }
            FileType::Directory => new(NewNode::Directory)?,
            FileType::Symlink => new(NewNode::Symlink(lower.readlink(&self.fs.cx)?))?,
            FileType::Fifo => new(NewNode::Fifo)?,
            FileType::Socket => new(NewNode::Socket)?,
            FileType::CharDevice => new(NewNode::CharDevice(st.rdev))?,
            FileType::BlockDevice => new(NewNode::BlockDevice(st.rdev))?,
        };
        // A set-group-ID parent may have changed the group and mode tmpfs gave it.
        upper.set_owner(Some(st.uid), Some(st.gid))?;
        if st.file_type() != FileType::Symlink {
            upper.set_mode(mode)?;
        }
        upper.set_times(TimeChange::Set(st.atime), TimeChange::Set(st.mtime))?;
        Ok(upper)
    }
}

/// Gives the new regular file `f` the contents (unless `with_data` is false), owner, mode
/// and times of `lower`. Runs of zeros stay holes.
fn fill(lower: &Arc<dyn Inode>, st: &Stat, f: &Arc<dyn Inode>, with_data: bool) -> Result<()> {
    if with_data {
        let mut buf = vec![0u8; CHUNK];
        let mut off = 0u64;
        while off < st.size {
            let n = lower.read_at(off, &mut buf)?;
            if n == 0 {
                break;
            }
            if buf[..n].iter().any(|&b| b != 0) {
                let mut done = 0;
                while done < n {
                    done += f.write_at(off + done as u64, &buf[done..n])?;
                }
            }
            off += n as u64;
        }
        f.truncate(off)?;
    }
    f.set_owner(Some(st.uid), Some(st.gid))?;
    f.set_mode(st.mode & MODE_BITS)?;
    f.set_times(TimeChange::Set(st.atime), TimeChange::Set(st.mtime))?;
    Ok(())
}
