//! RLIMIT_NPROC: how many tasks (threads, and processes not yet reaped) one user may have,
//! checked when fork, vfork and clone make one (`copy_process`).
//!
//! Linux counts every task per real uid and refuses a new one with `EAGAIN` once the count
//! reaches the caller's soft limit, unless the caller is root (uid 0 is exempt whatever its
//! capabilities, as INIT_USER is) or holds CAP_SYS_RESOURCE or CAP_SYS_ADMIN.

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
    Ok(())
}
