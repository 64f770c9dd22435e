//! Pending signals: the process's queue and each thread's, behind the process's signal lock.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;

use coracle_vfs::WaitQueue;
use spin::Mutex;

use super::*;

/// A queued signal: its information, and the timer that sent it (whose overruns are counted
/// while it is queued).
pub(super) struct Queued {
    pub(super) info: SigInfo,
    pub(super) timer: Option<Arc<timer::TimerSignal>>,
}

/// Pending signals: the set, and the information of those that have some.
#[derive(Default)]
pub(super) struct Pending {
    pub(super) set: u64,
    pub(super) queue: VecDeque<Queued>,
}

impl Pending {
    /// The signal to take next among `allowed`: synchronous ones first, then the lowest.
    pub(super) fn next(&self, allowed: u64) -> Option<u32> {
        let ready = self.set & allowed;
        let pick = if ready & SYNCHRONOUS != 0 {
            ready & SYNCHRONOUS
        } else {
            ready
        };
        (pick != 0).then(|| pick.trailing_zeros() + 1)
    }
}

/// The state behind the process's signal lock.
pub(super) struct SigState {
    pub(super) actions: [SigAction; NSIG as usize],
    /// Process-directed signals.
    pub(super) shared: Pending,
    /// Thread-directed signals, by tid.
    pub(super) private: BTreeMap<u32, Pending>,
    /// Queue entries in all of the above.
    pub(super) queued: usize,
    /// Where the round of threads for the next process-directed signal starts.
    pub(super) next_target: usize,
}

impl Default for SigState {
    fn default() -> Self {
        SigState {
            actions: [SigAction::default(); NSIG as usize],
            shared: Pending::default(),
            private: BTreeMap::new(),
            queued: 0,
            next_target: 0,
        }
    }
}

impl SigState {
    pub(super) fn action(&self, sig: u32) -> SigAction {
        self.actions[(sig - 1) as usize]
    }

    pub(super) fn pending_of(&self, tid: u32) -> u64 {
        self.private.get(&tid).map_or(0, |q| q.set)
    }

    pub(super) fn queue(&mut self, tid: Option<u32>) -> &mut Pending {
        match tid {
            Some(tid) => self.private.entry(tid).or_default(),
            None => &mut self.shared,
        }
    }

    /// Takes `sig` from the thread's queue (`Some(tid)`) or the shared one, as Linux's
    /// collect_signal: the first entry's information, the bit kept while another entry of
    /// the same signal remains; with no entry (queue space ran out) the bare SI_USER info.
    pub(super) fn take(&mut self, tid: Option<u32>, sig: u32) -> SigInfo {
        let q = self.queue(tid);
        let found = q.queue.iter().position(|e| e.info.signo() == sig);
        let entry = found.and_then(|i| q.queue.remove(i));
        if !q.queue.iter().any(|e| e.info.signo() == sig) {
            q.set &= !bit(sig);
        }
        if let Some(tid) = tid {
            if q.set == 0 && q.queue.is_empty() {
                self.private.remove(&tid);
            }
        }
        match entry {
            Some(e) => {
                self.queued -= 1;
                let mut info = e.info;
                if let Some(t) = e.timer {
                    // The overruns until now, as the timer's signal leaves the queue.
                    let mut f: SiTimer = info.fields();
                    f.si_overrun = t.delivered() as i32;
                    info.set_fields(&f);
                }
                info
            }
            None => SigInfo::new(sig, SI_USER),
        }
    }

    /// Takes the next signal among `allowed` for thread `tid`: its own queue first, then the
    /// shared one (Linux's dequeue_signal).
    pub(super) fn dequeue(&mut self, tid: u32, allowed: u64) -> Option<SigInfo> {
        if let Some(sig) = self.private.get(&tid).and_then(|q| q.next(allowed)) {
            return Some(self.take(Some(tid), sig));
        }
        let sig = self.shared.next(allowed)?;
        Some(self.take(None, sig))
    }

    /// Throws away the queued signal of a POSIX timer that was re-armed or deleted: Linux
    /// (since 6.13) never delivers such a stale one.
    pub(super) fn drop_timer_signal(&mut self, timer: &Arc<timer::TimerSignal>) {
        let mut dropped = 0;
        for q in core::iter::once(&mut self.shared).chain(self.private.values_mut()) {
            let Some(i) = q
                .queue
                .iter()
                .position(|e| e.timer.as_ref().is_some_and(|t| Arc::ptr_eq(t, timer)))
            else {
                continue;
            };
            let sig = q.queue.remove(i).map_or(0, |e| e.info.signo());
            if !q.queue.iter().any(|e| e.info.signo() == sig) {
                q.set &= !bit(sig);
            }
            timer.delivered();
            dropped += 1;
        }
        self.queued -= dropped;
    }

    /// Throws away the pending signals of `set`, everywhere.
    pub(super) fn discard(&mut self, set: u64) {
        let mut dropped = 0;
        for q in core::iter::once(&mut self.shared).chain(self.private.values_mut()) {
            if q.set & set == 0 {
                continue;
            }
            q.set &= !set;
            let before = q.queue.len();
            q.queue.retain(|e| {
                let keep = bit(e.info.signo()) & set == 0;
                if !keep {
                    if let Some(t) = &e.timer {
                        t.delivered();
                    }
                }
                keep
            });
            dropped += before - q.queue.len();
        }
        self.queued -= dropped;
        self.private
            .retain(|_, q| q.set != 0 || !q.queue.is_empty());
    }

    /// Whether a signal sent now would be thrown away at once (Linux's sig_ignored): never
    /// while `t` blocks it, since the action may change before it is unblocked.
    pub(super) fn ignored(&self, sig: u32, t: Option<&Arc<Thread>>) -> bool {
        if let Some(t) = t {
            // A tracer sees even the signals its tracee ignores (sig_ignored).
            if t.traced.load(Ordering::SeqCst) && sig != SIGKILL {
                return false;
            }
            if (t.sig.mask() | t.sig.real_blocked.load(Ordering::SeqCst)) & bit(sig) != 0 {
                return false;
            }
        }
        self.action(sig).ignores(sig)
    }

    /// The thread to wake for a process-directed `sig` (Linux's complete_signal): the main
    /// thread if it takes it, else the next one round the group that does not block it and
    /// is running or has nothing pending yet. None: it waits for a thread that will look.
    pub(super) fn pick(
        &mut self,
        sched: &Scheduler,
        sig: u32,
        all: &[Arc<Thread>],
    ) -> Option<Arc<Thread>> {
        let wants = |t: &Thread| {
            if t.sig.blocks(sig) {
                return false;
            }
            let cpu = t.last_cpu.load(Ordering::Relaxed);
            let running = cpu < sched.cpu_count() && sched.running_on(cpu) == t.tid;
            running || !t.sig.flagged()
        };
        let first = all.first()?;
        if wants(first) {
            return Some(first.clone());
        }
        let n = all.len();
        (0..n)
            .map(|i| (self.next_target + i) % n)
            .find(|&i| wants(&all[i]))
            .map(|i| {
                self.next_target = i;
                all[i].clone()
            })
    }
}

/// What the threads of a process share about signals.
pub struct ProcSignals {
    pub(super) state: Mutex<SigState>,
    /// Woken whenever a signal is queued (signalfd readers and pollers).
    pub(crate) queued: Arc<WaitQueue>,
    /// alarm, itimers and POSIX timers.
    pub(crate) timers: Mutex<timer::TimerTable>,
}

impl Default for ProcSignals {
    fn default() -> Self {
        ProcSignals {
            state: Mutex::new(SigState::default()),
            queued: Arc::new(WaitQueue::new()),
            timers: Mutex::new(timer::TimerTable::default()),
        }
    }
}

impl core::fmt::Debug for ProcSignals {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ProcSignals").finish_non_exhaustive()
    }
}

impl ProcSignals {
    /// A forked child's signal state: the same actions, nothing pending, no timers.
    pub(crate) fn fork(&self) -> ProcSignals {
        let child = ProcSignals::default();
        child.state.lock().actions = self.state.lock().actions;
        child
    }

    /// What execve keeps: handled signals go back to their default action, ignored ones stay
    /// ignored (flags and masks of actions are cleared, as flush_signal_handlers does).
    pub(crate) fn reset_for_exec(&self) {
        let mut st = self.state.lock();
        for a in st.actions.iter_mut() {
            let keep_ignored = a.handler == SIG_IGN;
            *a = SigAction::default();
            if keep_ignored {
                a.handler = SIG_IGN;
            }
        }
    }

    pub(crate) fn action(&self, sig: u32) -> SigAction {
        self.state.lock().action(sig)
    }

    /// Installs `new` for `sig`; a signal whose new action ignores it is discarded wherever it
    /// is pending, blocked or not (POSIX, as Linux's do_sigaction). Returns the old action.
    pub(crate) fn set_action(&self, sig: u32, new: SigAction) -> SigAction {
        let mut st = self.state.lock();
        let old = core::mem::replace(&mut st.actions[(sig - 1) as usize], new);
        if new.ignores(sig) {
            st.discard(bit(sig));
        }
        old
    }

    /// The signals pending for thread `tid` or the whole process.
    pub(crate) fn pending(&self, tid: u32) -> u64 {
        let st = self.state.lock();
        st.pending_of(tid) | st.shared.set
    }
}
