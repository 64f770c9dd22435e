//! CPU placement and scheduling attributes: sched_getaffinity/setaffinity, getcpu, the
//! scheduling policy and parameters, nice values (getpriority/setpriority).
//!
//! Everything is per thread and found by tid through the scheduler, as on Linux. Only the
//! normal policies exist (SCHED_OTHER, BATCH, IDLE); real-time ones are refused with EPERM,
//! as in a container without CAP_SYS_NICE, which also keeps nice values from going down.

use alloc::sync::Arc;
use coracle_abi::sched::SchedParam;
use core::sync::atomic::Ordering;

use crate::sched::Thread;
use crate::uaccess::write_u32;
use crate::{Current, Errno, Platform, SysResult};

const SCHED_OTHER: i32 = 0;
const SCHED_FIFO: i32 = 1;
const SCHED_RR: i32 = 2;
const SCHED_BATCH: i32 = 3;
const SCHED_IDLE: i32 = 5;
const SCHED_DEADLINE: i32 = 6;
const SCHED_RESET_ON_FORK: i32 = 0x4000_0000;

const PRIO_PROCESS: i32 = 0;
const PRIO_PGRP: i32 = 1;
const PRIO_USER: i32 = 2;

/// A new thread takes its creator's CPU affinity, policy and nice value (the last two unless
/// reset on fork).
pub(crate) fn inherit(parent: &Thread, child: &Thread) {
    let affinity = parent.affinity.load(Ordering::Relaxed);
    child.affinity.store(affinity, Ordering::Relaxed);
    let policy = parent.policy.load(Ordering::Relaxed);
    if policy & SCHED_RESET_ON_FORK as u32 != 0 {
        // sched_fork: back to SCHED_OTHER and nice 0 (only a negative nice is reset).
        child.policy.store(SCHED_OTHER as u32, Ordering::Relaxed);
        let nice = parent.nice.load(Ordering::Relaxed).max(0);
        child.nice.store(nice, Ordering::Relaxed);
    } else {
        child.policy.store(policy, Ordering::Relaxed);
        child
            .nice
            .store(parent.nice.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

/// The thread `pid` names (0: the caller); `ESRCH` if there is none.
fn thread_of(p: &Current, pid: i32) -> Result<Arc<Thread>, Errno> {
    match pid {
        0 => Ok(p.thread.clone()),
        pid if pid > 0 => p.sys.sched.thread(pid as u32).ok_or(Errno::ESRCH),
        _ => Err(Errno::ESRCH),
    }
}

/// The mask of the machine's CPUs.
fn all_cpus(p: &Current) -> u64 {
    match p.sys.sched.cpu_count() {
        n if n >= 64 => u64::MAX,
        n => (1u64 << n) - 1,
    }
}

pub(crate) fn sched_getaffinity(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    len: u32,
    mask: u64,
) -> SysResult {
    let len = u64::from(len);
    // Linux copies nr_cpu_ids bits rounded up to a long; smaller buffers are EINVAL.
    if len.saturating_mul(8) < p.sys.sched.cpu_count() as u64 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let thread = thread_of(p, pid)?;
    let bits = thread.affinity.load(Ordering::Relaxed) & all_cpus(p);
    let n = len.min(8) as usize;
    k.write_user(mask, &bits.to_le_bytes()[..n])?;
    Ok(n as u64)
}

pub(crate) fn sched_setaffinity(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    len: u32,
    mask: u64,
) -> SysResult {
    let len = u64::from(len);
    // A short mask is zero-extended, a long one cut to the machine's size (get_user_cpu_mask).
    let mut b = [0u8; 8];
    let n = len.min(8) as usize;
    k.read_user(mask, &mut b[..n])?;
    let thread = thread_of(p, pid)?;
    let wanted = u64::from_le_bytes(b) & all_cpus(p);
    if wanted == 0 {
        return Err(Errno::EINVAL);
    }
    thread.affinity.store(wanted, Ordering::Relaxed);
    // The caller leaves a CPU it may no longer use at once (the scheduler moves it when it
    // yields); another thread moves when it is next queued.
    if Arc::ptr_eq(&thread, &p.thread)
        && !thread.may_run_on(thread.last_cpu.load(Ordering::Relaxed))
    {
        p.yield_cpu = true;
    }
    Ok(0)
}

pub(crate) fn getcpu(
    p: &mut Current,
    k: &mut dyn Platform,
    cpu: u64,
    node: u64,
    _tcache: u64,
) -> SysResult {
    if cpu != 0 {
        let now = p.thread.last_cpu.load(Ordering::Relaxed) as u32;
        write_u32(k, cpu, now)?;
    }
    if node != 0 {
        write_u32(k, node, 0)?;
    }
    Ok(0)
}

pub(crate) fn sched_getscheduler(p: &mut Current, _k: &mut dyn Platform, pid: i32) -> SysResult {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let thread = thread_of(p, pid)?;
    Ok(u64::from(thread.policy.load(Ordering::Relaxed)))
}

/// Checks a policy and priority as `__sched_setscheduler` does; returns the policy to store.
fn check_policy(policy: i32, priority: i32) -> Result<u32, Errno> {
    let base = policy & !SCHED_RESET_ON_FORK;
    if !matches!(
        base,
        SCHED_OTHER | SCHED_FIFO | SCHED_RR | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE
    ) {
        return Err(Errno::EINVAL);
    }
    // The priority is an unsigned int there: negative ones are out of range too.
    let realtime = matches!(base, SCHED_FIFO | SCHED_RR);
    if !(0..=99).contains(&priority) || realtime != (priority != 0) || base == SCHED_DEADLINE {
        return Err(Errno::EINVAL);
    }
    if realtime {
        // No CAP_SYS_NICE and RLIMIT_RTPRIO 0, as in a container.
        return Err(Errno::EPERM);
    }
    Ok(policy as u32)
}

/// The thread `pid` names and the priority in the `struct sched_param` (one int) at
/// `param`, in Linux's order of checks: `EINVAL` for a negative pid or a null pointer,
/// `EFAULT`, then `ESRCH`.
fn thread_and_param(
    p: &Current,
    k: &dyn Platform,
    pid: i32,
    param: u64,
) -> Result<(Arc<Thread>, i32), Errno> {
    if pid < 0 || param == 0 {
        return Err(Errno::EINVAL);
    }
    let sp: SchedParam = crate::uaccess::read_struct(k, param)?;
    Ok((thread_of(p, pid)?, sp.sched_priority))
}

pub(crate) fn sched_setscheduler(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    policy: i32,
    param: u64,
) -> SysResult {
    let (thread, priority) = thread_and_param(p, k, pid, param)?;
    let policy = check_policy(policy, priority)?;
    thread.policy.store(policy, Ordering::Relaxed);
    Ok(0)
}

pub(crate) fn sched_setparam(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    param: u64,
) -> SysResult {
    let (thread, priority) = thread_and_param(p, k, pid, param)?;
    // The policy stays; the priority must suit it.
    check_policy(thread.policy.load(Ordering::Relaxed) as i32, priority)?;
    Ok(0)
}

pub(crate) fn sched_getparam(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    param: u64,
) -> SysResult {
    if param == 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    thread_of(p, pid)?;
    // Normal policies have priority 0.
    write_u32(k, param, 0)?;
    Ok(0)
}

/// The static priorities `policy` allows, lowest and highest: 1 to 99 for the real-time
/// policies, only 0 for the others; `EINVAL` for an unknown policy.
fn priority_range(policy: i32) -> Result<(u64, u64), Errno> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok((1, 99)),
        SCHED_OTHER | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok((0, 0)),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn sched_get_priority_max(
    _p: &mut Current,
    _k: &mut dyn Platform,
    policy: i32,
) -> SysResult {
    priority_range(policy).map(|(_, max)| max)
}

pub(crate) fn sched_get_priority_min(
    _p: &mut Current,
    _k: &mut dyn Platform,
    policy: i32,
) -> SysResult {
    priority_range(policy).map(|(min, _)| min)
}

pub(crate) fn sched_rr_get_interval(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    tp: u64,
) -> SysResult {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    thread_of(p, pid)?;
    // Every thread is time-shared alike: its interval is the slice.
    crate::uaccess::write_timespec(k, tp, crate::sched::TIME_SLICE_NS)?;
    Ok(0)
}

/// The threads `which`/`who` name for get/setpriority; `ESRCH` if none, `EINVAL` for an
/// unknown `which`.
fn prio_targets(p: &Current, which: i32, who: i32) -> Result<alloc::vec::Vec<Arc<Thread>>, Errno> {
    let group = || -> alloc::vec::Vec<Arc<Thread>> {
        let tids = p.process.threads.lock().clone();
        tids.into_iter()
            .filter_map(|t| p.sys.sched.thread(t))
            .collect()
    };
    let found = match which {
        PRIO_PROCESS => return thread_of(p, who).map(|t| alloc::vec![t]),
        PRIO_PGRP if who == 0 || who as u32 == p.process.pid => group(),
        PRIO_USER if who == 0 || who as u32 == p.process.ruid() => group(),
        PRIO_PGRP | PRIO_USER => alloc::vec::Vec::new(),
        _ => return Err(Errno::EINVAL),
    };
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}

pub(crate) fn getpriority(
    p: &mut Current,
    _k: &mut dyn Platform,
    which: i32,
    who: i32,
) -> SysResult {
    // The system call answers 20 - nice (1..40) so that it is never negative.
    let best = prio_targets(p, which, who)?
        .iter()
        .map(|t| 20 - t.nice.load(Ordering::Relaxed))
        .max()
        .unwrap_or(20);
    Ok(best as u64)
}

pub(crate) fn setpriority(
    p: &mut Current,
    _k: &mut dyn Platform,
    which: i32,
    who: i32,
    prio: i32,
) -> SysResult {
    let nice = prio.clamp(-20, 19);
    const RLIMIT_NICE: usize = 13;
    let nice_limit = p.process.limits.lock()[RLIMIT_NICE].0;
    let mut result = Ok(0);
    for t in prio_targets(p, which, who)? {
        // Lowering the nice value needs CAP_SYS_NICE (which a container lacks) or an
        // RLIMIT_NICE of at least 20 - nice.
        if nice < t.nice.load(Ordering::Relaxed) && (20 - nice) as u64 > nice_limit {
            result = Err(Errno::EACCES);
            continue;
        }
        t.nice.store(nice, Ordering::Relaxed);
    }
    result
}
