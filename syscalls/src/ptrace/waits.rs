//! What wait4 and waitid report to a tracer about its tracees: their ptrace stops (whatever
//! WUNTRACED says) and the end of tracees that are not its own children (Linux's
//! `wait_task_stopped` with `ptrace` set, and the tracer's exit report).

use alloc::vec::Vec;

use super::*;
use crate::process::ExitStatus;
use crate::sys::process::exit::{CLD_DUMPED, CLD_EXITED, CLD_KILLED};
use crate::sys::process::wait::{Report, Which, WNOWAIT};
use crate::Current;

const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;

/// Whether the ended process `pid` waits for its tracer's wait before its parent may
/// have it.
pub(crate) fn holds_zombie(sys: &crate::process::System, pid: u32) -> bool {
    sys.ptrace
        .get(pid)
        .is_some_and(|t| t.state.lock().ended.is_some())
}

/// The processes [`holds_zombie`] holds.
pub(crate) fn held_zombies(sys: &crate::process::System) -> Vec<u32> {
    sys.ptrace
        .ended()
        .into_iter()
        .filter(|t| t.tid == t.pid)
        .map(|t| t.pid)
        .collect()
}

/// waitid's si_code and si_status for an end.
pub(super) fn exit_code_of(end: ExitStatus) -> (i32, u32) {
    match end {
        ExitStatus::Exited(v) => (CLD_EXITED, v),
        ExitStatus::Signaled { sig, core: false } => (CLD_KILLED, sig),
        ExitStatus::Signaled { sig, core: true } => (CLD_DUMPED, sig),
    }
}

/// Looks through the caller's tracees for one `which` and `options` pick with something to
/// report. Returns whether any tracee matched, and the report.
pub(crate) fn wait_find(p: &Current, which: Which, options: u32) -> (bool, Option<Report>) {
    let me = p.process.pid;
    let tracees: Vec<Arc<Tracee>> = p.sys.ptrace.of_tracer(me);
    let mut any = false;
    for t in tracees {
        let chosen = match which {
            Which::All => true,
            Which::Pid(pid) => t.tid == pid,
            Which::Group(g) => p.sys.process(t.pid).is_some_and(|q| q.pgid() == g),
        };
        // A thread other than a process's first is a "clone" child: __WALL or __WCLONE.
        let kind = t.tid == t.pid || options & (WALL | WCLONE) != 0;
        if !chosen || !kind {
            continue;
        }
        any = true;
        let uid = p.sys.process(t.pid).map_or(0, |q| q.ruid());
        let mut st = t.state.lock();
        if let Some(end) = st.ended {
            let (code, status) = exit_code_of(end);
            drop(st);
            if options & WNOWAIT == 0 {
                p.sys.ptrace.remove(t.tid);
                if t.tid == t.pid {
                    crate::sys::process::exit::parent_hears(&p.sys, t.pid);
                }
            }
            return (
                true,
                Some(Report {
                    pid: t.tid,
                    uid,
                    code,
                    status,
                    word: end.wait_status(),
                    cpu_ns: 0,
                }),
            );
        }
        if st.stopped() && !st.reported {
            let code = st.exit_code().unwrap_or(0);
            if options & WNOWAIT == 0 {
                st.reported = true;
            }
            return (
                true,
                Some(Report {
                    pid: t.tid,
                    uid,
                    code: CLD_TRAPPED,
                    status: code,
                    word: (code << 8) | 0x7f,
                    cpu_ns: 0,
                }),
            );
        }
    }
    (any, None)
}
