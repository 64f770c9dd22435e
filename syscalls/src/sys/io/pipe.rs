//! pipe and pipe2: an anonymous pipe on pipefs, one fd for each end.

use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_vfs::pipe::Pipe;
use coracle_vfs::types::{oflags::*, Stat, S_IFIFO};
use coracle_vfs::{Inode, OpenFile};

use crate::process::Fd;
use crate::uaccess::write_struct;
use crate::{Current, Errno, Platform, SysResult};

/// The inode of a pipe made by pipe(2) (on pipefs).
struct PipeInode {
    ino: u64,
    pipe: Arc<Pipe>,
}

impl Inode for PipeInode {
    fn stat(&self) -> Stat {
        Stat {
            dev: 0xd,
            ino: self.ino,
            mode: S_IFIFO | 0o600,
            nlink: 1,
            blksize: 4096,
            ..Stat::default()
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn fifo(&self) -> Option<Arc<Pipe>> {
        Some(self.pipe.clone())
    }
}

/// Whether `inode` is a pipe made by pipe(2) rather than a FIFO in a file system: reopening it
/// (through `/proc/self/fd/N`) never waits for the other end (Linux's `fifo_open`, `is_pipe`).
pub(crate) fn is_anonymous_pipe(inode: &dyn Inode) -> bool {
    inode.as_any().is::<PipeInode>()
}

pub(crate) fn pipe2(p: &mut Current, k: &mut dyn Platform, fds: u64, flags: i32) -> SysResult {
    static NEXT_INO: AtomicU64 = AtomicU64::new(20000);
    const O_NOTIFICATION_PIPE: u32 = O_EXCL;
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK | O_DIRECT | O_NOTIFICATION_PIPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let pipe = Pipe::new();
    let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
    let inode: Arc<dyn Inode> = Arc::new(PipeInode {
        ino,
        pipe: pipe.clone(),
    });
    let path = alloc::format!("pipe:[{ino}]").into_bytes();
    let status = flags & (O_NONBLOCK | O_DIRECT);
    let reader = OpenFile::new(
        inode.clone(),
        path.clone(),
        O_RDONLY | status,
        pipe.open_reader(),
    );
    let writer = OpenFile::new(inode, path, O_WRONLY | status, pipe.open_writer());
    let cloexec = flags & O_CLOEXEC != 0;
    crate::kmem::check_file_count(&p.sys)?;
    let limit = p.fd_limit();
    let (r, w) = {
        let mut files = p.process.files.lock();
        let r = files.install_lowest(
            0,
            limit,
            Fd {
                file: reader,
                cloexec,
            },
        )?;
        match files.install_lowest(
            0,
            limit,
            Fd {
                file: writer,
                cloexec,
            },
        ) {
            Ok(w) => (r, w),
            Err(e) => {
                files.remove(r);
                return Err(e);
            }
        }
    };
    if let Err(e) = write_struct(k, fds, &[r as i32, w as i32]) {
        let mut files = p.process.files.lock();
        files.remove(r);
        files.remove(w);
        return Err(e);
    }
    Ok(0)
}

pub(crate) fn pipe(p: &mut Current, k: &mut dyn Platform, fds: u64) -> SysResult {
    pipe2(p, k, fds, 0)
}
