//! Signals: dispositions, masks, pending queues, generation and delivery.
//!
//! What the threads of a process share — the actions, the process-directed queue, the
//! thread-directed queues, the signal timers — is [`ProcSignals`], behind one lock like Linux's
//! siglock. Each [`crate::sched::Thread`] carries its mask and a "maybe something to deliver"
//! flag that any CPU may read or set ([`ThreadSignals`]): senders pick a thread that does not
//! block a process-directed signal and wake it. [`SigThread`], in the thread's own
//! [`Current`], holds what only the thread touches: its alternate stack, the mask a call
//! restores (sigsuspend, ppoll), its last fault.
//!
//! The kernel calls [`deliver`] before every return to user mode and [`user_exception`] or
//! [`force_fault`] for a user exception. `queue` keeps the pending signals, `info` the
//! siginfo, `deliver` runs actions and restarts, `frame` builds and reads the x86_64
//! rt_sigframe, `timer` has alarm, itimers and POSIX timers, `signalfd` the signal fd; the
//! system calls are in `crate::sys::signal`.

mod deliver;
pub mod frame;
mod info;
mod queue;
pub(crate) mod signalfd;
pub(crate) mod timer;

pub(crate) use deliver::force;
pub use deliver::{deliver, force_fault, user_exception, Fault};
pub(crate) use frame::{rt_sigreturn, sigaltstack};
pub use info::*;
pub use queue::ProcSignals;
use queue::Queued;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::process::Process;
use crate::regs::FpArea;
use crate::sched::{Scheduler, Thread};
use crate::{Current, Errno};

pub use coracle_abi::signal::*;

pub(crate) const SIG_DFL: u64 = 0;
pub(crate) const SIG_IGN: u64 = 1;

pub(crate) const SA_NOCLDSTOP: u64 = 0x1;
pub(crate) const SA_NOCLDWAIT: u64 = 0x2;
pub(crate) const SA_SIGINFO: u64 = 0x4;
pub(crate) const SA_EXPOSE_TAGBITS: u64 = 0x800;
pub(crate) const SA_RESTORER: u64 = 0x0400_0000;
pub(crate) const SA_ONSTACK: u64 = 0x0800_0000;
pub(crate) const SA_RESTART: u64 = 0x1000_0000;
pub(crate) const SA_NODEFER: u64 = 0x4000_0000;
pub(crate) const SA_RESETHAND: u64 = 0x8000_0000;
/// The flags rt_sigaction keeps (UAPI_SA_FLAGS); others are cleared, so that programs can
/// probe for support (SA_UNSUPPORTED, 0x400, never sticks).
pub(crate) const SA_KNOWN: u64 = SA_NOCLDSTOP
    | SA_NOCLDWAIT
    | SA_SIGINFO
    | SA_ONSTACK
    | SA_RESTART
    | SA_NODEFER
    | SA_RESETHAND
    | SA_EXPOSE_TAGBITS
    | SA_RESTORER;

/// The bit of `sig` (1..=64) in a signal set.
pub const fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// Signals no mask can hold back.
pub(crate) const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);
/// Signals caused by the instruction that runs: they go first (Linux's SYNCHRONOUS_MASK).
const SYNCHRONOUS: u64 =
    bit(SIGSEGV) | bit(SIGBUS) | bit(SIGILL) | bit(SIGTRAP) | bit(SIGFPE) | bit(SIGSYS);
const STOP_SIGNALS: u64 = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

/// Most signals queued with their information at once (RLIMIT_SIGPENDING is unlimited in
/// the container; this bounds the memory they take). Standard signals sent by kill or the
/// kernel are never refused; real-time ones from sigqueue get EAGAIN past it.
const MAX_QUEUED: usize = 1 << 16;

/// Whether `sig` is a signal number.
pub(crate) fn valid(sig: u32) -> bool {
    (1..=NSIG).contains(&sig)
}

/// The name of a signal, for the log.
pub fn name(sig: u32) -> &'static str {
    const NAMES: [&str; 32] = [
        "signal 0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES
        .get(sig as usize)
        .copied()
        .unwrap_or("a real-time signal")
}

/// What a signal does when its action is SIG_DFL (signal(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultAction {
    Term,
    Core,
    Ignore,
    Stop,
    Cont,
}

pub(crate) fn default_action(sig: u32) -> DefaultAction {
    use DefaultAction::*;
    match sig {
        SIGCHLD | SIGURG | SIGWINCH => Ignore,
        SIGCONT => Cont,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGSYS => Core,
        24 | 25 => Core, // SIGXCPU, SIGXFSZ
        _ => Term,
    }
}

/// One signal's action, as the kernel keeps it (the user struct is [`KernelSigaction`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

impl From<KernelSigaction> for SigAction {
    fn from(a: KernelSigaction) -> Self {
        SigAction {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        }
    }
}

impl From<SigAction> for KernelSigaction {
    fn from(a: SigAction) -> Self {
        KernelSigaction {
            handler: a.handler,
            flags: a.flags,
            restorer: a.restorer,
            mask: a.mask,
        }
    }
}

impl SigAction {
    /// Whether a signal with this action is thrown away, by the action or by default.
    fn ignores(&self, sig: u32) -> bool {
        self.handler == SIG_IGN
            || (self.handler == SIG_DFL
                && matches!(
                    default_action(sig),
                    DefaultAction::Ignore | DefaultAction::Cont
                ))
    }
}

/// What of a thread's signal state other CPUs look at.
#[derive(Debug, Default)]
pub struct ThreadSignals {
    /// The blocked signals; changed only by the thread itself, under the process's signal
    /// lock, read by senders under it.
    mask: AtomicU64,
    /// The real mask while sigtimedwait waits with its signals unblocked (Linux's
    /// real_blocked); 0 otherwise.
    real_blocked: AtomicU64,
    /// A signal may be there for the thread to take: set by senders, cleared by the thread
    /// when it looks. Its only cost on the way back to user mode is loading it.
    flag: AtomicBool,
}

impl ThreadSignals {
    /// The blocked signals.
    pub fn mask(&self) -> u64 {
        self.mask.load(Ordering::SeqCst)
    }

    pub fn blocks(&self, sig: u32) -> bool {
        self.mask() & bit(sig) != 0
    }

    /// Whether something may be waiting for delivery.
    pub fn flagged(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    pub(crate) fn flag(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// A new thread starts with its creator's mask.
    pub(crate) fn inherit(&self, parent: &ThreadSignals) {
        self.mask.store(parent.mask(), Ordering::SeqCst);
    }
}

pub(crate) const SS_ONSTACK: u32 = 1;
pub(crate) const SS_DISABLE: u32 = 2;
pub(crate) const SS_AUTODISARM: u32 = 1 << 31;

/// A thread's alternate signal stack, as sigaltstack set it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AltStack {
    pub sp: u64,
    pub size: u64,
    /// The flags as given (0, SS_DISABLE, SS_AUTODISARM...), as Linux keeps sas_ss_flags.
    pub flags: u32,
}

impl AltStack {
    /// Whether `sp` is inside the stack (Linux's __on_sig_stack).
    pub fn contains(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// Whether code running at `sp` is on the stack; never with SS_AUTODISARM, which lets a
    /// handler that switched away from it take the stack again (on_sig_stack).
    pub fn on(&self, sp: u64) -> bool {
        self.flags & SS_AUTODISARM == 0 && self.contains(sp)
    }

    /// sas_ss_flags: SS_DISABLE without a stack, SS_ONSTACK on it, 0 otherwise.
    pub fn state(&self, sp: u64) -> u32 {
        if self.size == 0 {
            SS_DISABLE
        } else if self.on(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }

    /// No alternate stack (sas_ss_reset).
    pub const DISARMED: AltStack = AltStack {
        sp: 0,
        size: 0,
        flags: SS_DISABLE,
    };
}

/// The registers of the last fault, which every signal frame shows (trapno, err, cr2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultRegs {
    pub trapno: u64,
    pub error_code: u64,
    pub cr2: u64,
}

/// The part of a thread's signal state only the thread touches.
#[derive(Debug, Default)]
pub struct SigThread {
    pub(crate) altstack: AltStack,
    /// The mask to go back to after a call that changed it for its duration (sigsuspend,
    /// ppoll, pselect, epoll_pwait): restored when the call ends, or, when a signal
    /// interrupted it, saved in the handler's frame (Linux's saved_sigmask).
    pub(crate) saved_mask: Option<u64>,
    /// The number of the system call in progress (Linux's orig_ax), for restarts.
    pub(crate) syscall_nr: u64,
    pub(crate) fault: FaultRegs,
    /// The fault being forced, for the report if it kills.
    pub(crate) forced: Option<Fault>,
    /// sigtimedwait: the real mask while it waits with its set unblocked, and the set.
    pub(crate) wait_real: Option<u64>,
    pub(crate) wait_set: u64,
    /// Scratch room for FP state (frames and sigreturn), allocated on first use.
    fp: Option<alloc::boxed::Box<FpArea>>,
}

impl SigThread {
    /// A thread made by clone: no alternate stack (Linux resets it for CLONE_VM).
    pub(crate) fn new_thread() -> Self {
        SigThread {
            altstack: AltStack::DISARMED,
            ..Default::default()
        }
    }

    /// The main thread of a forked child: the caller's alternate stack (fork keeps it).
    pub(crate) fn forked(parent: &SigThread) -> Self {
        SigThread {
            altstack: parent.altstack,
            ..Default::default()
        }
    }

    pub(crate) fn fp_scratch(&mut self) -> &mut FpArea {
        self.fp.get_or_insert_with(Default::default)
    }
}

/// Who a signal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Any thread of the process that does not block it.
    Process,
    /// This thread.
    Thread(u32),
}

/// The live threads of `proc`, the main thread first.
fn threads_of(proc: &Process, sched: &Scheduler) -> Vec<Arc<Thread>> {
    let tids: Vec<u32> = proc.threads.lock().clone();
    tids.into_iter().filter_map(|t| sched.thread(t)).collect()
}

/// Generates `info` for `target` (Linux's send_signal): thrown away when its action ignores
/// it and the target does not block it; a standard signal already pending merges into it; a
/// signal otherwise queues, and a thread that will take it is woken. Timer signals always
/// queue (`timer`: their entry is preallocated on Linux). Returns whether it was queued.
pub(crate) fn send(
    proc: &Process,
    sched: &Scheduler,
    target: Target,
    info: SigInfo,
    timer: Option<&Arc<timer::TimerSignal>>,
) -> Result<bool, Errno> {
    let sig = info.signo();
    let all = threads_of(proc, sched);
    let thread = match target {
        Target::Thread(tid) => Some(
            all.iter()
                .find(|t| t.tid == tid)
                .cloned()
                .ok_or(Errno::ESRCH)?,
        ),
        Target::Process => None,
    };
    let tid = thread.as_ref().map(|t| t.tid);
    let wake = {
        let mut st = proc.signals.state.lock();
        // Stop and continue cancel each other's pending signals (prepare_signal).
        if sig == SIGCONT {
            st.discard(STOP_SIGNALS);
        } else if bit(sig) & STOP_SIGNALS != 0 {
            st.discard(bit(SIGCONT));
        }
        if st.ignored(sig, thread.as_ref().or(all.first())) {
            return Ok(false);
        }
        let pending = match tid {
            Some(tid) => st.pending_of(tid),
            None => st.shared.set,
        };
        if timer.is_none() && sig < SIGRTMIN && pending & bit(sig) != 0 {
            return Ok(false);
        }
        // kill() and the kernel always get their standard signal through (override_rlimit).
        let room =
            st.queued < MAX_QUEUED || timer.is_some() || (sig < SIGRTMIN && info.code() >= 0);
        if room {
            st.queued += 1;
            st.queue(tid).queue.push_back(Queued {
                info,
                timer: timer.cloned(),
            });
        } else if sig >= SIGRTMIN && info.code() != SI_USER {
            return Err(Errno::EAGAIN);
        }
        st.queue(tid).set |= bit(sig);
        match &thread {
            Some(t) => (!t.sig.blocks(sig)).then(|| t.clone()),
            None => st.pick(sched, sig, &all),
        }
    };
    proc.signals.queued.wake_everyone();
    if let Some(t) = wake {
        t.signal_wake();
    }
    Ok(true)
}

/// Sends `sig` from the calling thread to itself, as Linux's send_sig does for SIGPIPE.
pub(crate) fn raise(p: &Current, sig: u32) {
    let info = SigInfo::from_process(sig, SI_USER, p.process.pid, p.process.ruid());
    let _ = send(&p.process, &p.sys.sched, Target::Thread(p.tid), info, None);
}

/// Sets the calling thread's mask (SIGKILL and SIGSTOP stay unblocked). Process-directed
/// signals it now blocks go to another thread that takes them (retarget_shared_pending); a
/// pending signal it now unblocks is flagged for delivery.
pub(crate) fn set_mask(p: &Current, new: u64) {
    let new = new & !UNBLOCKABLE;
    let sig = &p.process.signals;
    let retarget = {
        let st = sig.state.lock();
        let old = p.thread.sig.mask.swap(new, Ordering::SeqCst);
        if (st.pending_of(p.tid) | st.shared.set) & !new != 0 {
            p.thread.sig.flag();
        }
        st.shared.set & new & !old
    };
    if retarget != 0 {
        wake_takers(&p.process, &p.sys.sched, retarget);
    }
}

/// Wakes threads that take the pending process-directed signals of `set`.
fn wake_takers(proc: &Process, sched: &Scheduler, set: u64) {
    let all = threads_of(proc, sched);
    let wake: Vec<Arc<Thread>> = {
        let mut st = proc.signals.state.lock();
        let mut left = set & st.shared.set;
        let mut wake = Vec::new();
        while left != 0 {
            let sig = left.trailing_zeros() + 1;
            left &= !bit(sig);
            if let Some(t) = st.pick(sched, sig, &all) {
                wake.push(t);
            }
        }
        wake
    };
    for t in wake {
        t.signal_wake();
    }
}

/// Whether a signal the thread does not block is pending for it (Linux's signal_pending);
/// keeps the thread's flag in step.
pub(crate) fn has_deliverable(p: &Current) -> bool {
    let st = p.process.signals.state.lock();
    let ready = (st.pending_of(p.tid) | st.shared.set) & !p.thread.sig.mask() != 0;
    if ready {
        p.thread.sig.flag();
    }
    ready
}

/// Whether SIGKILL is pending for the thread (it ends even a thread in a ptrace stop).
pub(crate) fn sigkill_pending(p: &Current) -> bool {
    let st = p.process.signals.state.lock();
    (st.pending_of(p.tid) | st.shared.set) & bit(SIGKILL) != 0
}

/// Takes a pending signal of `set`, blocked or not (sigtimedwait, signalfd).
pub(crate) fn dequeue_set(p: &Current, set: u64) -> Option<SigInfo> {
    p.process.signals.state.lock().dequeue(p.tid, set)
}

/// Replaces the thread's mask for the rest of the call with the one at `umask` (ppoll,
/// pselect6, epoll_pwait): set_user_sigmask. A null `umask` changes nothing; the size must
/// be 8. The old mask comes back when the call ends, or after the handler of the signal that
/// interrupted it.
pub(crate) fn set_call_mask(
    p: &mut Current,
    k: &dyn crate::Platform,
    umask: u64,
    size: u64,
) -> Result<(), Errno> {
    if umask == 0 {
        return Ok(());
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = crate::uaccess::read_u64(k, umask)?;
    set_call_mask_to(p, mask);
    Ok(())
}

/// [`set_call_mask`] with the mask already read.
pub(crate) fn set_call_mask_to(p: &mut Current, mask: u64) {
    if p.sig.saved_mask.is_none() {
        p.sig.saved_mask = Some(p.thread.sig.mask());
    }
    set_mask(p, mask);
}

/// Called by dispatch when a call ends with `result`: a mask set for the call's duration comes
/// back now unless a signal interrupted the call (then delivery puts it in the frame).
pub(crate) fn end_call(p: &mut Current, result: &Result<u64, Errno>) {
    if p.sig.saved_mask.is_some()
        && !matches!(
            result,
            Err(Errno::EINTR | Errno::ERESTARTSYS | Errno::ERESTARTNOHAND)
        )
    {
        if let Some(m) = p.sig.saved_mask.take() {
            set_mask(p, m);
        }
    }
}

/// A call is about to wait: if a signal for the thread arrived before its wait began (so the
/// sender could not interrupt it), the wait ends at once with `Wake::Interrupted`.
pub(crate) fn check_before_wait(p: &Current) {
    if p.thread.sig.flagged() && has_deliverable(p) {
        p.thread.interrupt();
    }
}

/// sigtimedwait is about to wait for `set`: it waits with the set unblocked, so that its
/// signals pick this thread and wake it; the real mask, kept aside, stops them from being
/// thrown away meanwhile (Linux's real_blocked).
pub(crate) fn begin_timed_wait(p: &mut Current, set: u64) {
    let real = p.thread.sig.mask();
    p.sig.wait_real = Some(real);
    p.sig.wait_set = set;
    p.thread.sig.real_blocked.store(real, Ordering::SeqCst);
    set_mask(p, real & !set);
}

/// sigtimedwait is done: the real mask comes back.
pub(crate) fn end_timed_wait(p: &mut Current) {
    if let Some(real) = p.sig.wait_real.take() {
        p.thread.sig.real_blocked.store(0, Ordering::SeqCst);
        set_mask(p, real);
    }
}

/// A thread is ending: it takes no more signals; the process-directed ones it was picked for
/// go to another thread, and its own pending ones are dropped.
pub(crate) fn thread_exit(p: &Current) {
    set_mask(p, u64::MAX);
    let mut st = p.process.signals.state.lock();
    if let Some(q) = st.private.remove(&p.tid) {
        st.queued -= q.queue.len();
    }
}
