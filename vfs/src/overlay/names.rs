//! Namespace changes in the overlay: create, link, unlink, rmdir and rename, each under the
//! overlay's lock, copying up what they touch and leaving whiteouts where a lower name goes.
//!
//! A whiteout that replaces an upper entry is made first under a temporary name and renamed
//! over it, so the lower object never shows through, and a full upper layer fails the call
//! before anything changed.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use super::{is_whiteout, layer_lookup, Found, Key, Node, Tables};
use crate::inode::Inode;
use crate::types::*;
use crate::Errno;

impl Node {
    pub(super) fn create_in(
        self: &Arc<Self>,
        name: &[u8],
        node: NewNode,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Arc<Node>> {
        let mut t = self.fs.lock();
        let found = self.find_free(&t, name)?;
        let dir = self.copy_up(&mut t, true)?;
        let is_dir = matches!(node, NewNode::Directory);
        let made = if found.whiteout {
            // Made aside, then renamed over the whiteout; a directory made where a lower one
            // was deleted has no origin, so it is opaque.
            let tmp = self.tmp_name();
            let made = dir.create(&tmp, node, mode, uid, gid)?;
            if let Err(e) = rename_over_whiteout(&dir, &tmp, name, is_dir) {
                let _ = if is_dir {
                    dir.rmdir(&tmp)
                } else {
                    dir.unlink(&tmp)
                };
                return Err(e);
            }
            made
        } else {
            dir.create(name, node, mode, uid, gid)?
        };
        if is_dir {
            self.dirs_changed();
        }
        let key = Key::Upper(made.stat().ino);
        let n = Node::new(
            &self.fs,
            Some(made),
            None,
            Some((self.clone(), name.to_vec())),
        );
        t.remember(key, &n);
        Ok(n)
    }

    pub(super) fn link_in(self: &Arc<Self>, name: &[u8], target: &Arc<Node>) -> Result<()> {
        target.stage()?;
        let mut t = self.fs.lock();
        let found = self.find_free(&t, name)?;
        if target.kind == FileType::Directory {
            return Err(Errno::EPERM);
        }
        let dir = self.copy_up(&mut t, true)?;
        let up = target.copy_up(&mut t, true)?;
        if found.whiteout {
            let tmp = self.tmp_name();
            dir.link(&tmp, &up)?;
            if let Err(e) = dir.rename(&tmp, &dir, name, 0) {
                let _ = dir.unlink(&tmp);
                return Err(e);
            }
            Ok(())
        } else {
            dir.link(name, &up)
        }
    }

    /// unlink (`dir` false) or rmdir (`dir` true) of `name`.
    pub(super) fn remove_in(self: &Arc<Self>, name: &[u8], dir: bool) -> Result<()> {
        let mut t = self.fs.lock();
        let mut found = self.find(Some(&t), name)?;
        let c = self.node_of(&mut t, &found, name)?;
        let c_dir = c.kind == FileType::Directory;
        if dir && !c_dir {
            return Err(Errno::ENOTDIR);
        }
        if !dir && c_dir {
            return Err(Errno::EISDIR);
        }
        if c_dir && !c.is_empty()? {
            return Err(Errno::ENOTEMPTY);
        }
        let up = self.copy_up(&mut t, true)?;
        if !c_dir && found.upper.is_none() && c.is_hard_linked() {
            self.materialize(&mut t, &c, name, &mut found)?;
        }
        if found.upper.is_some() {
            if c_dir {
                if let Some(cu) = c.upper() {
                    purge_whiteouts(&self.fs.cx, cu)?;
                }
            }
            if found.lower_has {
                let tmp = self.whiteout_aside(&up)?;
                let removed = if c_dir { up.rmdir(name) } else { Ok(()) };
                if let Err(e) = removed.and_then(|()| up.rename(&tmp, &up, name, 0)) {
                    let _ = up.unlink(&tmp);
                    return Err(e);
                }
            } else if c_dir {
                up.rmdir(name)?;
            } else {
                up.unlink(name)?;
            }
        } else {
            up.create(name, NewNode::CharDevice(0), 0, 0, 0)?;
        }
        if c_dir {
            c.removed.store(true, Ordering::Relaxed);
            self.dirs_changed();
        } else {
            c.forget_place(self, name);
        }
        Ok(())
    }

    pub(super) fn rename_in(
        self: &Arc<Self>,
        name: &[u8],
        nd: &Arc<Node>,
        new_name: &[u8],
        flags: u32,
    ) -> Result<()> {
        // overlayfs supports neither RENAME_WHITEOUT nor any other flag.
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        let mut t = self.fs.lock();
        if self.is_removed() || nd.is_removed() {
            return Err(Errno::ENOENT);
        }
        let mut fs_ = self.find(Some(&t), name)?;
        let s = self.node_of(&mut t, &fs_, name)?;
        let mut ft = nd.find(Some(&t), new_name)?;
        let target = if ft.exists() {
            Some(nd.node_of(&mut t, &ft, new_name)?)
        } else {
            None
        };
        let s_dir = s.kind == FileType::Directory;
        if flags & RENAME_EXCHANGE != 0 {
            let d = target.ok_or(Errno::ENOENT)?;
            if Arc::ptr_eq(&s, &d) {
                return Ok(());
            }
            if (s_dir && s.is_ancestor_of(nd))
                || (d.kind == FileType::Directory && d.is_ancestor_of(self))
            {
                return Err(Errno::EINVAL);
            }
            self.materialize(&mut t, &s, name, &mut fs_)?;
            nd.materialize(&mut t, &d, new_name, &mut ft)?;
            let (du, ndu) = (self.copy_up(&mut t, true)?, nd.copy_up(&mut t, true)?);
            du.rename(name, &ndu, new_name, RENAME_EXCHANGE)?;
            *s.place.lock() = Some((nd.clone(), new_name.to_vec()));
            *d.place.lock() = Some((self.clone(), name.to_vec()));
            self.dirs_changed();
            nd.dirs_changed();
            return Ok(());
        }
        // The checks in Linux's order (see tmpfs's rename).
        if target.is_some() && flags & RENAME_NOREPLACE != 0 {
            return Err(Errno::EEXIST);
        }
        if s_dir && s.is_ancestor_of(nd) {
            return Err(Errno::EINVAL);
        }
        if let Some(d) = &target {
            let d_dir = d.kind == FileType::Directory;
            if d_dir && d.is_ancestor_of(self) {
                return Err(Errno::ENOTEMPTY);
            }
            if Arc::ptr_eq(&s, d) {
                return Ok(());
            }
            match (s_dir, d_dir) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !d.is_empty()? => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        self.materialize(&mut t, &s, name, &mut fs_)?;
        let du = self.copy_up(&mut t, true)?;
        let ndu = nd.copy_up(&mut t, true)?;
        if let Some(d) = &target {
            if d.kind != FileType::Directory && ft.upper.is_none() && d.is_hard_linked() {
                nd.materialize(&mut t, d, new_name, &mut ft)?;
            }
            if let (FileType::Directory, Some(du)) = (d.kind, d.upper()) {
                purge_whiteouts(&self.fs.cx, du)?;
            }
        }
        // A directory cannot replace the whiteout in tmpfs: the whiteout goes first.
        let unwhited = ft.whiteout && s_dir;
        if unwhited {
            ndu.unlink(new_name)?;
        }
        let tmp = if fs_.lower_has {
            match self.whiteout_aside(&du) {
                Ok(tmp) => Some(tmp),
                Err(e) => {
                    restore_whiteout(&ndu, new_name, unwhited);
                    return Err(e);
                }
            }
        } else {
            None
        };
        if let Err(e) = du.rename(name, &ndu, new_name, 0) {
            if let Some(tmp) = &tmp {
                let _ = du.unlink(tmp);
            }
            restore_whiteout(&ndu, new_name, unwhited);
            return Err(e);
        }
        if let Some(tmp) = &tmp {
            du.rename(tmp, &du, name, 0)?;
        }
        *s.place.lock() = Some((nd.clone(), new_name.to_vec()));
        if let Some(d) = &target {
            if d.kind == FileType::Directory {
                d.removed.store(true, Ordering::Relaxed);
            } else {
                d.forget_place(nd, new_name);
            }
        }
        if s_dir
            || target
                .as_ref()
                .is_some_and(|d| d.kind == FileType::Directory)
        {
            self.dirs_changed();
            nd.dirs_changed();
        }
        Ok(())
    }

    /// Whether this is a lower file with several names (their link count must survive).
    /// Where the new name `name` goes (the tables `t` locked): `ENOENT` in a removed
    /// directory, `EEXIST` when the name is taken in a layer.
    fn find_free(&self, t: &Tables, name: &[u8]) -> Result<Found> {
        if self.is_removed() {
            return Err(Errno::ENOENT);
        }
        let found = self.find(Some(t), name)?;
        if found.exists() {
            return Err(Errno::EEXIST);
        }
        Ok(found)
    }

    fn is_hard_linked(&self) -> bool {
        self.upper().is_some() || self.lower.as_ref().is_some_and(|l| l.stat().nlink > 1)
    }

    /// Makes sure `name` in this directory is an upper entry for node `c` (copied up there,
    /// or linked to its copy made under another name), updating `found`.
    fn materialize(
        self: &Arc<Self>,
        t: &mut Tables,
        c: &Arc<Node>,
        name: &[u8],
        found: &mut Found,
    ) -> Result<()> {
        if found.upper.is_some() {
            return Ok(());
        }
        let dir = self.copy_up(t, true)?;
        let cu = c.copy_up(t, true)?;
        let entry = match layer_lookup(&self.fs.cx, &dir, name)? {
            Some(e) => e,
            None => {
                // Copied up under another name: this lower name becomes an upper one.
                dir.link(name, &cu)?;
                if let Some(i) = c
                    .lower
                    .as_ref()
                    .and_then(|l| t.index.get_mut(&l.stat().ino))
                {
                    i.lower_names = i.lower_names.saturating_sub(1);
                }
                cu
            }
        };
        found.upper = Some(entry);
        Ok(())
    }

    /// A whiteout under a fresh temporary name in `dir`; returns the name.
    fn whiteout_aside(&self, dir: &Arc<dyn Inode>) -> Result<Vec<u8>> {
        let tmp = self.tmp_name();
        dir.create(&tmp, NewNode::CharDevice(0), 0, 0, 0)?;
        Ok(tmp)
    }

    /// A name no path can reach and no listing shows, for an entry about to be renamed into
    /// place.
    fn tmp_name(&self) -> Vec<u8> {
        let n = self.fs.next_tmp.fetch_add(1, Ordering::Relaxed);
        format!("/tmp.{n}").into_bytes()
    }

    /// After `dir/name` was unlinked or replaced: a file no longer found there has no place
    /// to be copied up to.
    fn forget_place(&self, dir: &Arc<Node>, name: &[u8]) {
        let mut place = self.place.lock();
        if place
            .as_ref()
            .is_some_and(|(p, n)| Arc::ptr_eq(p, dir) && n == name)
        {
            *place = None;
        }
    }

    /// Whether this directory is `other` or one of its ancestors.
    fn is_ancestor_of(&self, other: &Arc<Node>) -> bool {
        let mut cur = Some(other.clone());
        while let Some(c) = cur {
            if core::ptr::eq(Arc::as_ptr(&c), self) {
                return true;
            }
            cur = c.place.lock().as_ref().map(|(p, _)| p.clone());
        }
        false
    }
}

/// Renames the new entry `tmp` over the whiteout `name`; a directory cannot replace a
/// non-directory, so the whiteout is removed first (and put back on failure).
fn rename_over_whiteout(dir: &Arc<dyn Inode>, tmp: &[u8], name: &[u8], is_dir: bool) -> Result<()> {
    if is_dir {
        dir.unlink(name)?;
    }
    let r = dir.rename(tmp, dir, name, 0);
    if r.is_err() {
        restore_whiteout(dir, name, is_dir);
    }
    r
}

fn restore_whiteout(dir: &Arc<dyn Inode>, name: &[u8], removed: bool) {
    if removed {
        let _ = dir.create(name, NewNode::CharDevice(0), 0, 0, 0);
    }
}

/// Removes the whiteouts of an upper directory the overlay shows as empty, so the upper
/// layer lets it be removed or replaced.
fn purge_whiteouts(cx: &Caller, dir: &Arc<dyn Inode>) -> Result<()> {
    let mut names = Vec::new();
    let mut pos = 2;
    while let Some((e, next)) = dir.readdir(cx, pos)? {
        if e.kind == FileType::CharDevice {
            if let Some(i) = layer_lookup(cx, dir, &e.name)? {
                if is_whiteout(&i) {
                    names.push(e.name);
                }
            }
        }
        pos = next;
    }
    for n in names {
        dir.unlink(&n)?;
    }
    Ok(())
}
