//! Merged directory listings: the upper directory's entries (whiteouts left out), then the
//! lower directory's entries that the upper one neither has nor whites out.
//!
//! A listing position says which layer it is in, so readdir keeps no state between calls:
//! 0 and 1 are `.` and `..`, positions with [`LOWER_PHASE`] clear are the upper directory's,
//! those with it set the lower directory's with the bit added.

use alloc::sync::Arc;

use super::{is_private, is_whiteout, layer_lookup, Node, UPPER_INO_TAG};
use crate::inode::Inode;
use crate::types::*;
use crate::Errno;

/// Marks a position in the lower directory.
const LOWER_PHASE: u64 = 1 << 63;

/// A merged entry: the layer's entry, whether it came from the upper layer, the next position.
type Raw = (DirEntry, bool, u64);

impl Node {
    /// `readdir` of this merged directory.
    pub(super) fn merged_entry(&self, cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        let dot = |name: &[u8], ino: u64, next: u64| {
            Ok(Some((
                DirEntry {
                    ino,
                    kind: FileType::Directory,
                    name: name.to_vec(),
                },
                next,
            )))
        };
        match pos {
            0 => return dot(b".", self.ino, 1),
            1 => {
                let parent = self.place.lock().as_ref().map_or(self.ino, |(p, _)| p.ino);
                return dot(b"..", parent, 2);
            }
            _ => {}
        }
        let Some((mut e, from_upper, next)) = self.raw_entry(cx, pos)? else {
            return Ok(None);
        };
        if from_upper {
            let origin = self.fs.lock().origin.get(&e.ino).cloned();
            e.ino = match origin {
                Some(l) => l.stat().ino,
                None => e.ino | UPPER_INO_TAG,
            };
        }
        Ok(Some((e, next)))
    }

    /// The merged entry at `pos` (2 or more) with the layer's inode number.
    fn raw_entry(&self, cx: &Caller, pos: u64) -> Result<Option<Raw>> {
        let mut pos = pos;
        if pos & LOWER_PHASE == 0 {
            if let Some(u) = self.upper() {
                while let Some((e, next)) = u.readdir(cx, pos)? {
                    if next & LOWER_PHASE != 0 {
                        return Err(Errno::EOVERFLOW);
                    }
                    pos = next;
                    if is_dot(&e.name) || is_private(&e.name) || is_whiteout_entry(cx, u, &e)? {
                        continue;
                    }
                    return Ok(Some((e, true, next)));
                }
            }
            pos = LOWER_PHASE;
        }
        let Some(l) = &self.lower else {
            return Ok(None);
        };
        let mut lp = pos & !LOWER_PHASE;
        while let Some((e, next)) = l.readdir(cx, lp)? {
            if next & LOWER_PHASE != 0 {
                return Err(Errno::EOVERFLOW);
            }
            lp = next;
            if is_dot(&e.name) {
                continue;
            }
            if let Some(u) = self.upper() {
                // Shown (or whited out) by the upper directory.
                if layer_lookup(cx, u, &e.name)?.is_some() {
                    continue;
                }
            }
            return Ok(Some((e, false, next | LOWER_PHASE)));
        }
        Ok(None)
    }

    /// Whether the merged directory has no entries but `.` and `..`.
    pub(super) fn is_empty(&self) -> Result<bool> {
        Ok(self.raw_entry(&self.fs.cx, 2)?.is_none())
    }

    /// A merged directory's link count (2 and one per subdirectory) and whether it is exact.
    /// It starts from the lower directory's own count (2 and its subdirectories) and walks
    /// only the upper directory, correcting by what each upper entry hides or adds: a lower
    /// directory may be big and on a slow device (the root of a Debian image), the upper one
    /// holds only what changed. Not exact when a layer could not answer (a block in flight):
    /// then the count is not kept.
    pub(super) fn count_nlink(&self) -> (u64, bool) {
        let cx = &self.fs.cx;
        let (Some(u), Some(l)) = (self.upper(), &self.lower) else {
            return (2, false);
        };
        let mut n = l.stat().nlink;
        let mut exact = true;
        let mut pos = 2;
        loop {
            let (e, next) = match u.readdir(cx, pos) {
                Ok(Some(found)) => found,
                Ok(None) => break,
                Err(_) => {
                    exact = false;
                    break;
                }
            };
            pos = next;
            if is_dot(&e.name) || is_private(&e.name) {
                continue;
            }
            // A whiteout is a character device: it shows nothing, so no directory.
            let shown = e.kind == FileType::Directory;
            let hidden = match l.lookup(cx, &e.name) {
                Ok(i) => i.stat().is_dir(),
                Err(Errno::ENOENT) => false,
                Err(_) => {
                    exact = false;
                    false
                }
            };
            match (shown, hidden) {
                (true, false) => n += 1,
                (false, true) => n = n.saturating_sub(1),
                _ => {}
            }
        }
        (n.max(2), exact)
    }
}

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

fn is_whiteout_entry(cx: &Caller, dir: &Arc<dyn Inode>, e: &DirEntry) -> Result<bool> {
    if e.kind != FileType::CharDevice {
        return Ok(false);
    }
    Ok(layer_lookup(cx, dir, &e.name)?.is_some_and(|i| is_whiteout(&i)))
}
