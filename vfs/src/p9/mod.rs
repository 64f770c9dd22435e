//! Volumes: a host directory exported over 9P2000.L (QEMU's virtio-9p `-fsdev local`),
//! mounted as a filesystem whose every change is on the host when the call returns.
//!
//! `wire` encodes requests and checks replies (untrusted: malformed bytes are `EIO`);
//! `client` makes typed calls over the [`client::Channel`] the kernel implements on a
//! virtio-9p device; `inode` is the [`crate::Inode`] of each file. Writes go straight to the
//! host (`Twrite`) and `fsync` sends `Tfsync`, so data written by a program is in the host's
//! page cache when `write` returns and on its disk when `fsync` does. Pages of files that
//! are mapped live in the page cache; dirty ones are written back by `msync`, `fsync` and
//! `munmap` through [`crate::cache::CachedFile`]. Owners, modes and times are the host's
//! (QEMU's `security_model=none`/`passthrough`), as Docker shows a bind mount.

mod client;
mod inode;
#[cfg(test)]
mod tests;
pub mod wire;

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};

use spin::Mutex;

pub use client::{Channel, Client, MSIZE};
pub use inode::P9Inode;

use crate::types::anon_dev;
use crate::{Errno, Inode};

/// One mounted export.
#[derive(Debug)]
pub struct P9Fs {
    client: Client,
    /// `st_dev` of every file here.
    dev: u64,
    /// The live inodes by the server's qid path, so that every lookup of a file gives the
    /// same object (one page cache per file, as mappings need).
    inodes: Mutex<BTreeMap<u64, Weak<P9Inode>>>,
}

impl P9Fs {
    /// Connects over `chan` and returns the export's root directory.
    pub fn mount(chan: Arc<dyn Channel>) -> Result<Arc<dyn Inode>, Errno> {
        let (client, _qid) = Client::connect(chan)?;
        let attr = client.getattr(client::ROOT_FID)?;
        if attr.mode & crate::types::S_IFMT != crate::types::S_IFDIR {
            return Err(Errno::ENOTDIR);
        }
        let fs = Arc::new(P9Fs {
            client,
            dev: anon_dev(),
            inodes: Mutex::new(BTreeMap::new()),
        });
        let root: Arc<dyn Inode> = fs.intern(client::ROOT_FID, attr, None);
        Ok(root)
    }

    /// The inode of the file `fid` names (walked just now, with `attr` just read): the live
    /// one for its qid if there is one (then `fid` is given back), else a new one.
    fn intern(self: &Arc<Self>, fid: u32, attr: wire::Attr, parent: inode::Parent) -> Arc<P9Inode> {
        let existing = {
            let mut table = self.inodes.lock();
            match table.get(&attr.qid.path).and_then(Weak::upgrade) {
                Some(node) => Ok(node),
                None => {
                    let node = P9Inode::new(self.clone(), fid, attr, parent.clone());
                    table.insert(attr.qid.path, Arc::downgrade(&node));
                    Err(node)
                }
            }
        };
        match existing {
            Ok(node) => {
                self.client.release(fid);
                node.refresh(attr, parent);
                node
            }
            Err(node) => node,
        }
    }

    /// Writes back the dirty pages of every file of the export `root` is the root of (at the
    /// machine's end, as Linux syncs a filesystem when it is unmounted). Errors are dropped:
    /// there is no one left to tell.
    pub fn sync_all(root: &Arc<dyn Inode>) {
        let Some(node) = root.as_any().downcast_ref::<P9Inode>() else {
            return;
        };
        let live: alloc::vec::Vec<Arc<P9Inode>> = node
            .fs()
            .inodes
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for inode in &live {
            if let Some(c) = inode.cached() {
                if !c.page_cache().dirty().is_empty() {
                    let _ = crate::cache::write_back(c, true);
                }
            }
        }
    }

    /// Forgets the inode of `qid_path` if it is `node` (dropped).
    fn forget(&self, qid_path: u64, node: *const P9Inode) {
        let mut table = self.inodes.lock();
        if table
            .get(&qid_path)
            .is_some_and(|w| core::ptr::eq(w.as_ptr(), node))
        {
            table.remove(&qid_path);
        }
    }
}
