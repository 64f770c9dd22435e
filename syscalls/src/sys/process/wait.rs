//! wait4 and waitid: reaping zombies, and reports of stopped and continued children.
//!
//! The children of a process are the entries of the system's tree whose parent it is; a
//! zombie holds its status until a wait takes it (or WNOWAIT leaves it). A caller with
//! nothing to report waits on its own `child_events` queue, which every change of a child
//! wakes (its end, a stop, a continue, a reparented zombie).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::resource::Rusage;
use coracle_abi::time::Timeval;
use coracle_vfs::Wake;

use super::exit::{
    chld_info, CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, CLD_STOPPED, SIGCHLD,
};
use crate::process::{ExitStatus, Process};
use crate::signal::{SiChld, UserSiginfo};
use crate::uaccess::write_struct;
use crate::{Current, Errno, Platform, SysResult};

pub(crate) const WNOHANG: u32 = 1;
pub(crate) const WUNTRACED: u32 = 2;
pub(crate) const WEXITED: u32 = 4;
pub(crate) const WCONTINUED: u32 = 8;
pub(crate) const WNOWAIT: u32 = 0x0100_0000;
const WNOTHREAD: u32 = 0x2000_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;

const P_ALL: i32 = 0;
const P_PID: i32 = 1;
const P_PGID: i32 = 2;
const P_PIDFD: i32 = 3;

/// Which children a wait is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    All,
    Pid(u32),
    Group(u32),
}

/// What a wait found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Report {
    pub pid: u32,
    pub uid: u32,
    /// The si_code of waitid (CLD_*) and its si_status.
    pub code: i32,
    pub status: u32,
    /// The wait4 status word.
    pub word: u32,
    /// The child's CPU time (for rusage), in ns.
    pub cpu_ns: u64,
}

fn matches(c: &Process, which: Which, options: u32) -> bool {
    let chosen = match which {
        Which::All => true,
        Which::Pid(pid) => c.pid == pid,
        Which::Group(g) => c.pgid() == g,
    };
    // __WCLONE picks the children that report with another signal than SIGCHLD; __WALL
    // takes both kinds.
    let exit_signal = c.life.lock().exit_signal;
    let kind = options & WALL != 0 || ((exit_signal != SIGCHLD) == (options & WCLONE != 0));
    chosen && kind
}

/// Looks for a child with something to report (do_wait): the report, `Ok(None)` when
/// children exist but none has news, `ECHILD` when there are none.
pub(crate) fn find(p: &Current, which: Which, options: u32) -> Result<Option<Report>, Errno> {
    let me = p.process.pid;
    // Tracees report their ptrace stops (and, when not children, their ends) to the tracer.
    let (tracing, traced) = crate::ptrace::wait_find(p, which, options);
    if traced.is_some() {
        return Ok(traced);
    }
    let held = crate::ptrace::held_zombies(&p.sys);
    let mut tree = p.sys.tree.lock();
    let children: Vec<Arc<Process>> = tree
        .values()
        .filter(|c| c.ppid() == me && c.pid != me && matches(c, which, options))
        .cloned()
        .collect();
    if children.is_empty() && !tracing {
        return Err(Errno::ECHILD);
    }
    let keep = options & WNOWAIT != 0;
    for c in &children {
        let mut life = c.life.lock();
        if let Some(end) = life.ended {
            // Its tracer has not waited for it yet.
            if options & WEXITED == 0 || held.contains(&c.pid) {
                continue;
            }
            let (code, status) = match end {
                ExitStatus::Exited(v) => (CLD_EXITED, v),
                ExitStatus::Signaled { sig, core: false } => (CLD_KILLED, sig),
                ExitStatus::Signaled { sig, core: true } => (CLD_DUMPED, sig),
            };
            let cpu_ns = life.cpu_ns + life.children_cpu_ns;
            let report = Report {
                pid: c.pid,
                uid: c.ruid(),
                code,
                status,
                word: end.wait_status(),
                cpu_ns,
            };
            drop(life);
            if !keep {
                tree.remove(&c.pid);
                p.process.life.lock().children_cpu_ns += cpu_ns;
            }
            return Ok(Some(report));
        }
        if options & WUNTRACED != 0 {
            if let Some(sig) = life.stop_report {
                if !keep {
                    life.stop_report = None;
                }
                return Ok(Some(Report {
                    pid: c.pid,
                    uid: c.ruid(),
                    code: CLD_STOPPED,
                    status: sig,
                    word: (sig << 8) | 0x7f,
                    cpu_ns: 0,
                }));
            }
        }
        if options & WCONTINUED != 0 && life.continued_report {
            if !keep {
                life.continued_report = false;
            }
            return Ok(Some(Report {
                pid: c.pid,
                uid: c.ruid(),
                code: CLD_CONTINUED,
                status: 18,
                word: 0xffff,
                cpu_ns: 0,
            }));
        }
    }
    Ok(None)
}

/// The common part of wait4 and waitid: a report, `None` for WNOHANG with nothing to
/// report, or the wait.
fn wait_for(p: &mut Current, which: Which, options: u32) -> Result<Option<Report>, Errno> {
    if let Some(r) = find(p, which, options)? {
        return Ok(Some(r));
    }
    if options & WNOHANG != 0 {
        return Ok(None);
    }
    if p.resumed() == Some(Wake::Interrupted) {
        return Err(Errno::ERESTARTSYS);
    }
    let process = p.process.clone();
    p.wait_on(&process.child_events, u64::MAX);
    match find(p, which, options)? {
        Some(r) => Ok(Some(r)),
        None => Err(Errno::WAIT),
    }
}

/// struct rusage with the child's CPU time as ru_utime (user and system time are not told
/// apart).
fn child_rusage(cpu_ns: u64) -> Rusage {
    Rusage {
        ru_utime: Timeval::from_ns(cpu_ns),
        ..Rusage::default()
    }
}

pub(crate) fn wait4(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    status: u64,
    options: u32,
    rusage: u64,
) -> SysResult {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let which = match pid {
        -1 => Which::All,
        0 => Which::Group(p.process.pgid()),
        i32::MIN => return Err(Errno::ESRCH),
        p if p < 0 => Which::Group(p.unsigned_abs()),
        p => Which::Pid(p as u32),
    };
    let Some(r) = wait_for(p, which, options | WEXITED)? else {
        return Ok(0);
    };
    if status != 0 {
        k.write_user(status, &r.word.to_le_bytes())?;
    }
    if rusage != 0 {
        write_struct(k, rusage, &child_rusage(r.cpu_ns))?;
    }
    Ok(u64::from(r.pid))
}

pub(crate) fn waitid(
    p: &mut Current,
    k: &mut dyn Platform,
    idtype: i32,
    id: u32,
    infop: u64,
    options: u32,
    rusage: u64,
) -> SysResult {
    let known = WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE;
    if options & !known != 0 || options & (WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    // A pidfd opened with PIDFD_NONBLOCK makes the wait non-blocking, and "not yet" EAGAIN.
    let nonblocking_pidfd = idtype == P_PIDFD && p.file(id as i32)?.nonblocking();
    let options = if nonblocking_pidfd {
        options | WNOHANG
    } else {
        options
    };
    let which = match idtype {
        P_ALL => Which::All,
        P_PID if id > 0 && id <= i32::MAX as u32 => Which::Pid(id),
        P_PGID if id == 0 => Which::Group(p.process.pgid()),
        P_PGID if id <= i32::MAX as u32 => Which::Group(id),
        P_PIDFD => Which::Pid(super::pidfd::pid_of_fd(p, id as i32)?),
        _ => return Err(Errno::EINVAL),
    };
    let found = match wait_for(p, which, options) {
        Ok(None) if nonblocking_pidfd => Err(Errno::EAGAIN),
        r => r,
    };
    // Linux writes a zeroed siginfo even when the wait fails (ECHILD, EAGAIN), so a bad
    // pointer is EFAULT before any other error.
    let found = match found {
        Err(e) if e != Errno::WAIT && infop != 0 => {
            write_struct(k, infop, &UserSiginfo::default())?;
            return Err(e);
        }
        r => r?,
    };
    if infop != 0 {
        let info = match found {
            Some(r) => {
                let mut i = chld_info(SIGCHLD, &p.process, r.code, r.status, r.cpu_ns);
                let mut f: SiChld = i.fields();
                f.si_pid = r.pid;
                f.si_uid = r.uid;
                i.set_fields(&f);
                i.to_user()
            }
            // WNOHANG with nothing to report: a zeroed siginfo (si_pid 0).
            None => UserSiginfo::default(),
        };
        write_struct(k, infop, &info)?;
    }
    if rusage != 0 {
        let cpu = found.map_or(0, |r| r.cpu_ns);
        write_struct(k, rusage, &child_rusage(cpu))?;
    }
    Ok(0)
}
