//! pidfds: a file that names a process (pidfd_open, CLONE_PIDFD), readable once the process
//! has ended, usable with pidfd_send_signal and waitid(P_PIDFD).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;

use coracle_vfs::file::events;
use coracle_vfs::{FileOps, WaitQueue};

use crate::process::Process;
use crate::signal::{SigInfo, Target, SI_USER};
use crate::sys::anon::install_anon;
use crate::{Current, Errno, Platform, SysResult};

/// PIDFD_NONBLOCK (O_NONBLOCK).
const PIDFD_NONBLOCK: u32 = 0o4000;
const O_CLOEXEC: u32 = 0o2000000;

/// The open pidfd: the process it names.
struct PidFd {
    proc: Arc<Process>,
}

impl FileOps for PidFd {
    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
        if self.proc.life.lock().ended.is_some() {
            events::POLLIN | events::POLLRDNORM
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.proc.exit_events)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A new pidfd for `proc` in the caller's fd table (always close-on-exec).
pub(crate) fn install(p: &Current, proc: Arc<Process>, flags: u32) -> SysResult {
    install_anon(p, "pidfd", flags | O_CLOEXEC, Box::new(PidFd { proc }))
}

/// The process the pidfd `fd` names; `EBADF` if `fd` is not a pidfd.
pub(crate) fn process_of_fd(p: &Current, fd: i32) -> Result<Arc<Process>, Errno> {
    let file = p.file(fd)?;
    file.ops()
        .as_any()
        .downcast_ref::<PidFd>()
        .map(|f| f.proc.clone())
        .ok_or(Errno::EBADF)
}

/// The pid of the process the pidfd `fd` names.
pub(crate) fn pid_of_fd(p: &Current, fd: i32) -> Result<u32, Errno> {
    process_of_fd(p, fd).map(|proc| proc.pid)
}

pub(crate) fn pidfd_open(
    p: &mut Current,
    _k: &mut dyn Platform,
    pid: i32,
    flags: u32,
) -> SysResult {
    if flags & !PIDFD_NONBLOCK != 0 {
        return Err(Errno::EINVAL);
    }
    if pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let proc = p
        .sys
        .tree
        .lock()
        .get(&(pid as u32))
        .cloned()
        .ok_or(Errno::ESRCH)?;
    install(p, proc, flags & PIDFD_NONBLOCK)
}

/// pidfd_send_signal(2): `sig` to the process `pidfd` names; with a NULL `info` as kill,
/// otherwise with the caller's siginfo (whose si_signo must be `sig`), as rt_sigqueueinfo.
pub(crate) fn pidfd_send_signal(
    p: &mut Current,
    k: &mut dyn Platform,
    pidfd: i32,
    sig: i32,
    info: u64,
    flags: u32,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let proc = process_of_fd(p, pidfd)?;
    if !(0..=64).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let queued = if info != 0 {
        let mut raw = [0u8; 4];
        k.read_user(info, &mut raw)?;
        if i32::from_le_bytes(raw) != sig {
            return Err(Errno::EINVAL);
        }
        Some(crate::sys::signal::queued_info(
            p,
            k,
            sig,
            info,
            proc.pid as i32,
        )?)
    } else {
        None
    };
    // Gone once reaped (ESRCH); a zombie still takes signals, as on Linux, and drops them.
    let reaped = !p
        .sys
        .tree
        .lock()
        .get(&proc.pid)
        .is_some_and(|q| Arc::ptr_eq(q, &proc));
    if reaped {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    let info = queued.unwrap_or_else(|| {
        SigInfo::from_process(sig as u32, SI_USER, p.process.pid, p.process.ruid())
    });
    crate::sys::signal::send_info(p, &proc, Target::Process, info)
}
