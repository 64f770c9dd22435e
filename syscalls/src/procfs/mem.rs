//! /proc/<pid>/mem: another process's memory as a file whose offset is the address
//! (fs/proc/base.c `mem_rw`), the way gdb reads and writes its inferior (a breakpoint's int3
//! goes in through it).
//!
//! The file holds the address space the process had at open, as Linux's holds the mm: after
//! the process execs or ends, reads and writes return 0. Accesses are forced as ptrace's are
//! (FOLL_FORCE: a write to read-only program text lands in a private copy of the page). The
//! bytes go through the syscall layer ([`rw`], called by read/write and their positional
//! forms), which has the platform to switch address spaces; the file's own ops refuse.

use alloc::sync::{Arc, Weak};
use core::any::Any;

use coracle_vfs::file::SEEK_SET;
use coracle_vfs::{Errno, FileOps, OpenFile, Result};

use crate::platform::Space;
use crate::process::Process;
use crate::sys::io::UserBufs;
use crate::{Current, Platform, SysResult};

/// Bytes moved per step: a page, as mem_rw does.
const STEP: usize = 4096;

/// An open /proc/<pid>/mem.
pub(super) struct MemFile {
    proc: Weak<Process>,
    /// The address space at open (`None`: the process had none, reads give 0).
    space: Option<Space>,
}

impl MemFile {
    pub(super) fn new(proc: &Arc<Process>) -> Self {
        MemFile {
            proc: Arc::downgrade(proc),
            space: proc.space.lock().clone(),
        }
    }

    /// The process, while it still runs in the space the file was opened on.
    fn target(&self) -> Option<(Arc<Process>, Space)> {
        let proc = self.proc.upgrade()?;
        let space = self.space.clone()?;
        let now = proc.space.lock().clone()?;
        let same = core::ptr::eq(
            Arc::as_ptr(&now).cast::<()>(),
            Arc::as_ptr(&space).cast::<()>(),
        );
        same.then_some((proc, space))
    }
}

impl FileOps for MemFile {
    fn read(&self, _pos: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::EIO)
    }

    fn write(&self, _pos: u64, _data: &[u8]) -> Result<usize> {
        Err(Errno::EIO)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// read/write (and pread64, readv...) of an open /proc/<pid>/mem: `None` for other files.
/// Moves up to `bufs.len()` bytes between the caller's buffers and the target's memory at
/// `offset` (else the file offset, which advances). A target address that cannot be reached
/// ends the copy; with nothing copied yet it is `EIO`.
pub(crate) fn rw(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    bufs: UserBufs<'_>,
    offset: Option<i64>,
    write: bool,
) -> Option<SysResult> {
    let mem = file.ops().as_any().downcast_ref::<MemFile>()?;
    let start = offset.map_or_else(|| file.offset(), |o| o as u64);
    let r = copy(p, k, mem, bufs, start, write);
    if let (Ok(done), None) = (r, offset) {
        let _ = file.seek(start.wrapping_add(done) as i64, SEEK_SET);
    }
    Some(r)
}

fn copy(
    p: &Current,
    k: &mut dyn Platform,
    mem: &MemFile,
    bufs: UserBufs<'_>,
    start: u64,
    write: bool,
) -> SysResult {
    let Some((target, space)) = mem.target() else {
        return Ok(0);
    };
    let same = Arc::ptr_eq(&target, &p.process);
    let mine = k.space();
    let count = bufs.len().min(crate::sys::io::MAX_RW_COUNT);
    let mut buf = alloc::vec![0u8; STEP];
    let mut done = 0u64;
    while done < count {
        let addr = start.wrapping_add(done);
        let n = (count - done).min(STEP as u64 - addr % STEP as u64) as usize;
        let chunk = &mut buf[..n];
        let remote = if write {
            if let Err((_, e)) = bufs.load(k, done, chunk) {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
            crate::sys::process_vm::in_space(k, &space, &mine, same, |k| {
                crate::ptrace::force_write(&target, k, addr, chunk)
            })
        } else {
            crate::sys::process_vm::in_space(k, &space, &mine, same, |k| {
                crate::mm::read_user(&target, k, addr, chunk)
            })
        };
        if remote.is_err() {
            return if done == 0 { Err(Errno::EIO) } else { Ok(done) };
        }
        if !write {
            if let Err(e) = bufs.store(k, done, chunk) {
                return if done == 0 { Err(e) } else { Ok(done) };
            }
        }
        done += n as u64;
    }
    Ok(done)
}
