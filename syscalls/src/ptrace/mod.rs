//! ptrace: a tracer process stops, inspects and resumes the threads it traces.
//!
//! Every traced thread has a [`Tracee`] record in the system's [`Registry`], shared by the
//! tracer (the ptrace requests, `request`) and the tracee (its stops, `stop`), and found
//! by `wait` (`waits`). A stop is a mailbox: the tracee queues it ([`Stop`]), enters it on its
//! way back to user mode (or, for the syscall-entry stop, before its call runs) by copying its
//! registers and FP state into the record, tells the tracer, and parks; the tracer reads and
//! changes that copy and sets a [`Resume`]; the tracee wakes, takes the copy back and goes on.
//! So the tracer never touches a thread's live state, and nothing here needs to know whether
//! the tracee is parked yet. Register layouts are in `user`, the debug registers (hardware
//! breakpoints, which the kernel arms while the tracee runs in user mode) in `debug`; the
//! tracee's memory is also reachable as /proc/PID/mem (`crate::procfs`).
//!
//! What is left out: group-stop reporting to a tracer (a traced process stopped by SIGSTOP just
//! stops, as an untraced one) and so PTRACE_LISTEN; PTRACE_EVENT_EXIT for threads that end
//! other than by exit or exit_group (killed by a signal or by a sibling's exit_group); seccomp
//! events (no filters exist).

mod debug;
mod request;
mod stop;
mod user;
mod waits;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;

use coracle_vfs::WaitQueue;
use spin::Mutex;

use crate::process::ExitStatus;
use crate::regs::{DebugRegs, FpArea, UserRegs};
use crate::sched::Thread;
use crate::signal::SigInfo;

pub(crate) use request::{force_write, ptrace};
pub use stop::trace_wait;
pub(crate) use stop::{
    busy, exit_event, on_clone, on_exec, on_thread_gone, on_vfork_done, queue_signal,
    syscall_enter, syscall_exit, Gate,
};
pub(crate) use waits::{held_zombies, holds_zombie, wait_find};

pub(crate) const PTRACE_O_TRACESYSGOOD: u32 = 1;
pub(crate) const PTRACE_O_TRACEFORK: u32 = 2;
pub(crate) const PTRACE_O_TRACEVFORK: u32 = 4;
pub(crate) const PTRACE_O_TRACECLONE: u32 = 8;
pub(crate) const PTRACE_O_TRACEEXEC: u32 = 0x10;
pub(crate) const PTRACE_O_EXITKILL: u32 = 0x10_0000;

pub(crate) const PTRACE_EVENT_FORK: u32 = 1;
pub(crate) const PTRACE_EVENT_VFORK: u32 = 2;
pub(crate) const PTRACE_EVENT_CLONE: u32 = 3;
pub(crate) const PTRACE_EVENT_EXEC: u32 = 4;
pub(crate) const PTRACE_EVENT_STOP: u32 = 128;

/// waitid's si_code for a ptrace stop.
pub(crate) const CLD_TRAPPED: i32 = 4;
/// The trap flag in RFLAGS: single-step.
pub(crate) const RFLAGS_TF: u64 = 0x100;

/// Where the calling thread's current system call is with respect to its ptrace stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Phase {
    /// Not in a traced call: the next dispatch is a new call.
    #[default]
    Idle,
    /// Parked in the syscall-entry stop; the call runs once the tracer resumes it.
    EntryStop,
    /// The call runs (or waits and runs again); no more entry stop for it.
    InCall,
    /// Parked in the exit-event stop of exit or exit_group.
    ExitStop,
}

/// A stop, queued by the tracee and entered in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    SyscallEntry,
    SyscallExit,
    /// A PTRACE_EVENT_* stop with its event message (a new thread's id, the pre-exec tid).
    Event {
        event: u32,
        msg: u64,
    },
    /// A signal-delivery stop: the signal waits for the tracer's decision.
    Signal(SigInfo),
}

/// How the tracee goes on after a stop (the request that resumed it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Mode {
    /// PTRACE_CONT (and the state after attaching): only signals and events stop it.
    #[default]
    Cont,
    /// PTRACE_SYSCALL: also at the next system call's entry and exit.
    Syscall,
    /// PTRACE_SINGLESTEP: after one instruction.
    Step,
}

/// The tracer's answer to a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resume {
    pub mode: Mode,
    /// The signal to deliver (0: none).
    pub sig: u32,
    /// PTRACE_DETACH: tracing ends.
    pub detach: bool,
}

/// One traced thread: what its tracer and it share.
pub(crate) struct Tracee {
    pub tid: u32,
    /// Its process.
    pub pid: u32,
    pub thread: Arc<Thread>,
    pub state: Mutex<State>,
    /// The tracee waits here for its tracer's [`Resume`].
    pub resumed: WaitQueue,
}

/// The mutable part of a [`Tracee`].
pub(crate) struct State {
    /// The tracer's process id.
    pub tracer: u32,
    pub options: u32,
    pub seized: bool,
    pub pending: VecDeque<Stop>,
    /// The stop the tracee is in (or entering), until it takes its [`Resume`].
    pub stop: Option<Stop>,
    /// A wait has reported the current stop.
    pub reported: bool,
    pub resume: Option<Resume>,
    pub mode: Mode,
    /// The registers at the stop; `orig_rax` is the system call number (or -1).
    pub regs: UserRegs,
    pub orig_rax: u64,
    pub fpu: Box<FpArea>,
    pub regs_dirty: bool,
    pub fpu_dirty: bool,
    /// PTRACE_GETEVENTMSG's value.
    pub event_msg: u64,
    /// PTRACE_GETSIGINFO's value at the current stop.
    pub siginfo: SigInfo,
    /// TF was set for PTRACE_SINGLESTEP (not by the program): hidden from the tracer.
    pub forced_tf: bool,
    /// The thread ended; its tracer has not waited for it yet.
    pub ended: Option<ExitStatus>,
    /// The debug registers at the stop (PEEKUSER/POKEUSER); the tracee takes them back.
    pub debug: DebugRegs,
}

impl Tracee {
    fn new(thread: Arc<Thread>, pid: u32, tracer: u32, options: u32, seized: bool) -> Arc<Self> {
        Arc::new(Tracee {
            tid: thread.tid,
            pid,
            thread,
            state: Mutex::new(State {
                tracer,
                options,
                seized,
                pending: VecDeque::new(),
                stop: None,
                reported: false,
                resume: None,
                mode: Mode::Cont,
                regs: UserRegs::default(),
                orig_rax: u64::MAX,
                fpu: Box::default(),
                regs_dirty: false,
                fpu_dirty: false,
                event_msg: 0,
                siginfo: SigInfo::new(0, 0),
                forced_tf: false,
                ended: None,
                debug: DebugRegs::default(),
            }),
            resumed: WaitQueue::new(),
        })
    }
}

impl State {
    /// The code a wait reports for the current stop (WSTOPSIG and the event above it).
    pub fn exit_code(&self) -> Option<u32> {
        Some(match self.stop? {
            Stop::SyscallEntry | Stop::SyscallExit => {
                let good = self.options & PTRACE_O_TRACESYSGOOD != 0;
                crate::signal::SIGTRAP | if good { 0x80 } else { 0 }
            }
            Stop::Event { event, .. } => crate::signal::SIGTRAP | (event << 8),
            Stop::Signal(info) => info.signo(),
        })
    }

    /// In a stop the tracer may inspect: entered and not yet resumed.
    pub fn stopped(&self) -> bool {
        self.stop.is_some() && self.resume.is_none() && self.ended.is_none()
    }
}

/// The traced threads, by thread id.
#[derive(Default)]
pub(crate) struct Registry {
    map: Mutex<BTreeMap<u32, Arc<Tracee>>>,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    pub fn get(&self, tid: u32) -> Option<Arc<Tracee>> {
        self.map.lock().get(&tid).cloned()
    }

    /// Starts tracing `t`: `EPERM` if a tracer already has it.
    fn insert(&self, t: Arc<Tracee>) -> Result<(), crate::Errno> {
        let mut map = self.map.lock();
        if map.contains_key(&t.tid) {
            return Err(crate::Errno::EPERM);
        }
        t.thread
            .traced
            .store(true, core::sync::atomic::Ordering::SeqCst);
        map.insert(t.tid, t);
        Ok(())
    }

    /// Ends tracing `tid` (its record goes; a thread still alive runs untraced).
    pub(crate) fn remove(&self, tid: u32) {
        if let Some(t) = self.map.lock().remove(&tid) {
            t.thread
                .traced
                .store(false, core::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The records of ended tracees not yet waited for.
    fn ended(&self) -> alloc::vec::Vec<Arc<Tracee>> {
        self.map
            .lock()
            .values()
            .filter(|t| t.state.lock().ended.is_some())
            .cloned()
            .collect()
    }

    /// The records of `tracer`'s tracees.
    fn of_tracer(&self, tracer: u32) -> alloc::vec::Vec<Arc<Tracee>> {
        self.map
            .lock()
            .values()
            .filter(|t| t.state.lock().tracer == tracer)
            .cloned()
            .collect()
    }
}
