//! Host tests of the overlay over a frozen lower tmpfs (a wrapper that serves only reads, so
//! any change the overlay tried to make to the lower layer would fail the test) with
//! injectable I/O errors.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::overlay::new_overlay;

mod blk;
mod layers;
mod names;
mod xattrs;

/// Errors the frozen lower layer gives on demand.
#[derive(Default)]
struct Faults {
    read: AtomicBool,
    lookup: AtomicBool,
    readdir: AtomicBool,
}

/// A read-only view of an inode: lookups, reads, listings and stat only, each of which can
/// be made to fail with EIO. Every other operation has the trait's refusal.
struct Frozen {
    inner: Arc<dyn Inode>,
    faults: Arc<Faults>,
}

fn fail(flag: &AtomicBool) -> Result<()> {
    if flag.load(Ordering::Relaxed) {
        Err(Errno::EIO)
    } else {
        Ok(())
    }
}

impl Inode for Frozen {
    fn stat(&self) -> Stat {
        self.inner.stat()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        fail(&self.faults.read)?;
        self.inner.read_at(offset, buf)
    }
    fn lookup(&self, cx: &Caller, name: &[u8]) -> Result<Arc<dyn Inode>> {
        fail(&self.faults.lookup)?;
        let inner = self.inner.lookup(cx, name)?;
        Ok(Arc::new(Frozen {
            inner,
            faults: self.faults.clone(),
        }))
    }
    fn readdir(&self, cx: &Caller, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        fail(&self.faults.readdir)?;
        self.inner.readdir(cx, pos)
    }
    fn readlink(&self, cx: &Caller) -> Result<Vec<u8>> {
        self.inner.readlink(cx)
    }
    fn xattr(&self, op: crate::xattr::XattrOp<'_>) -> Result<Vec<u8>> {
        match op {
            crate::xattr::XattrOp::Get(_) | crate::xattr::XattrOp::List => self.inner.xattr(op),
            _ => Err(Errno::EROFS),
        }
    }
    fn cached(&self) -> Option<&dyn crate::cache::CachedFile> {
        self.inner.cached()
    }
}

/// An overlay over a lower tmpfs that `build` fills.
struct Ov {
    clock: Arc<FakeClock>,
    /// The lower tmpfs itself, to check it never changes.
    lower: Arc<dyn Inode>,
    faults: Arc<Faults>,
    root: Arc<dyn Inode>,
    vfs: Vfs,
    cx: Caller,
}

impl Ov {
    fn new(build: impl FnOnce(&Arc<dyn Inode>)) -> Ov {
        let (clock, lower) = tmpfs();
        build(&lower);
        clock.advance(100);
        let faults = Arc::new(Faults::default());
        let frozen: Arc<dyn Inode> = Arc::new(Frozen {
            inner: lower.clone(),
            faults: faults.clone(),
        });
        let upper = new_tmpfs(clock.clone(), TmpfsOptions::default());
        let root = new_overlay(frozen, upper).unwrap();
        let vfs = Vfs::new(root.clone(), b"overlay", b"overlay", b"rw");
        let cx = caller(0, 0, &root);
        Ov {
            clock,
            lower,
            faults,
            root,
            vfs,
            cx,
        }
    }

    fn get(&self, path: &str) -> Result<Arc<dyn Inode>> {
        let l = self
            .vfs
            .resolve(&self.cx, &self.root, path.as_bytes(), false)?;
        l.inode.ok_or(Errno::ENOENT)
    }

    /// The parent directory of `path` and its last name.
    fn parent(&self, path: &str) -> (Arc<dyn Inode>, Vec<u8>) {
        let l = self
            .vfs
            .resolve_parent(&self.cx, &self.root, path.as_bytes(), false)
            .unwrap();
        (l.dir, l.name)
    }

    fn lower_get(&self, path: &str) -> Result<Arc<dyn Inode>> {
        let cx = caller(0, 0, &self.lower);
        let mut cur = self.lower.clone();
        for c in path.split('/').filter(|c| !c.is_empty()) {
            cur = cur.lookup(&cx, c.as_bytes())?;
        }
        Ok(cur)
    }

    fn ls(&self, path: &str) -> Vec<std::string::String> {
        let mut v = names_str(&self.get(path).unwrap(), &self.cx);
        v.sort();
        v
    }

    fn read(&self, path: &str) -> Vec<u8> {
        contents(&self.get(path).unwrap())
    }
}

/// The lower tree most tests use:
/// /etc/passwd (0644, uid 7), /etc/motd, /bin/sh (0755), /data/a + /data/b (one file, two
/// names), /data/sub/deep, /link -> etc/passwd, /empty/.
fn image(root: &Arc<dyn Inode>) {
    let etc = mkdir(root, "etc");
    let passwd = mkfile(&etc, "passwd", b"root:x:0:0\n");
    passwd.set_owner(Some(7), Some(8)).unwrap();
    mkfile(&etc, "motd", b"hello\n");
    let bin = mkdir(root, "bin");
    let sh = mkfile(&bin, "sh", b"\x7fELF...");
    sh.set_mode(0o755).unwrap();
    let data = mkdir(root, "data");
    let a = mkfile(&data, "a", b"shared");
    data.link(b"b", &a).unwrap();
    let sub = mkdir(&data, "sub");
    mkfile(&sub, "deep", b"deep");
    symlink(root, "link", "etc/passwd");
    mkdir(root, "empty");
}
