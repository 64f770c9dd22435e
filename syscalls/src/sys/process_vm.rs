//! Another process's memory: process_vm_readv and process_vm_writev (`mm/process_vm_access.c`),
//! and the calls Docker's seccomp profile keeps from a container without CAP_SYS_PTRACE
//! (kcmp, pidfd_getfd: `EPERM`, as Docker answers them).
//!
//! The copy goes through a kernel buffer a page at a time: read from the source address
//! space, switch, write to the other (as fork's CLONE_CHILD_SETTID store does). Docker's
//! profile allows these two on any kernel since 4.8, and every process here has the same
//! credentials, so the ptrace access check passes for any live process.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::uaccess::{read_iovecs, IoVec};
use crate::{Current, Errno, Platform, Process, SysResult};

/// Bytes moved per step.
const STEP: usize = 4096;

/// One side's iovecs flattened to (address, length) pieces in order.
fn pieces(iovs: &[IoVec]) -> Vec<(u64, u64)> {
    iovs.iter()
        .filter(|v| v.len > 0)
        .map(|v| (v.base, v.len))
        .collect()
}

fn transfer(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    local: u64,
    liovcnt: u64,
    remote: u64,
    riovcnt: u64,
    flags: u64,
    write: bool,
) -> SysResult {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let local = pieces(&read_iovecs(k, local, liovcnt)?);
    let remote_iovs = pieces(&read_iovecs(k, remote, riovcnt)?);
    let target: Arc<Process> = u32::try_from(pid)
        .ok()
        .filter(|&pid| pid > 0)
        .and_then(|pid| p.sys.process(pid))
        .filter(|q| q.life.lock().ended.is_none())
        .ok_or(Errno::ESRCH)?;
    let Some(space) = target.space.lock().clone() else {
        return Err(Errno::ESRCH);
    };
    let same = Arc::ptr_eq(&target, &p.process);
    let mine = k.space();
    let mut buf = alloc::vec![0u8; STEP];
    let mut done: u64 = 0;
    let (mut li, mut loff) = (0usize, 0u64);
    'outer: for &(rbase, rlen) in &remote_iovs {
        let mut roff = 0u64;
        while roff < rlen {
            let Some(&(lbase, llen)) = local.get(li) else {
                break 'outer;
            };
            let (raddr, laddr) = (rbase + roff, lbase + loff);
            // Steps end at remote page boundaries: a copy that runs into an unmapped page
            // keeps the pages before it.
            let to_page_end = STEP as u64 - raddr % STEP as u64;
            let n = (rlen - roff).min(llen - loff).min(to_page_end) as usize;
            let chunk = &mut buf[..n];
            // The remote side's errors end the copy (what came before counts); the local
            // side's are EFAULT.
            let r = if write {
                k.read_user(laddr, chunk)?;
                in_space(k, &space, &mine, same, |k| {
                    crate::mm::write_user(&target, k, raddr, &*chunk)
                })
            } else {
                let r = in_space(k, &space, &mine, same, |k| {
                    crate::mm::read_user(&target, k, raddr, &mut *chunk)
                });
                if r.is_ok() {
                    k.write_user(laddr, chunk)?;
                }
                r
            };
            if let Err(e) = r {
                if done == 0 {
                    return Err(e);
                }
                break 'outer;
            }
            done += n as u64;
            roff += n as u64;
            loff += n as u64;
            if loff == llen {
                li += 1;
                loff = 0;
            }
        }
    }
    Ok(done)
}

/// Runs `f` with `space` current (`same`: it is the caller's own).
pub(crate) fn in_space<T>(
    k: &mut dyn Platform,
    space: &crate::platform::Space,
    mine: &crate::platform::Space,
    same: bool,
    f: impl FnOnce(&mut dyn Platform) -> T,
) -> T {
    if same {
        return f(k);
    }
    k.switch_space(space);
    let r = f(k);
    k.switch_space(mine);
    r
}

pub(crate) fn process_vm_readv(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    local: u64,
    liovcnt: u64,
    remote: u64,
    riovcnt: u64,
    flags: u64,
) -> SysResult {
    transfer(p, k, pid, local, liovcnt, remote, riovcnt, flags, false)
}

pub(crate) fn process_vm_writev(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    local: u64,
    liovcnt: u64,
    remote: u64,
    riovcnt: u64,
    flags: u64,
) -> SysResult {
    transfer(p, k, pid, local, liovcnt, remote, riovcnt, flags, true)
}

/// kcmp(2): `EPERM`, as Docker's seccomp profile answers without CAP_SYS_PTRACE.
pub(crate) fn kcmp(
    _p: &mut Current,
    _k: &mut dyn Platform,
    _pid1: i32,
    _pid2: i32,
    _kind: i32,
    _idx1: u64,
    _idx2: u64,
) -> SysResult {
    Err(Errno::EPERM)
}

/// pidfd_getfd(2): `EPERM`, as Docker's seccomp profile answers without CAP_SYS_PTRACE.
pub(crate) fn pidfd_getfd(
    _p: &mut Current,
    _k: &mut dyn Platform,
    _pidfd: i32,
    _targetfd: i32,
    _flags: u32,
) -> SysResult {
    Err(Errno::EPERM)
}
