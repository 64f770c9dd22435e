//! Host tests of the VFS: tmpfs, path resolution, open files, pipes, /dev and the cpio
//! unpacker, over a small shared fixture (a fake clock, a root and an unprivileged caller, a
//! namespace with a second tmpfs on /mnt).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, Ordering};

use crate::file::OpenFile;
use crate::inode::Inode;
use crate::tmpfs::{new_tmpfs, TmpfsOptions};
use crate::types::*;
use crate::{Errno, Vfs};

mod cache;
mod cpio_roundtrip;
mod dev;
mod evict;
mod files;
mod overlay;
mod paths;
mod perm;
mod pipes;
mod readdir;
mod rename;
mod tmpfs;
mod tmpfs_data;
mod unpack;

/// A wall clock the test moves by hand.
#[derive(Debug)]
pub(super) struct FakeClock(AtomicI64);

/// Where the fake clock starts (2023-11-14), far from the epoch so "older" and "newer" both
/// have room.
pub(super) const T0: i64 = 1_700_000_000;

impl FakeClock {
    pub(super) fn new() -> Arc<FakeClock> {
        Arc::new(FakeClock(AtomicI64::new(T0)))
    }

    pub(super) fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::Relaxed);
    }

    pub(super) fn now_sec(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timespec {
        Timespec {
            sec: self.0.load(Ordering::Relaxed),
            nsec: 0,
        }
    }
}

/// A namespace: a tmpfs root with a second tmpfs mounted on /mnt.
pub(super) struct Fx {
    pub clock: Arc<FakeClock>,
    pub vfs: Vfs,
    pub root: Arc<dyn Inode>,
    /// The directory /mnt on the root filesystem (covered by the mount).
    pub mnt_point: Arc<dyn Inode>,
    /// The root of the filesystem mounted on /mnt.
    pub mnt: Arc<dyn Inode>,
    /// uid 0.
    pub su: Caller,
    /// uid 1000, gid 1000.
    pub user: Caller,
}

impl Fx {
    pub(super) fn new() -> Fx {
        Fx::with_options(TmpfsOptions::default())
    }

    /// A fixture whose root filesystem has `opts` (the /mnt one has the defaults).
    pub(super) fn with_options(opts: TmpfsOptions) -> Fx {
        let clock = FakeClock::new();
        let root = new_tmpfs(clock.clone(), opts);
        let vfs = Vfs::new(root.clone(), b"tmpfs", b"rootfs", b"rw");
        let mnt_point = root
            .create(b"mnt", NewNode::Directory, 0o755, 0, 0)
            .unwrap();
        let mnt = new_tmpfs(clock.clone(), TmpfsOptions::default());
        vfs.mount(&mnt_point, mnt.clone(), b"tmpfs", b"tmpfs", b"rw")
            .unwrap();
        let su = caller(0, 0, &root);
        let user = caller(1000, 1000, &root);
        Fx {
            clock,
            vfs,
            root,
            mnt_point,
            mnt,
            su,
            user,
        }
    }

    /// Resolves `path` from the root as root, following a final symlink.
    pub(super) fn get(&self, path: &str) -> Result<Arc<dyn Inode>> {
        let l = self
            .vfs
            .resolve(&self.su, &self.root, path.as_bytes(), true)?;
        Ok(l.inode.expect("resolve returns an inode"))
    }

    /// Opens `path` (which must exist) with `flags`, as root.
    pub(super) fn open(&self, path: &str, flags: u32) -> Result<Arc<OpenFile>> {
        let inode = self.get(path)?;
        let ops = self.vfs.open_inode(&self.su, &inode, flags)?;
        Ok(OpenFile::new(inode, path.as_bytes().to_vec(), flags, ops))
    }
}

pub(super) fn caller(uid: u32, gid: u32, root: &Arc<dyn Inode>) -> Caller {
    Caller {
        pid: 1,
        tid: 1,
        uid,
        gid,
        groups: Vec::new(),
        caps: if uid == 0 {
            crate::cap::DOCKER_DEFAULT
        } else {
            0
        },
        umask: 0o022,
        root: root.clone(),
    }
}

/// A tmpfs on its own, for tests that need only inodes.
pub(super) fn tmpfs() -> (Arc<FakeClock>, Arc<dyn Inode>) {
    let clock = FakeClock::new();
    let root = new_tmpfs(clock.clone(), TmpfsOptions::default());
    (clock, root)
}

pub(super) fn mkdir(dir: &Arc<dyn Inode>, name: &str) -> Arc<dyn Inode> {
    dir.create(name.as_bytes(), NewNode::Directory, 0o755, 0, 0)
        .unwrap()
}

pub(super) fn mkfile(dir: &Arc<dyn Inode>, name: &str, data: &[u8]) -> Arc<dyn Inode> {
    let f = dir
        .create(name.as_bytes(), NewNode::Regular, 0o644, 0, 0)
        .unwrap();
    assert_eq!(f.write_at(0, data), Ok(data.len()));
    f
}

pub(super) fn symlink(dir: &Arc<dyn Inode>, name: &str, target: &str) -> Arc<dyn Inode> {
    let node = NewNode::Symlink(target.as_bytes().to_vec());
    dir.create(name.as_bytes(), node, 0o777, 0, 0).unwrap()
}

/// The names in a directory in readdir order, `.` and `..` included.
pub(super) fn names(dir: &Arc<dyn Inode>, cx: &Caller) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = dir.readdir(cx, pos).unwrap() {
        out.push(e.name);
        pos = next;
    }
    out
}

/// `names` as strings, for readable assertions.
pub(super) fn names_str(dir: &Arc<dyn Inode>, cx: &Caller) -> Vec<std::string::String> {
    names(dir, cx)
        .into_iter()
        .map(|n| std::string::String::from_utf8(n).unwrap())
        .collect()
}

/// Reads a whole regular file through the inode.
pub(super) fn contents(f: &Arc<dyn Inode>) -> Vec<u8> {
    let mut buf = alloc::vec![0; f.stat().size as usize];
    assert_eq!(f.read_at(0, &mut buf), Ok(buf.len()));
    buf
}

/// The errno of a result expected to fail (inodes and file ops have no `Debug`).
pub(super) fn err<T>(r: Result<T>) -> Errno {
    match r {
        Ok(_) => panic!("expected an error, got Ok"),
        Err(e) => e,
    }
}
