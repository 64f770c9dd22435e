//! The tracee's side: queueing stops, entering them, waiting for the tracer, taking its
//! answer back; the events of clone, execve and exit; what happens when a side goes away.
//!
//! Stops are entered in two places. The syscall-entry stop and the exit-event stop are
//! entered inside the system call ([`syscall_enter`], [`exit_event`]): the call waits like any
//! other (`Outcome::Wait` on the tracee's `resumed` queue) and runs on, or ends, once
//! resumed. Every other stop is queued and entered by [`trace_wait`], which the kernel calls
//! on the way back to user mode: syscall-exit stops, events, signal-delivery stops.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::*;
use crate::process::Process;
use crate::regs::{TRAP_SIGRETURN, TRAP_SYSCALL};
use crate::signal::{self, SiChld, Target, SIGCHLD, SIGSTOP, SIGTRAP};
use crate::{Current, Errno, Platform};

const PTRACE_O_TRACEEXIT: u32 = 0x40;
const PTRACE_O_TRACEVFORKDONE: u32 = 0x20;
const PTRACE_EVENT_VFORK_DONE: u32 = 5;
const PTRACE_EVENT_EXIT: u32 = 6;

/// The calling thread's record, if it is traced.
pub(crate) fn me(p: &Current) -> Option<Arc<Tracee>> {
    if !p.thread.traced.load(Ordering::SeqCst) {
        return None;
    }
    p.sys.ptrace.get(p.tid)
}

/// Whether signal delivery must wait: the thread has stops to go through first (a signal is
/// taken only once the stops before it are over, as Linux takes none while stopped).
pub(crate) fn busy(p: &Current) -> bool {
    me(p).is_some_and(|t| {
        let st = t.state.lock();
        st.stop.is_some() || !st.pending.is_empty()
    })
}

/// Queues a signal-delivery stop for `info`, taken from the calling (traced) thread's queue.
pub(crate) fn queue_signal(p: &Current, info: SigInfo) {
    if let Some(t) = me(p) {
        t.state.lock().pending.push_back(Stop::Signal(info));
    }
}

/// Makes `stop` the tracee's current stop: its registers and FP state go to the record (the
/// tracer sees the program's registers, without a TF the kernel set), then the tracer hears.
fn enter(
    t: &Tracee,
    st: &mut State,
    p: &Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    stop: Stop,
) {
    st.regs = *regs;
    st.regs.fs_base = k.fs_base();
    st.regs.gs_base = k.gs_base();
    if st.forced_tf {
        st.regs.rflags &= !RFLAGS_TF;
    }
    st.orig_rax = if regs.trap == TRAP_SYSCALL {
        p.sig.syscall_nr
    } else {
        u64::MAX
    };
    k.save_fpu(&mut st.fpu);
    st.debug = p.debug;
    st.stop = Some(stop);
    st.reported = false;
    st.resume = None;
    st.regs_dirty = false;
    st.fpu_dirty = false;
    let code = st.exit_code().unwrap_or(0);
    st.siginfo = match stop {
        Stop::Signal(info) => info,
        _ => SigInfo::from_process(SIGTRAP, code as i32, t.tid, p.process.ruid()),
    };
    if let Stop::Event { msg, .. } = stop {
        st.event_msg = msg;
    }
}

/// Tells the tracer a tracee stopped or ended: its waits look again, and it gets SIGCHLD
/// (CLD_TRAPPED for a stop) unless it asked for none.
pub(super) fn notify_tracer(p: &Current, tracer: u32, tid: u32, code: i32, status: u32) {
    let Some(tracer) = p.sys.process(tracer) else {
        return;
    };
    notify(&p.sys, &tracer, tid, p.process.ruid(), code, status);
}

fn notify(sys: &crate::process::System, tracer: &Process, tid: u32, uid: u32, code: i32, st: u32) {
    let nocldstop = tracer.signals.action(SIGCHLD).flags & signal::SA_NOCLDSTOP != 0;
    if code != CLD_TRAPPED || !nocldstop {
        let mut info = SigInfo::new(SIGCHLD, code);
        info.set_fields(&SiChld {
            si_pid: tid,
            si_uid: uid,
            si_status: st as i32,
            ..SiChld::default()
        });
        let _ = signal::send(tracer, &sys.sched, Target::Process, info, None);
    }
    tracer.child_events.wake_everyone();
}

/// Takes the tracer's answer to the current stop: its register changes, the mode, the signal
/// to deliver, the end of tracing. Returns the stop that ended.
fn apply(
    t: &Tracee,
    st: &mut State,
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
) -> Option<Stop> {
    let r = st.resume.take()?;
    let stop = st.stop.take()?;
    if st.regs_dirty {
        let trap = regs.trap;
        *regs = st.regs;
        regs.trap = trap;
        k.set_fs_base(regs.fs_base);
        k.set_gs_base(regs.gs_base);
        if regs.trap == TRAP_SYSCALL {
            // orig_rax -1: no system call to restart; any other: the one to restart.
            if st.orig_rax == u64::MAX {
                regs.trap = TRAP_SIGRETURN;
            } else {
                p.sig.syscall_nr = st.orig_rax;
            }
        }
        if regs.rcx != regs.rip || regs.r11 != regs.rflags {
            // SYSRET would lose rcx and r11: return through IRET.
            if regs.trap == TRAP_SYSCALL && stop != Stop::SyscallEntry {
                regs.trap = TRAP_SIGRETURN;
            }
        }
    }
    if st.fpu_dirty {
        k.load_fpu(&st.fpu);
    }
    p.debug = st.debug;
    match r.mode {
        Mode::Step if !r.detach => {
            if regs.rflags & RFLAGS_TF == 0 {
                regs.rflags |= RFLAGS_TF;
                st.forced_tf = true;
            }
        }
        _ => {
            if core::mem::take(&mut st.forced_tf) {
                regs.rflags &= !RFLAGS_TF;
            }
        }
    }
    st.mode = if r.detach { Mode::Cont } else { r.mode };
    if r.sig != 0 {
        match stop {
            Stop::Signal(_) => {
                // The signal given back is delivered now; another than the stop's comes
                // with the tracer's siginfo (ptrace_signal).
                let info = if r.sig == st.siginfo.signo() {
                    st.siginfo
                } else {
                    SigInfo::from_process(r.sig, signal::SI_USER, st.tracer, 0)
                };
                p.trace_inject = Some(info);
                p.thread.sig.flag();
            }
            // At a syscall stop the signal is sent (ptrace_report_syscall); at an event
            // stop it is dropped.
            Stop::SyscallEntry | Stop::SyscallExit => signal::raise(p, r.sig),
            Stop::Event { .. } => {}
        }
    }
    if r.detach {
        p.sys.ptrace.remove(t.tid);
    }
    Some(stop)
}

/// Called on the way back to user mode (after signal delivery): enters the queued stops in
/// order and waits in each until the tracer resumes it. True: the thread must park (it was
/// registered on its wait queue; woken, it comes here again).
pub fn trace_wait(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> bool {
    let Some(t) = me(p) else {
        return false;
    };
    loop {
        let mut st = t.state.lock();
        if signal::sigkill_pending(p) {
            // SIGKILL ends the thread from any stop: delivery takes it next.
            st.stop = None;
            st.pending.clear();
            return false;
        }
        if st.stop.is_some() {
            if st.resume.is_none() {
                t.resumed.register(p.thread.waiter(u64::MAX));
                p.stop_waiting = true;
                return true;
            }
            apply(&t, &mut st, p, k, regs);
            if !p.thread.traced.load(Ordering::SeqCst) {
                return false;
            }
            continue;
        }
        let Some(stop) = st.pending.pop_front() else {
            return false;
        };
        enter(&t, &mut st, p, k, regs, stop);
        let (tracer, code) = (st.tracer, st.exit_code().unwrap_or(0));
        drop(st);
        notify_tracer(p, tracer, t.tid, CLD_TRAPPED, code);
    }
}

/// What the start of a system call does for a traced thread.
pub(crate) enum Gate {
    /// Run the call.
    Go,
    /// Park (in the entry or exit-event stop).
    Wait,
    /// The tracer cancelled the call (orig_rax -1): return this.
    Skip(u64),
    /// The exit-event stop is over: the thread or process ends as the call decided.
    Exit,
}

/// The start of every system call of a traced thread (and of its re-runs): the entry stop
/// under PTRACE_SYSCALL, the wait in it, and the call as the tracer left it (it may change
/// the number and the arguments, or cancel the call).
pub(crate) fn syscall_enter(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> Gate {
    let Some(t) = me(p) else {
        // Detached: an exit goes on, anything else runs as an untraced call.
        if p.trace_phase == Phase::ExitStop {
            return Gate::Exit;
        }
        p.trace_phase = Phase::Idle;
        return Gate::Go;
    };
    let mut st = t.state.lock();
    match p.trace_phase {
        Phase::InCall => Gate::Go,
        Phase::Idle if st.mode != Mode::Syscall => {
            p.trace_phase = Phase::InCall;
            Gate::Go
        }
        Phase::Idle => {
            p.sig.syscall_nr = regs.rax;
            let mut shown = *regs;
            shown.rax = Errno::ENOSYS.as_return() as u64;
            enter(&t, &mut st, p, k, &shown, Stop::SyscallEntry);
            st.orig_rax = regs.rax;
            p.trace_phase = Phase::EntryStop;
            p.wait_on(&t.resumed, u64::MAX);
            let (tracer, code) = (st.tracer, st.exit_code().unwrap_or(0));
            drop(st);
            notify_tracer(p, tracer, t.tid, CLD_TRAPPED, code);
            Gate::Wait
        }
        Phase::EntryStop | Phase::ExitStop if signal::sigkill_pending(p) => {
            st.stop = None;
            st.pending.clear();
            if p.trace_phase == Phase::ExitStop {
                return Gate::Exit;
            }
            p.trace_phase = Phase::Idle;
            p.resumed = None;
            Gate::Skip(Errno::EINTR.as_return() as u64)
        }
        Phase::EntryStop | Phase::ExitStop if st.resume.is_none() && st.stop.is_some() => {
            p.wait_on(&t.resumed, u64::MAX);
            Gate::Wait
        }
        Phase::EntryStop => {
            let nr = st.orig_rax;
            let dirty = st.regs_dirty;
            apply(&t, &mut st, p, k, regs);
            drop(st);
            let shown_rax = regs.rax;
            regs.rax = nr;
            regs.trap = TRAP_SYSCALL;
            p.resumed = None;
            p.trace_phase = Phase::InCall;
            if nr == u64::MAX {
                let v = if dirty {
                    shown_rax
                } else {
                    Errno::ENOSYS.as_return() as u64
                };
                return Gate::Skip(v);
            }
            Gate::Go
        }
        Phase::ExitStop => {
            apply(&t, &mut st, p, k, regs);
            Gate::Exit
        }
    }
}

/// The end of a traced thread's system call (not an exit), returning to `rip`: the
/// syscall-exit stop is queued under PTRACE_SYSCALL, after the events the call queued; under
/// PTRACE_SINGLESTEP the step ends here with a SIGTRAP (TRAP_BRKPT at `rip`), as Linux's
/// user_single_step_report does at syscall exit.
pub(crate) fn syscall_exit(p: &mut Current, rip: u64) {
    if p.trace_phase == Phase::Idle {
        return;
    }
    p.trace_phase = Phase::Idle;
    if let Some(t) = me(p) {
        let mut st = t.state.lock();
        match st.mode {
            Mode::Syscall => st.pending.push_back(Stop::SyscallExit),
            Mode::Step => {
                drop(st);
                let info = SigInfo::fault(SIGTRAP, signal::TRAP_BRKPT, rip);
                signal::force(p, info, false);
            }
            Mode::Cont => {}
        }
    }
}

/// exit and exit_group of a traced thread with PTRACE_O_TRACEEXIT: the exit-event stop
/// (event message: the wait status), entered before the thread goes. True: park in it.
pub(crate) fn exit_event(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> bool {
    let Some(t) = me(p) else {
        return false;
    };
    let mut st = t.state.lock();
    if st.options & PTRACE_O_TRACEEXIT == 0 || p.trace_phase == Phase::ExitStop {
        return false;
    }
    let status = p.process.exit_code().map_or(0, |s| s.wait_status());
    let msg = u64::from(status);
    enter(
        &t,
        &mut st,
        p,
        k,
        regs,
        Stop::Event {
            event: PTRACE_EVENT_EXIT,
            msg,
        },
    );
    p.trace_phase = Phase::ExitStop;
    p.wait_on(&t.resumed, u64::MAX);
    let (tracer, code) = (st.tracer, st.exit_code().unwrap_or(0));
    drop(st);
    notify_tracer(p, tracer, t.tid, CLD_TRAPPED, code);
    true
}

/// A new thread or process `child` of the calling thread (before it first runs): with the
/// matching PTRACE_O_TRACE* option the tracer traces it too (it starts in a stop: SIGSTOP,
/// or PTRACE_EVENT_STOP when seized) and the caller reports the event.
pub(crate) fn on_clone(p: &Current, child: &Current, flags: u64, exit_signal: u32) {
    let Some(t) = me(p) else {
        return;
    };
    let (tracer, options, seized) = {
        let st = t.state.lock();
        (st.tracer, st.options, st.seized)
    };
    const CLONE_VFORK: u64 = 0x4000;
    const CLONE_THREAD: u64 = 0x1_0000;
    let (event, option) = if flags & CLONE_VFORK != 0 {
        (PTRACE_EVENT_VFORK, PTRACE_O_TRACEVFORK)
    } else if flags & CLONE_THREAD != 0 || exit_signal != SIGCHLD {
        (PTRACE_EVENT_CLONE, PTRACE_O_TRACECLONE)
    } else {
        (PTRACE_EVENT_FORK, PTRACE_O_TRACEFORK)
    };
    if options & option == 0 {
        return;
    }
    let record = Tracee::new(
        child.thread.clone(),
        child.process.pid,
        tracer,
        options,
        seized,
    );
    record.state.lock().pending.push_back(if seized {
        Stop::Event {
            event: PTRACE_EVENT_STOP,
            msg: 0,
        }
    } else {
        Stop::Signal(SigInfo::new(SIGSTOP, signal::SI_USER))
    });
    if p.sys.ptrace.insert(record).is_ok() {
        t.state.lock().pending.push_back(Stop::Event {
            event,
            msg: u64::from(child.tid),
        });
    }
}

/// A vfork parent's wait for its child ended: PTRACE_EVENT_VFORK_DONE, if asked for.
pub(crate) fn on_vfork_done(p: &Current, child: u32) {
    if let Some(t) = me(p) {
        let mut st = t.state.lock();
        if st.options & PTRACE_O_TRACEVFORKDONE != 0 {
            st.pending.push_back(Stop::Event {
                event: PTRACE_EVENT_VFORK_DONE,
                msg: u64::from(child),
            });
        }
    }
}

/// A traced thread's execve succeeded: PTRACE_EVENT_EXEC (message: its former thread id), or
/// without PTRACE_O_TRACEEXEC the SIGTRAP of old.
pub(crate) fn on_exec(p: &Current) {
    let Some(t) = me(p) else {
        return;
    };
    let mut st = t.state.lock();
    if st.options & PTRACE_O_TRACEEXEC != 0 {
        st.pending.push_back(Stop::Event {
            event: PTRACE_EVENT_EXEC,
            msg: u64::from(p.tid),
        });
    } else {
        drop(st);
        signal::raise(p, SIGTRAP);
    }
}

/// A traced thread ended (`last`: its process with it, with `status`). Its tracer hears of it
/// by wait, unless the tracer is the parent of a process that ended: the zombie tells it.
/// A tracer that ended lets its tracees go ([`tracer_gone`]).
pub(crate) fn on_thread_gone(p: &Current, status: Option<crate::process::ExitStatus>) {
    if status.is_some() {
        tracer_gone(p, p.process.pid);
    }
    let Some(t) = p.sys.ptrace.get(p.tid) else {
        return;
    };
    let tracer = t.state.lock().tracer;
    let leader = p.tid == p.process.pid;
    if leader && status.is_some() && tracer == p.process.ppid() {
        p.sys.ptrace.remove(p.tid);
        return;
    }
    let end = status.unwrap_or_else(|| {
        p.process
            .exit_code()
            .unwrap_or(crate::process::ExitStatus::Exited(0))
    });
    {
        let mut st = t.state.lock();
        st.ended = Some(end);
        st.stop = None;
        st.pending.clear();
    }
    t.thread.traced.store(false, Ordering::SeqCst);
    let (code, value) = waits::exit_code_of(end);
    notify_tracer(p, tracer, t.tid, code, value);
}

/// The process `tracer` ended: its tracees go on untraced (killed with PTRACE_O_EXITKILL),
/// and the records of ended ones go.
pub(crate) fn tracer_gone(p: &Current, tracer: u32) {
    for t in p.sys.ptrace.of_tracer(tracer) {
        let kill = {
            let mut st = t.state.lock();
            if st.stop.is_some() {
                st.resume = Some(Resume {
                    mode: Mode::Cont,
                    sig: 0,
                    detach: true,
                });
            }
            st.options & PTRACE_O_EXITKILL != 0 && st.ended.is_none()
        };
        let (stopped, ended) = {
            let st = t.state.lock();
            (st.stop.is_some(), st.ended.is_some())
        };
        if !stopped {
            p.sys.ptrace.remove(t.tid);
        }
        if ended && t.tid == t.pid {
            crate::sys::process::exit::parent_hears(&p.sys, t.pid);
        }
        if kill {
            if let Some(proc) = p.sys.process(t.pid) {
                let info = SigInfo::new(signal::SIGKILL, signal::SI_KERNEL);
                let _ = crate::sys::signal::send_to_other(&p.sys, &proc, Target::Process, info);
            }
        }
        t.resumed.wake_everyone();
    }
}
