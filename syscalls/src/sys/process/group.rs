//! Process groups and sessions: setpgid, setsid, and the processes a kill reaches.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::process::Process;
use crate::{Current, Errno, Platform, SysResult};

/// setpgid(2): puts `pid` (0: the caller) in group `pgid` (0: its own pid). The target must
/// be the caller or a child of it that has not called execve, in the caller's session and no
/// session leader; the group must be new (its pid) or exist in that session.
pub(crate) fn setpgid(p: &mut Current, _k: &mut dyn Platform, pid: i32, pgid: i32) -> SysResult {
    let me = p.process.pid;
    // Linux's order: pid 0 is the caller, pgid 0 is pid, and only then is a negative pgid
    // EINVAL (so setpgid(-1, 0) is EINVAL, setpgid(-1, 5) ESRCH).
    let pid = if pid == 0 { me as i32 } else { pid };
    let pgid = if pgid == 0 { pid } else { pgid };
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let tree = p.sys.tree.lock();
    let target = match pid {
        pid if pid < 0 => return Err(Errno::ESRCH),
        pid if pid as u32 == me => p.process.clone(),
        pid => tree.get(&(pid as u32)).cloned().ok_or(Errno::ESRCH)?,
    };
    if target.pid != me {
        if target.ppid() != me {
            return Err(Errno::ESRCH);
        }
        if target.sid() != p.process.sid() {
            return Err(Errno::EPERM);
        }
        if target.life.lock().execed {
            return Err(Errno::EACCES);
        }
    }
    let pgid = pgid as u32;
    if target.sid() == target.pid {
        return Err(Errno::EPERM);
    }
    if pgid != target.pid {
        let exists = tree.values().any(|q| {
            q.pgid() == pgid && q.sid() == p.process.sid() && q.life.lock().ended.is_none()
        });
        if !exists {
            return Err(Errno::EPERM);
        }
    }
    target.pgid.store(pgid, Ordering::Relaxed);
    Ok(0)
}

/// setsid(2): a new session and group led by the caller, unless it leads a group already
/// (some process has its pid as group id).
pub(crate) fn setsid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    let me = p.process.pid;
    let tree = p.sys.tree.lock();
    if tree.values().any(|q| q.pgid() == me) {
        return Err(Errno::EPERM);
    }
    p.process.sid.store(me, Ordering::Relaxed);
    p.process.pgid.store(me, Ordering::Relaxed);
    Ok(u64::from(me))
}

/// The processes kill(`pid`) reaches (kill(2)): one process, the caller's group (0), every
/// process but init and the caller (-1), or the group -`pid`. `ESRCH` when there is none.
/// Zombies count as found, but get nothing.
pub(crate) fn kill_targets(p: &Current, pid: i32) -> Result<Vec<Arc<Process>>, Errno> {
    let me = p.process.pid;
    let tree = p.sys.tree.lock();
    let found: Vec<Arc<Process>> = match pid {
        i32::MIN => return Err(Errno::ESRCH),
        // A thread id names its process too (kill(2) on Linux looks up the thread group).
        pid if pid > 0 => tree
            .get(&(pid as u32))
            .or_else(|| {
                tree.values()
                    .find(|q| q.threads.lock().contains(&(pid as u32)))
            })
            .cloned()
            .into_iter()
            .collect(),
        0 => {
            let g = p.process.pgid();
            tree.values().filter(|q| q.pgid() == g).cloned().collect()
        }
        -1 => tree
            .values()
            .filter(|q| q.pid != 1 && q.pid != me)
            .cloned()
            .collect(),
        pid => {
            let g = pid.unsigned_abs();
            tree.values().filter(|q| q.pgid() == g).cloned().collect()
        }
    };
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}
