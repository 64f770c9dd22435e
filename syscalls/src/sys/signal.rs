//! The signal system calls: actions, masks, waiting for signals, sending them.
//!
//! The machinery (queues, delivery, frames, timers, signalfd) is in `crate::signal`; the
//! handlers here read like the man pages: argument checks in Linux's order, then one call
//! into it.

use alloc::sync::Arc;
use coracle_vfs::Wake;

use crate::process::{Process, System};
use crate::signal::{
    self, valid, KernelSigaction, SigAction, SigInfo, Target, UserSiginfo, SA_KNOWN, SIGCONT,
    SIGKILL, SIGSTOP, SIG_DFL, SI_TKILL, SI_USER, UNBLOCKABLE,
};
use crate::uaccess::{read_struct, read_u64, write_struct, write_u64};
use crate::{Current, Errno, Platform, SysResult};

pub(crate) use crate::signal::signalfd::{signalfd, signalfd4};
pub(crate) use crate::signal::timer::{
    alarm, getitimer, setitimer, timer_create, timer_delete, timer_getoverrun, timer_gettime,
    timer_settime,
};
pub(crate) use crate::signal::{rt_sigreturn, sigaltstack};

/// A signal number from an `int` argument, if it is one.
fn signo(sig: i32) -> Option<u32> {
    u32::try_from(sig).ok().filter(|&s| valid(s))
}

pub(crate) fn rt_sigaction(
    p: &mut Current,
    k: &mut dyn Platform,
    sig: i32,
    act: u64,
    oldact: u64,
    sigsetsize: u64,
) -> SysResult {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        Some(SigAction::from(read_struct::<KernelSigaction>(k, act)?))
    } else {
        None
    };
    let sig = signo(sig).ok_or(Errno::EINVAL)?;
    if new.is_some() && (sig == SIGKILL || sig == SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let actions = &p.process.signals;
    let mut old = match new {
        Some(mut a) => {
            a.flags &= SA_KNOWN;
            a.mask &= !UNBLOCKABLE;
            actions.set_action(sig, a)
        }
        None => actions.action(sig),
    };
    old.flags &= SA_KNOWN;
    if oldact != 0 {
        write_struct(k, oldact, &KernelSigaction::from(old))?;
    }
    Ok(0)
}

pub(crate) fn rt_sigprocmask(
    p: &mut Current,
    k: &mut dyn Platform,
    how: i32,
    set: u64,
    oldset: u64,
    sigsetsize: u64,
) -> SysResult {
    const SIG_BLOCK: i32 = 0;
    const SIG_UNBLOCK: i32 = 1;
    const SIG_SETMASK: i32 = 2;
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let old = p.thread.sig.mask();
    if set != 0 {
        let set = read_u64(k, set)?;
        let new = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        signal::set_mask(p, new);
    }
    if oldset != 0 {
        write_u64(k, oldset, old)?;
    }
    Ok(0)
}

pub(crate) fn rt_sigpending(
    p: &mut Current,
    k: &mut dyn Platform,
    set: u64,
    size: u64,
) -> SysResult {
    if size > 8 {
        return Err(Errno::EINVAL);
    }
    let pending = p.process.signals.pending(p.tid) & p.thread.sig.mask();
    k.write_user(set, &pending.to_le_bytes()[..size as usize])?;
    Ok(0)
}

/// Waits until a signal the thread does not block is pending; the handler of that signal
/// runs and the call fails with EINTR (ERESTARTNOHAND: it runs again if no handler runs).
fn wait_for_signal(p: &mut Current) -> SysResult {
    if signal::has_deliverable(p) {
        return Err(Errno::ERESTARTNOHAND);
    }
    p.begin_wait();
    Err(Errno::WAIT)
}

pub(crate) fn pause(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    wait_for_signal(p)
}

pub(crate) fn rt_sigsuspend(
    p: &mut Current,
    k: &mut dyn Platform,
    set: u64,
    size: u64,
) -> SysResult {
    if p.resumed().is_none() {
        if size != 8 {
            return Err(Errno::EINVAL);
        }
        let mask = read_u64(k, set)?;
        // The old mask comes back after the handler (it is in the handler's frame).
        p.sig.saved_mask = Some(p.thread.sig.mask());
        signal::set_mask(p, mask);
    }
    wait_for_signal(p)
}

pub(crate) fn rt_sigtimedwait(
    p: &mut Current,
    k: &mut dyn Platform,
    uthese: u64,
    uinfo: u64,
    uts: u64,
    size: u64,
) -> SysResult {
    let these = match p.sig.wait_real {
        Some(_) => p.sig.wait_set,
        None => {
            if size != 8 {
                return Err(Errno::EINVAL);
            }
            let these = read_u64(k, uthese)? & !UNBLOCKABLE;
            if uts != 0 && p.resumed().is_none() {
                let t = crate::uaccess::read_timespec(k, uts)?;
                let now = k.monotonic_ns();
                p.call_deadline(|| Some(now.saturating_add(t)));
            }
            these
        }
    };
    if let Some(info) = signal::dequeue_set(p, these) {
        signal::end_timed_wait(p);
        if uinfo != 0 {
            write_struct(k, uinfo, &info.to_user())?;
        }
        return Ok(u64::from(info.signo()));
    }
    let expired = p.deadline.is_some_and(|d| d <= k.monotonic_ns());
    match p.resumed() {
        Some(Wake::TimedOut) => {
            signal::end_timed_wait(p);
            return Err(Errno::EAGAIN);
        }
        Some(Wake::Interrupted) => {
            signal::end_timed_wait(p);
            return Err(Errno::EINTR);
        }
        _ if expired => {
            signal::end_timed_wait(p);
            return Err(Errno::EAGAIN);
        }
        _ => {}
    }
    if p.sig.wait_real.is_none() {
        signal::begin_timed_wait(p, these);
    }
    p.begin_wait();
    if let Some(d) = p.deadline {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// Sends `info` to `target` in `proc`, the caller's process or another (see
/// [`send_to_other`]; a process signalling itself skips those rules).
pub(crate) fn send_info(p: &Current, proc: &Process, target: Target, info: SigInfo) -> SysResult {
    if core::ptr::eq(proc, &*p.process) {
        let sig = info.signo();
        signal::send(proc, &p.sys.sched, target, info, None)?;
        crate::sys::process::jobs::on_signal_sent(&p.sys, proc, sig);
        return Ok(0);
    }
    send_to_other(&p.sys, proc, target, info)
}

/// Sends `info` to `target` in `proc` from another process or the kernel. A process that has
/// ended gets nothing, and PID 1 only the signals it handles or ignores, as Linux's init in
/// its namespace. SIGCONT and SIGKILL continue a stopped process before the signal is queued
/// (prepare_signal).
pub(crate) fn send_to_other(
    sys: &System,
    proc: &Process,
    target: Target,
    info: SigInfo,
) -> SysResult {
    let sig = info.signo();
    if proc.life.lock().ended.is_some()
        || (proc.pid == 1 && proc.signals.action(sig).handler == SIG_DFL)
    {
        return Ok(0);
    }
    // Queued before the process continues, so that a continued thread finds it pending
    // (Linux queues and wakes under one lock): a tracer sees SIGCONT before anything else.
    signal::send(proc, &sys.sched, target, info, None)?;
    crate::sys::process::jobs::on_signal_sent(sys, proc, sig);
    Ok(0)
}

/// Whether the caller may send `sig` to `proc` (`check_kill_permission`): its own process;
/// a process whose real or saved uid is the caller's real or effective uid; any with
/// CAP_KILL; SIGCONT within the caller's session. Otherwise `EPERM`.
pub(crate) fn may_signal(p: &Current, proc: &Process, sig: u32) -> Result<(), Errno> {
    if core::ptr::eq(proc, &*p.process) {
        return Ok(());
    }
    let me = p.process.creds();
    let (uid, suid) = {
        let t = proc.creds.lock();
        (t.uid, t.suid)
    };
    if [me.uid, me.euid].iter().any(|&u| u == uid || u == suid)
        || me.capable(coracle_vfs::cap::KILL)
        || (sig == SIGCONT && proc.sid() == p.process.sid())
    {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Sends `sig` (0: only checks the target) from the caller, with its pid and uid.
fn send_from(p: &Current, proc: &Process, target: Target, sig: i32, code: i32) -> SysResult {
    may_signal(p, proc, sig as u32)?;
    if sig == 0 {
        return Ok(0);
    }
    let sig = signo(sig).ok_or(Errno::EINVAL)?;
    let info = SigInfo::from_process(sig, code, p.process.pid, p.process.ruid());
    send_info(p, proc, target, info)
}

pub(crate) fn kill(p: &mut Current, _k: &mut dyn Platform, pid: i32, sig: i32) -> SysResult {
    let targets = crate::sys::process::group::kill_targets(p, pid)?;
    if sig != 0 {
        signo(sig).ok_or(Errno::EINVAL)?;
    }
    // One process: its result. A group: success if any member got it, else the last error.
    // Everyone (-1): EPERM from some processes is not reported (kill_something_info).
    let mut result = if pid == -1 { Ok(0) } else { Err(Errno::ESRCH) };
    let mut any = false;
    for t in targets {
        match send_from(p, &t, Target::Process, sig, SI_USER) {
            Ok(_) => any = true,
            Err(Errno::EPERM) if pid == -1 => {}
            Err(e) => result = Err(e),
        }
    }
    if any {
        Ok(0)
    } else {
        result
    }
}

/// The thread `tid` (of the process `tgid`, when given), in this process or another.
fn thread_target(
    p: &Current,
    tgid: Option<i32>,
    tid: i32,
) -> Result<(Arc<Process>, Target), Errno> {
    let tid = u32::try_from(tid).map_err(|_| Errno::EINVAL)?;
    let owns =
        |q: &Process| tgid.is_none_or(|g| g as u32 == q.pid) && q.threads.lock().contains(&tid);
    let proc = if owns(&p.process) {
        p.process.clone()
    } else {
        let tree = p.sys.tree.lock();
        let found = match tgid {
            Some(g) => tree.get(&(g as u32)).filter(|q| owns(q)),
            None => tree.values().find(|q| owns(q)),
        };
        found.cloned().ok_or(Errno::ESRCH)?
    };
    Ok((proc, Target::Thread(tid)))
}

pub(crate) fn tkill(p: &mut Current, _k: &mut dyn Platform, tid: i32, sig: i32) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let (proc, target) = thread_target(p, None, tid)?;
    send_from(p, &proc, target, sig, SI_TKILL)
}

pub(crate) fn tgkill(
    p: &mut Current,
    _k: &mut dyn Platform,
    tgid: i32,
    tid: i32,
    sig: i32,
) -> SysResult {
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let (proc, target) = thread_target(p, Some(tgid), tid)?;
    send_from(p, &proc, target, sig, SI_TKILL)
}

/// The siginfo of rt_(tg)sigqueueinfo and pidfd_send_signal: only a thread signalling
/// itself may claim to be kill, tkill or the kernel (si_code >= 0 or SI_TKILL).
pub(crate) fn queued_info(
    p: &Current,
    k: &dyn Platform,
    sig: i32,
    uinfo: u64,
    target_id: i32,
) -> Result<SigInfo, Errno> {
    let raw: UserSiginfo = read_struct(k, uinfo)?;
    let info = SigInfo::from_user(sig as u32, &raw)?;
    if (info.code() >= 0 || info.code() == SI_TKILL) && p.tid as i32 != target_id {
        return Err(Errno::EPERM);
    }
    Ok(info)
}

fn send_queued(p: &Current, proc: &Process, target: Target, sig: i32, info: SigInfo) -> SysResult {
    may_signal(p, proc, sig as u32)?;
    if sig == 0 {
        return Ok(0);
    }
    signo(sig).ok_or(Errno::EINVAL)?;
    send_info(p, proc, target, info)
}

/// rt_sigqueueinfo(2): like kill to one process (a thread id names its process), with the
/// caller's siginfo.
pub(crate) fn rt_sigqueueinfo(
    p: &mut Current,
    k: &mut dyn Platform,
    tgid: i32,
    sig: i32,
    uinfo: u64,
) -> SysResult {
    let info = queued_info(p, k, sig, uinfo, tgid)?;
    if tgid <= 0 {
        return Err(Errno::ESRCH);
    }
    let targets = crate::sys::process::group::kill_targets(p, tgid)?;
    match targets.first() {
        Some(proc) => send_queued(p, proc, Target::Process, sig, info),
        None => Err(Errno::ESRCH),
    }
}

pub(crate) fn rt_tgsigqueueinfo(
    p: &mut Current,
    k: &mut dyn Platform,
    tgid: i32,
    tid: i32,
    sig: i32,
    uinfo: u64,
) -> SysResult {
    let info = queued_info(p, k, sig, uinfo, tid)?;
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let (proc, target) = thread_target(p, Some(tgid), tid)?;
    send_queued(p, &proc, target, sig, info)
}

/// restart_syscall(2): nothing to restart here (calls restart by running again), so EINTR,
/// as Linux's do_no_restart_syscall.
pub(crate) fn restart_syscall(_p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Err(Errno::EINTR)
}
