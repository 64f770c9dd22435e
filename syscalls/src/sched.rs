//! Threads and the scheduler: run queues per CPU, waiting, deadlines.
//!
//! The scheduler holds a thread as a [`Task`]: its [`Thread`] (what any CPU may look at) and
//! its [`TaskBody`] (user registers, FP state and the [`Current`] its system calls run with,
//! locked by the CPU running it); `crate::current` names the parts. No thread ever sleeps on a
//! kernel stack. Each CPU runs a loop in the kernel
//! that takes a task from [`Scheduler::pick`], runs it in user mode, and serves its traps; a
//! system call that must wait registers the task on wait queues (see `coracle_vfs::wait`) and
//! returns [`crate::Outcome::Wait`], and the CPU [`Thread::park`]s it and picks another. A wake
//! puts the task back on a run queue with the reason; the CPU that picks it up either returns
//! the waker's value or runs the system call again ([`crate::resume`]).
//!
//! Run queues are per CPU. A woken or new task goes to an idle CPU when there is one (its
//! last CPU first), otherwise back to its last CPU; an idle CPU steals from the longest queue.
//! Deadlines (sleeps, timeouts) sit in one ordered map; every CPU arms its timer for the
//! earliest one, and whichever CPU sees it pass wakes the thread.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use coracle_vfs::{Waiter, Wake, Waker};
use spin::Mutex;

use crate::regs::{FpArea, UserRegs};
use crate::Current;

/// How long a thread runs before another runnable one on its CPU gets a turn (what
/// sched_rr_get_interval reports).
pub const TIME_SLICE_NS: u64 = 10_000_000;

/// What the scheduler needs from the kernel.
pub trait CpuControl: Send + Sync {
    /// Makes `cpu` look at its run queue soon: an interrupt if it is idle or running another
    /// thread. Never called for the calling CPU.
    fn kick(&self, cpu: usize);
    /// The CPU the caller runs on.
    fn current_cpu(&self) -> usize;
    /// CLOCK_MONOTONIC, in ns.
    fn now_ns(&self) -> u64;
}

/// The part of a thread only the CPU running it touches: the [`Current`] its system calls get
/// and its saved user registers and FP state.
///
/// The registers stay beside `Current` rather than in it because handlers take both at once,
/// `(&mut Current, &mut UserRegs)` (execve and rt_sigreturn rewrite the registers while they
/// change the thread, clone copies them); one struct would make those two borrows of one value.
#[derive(Debug)]
pub struct TaskBody {
    pub current: Current,
    pub regs: UserRegs,
    pub fpu: alloc::boxed::Box<FpArea>,
}

#[derive(Default)]
struct WaitState {
    /// Identifies the current wait; wakes carrying another token are stale.
    token: u64,
    /// A wait began and has not been finished by the thread.
    waiting: bool,
    /// The thread is off CPU and in no run queue, waiting for a wake: the waker makes it
    /// runnable again (this is what keeps a parked task alive).
    parked: Option<Arc<Task>>,
    /// Why the wait ended, until the thread takes it.
    woken: Option<Wake>,
    /// The deadline entry of this wait in the scheduler's timer map.
    timer: Option<(u64, u64)>,
    /// A signal does not end this wait (a block device read, Linux's TASK_UNINTERRUPTIBLE):
    /// the call runs again once the read ended and the signal is taken on its way out.
    uninterruptible: bool,
}

/// A thread as the scheduler holds it (in a run queue, parked in a wait, or running): its
/// [`Thread`] and its [`TaskBody`]. It lives where the thread is: in a run queue, in its
/// thread's wait state while parked, or with the CPU running it; once none of them holds it,
/// the thread is gone.
///
/// It is not folded into [`Thread`] because the body's [`Current`] holds an `Arc<Thread>`
/// (system calls wait and look at their signal mask through it): a `Thread` owning its body
/// would own itself, an `Arc` cycle that is never freed.
#[derive(Debug)]
pub struct Task {
    pub thread: Arc<Thread>,
    /// The [`Current`], registers and FP state; locked by the CPU that runs the thread.
    pub body: Mutex<TaskBody>,
}

/// What of a thread any CPU may look at: its id, its wait, where it runs.
pub struct Thread {
    pub tid: u32,
    me: Weak<Thread>,
    sched: Weak<Scheduler>,
    wait: Mutex<WaitState>,
    /// The CPU it last ran on.
    pub last_cpu: AtomicUsize,
    /// Set when the thread must end (exit_group, a fatal signal); the CPU running it sees it at
    /// the next kernel entry, a waiting thread is woken for it.
    pub killed: AtomicBool,
    /// The CPUs it may run on (bit i = CPU i).
    pub affinity: AtomicU64,
    /// CPU time charged so far, in ns (kept by the kernel loop through [`Thread::charge`]);
    /// read it with [`Thread::cpu_time`], which adds the stretch running now.
    pub(crate) cpu_ns: AtomicU64,
    /// When the CPU running it last charged it (monotonic ns), 0 while it is off every CPU.
    on_cpu_since: AtomicU64,
    /// The nice value (-20..=19), for getpriority/setpriority.
    pub nice: AtomicI32,
    /// The scheduling policy sched_getscheduler reports (SCHED_OTHER, BATCH or IDLE, with
    /// SCHED_RESET_ON_FORK).
    pub policy: AtomicU32,
    /// Its signal mask and whether a signal may be waiting for it (see `crate::signal`).
    pub sig: crate::signal::ThreadSignals,
    /// The head of its robust futex list (set_robust_list), 0 if none.
    pub robust_list: AtomicU64,
    /// A tracer follows it (see `crate::ptrace`): its system calls and signals may stop it.
    pub traced: AtomicBool,
}

impl core::fmt::Debug for Thread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Thread")
            .field("tid", &self.tid)
            .finish_non_exhaustive()
    }
}

impl Thread {
    /// Starts a wait (or continues the one in progress) and returns its token, for
    /// registrations on wait queues.
    pub fn begin_wait(&self) -> u64 {
        let mut w = self.wait.lock();
        if !w.waiting {
            w.token += 1;
            w.waiting = true;
            w.woken = None;
            w.uninterruptible = false;
        }
        w.token
    }

    /// Makes the current wait one that signals do not end ([`Thread::interrupt`]).
    pub fn make_uninterruptible(&self) {
        let mut w = self.wait.lock();
        if w.waiting {
            w.uninterruptible = true;
        }
    }

    /// A registration for the current wait; `mask` is for the queue's owner.
    pub fn waiter(&self, mask: u64) -> Waiter {
        let token = self.begin_wait();
        let me: Arc<dyn Waker> = self.me.upgrade().expect("a running thread is alive");
        Waiter {
            waker: me,
            token,
            mask,
        }
    }

    /// Gives the current wait a deadline (CLOCK_MONOTONIC ns): it ends with
    /// [`Wake::TimedOut`] then, unless something else ends it first.
    pub fn set_deadline(&self, deadline_ns: u64) {
        let token = self.begin_wait();
        let Some(sched) = self.sched.upgrade() else {
            return;
        };
        let me: Weak<dyn Waker> = self.me.clone();
        let key = sched.add_timer(deadline_ns, me, token);
        let old = self.wait.lock().timer.replace(key);
        if let Some(old) = old {
            sched.remove_timer(old);
        }
    }

    /// Ends the current wait from the thread's side (the call finished without waiting, or
    /// after its wake); later wakes for it are ignored. Returns the wake reason, if any.
    pub fn finish_wait(&self) -> Option<Wake> {
        let (timer, woken) = {
            let mut w = self.wait.lock();
            w.waiting = false;
            w.uninterruptible = false;
            w.parked = None;
            (w.timer.take(), w.woken.take())
        };
        if let (Some(key), Some(sched)) = (timer, self.sched.upgrade()) {
            sched.remove_timer(key);
        }
        woken
    }

    /// Called by the CPU after a system call returned [`crate::Outcome::Wait`]: parks the task
    /// unless its wait already ended, in which case the reason comes back and the CPU goes
    /// on running it.
    pub fn park(&self, task: Arc<Task>) -> Option<Wake> {
        let mut w = self.wait.lock();
        if let Some(why) = w.woken {
            return Some(why);
        }
        if !w.waiting {
            // Nothing registered a wait: treat as a spurious retry rather than sleep forever.
            return Some(Wake::Retry);
        }
        w.parked = Some(task);
        None
    }

    /// Whether the thread is parked in a wait.
    pub fn is_parked(&self) -> bool {
        self.wait.lock().parked.is_some()
    }

    /// Interrupts the current wait, if any and if a signal may end it (a signal arrived, or
    /// the thread is killed).
    pub fn interrupt(&self) -> bool {
        let token = {
            let w = self.wait.lock();
            if !w.waiting || w.uninterruptible {
                return false;
            }
            w.token
        };
        self.wake(token, Wake::Interrupted)
    }

    /// Marks the thread for death and gets it to notice: woken if waiting, interrupted if
    /// running on another CPU.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        if !self.interrupt() {
            self.kick();
        }
    }

    /// A signal this thread does not block became pending: flag it, and end its wait or make
    /// the CPU running it enter the kernel, where it takes delivery before going back to user
    /// mode (Linux's signal_wake_up).
    pub fn signal_wake(&self) {
        self.sig.flag();
        if !self.interrupt() {
            self.kick();
        }
    }

    /// Interrupts the CPU running this thread, if another CPU runs it now.
    fn kick(&self) {
        if let Some(sched) = self.sched.upgrade() {
            let cpu = self.last_cpu.load(Ordering::Relaxed);
            if cpu != sched.ctl.current_cpu() && sched.running_on(cpu) == self.tid {
                sched.ctl.kick(cpu);
            }
        }
    }
}

impl Thread {
    /// The kernel loop took the thread onto a CPU at `now`.
    pub fn start_running(&self, now: u64) {
        self.on_cpu_since.store(now.max(1), Ordering::SeqCst);
    }

    /// Charges the time on the CPU up to `now` (a kernel entry).
    pub fn charge(&self, now: u64) {
        // The start moves before the sum grows, so a concurrent `cpu_time` may briefly read
        // less than the truth, never more (a CPU-time timer then looks again, never fires early).
        let since = self.on_cpu_since.swap(now.max(1), Ordering::SeqCst);
        self.add_charge(now, since);
    }

    /// Charges the time up to `now` as the thread leaves its CPU.
    pub fn stop_running(&self, now: u64) {
        let since = self.on_cpu_since.swap(0, Ordering::SeqCst);
        self.add_charge(now, since);
    }

    fn add_charge(&self, now: u64, since: u64) {
        if since != 0 {
            self.cpu_ns
                .fetch_add(now.saturating_sub(since), Ordering::SeqCst);
        }
    }

    /// CPU time used up to `now`, including the stretch it is running on a CPU at this
    /// moment (another CPU may be running it: a CPU-time timer checked elsewhere must see the
    /// time a thread spinning in user mode, never entering the kernel, has used).
    pub fn cpu_time(&self, now: u64) -> u64 {
        let charged = self.cpu_ns.load(Ordering::SeqCst);
        match self.on_cpu_since.load(Ordering::SeqCst) {
            0 => charged,
            since => charged + now.saturating_sub(since),
        }
    }

    /// Whether its affinity lets it run on `cpu`.
    pub fn may_run_on(&self, cpu: usize) -> bool {
        cpu >= 64 || self.affinity.load(Ordering::Relaxed) & (1 << cpu) != 0
    }
}

impl Waker for Thread {
    fn wake(&self, token: u64, why: Wake) -> bool {
        let requeue = {
            let mut w = self.wait.lock();
            if !w.waiting || w.token != token || w.woken.is_some() {
                return false;
            }
            w.woken = Some(why);
            w.parked.take()
        };
        if let Some(task) = requeue {
            if let Some(sched) = self.sched.upgrade() {
                sched.enqueue(task);
            }
        }
        true
    }

    fn is_waiting(&self, token: u64) -> bool {
        let w = self.wait.lock();
        w.waiting && w.token == token && w.woken.is_none()
    }
}

/// One CPU's runnable tasks. The length is kept in an atomic too, so that the CPU loop's
/// check before every return to user mode ("does anyone wait for this CPU?") and the
/// stealing scan take no lock.
#[derive(Debug, Default)]
struct RunQueue {
    tasks: Mutex<VecDeque<Arc<Task>>>,
    len: AtomicUsize,
}

impl RunQueue {
    fn push_back(&self, task: Arc<Task>) {
        let mut q = self.tasks.lock();
        q.push_back(task);
        self.len.store(q.len(), Ordering::SeqCst);
    }

    fn pop_front(&self) -> Option<Arc<Task>> {
        if self.len() == 0 {
            return None;
        }
        let mut q = self.tasks.lock();
        let t = q.pop_front();
        self.len.store(q.len(), Ordering::SeqCst);
        t
    }

    /// Takes the last task `ok` accepts (the one that waited least: stealing it costs the
    /// victim CPU the least).
    fn steal(&self, ok: impl Fn(&Task) -> bool) -> Option<Arc<Task>> {
        let mut q = self.tasks.lock();
        let i = q.iter().rposition(|t| ok(t))?;
        let t = q.remove(i);
        self.len.store(q.len(), Ordering::SeqCst);
        t
    }

    /// SeqCst (with the stores above) pairs with the idle flag: a CPU going idle sets its
    /// flag and then looks at its queue, an enqueuer pushes and then looks at the flag; one
    /// of the two sees the other.
    fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default)]
struct Cpu {
    queue: RunQueue,
    idle: AtomicBool,
    /// The tid running there (0 = none).
    running: AtomicU32,
}

/// A deadline in the timer map: (CLOCK_MONOTONIC ns, sequence number).
pub type TimerKey = (u64, u64);
/// Who a timer wakes, and with which token.
type TimerEntry = (Weak<dyn Waker>, u64);

/// The machine's threads and CPUs.
pub struct Scheduler {
    cpus: Vec<Cpu>,
    ctl: Arc<dyn CpuControl>,
    timers: Mutex<BTreeMap<TimerKey, TimerEntry>>,
    timer_seq: AtomicU64,
    /// Earliest deadline in `timers` (u64::MAX if none), readable without the lock.
    earliest: AtomicU64,
    threads: Mutex<BTreeMap<u32, Weak<Thread>>>,
    next_tid: AtomicU32,
}

impl core::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Scheduler")
            .field("cpus", &self.cpus.len())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub fn new(cpus: usize, ctl: Arc<dyn CpuControl>) -> Arc<Self> {
        Arc::new(Scheduler {
            cpus: (0..cpus.max(1)).map(|_| Cpu::default()).collect(),
            ctl,
            timers: Mutex::new(BTreeMap::new()),
            timer_seq: AtomicU64::new(0),
            earliest: AtomicU64::new(u64::MAX),
            threads: Mutex::new(BTreeMap::new()),
            next_tid: AtomicU32::new(1),
        })
    }

    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }

    pub fn now_ns(&self) -> u64 {
        self.ctl.now_ns()
    }

    /// A fresh thread id (pids and tids share the space, as on Linux).
    pub fn alloc_tid(&self) -> u32 {
        self.next_tid.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure later ids are above `tid` (the first process takes a given pid).
    pub fn reserve_tid(&self, tid: u32) {
        self.next_tid.fetch_max(tid + 1, Ordering::Relaxed);
    }

    /// A new thread `tid` (not runnable until the kernel makes a [`Task`] of it).
    pub fn new_thread(self: &Arc<Self>, tid: u32) -> Arc<Thread> {
        let all = if self.cpus.len() >= 64 {
            u64::MAX
        } else {
            (1u64 << self.cpus.len()) - 1
        };
        let thread = Arc::new_cyclic(|me| Thread {
            tid,
            me: me.clone(),
            sched: Arc::downgrade(self),
            wait: Mutex::new(WaitState::default()),
            last_cpu: AtomicUsize::new(self.ctl.current_cpu()),
            killed: AtomicBool::new(false),
            affinity: AtomicU64::new(all),
            cpu_ns: AtomicU64::new(0),
            on_cpu_since: AtomicU64::new(0),
            nice: AtomicI32::new(0),
            policy: AtomicU32::new(0),
            robust_list: AtomicU64::new(0),
            traced: AtomicBool::new(false),
            sig: crate::signal::ThreadSignals::default(),
        });
        self.threads.lock().insert(tid, Arc::downgrade(&thread));
        thread
    }

    /// Makes the runnable task of `body`'s thread; it runs once [`Self::enqueue`]d.
    pub fn make_task(&self, body: TaskBody) -> Arc<Task> {
        Arc::new(Task {
            thread: body.current.thread.clone(),
            body: Mutex::new(body),
        })
    }

    /// The live thread `tid`.
    pub fn thread(&self, tid: u32) -> Option<Arc<Thread>> {
        self.threads.lock().get(&tid).and_then(Weak::upgrade)
    }

    /// Forgets an exited thread.
    pub fn remove(&self, tid: u32) {
        self.threads.lock().remove(&tid);
    }

    /// The number of live threads.
    pub fn thread_count(&self) -> usize {
        self.threads
            .lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    fn allowed(task: &Task, cpu: usize) -> bool {
        task.thread.may_run_on(cpu)
    }

    /// Makes `task` runnable on some CPU.
    pub fn enqueue(&self, task: Arc<Task>) {
        let n = self.cpus.len();
        let last = task.thread.last_cpu.load(Ordering::Relaxed) % n;
        let idle = |c: usize| self.cpus[c].idle.load(Ordering::SeqCst) && Self::allowed(&task, c);
        let target = if idle(last) {
            last
        } else if let Some(c) = (0..n).map(|i| (last + i) % n).find(|&c| idle(c)) {
            c
        } else if Self::allowed(&task, last) {
            last
        } else {
            (0..n).find(|&c| Self::allowed(&task, c)).unwrap_or(last)
        };
        self.cpus[target].queue.push_back(task);
        if target != self.ctl.current_cpu() {
            self.ctl.kick(target);
        }
    }

    /// The next task for `cpu`: its own queue first, else one stolen from the longest queue
    /// (then from any other).
    pub fn pick(&self, cpu: usize) -> Option<Arc<Task>> {
        if let Some(t) = self.cpus[cpu].queue.pop_front() {
            return Some(t);
        }
        let n = self.cpus.len();
        let others = || (1..n).map(|i| (cpu + i) % n);
        let longest = others()
            .map(|c| (self.cpus[c].queue.len(), c))
            .filter(|&(len, _)| len > 0)
            .max()?
            .1;
        let ok = |t: &Task| Self::allowed(t, cpu);
        self.cpus[longest].queue.steal(ok).or_else(|| {
            others()
                .filter(|&c| c != longest && self.cpus[c].queue.len() > 0)
                .find_map(|c| self.cpus[c].queue.steal(ok))
        })
    }

    /// Whether `cpu` has other tasks waiting to run (so its current one should be preempted
    /// at the end of its slice). Lock-free: the CPU loop asks before every return to user.
    pub fn has_waiting(&self, cpu: usize) -> bool {
        self.cpus[cpu].queue.len() > 0
    }

    /// Puts a preempted or yielding task at the back of `cpu`'s queue, or on another CPU if
    /// its affinity no longer allows this one.
    pub fn requeue(&self, cpu: usize, task: Arc<Task>) {
        if !Self::allowed(&task, cpu) {
            return self.enqueue(task);
        }
        self.cpus[cpu].queue.push_back(task);
    }

    /// Records that `cpu` runs `tid` (0: nothing).
    pub fn set_running(&self, cpu: usize, tid: u32) {
        self.cpus[cpu].running.store(tid, Ordering::Relaxed);
    }

    /// The tid running on `cpu` (0: none).
    pub fn running_on(&self, cpu: usize) -> u32 {
        self.cpus[cpu].running.load(Ordering::Relaxed)
    }

    /// Marks `cpu` idle (about to halt) or busy. A CPU going idle must check [`Self::pick`]
    /// again after marking itself, so that a task enqueued meanwhile is not missed.
    pub fn set_idle(&self, cpu: usize, idle: bool) {
        self.cpus[cpu].idle.store(idle, Ordering::SeqCst);
    }

    /// Calls `waker.wake(token, Wake::TimedOut)` once CLOCK_MONOTONIC reaches `deadline`
    /// (threads' wait deadlines, and timer objects such as timerfds and POSIX timers).
    pub fn add_timer(&self, deadline: u64, task: Weak<dyn Waker>, token: u64) -> TimerKey {
        let key = (deadline, self.timer_seq.fetch_add(1, Ordering::Relaxed));
        let mut t = self.timers.lock();
        t.insert(key, (task, token));
        self.earliest.fetch_min(deadline, Ordering::SeqCst);
        drop(t);
        // No other CPU is woken to re-arm: this one arms its timer for the earliest deadline
        // before it leaves the kernel (for user mode or idle), and whichever CPU sees the
        // deadline pass wakes the thread. An IPI per timed wait (every epoll_wait with a
        // timeout) cost a tenth of a redis load's samples on 2 CPUs.
        key
    }

    /// Cancels a timer (a no-op if it fired already).
    pub fn remove_timer(&self, key: TimerKey) {
        let mut t = self.timers.lock();
        t.remove(&key);
        let first = t.keys().next().map_or(u64::MAX, |k| k.0);
        self.earliest.store(first, Ordering::SeqCst);
    }

    /// The earliest deadline of any waiting thread (CLOCK_MONOTONIC ns).
    pub fn next_deadline(&self) -> Option<u64> {
        match self.earliest.load(Ordering::SeqCst) {
            u64::MAX => None,
            d => Some(d),
        }
    }

    /// Wakes the threads whose deadline is at or before `now`.
    pub fn expire(&self, now: u64) {
        if self.earliest.load(Ordering::SeqCst) > now {
            return;
        }
        let due: Vec<TimerEntry> = {
            let mut t = self.timers.lock();
            let later = t.split_off(&(now + 1, 0));
            let due = core::mem::replace(&mut *t, later);
            let first = t.keys().next().map_or(u64::MAX, |k| k.0);
            self.earliest.store(first, Ordering::SeqCst);
            due.into_values().collect()
        };
        for (waker, token) in due {
            if let Some(waker) = waker.upgrade() {
                waker.wake(token, Wake::TimedOut);
            }
        }
    }
}
