//! Copy-up: making the upper twin of a lower object (and of its ancestors) before it changes,
//! with its data, mode, owner and times, as overlayfs's `ovl_copy_up` does.
//!
//! A regular file is copied into an unnamed upper file and linked into place only when
//! complete, so no one ever sees half a copy. The data copy is resumable and runs without
//! the namespace lock where it can ([`Node::stage`]): a lower file on a block device answers
//! `WAIT` while its pages are read, and the system call then runs again and goes on from
//! where the copy stopped, rather than starting over (or spinning other CPUs on the lock). A lower file with several names is also
//! linked into the work directory under its lower inode number (the index). Copying up leaves the parent directory's times
//! as they were (overlayfs restores them too). Extended attributes go up with the object,
//! every namespace (`user.`, `trusted.`, `security.`), as overlayfs copies them.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec;

use super::{Fs, Indexed, Node, Tables};
use crate::inode::{Inode, TimeChange};
use crate::tmpfs::create_unnamed;
use crate::types::*;
use crate::xattr::XattrOp;
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
                let (f, st) = self.fs.data_copy(&lower, &st, with_data)?;
                set_meta(&st, &f)?;
                copy_xattrs(&lower, &f)?;
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
                let (f, st) = self.fs.data_copy(lower, st, with_data)?;
                set_meta(&st, &f)?;
                copy_xattrs(lower, &f)?;
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
        copy_xattrs(lower, &upper)?;
        upper.set_times(TimeChange::Set(st.atime), TimeChange::Set(st.mtime))?;
        Ok(upper)
    }
}

impl Node {
    /// Copies a lower regular file's data to its upper copy-to-be ahead of copy-up, without
    /// the namespace lock (see the module comment); nothing for other objects.
    pub(super) fn stage(&self) -> Result<()> {
        match (&self.lower, self.upper()) {
            (Some(lower), None) if self.kind == FileType::Regular => {
                self.fs.stage(lower, &lower.stat()).map(drop)
            }
            _ => Ok(()),
        }
    }
}

impl Fs {
    /// The unnamed upper file for the copy-up of the lower regular file `lower`: with its
    /// data ([`Fs::stage`]) or empty; and the lower file's stat from before the copy read it
    /// (a lower layer that keeps atimes changes them).
    fn data_copy(
        &self,
        lower: &Arc<dyn Inode>,
        st: &Stat,
        with_data: bool,
    ) -> Result<(Arc<dyn Inode>, Stat)> {
        if !with_data {
            self.staged.lock().remove(&st.ino);
            return Ok((create_unnamed(&self.upper_root, 0o600, 0, 0, true)?, *st));
        }
        let f = self.stage(lower, st)?;
        let staged = self.staged.lock().remove(&st.ino);
        Ok((f, staged.map_or(*st, |s| s.2)))
    }

    /// Copies the data of `lower` into its staged unnamed upper file, from where the last
    /// try stopped; returns the file once the copy is whole. An error (`WAIT` for a block
    /// being read) keeps what was copied for the next try. Runs of zeros stay holes.
    fn stage(&self, lower: &Arc<dyn Inode>, st: &Stat) -> Result<Arc<dyn Inode>> {
        let (f, mut off) = {
            let mut staged = self.staged.lock();
            match staged.get(&st.ino) {
                Some((f, off, _)) => (f.clone(), *off),
                None => {
                    let f = create_unnamed(&self.upper_root, 0o600, 0, 0, true)?;
                    staged.insert(st.ino, (f.clone(), 0, *st));
                    (f, 0)
                }
            }
        };
        let mut buf = vec![0u8; CHUNK.min(st.size as usize)];
        let copied = loop {
            if off >= st.size {
                break Ok(());
            }
            let n = match lower.read_at(off, &mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => break Err(e),
            };
            if buf[..n].iter().any(|&b| b != 0) {
                let mut done = 0;
                while done < n {
                    match f.write_at(off + done as u64, &buf[done..n]) {
                        Ok(w) => done += w,
                        Err(e) => return Err(e),
                    }
                }
            }
            off += n as u64;
        };
        if let Some((g, at, _)) = self.staged.lock().get_mut(&st.ino) {
            if Arc::ptr_eq(g, &f) {
                *at = (*at).max(off);
            }
        }
        copied?;
        f.truncate(off)?;
        Ok(f)
    }
}

/// Gives the upper copy `upper` every extended attribute of `lower` (overlayfs's copy-up
/// keeps them all); a lower layer without xattrs has none to give.
fn copy_xattrs(lower: &Arc<dyn Inode>, upper: &Arc<dyn Inode>) -> Result<()> {
    let names = match lower.xattr(XattrOp::List) {
        Ok(names) => names,
        Err(Errno::EOPNOTSUPP) => return Ok(()),
        Err(e) => return Err(e),
    };
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let value = lower.xattr(XattrOp::Get(name))?;
        upper.xattr(XattrOp::Set {
            name,
            value: &value,
            flags: 0,
        })?;
    }
    Ok(())
}

/// Gives the new regular file `f` the owner, mode and times of the lower file (`st`).
fn set_meta(st: &Stat, f: &Arc<dyn Inode>) -> Result<()> {
    f.set_owner(Some(st.uid), Some(st.gid))?;
    f.set_mode(st.mode & MODE_BITS)?;
    f.set_times(TimeChange::Set(st.atime), TimeChange::Set(st.mtime))?;
    Ok(())
}
