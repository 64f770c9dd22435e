//! RLIMIT_NPROC: how many tasks (threads, and processes not yet reaped) one user may have,
//! checked when fork, vfork and clone make one (`copy_process`).
//!
//! Linux counts every task per real uid and refuses a new one with `EAGAIN` once the count
//! reaches the caller's soft limit, unless the caller is root (uid 0 is exempt whatever its
//! capabilities, as INIT_USER is) or holds CAP_SYS_RESOURCE or CAP_SYS_ADMIN.
//!
//! A set*uid call that moves the process to a user already over the limit does not fail (too
//! many programs ignore its result); Linux marks the process (PF_NPROC_EXCEEDED) and its next
//! execve fails with `EAGAIN` if the user is still over the limit then ([`after_setuid`],
//! [`check_exec`]).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::cap;

use crate::process::Process;
use crate::{Current, Errno};

const RLIMIT_NPROC: usize = 6;

/// The tasks whose process has real uid `uid`: each live thread, or one for a zombie.
fn tasks_of(p: &Current, uid: u32) -> u64 {
    // Looked at outside the tree's lock, which others take after a process's own locks.
    let procs: Vec<Arc<Process>> = p.sys.tree.lock().values().cloned().collect();
    procs
        .iter()
        .filter(|proc| proc.creds.lock().uid == uid)
        .map(|proc| proc.threads.lock().len().max(1) as u64)
        .sum()
}

/// `EAGAIN` when the caller's user already has RLIMIT_NPROC tasks.
pub(crate) fn check(p: &Current) -> Result<(), Errno> {
    let limit = p.process.limits.lock()[RLIMIT_NPROC].0;
    if limit == u64::MAX {
        return Ok(());
    }
    let creds = p.process.creds();
    if creds.uid == 0 || creds.capable(cap::SYS_RESOURCE) || creds.capable(cap::SYS_ADMIN) {
        return Ok(());
    }
    if tasks_of(p, creds.uid) >= limit {
        return Err(Errno::EAGAIN);
    }
    // A successful fork clears the mark of an earlier set*uid (copy_process).
    p.process.life.lock().nproc_exceeded = false;
    Ok(())
}

/// After a set*uid call changed the real uid from `old_uid` (flag_nproc_exceeded): marks the
/// process when the new user, root excepted, already has more tasks than the limit (the
/// caller not counted yet), and clears the mark otherwise.
pub(crate) fn after_setuid(p: &Current, old_uid: u32) {
    let uid = p.process.ruid();
    if uid == old_uid {
        return;
    }
    let limit = p.process.limits.lock()[RLIMIT_NPROC].0;
    // The caller itself is counted as the new user's already: leave it out.
    let others = tasks_of(p, uid).saturating_sub(p.process.threads.lock().len() as u64);
    p.process.life.lock().nproc_exceeded = uid != 0 && others > limit;
}

/// execve of a process a set*uid marked: `EAGAIN` while its user still has more tasks than
/// the limit; once under it, the mark goes (do_execveat_common).
pub(crate) fn check_exec(p: &Current) -> Result<(), Errno> {
    if !p.process.life.lock().nproc_exceeded {
        return Ok(());
    }
    let limit = p.process.limits.lock()[RLIMIT_NPROC].0;
    if tasks_of(p, p.process.ruid()) > limit {
        return Err(Errno::EAGAIN);
    }
    p.process.life.lock().nproc_exceeded = false;
    Ok(())
}
