//! signalfd(2): a file whose reads take pending signals of its mask, as
//! `struct signalfd_siginfo` records.
//!
//! Reads take the reader's own signals and the process's, like Linux. The file's readiness
//! (poll, epoll) has no reader to ask, so it looks at the process's signals and those of
//! the thread that made the fd — the thread that polls it in practice. The process's signal
//! queue ([`super::ProcSignals::queued`]) is the file's wait queue: every signal sent wakes
//! its pollers and readers.

use alloc::sync::{Arc, Weak};
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};

use coracle_abi::signal::SignalfdSiginfo;
use coracle_abi::IntoBytes;
use coracle_vfs::file::events::POLLIN;
use coracle_vfs::types::{oflags::*, Stat};
use coracle_vfs::{FileOps, Inode, OpenFile, WaitQueue, Wake};

use super::{
    dequeue_set, layout, Layout, SiChld, SiFault, SiKill, SiPoll, SiRt, SiSys, SiTimer, SigInfo,
    UNBLOCKABLE,
};
use crate::process::Process;
use crate::sys::io::UserBufs;
use crate::uaccess::read_u64;
use crate::{Current, Errno, Platform, SysResult};

/// The size of `struct signalfd_siginfo`.
const RECORD: usize = size_of::<SignalfdSiginfo>();

/// The open signalfd.
pub(crate) struct SignalFd {
    mask: AtomicU64,
    proc: Weak<Process>,
    /// The thread that made it (whose signals its readiness counts).
    owner: u32,
    queue: Arc<WaitQueue>,
}

impl SignalFd {
    fn mask(&self) -> u64 {
        self.mask.load(Ordering::SeqCst)
    }
}

impl FileOps for SignalFd {
    /// Reads without a reader (readv and friends): the process's signals and the owner's.
    fn read(&self, _pos: u64, buf: &mut [u8]) -> coracle_vfs::types::Result<usize> {
        if buf.len() < RECORD {
            return Err(Errno::EINVAL);
        }
        let Some(proc) = self.proc.upgrade() else {
            return Err(Errno::EAGAIN);
        };
        let mut n = 0;
        while n + RECORD <= buf.len() {
            let Some(info) = proc.signals.state.lock().dequeue(self.owner, self.mask()) else {
                break;
            };
            buf[n..n + RECORD].copy_from_slice(record(&info).as_bytes());
            n += RECORD;
        }
        if n == 0 {
            return Err(Errno::EAGAIN);
        }
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
        let ready = self
            .proc
            .upgrade()
            .is_some_and(|p| p.signals.pending(self.owner) & self.mask() != 0);
        if ready {
            POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The inode every signalfd shares (anon_inode:[signalfd]).
struct AnonInode;

impl Inode for AnonInode {
    fn stat(&self) -> Stat {
        Stat {
            dev: 0xe,
            ino: 1,
            mode: 0o600,
            nlink: 1,
            blksize: 4096,
            ..Stat::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `struct signalfd_siginfo` for `info`, its fields filled by the siginfo's layout
/// (signalfd_copyinfo).
fn record(info: &SigInfo) -> SignalfdSiginfo {
    let (signo, code) = (info.signo(), info.code());
    let mut r = SignalfdSiginfo {
        ssi_signo: signo,
        ssi_errno: info.errno(),
        ssi_code: code,
        ..SignalfdSiginfo::default()
    };
    match layout(signo, code) {
        Layout::Kill => {
            let f: SiKill = info.fields();
            r.ssi_pid = f.si_pid;
            r.ssi_uid = f.si_uid;
        }
        Layout::Timer => {
            let f: SiTimer = info.fields();
            r.ssi_tid = f.si_tid as u32;
            r.ssi_overrun = f.si_overrun as u32;
            r.ssi_int = f.si_value as u32 as i32;
            r.ssi_ptr = f.si_value;
        }
        Layout::Poll => {
            let f: SiPoll = info.fields();
            r.ssi_band = f.si_band as u32;
            r.ssi_fd = f.si_fd;
        }
        Layout::Fault => r.ssi_addr = info.fields::<SiFault>().si_addr,
        Layout::Chld => {
            let f: SiChld = info.fields();
            r.ssi_pid = f.si_pid;
            r.ssi_uid = f.si_uid;
            r.ssi_status = f.si_status;
            r.ssi_utime = f.si_utime;
            r.ssi_stime = f.si_stime;
        }
        Layout::Rt => {
            let f: SiRt = info.fields();
            r.ssi_pid = f.si_pid;
            r.ssi_uid = f.si_uid;
            r.ssi_int = f.si_value as u32 as i32;
            r.ssi_ptr = f.si_value;
        }
        Layout::Sys => {
            let f: SiSys = info.fields();
            r.ssi_call_addr = f.si_call_addr;
            r.ssi_syscall = f.si_syscall;
            r.ssi_arch = f.si_arch;
        }
    }
    r
}

pub(crate) fn signalfd(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    mask: u64,
    size: u64,
) -> SysResult {
    signalfd4(p, k, fd, mask, size, 0)
}

pub(crate) fn signalfd4(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    mask: u64,
    size: u64,
    flags: i32,
) -> SysResult {
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = read_u64(k, mask)? & !UNBLOCKABLE;
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    if fd != -1 {
        let file = p.file(fd)?;
        let sfd = file
            .ops()
            .as_any()
            .downcast_ref::<SignalFd>()
            .ok_or(Errno::EINVAL)?;
        sfd.mask.store(mask, Ordering::SeqCst);
        sfd.queue.wake_everyone();
        return Ok(fd as u64);
    }
    let ops = SignalFd {
        mask: AtomicU64::new(mask),
        proc: Arc::downgrade(&p.process),
        owner: p.tid,
        queue: p.process.signals.queued.clone(),
    };
    let file = OpenFile::new(
        Arc::new(AnonInode),
        b"anon_inode:[signalfd]".to_vec(),
        O_RDWR | (flags & O_NONBLOCK),
        alloc::boxed::Box::new(ops),
    );
    Ok(p.install(file, flags & O_CLOEXEC != 0)? as u64)
}

/// read(2) of a signalfd by thread `p`, or None when `file` is not one: as many records as
/// fit, waiting for the first unless the file is non-blocking; a signal that interrupts the
/// wait ends it with ERESTARTSYS.
pub(crate) fn read(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    bufs: UserBufs<'_>,
) -> Option<SysResult> {
    let sfd = file.ops().as_any().downcast_ref::<SignalFd>()?;
    Some(read_records(p, k, sfd, file.nonblocking(), bufs))
}

fn read_records(
    p: &mut Current,
    k: &mut dyn Platform,
    sfd: &SignalFd,
    nonblocking: bool,
    bufs: UserBufs<'_>,
) -> SysResult {
    let max = bufs.len() / RECORD as u64;
    if max == 0 {
        return Err(Errno::EINVAL);
    }
    let mut registered = false;
    let mut done = 0u64;
    while done < max {
        let Some(info) = dequeue_set(p, sfd.mask()) else {
            if done > 0 {
                break;
            }
            if nonblocking {
                return Err(Errno::EAGAIN);
            }
            if p.resumed() == Some(Wake::Interrupted) {
                return Err(Errno::ERESTARTSYS);
            }
            if registered {
                return Err(Errno::WAIT);
            }
            // Register, then look once more: a signal sent in between is not missed.
            p.wait_on(&sfd.queue, u64::MAX);
            registered = true;
            continue;
        };
        if let Err(e) = bufs.store(k, done * RECORD as u64, record(&info).as_bytes()) {
            return if done == 0 {
                Err(e)
            } else {
                Ok(done * RECORD as u64)
            };
        }
        done += 1;
    }
    Ok(done * RECORD as u64)
}
