//! Job control: stop signals stop every thread of a process until SIGCONT (or SIGKILL), and
//! the parent hears of both (SIGCHLD with CLD_STOPPED / CLD_CONTINUED, wait's WUNTRACED and
//! WCONTINUED reports).
//!
//! A thread that takes a stop signal marks the process stopped and wakes its other threads;
//! each thread then parks on its way back to user mode ([`stop_wait`]) until a SIGCONT or
//! SIGKILL sent to the process ([`on_signal_sent`]) continues it.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::exit::{chld_info, CLD_CONTINUED, CLD_STOPPED, INIT, SIGCHLD};
use crate::process::{Process, System};
use crate::signal::{self, Target, SA_NOCLDSTOP, SIGCONT, SIGKILL};
use crate::{Current, Platform};

/// The parent of `proc`, if it has one that is alive.
fn parent_of(sys: &System, proc: &Process) -> Option<Arc<Process>> {
    sys.process(proc.ppid())
}

/// Tells the parent of a stop or continue: the report for wait, SIGCHLD unless the parent
/// asked for none (SA_NOCLDSTOP).
fn notify(sys: &System, proc: &Process, code: i32, status: u32) {
    let Some(parent) = parent_of(sys, proc) else {
        return;
    };
    if parent.signals.action(SIGCHLD).flags & SA_NOCLDSTOP == 0 {
        let info = chld_info(SIGCHLD, proc, code, status, 0);
        let _ = signal::send(&parent, &sys.sched, Target::Process, info, None);
    }
    parent.child_events.wake_everyone();
}

/// The thread took stop signal `sig` with its default action: the process stops. PID 1 is
/// never stopped (nothing could continue the container).
pub(crate) fn stop_process(p: &Current, k: &mut dyn Platform, sig: u32) {
    if p.process.pid == INIT {
        k.log(format_args!(
            "{} would stop PID 1: ignored",
            signal::name(sig)
        ));
        return;
    }
    {
        let mut life = p.process.life.lock();
        if life.stopped || life.ended.is_some() {
            return;
        }
        life.stopped = true;
        p.process.stopped.store(true, Ordering::SeqCst);
        life.stop_report = Some(sig);
        life.continued_report = false;
    }
    let tids = p.process.threads.lock().clone();
    for tid in tids.into_iter().filter(|&t| t != p.tid) {
        if let Some(t) = p.sys.sched.thread(tid) {
            t.signal_wake();
        }
    }
    notify(&p.sys, &p.process, CLD_STOPPED, sig);
}

/// A signal was sent to `proc`: SIGCONT and SIGKILL continue a stopped process (whether
/// the signal is blocked, handled or ignored, as Linux's prepare_signal).
pub(crate) fn on_signal_sent(sys: &System, proc: &Process, sig: u32) {
    if sig == SIGKILL {
        // A thread in a ptrace stop takes no signal but this one: wake it for it.
        for tid in proc.threads.lock().iter() {
            if let Some(t) = sys
                .sched
                .thread(*tid)
                .filter(|t| t.traced.load(Ordering::SeqCst))
            {
                t.signal_wake();
            }
        }
    }
    if sig != SIGCONT && sig != SIGKILL {
        return;
    }
    {
        let mut life = proc.life.lock();
        if !life.stopped {
            return;
        }
        life.stopped = false;
        proc.stopped.store(false, Ordering::SeqCst);
        life.stop_report = None;
        life.continued_report = sig == SIGCONT;
    }
    proc.exit_events.wake_everyone();
    if sig == SIGCONT {
        notify(sys, proc, CLD_CONTINUED, SIGCONT);
    }
}

/// On the way back to user mode: if the process is stopped, begins this thread's wait for
/// its continuation and returns true (the kernel parks the thread, and when it is woken
/// goes back to user mode through signal delivery without resuming a system call).
pub fn stop_wait(p: &mut Current) -> bool {
    if !p.process.stopped.load(Ordering::SeqCst) {
        return false;
    }
    let process = p.process.clone();
    process.exit_events.register(p.thread.waiter(u64::MAX));
    if !process.life.lock().stopped || p.thread.killed.load(Ordering::SeqCst) {
        p.thread.finish_wait();
        return false;
    }
    p.stop_waiting = true;
    true
}
