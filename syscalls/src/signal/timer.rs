//! Timers that send signals: alarm and setitimer (ITIMER_REAL, SIGALRM), and POSIX timers
//! (timer_create with SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID).
//!
//! A timer is an object with a [`Waker`] on the scheduler's timer map: at its deadline the
//! scheduler wakes it, it sends its signal and, if periodic, puts itself back for the next
//! period. A POSIX timer's signal is queued at most once; expirations while it is still
//! pending count as overruns, reported in si_overrun and by timer_getoverrun. Deadlines are
//! on CLOCK_MONOTONIC; an absolute CLOCK_REALTIME time is moved onto it when set.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use coracle_abi::signal::Sigevent;
use coracle_abi::time::{Itimerspec, Itimerval, Timespec, Timeval};
use coracle_vfs::{Wake, Waker};
use spin::Mutex;

use super::{send, valid, SigInfo, Target, SIGALRM, SIGPROF, SIGVTALRM, SI_KERNEL};
use crate::process::Process;
use crate::sched::{Scheduler, TimerKey};
use crate::uaccess::{read_struct, read_u64, write_struct};
use crate::{Current, Errno, Platform, SysResult};

const NS: u64 = 1_000_000_000;
const ITIMER_REAL: i32 = 0;
const ITIMER_VIRTUAL: i32 = 1;
const ITIMER_PROF: i32 = 2;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
const SIGEV_THREAD_ID: i32 = 4;
const TIMER_ABSTIME: i32 = 1;
/// Most POSIX timers a process may have (each holds a queued signal on Linux, which
/// RLIMIT_SIGPENDING bounds).
const MAX_TIMERS: usize = 1 << 15;

/// The signal bookkeeping of a POSIX timer, shared with its queued signal.
#[derive(Debug, Default)]
pub(crate) struct TimerSignal {
    /// Its signal is queued and not yet taken.
    pending: AtomicBool,
    /// Expirations since the queued signal was sent.
    overrun: AtomicU64,
    /// The overrun count of the last signal taken (timer_getoverrun).
    last: AtomicU64,
}

impl TimerSignal {
    /// The queued signal was taken: its si_overrun (at most INT_MAX, DELAYTIMER_MAX).
    pub(crate) fn delivered(&self) -> u32 {
        self.pending.store(false, Ordering::SeqCst);
        let n = self.overrun.swap(0, Ordering::SeqCst).min(i32::MAX as u64);
        self.last.store(n, Ordering::SeqCst);
        n as u32
    }
}

/// Where a timer's expirations go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notify {
    /// SIGEV_NONE: nowhere (only timer_gettime shows it).
    Nothing,
    To(Target),
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An itimer: this signal from the kernel to the process (SIGALRM, SIGVTALRM, SIGPROF).
    Itimer(u32),
    Posix {
        id: i32,
        notify: Notify,
        signo: u32,
        value: u64,
    },
}

/// The clock a timer counts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// CLOCK_MONOTONIC, or a wall clock (`realtime`: absolute settings are wall times);
    /// expiries are on CLOCK_MONOTONIC.
    Wall { realtime: bool },
    /// The process's CPU time (ITIMER_VIRTUAL, ITIMER_PROF, CLOCK_PROCESS_CPUTIME_ID).
    ProcessCpu,
    /// One thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
    ThreadCpu(u32),
}

/// A CPU-time timer is checked against the CPU clock at wall-clock times no later than its
/// expiry could come; at least this far apart.
const CPU_CHECK_MIN_NS: u64 = 1_000_000;

#[derive(Debug, Default)]
struct Armed {
    /// Identifies the current arming; a wake with another token is stale.
    token: u64,
    key: Option<TimerKey>,
    /// The next expiry on the timer's clock (0: disarmed).
    expiry: u64,
    interval: u64,
}

/// One timer.
pub(crate) struct SigTimer {
    me: Weak<SigTimer>,
    proc: Weak<Process>,
    sched: Weak<Scheduler>,
    kind: Kind,
    clock: Clock,
    signal: Arc<TimerSignal>,
    state: Mutex<Armed>,
}

/// The CPU time of `clock` (a CPU clock) now: what the threads were charged so far.
fn cpu_now(proc: &Process, sched: &Scheduler, clock: Clock) -> u64 {
    match clock {
        Clock::ThreadCpu(tid) => sched.thread(tid).map_or(0, |t| t.cpu_time(sched.now_ns())),
        _ => crate::sys::info::process_cpu_ns_of(proc, sched),
    }
}

impl SigTimer {
    fn new(p: &Current, kind: Kind, clock: Clock) -> Arc<Self> {
        Arc::new_cyclic(|me| SigTimer {
            me: me.clone(),
            proc: Arc::downgrade(&p.process),
            sched: Arc::downgrade(&p.sys.sched),
            kind,
            clock,
            signal: Arc::default(),
            state: Mutex::new(Armed::default()),
        })
    }

    fn silent(&self) -> bool {
        matches!(
            self.kind,
            Kind::Posix {
                notify: Notify::Nothing,
                ..
            }
        )
    }

    /// The time on the timer's clock, for a system call of `p`.
    fn now(&self, p: &Current, k: &dyn Platform) -> u64 {
        match self.clock {
            Clock::Wall { .. } => k.monotonic_ns(),
            cpu => cpu_now(&p.process, &p.sys.sched, cpu),
        }
    }

    /// Puts the timer's next wake on the scheduler: its expiry for a wall clock; for a CPU
    /// clock the earliest wall time the CPU time could reach it (all threads running).
    fn schedule(&self, st: &mut Armed, proc: &Process, sched: &Scheduler, clock_now: u64) {
        let at = match self.clock {
            Clock::Wall { .. } => st.expiry,
            cpu => {
                let threads = match cpu {
                    Clock::ProcessCpu => proc.threads.lock().len().max(1) as u64,
                    _ => 1,
                };
                let wait = st.expiry.saturating_sub(clock_now) / threads;
                sched.now_ns().saturating_add(wait.max(CPU_CHECK_MIN_NS))
            }
        };
        let me: Weak<dyn Waker> = self.me.clone();
        st.key = Some(sched.add_timer(at, me, st.token));
    }

    /// Arms the timer for `expiry` (on its clock; 0 disarms), then every `interval`; `now`
    /// is the time on its clock.
    fn arm(&self, p: &Current, expiry: u64, interval: u64, now: u64) {
        let sched = &p.sys.sched;
        let mut st = self.state.lock();
        if let Some(key) = st.key.take() {
            sched.remove_timer(key);
        }
        st.token += 1;
        st.expiry = expiry;
        st.interval = if expiry == 0 { 0 } else { interval };
        if expiry != 0 && !self.silent() {
            self.schedule(&mut st, &p.process, sched, now);
        }
    }

    /// (time to the next expiry, interval) at `now`; an armed timer that is due reports the
    /// smallest non-zero time (`due`), an expired one-shot SIGEV_NONE timer 0.
    fn remaining(&self, now: u64, due: u64) -> (u64, u64) {
        let st = self.state.lock();
        if st.expiry == 0 {
            return (0, st.interval);
        }
        let mut expiry = st.expiry;
        if self.silent() && st.interval > 0 && expiry <= now {
            expiry += ((now - expiry) / st.interval + 1) * st.interval;
        }
        if expiry > now {
            (expiry - now, st.interval)
        } else if self.silent() {
            (0, st.interval)
        } else {
            (due, st.interval)
        }
    }

    /// Sends the signal of one expiration; `missed` periods went by unseen.
    fn fire(&self, proc: &Process, sched: &Scheduler, missed: u64) {
        match self.kind {
            Kind::Itimer(signo) => {
                let info = SigInfo::new(signo, SI_KERNEL);
                let _ = send(proc, sched, Target::Process, info, None);
            }
            Kind::Posix {
                notify: Notify::Nothing,
                ..
            } => {}
            Kind::Posix {
                id,
                notify: Notify::To(target),
                signo,
                value,
            } => {
                let s = &self.signal;
                s.overrun.fetch_add(missed, Ordering::SeqCst);
                if s.pending.swap(true, Ordering::SeqCst) {
                    s.overrun.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                let info = SigInfo::timer(signo, id, value);
                if !matches!(send(proc, sched, target, info, Some(s)), Ok(true)) {
                    s.pending.store(false, Ordering::SeqCst);
                    s.overrun.store(0, Ordering::SeqCst);
                }
            }
        }
    }
}

impl Waker for SigTimer {
    fn wake(&self, token: u64, why: Wake) -> bool {
        if why != Wake::TimedOut {
            return false;
        }
        let (Some(proc), Some(sched)) = (self.proc.upgrade(), self.sched.upgrade()) else {
            return false;
        };
        let missed = {
            let mut st = self.state.lock();
            if st.token != token || st.expiry == 0 {
                return false;
            }
            st.key = None;
            let now = match self.clock {
                Clock::Wall { .. } => sched.now_ns().max(st.expiry),
                cpu => cpu_now(&proc, &sched, cpu),
            };
            if now < st.expiry {
                // A CPU clock that has not got there yet: look again later.
                st.token += 1;
                self.schedule(&mut st, &proc, &sched, now);
                return true;
            }
            if let Some(periods) = (now - st.expiry).checked_div(st.interval) {
                st.expiry = st
                    .expiry
                    .saturating_add((periods + 1).saturating_mul(st.interval));
                st.token += 1;
                self.schedule(&mut st, &proc, &sched, now);
                periods
            } else {
                st.expiry = 0;
                0
            }
        };
        self.fire(&proc, &sched, missed);
        true
    }

    fn is_waiting(&self, token: u64) -> bool {
        let st = self.state.lock();
        st.token == token && st.expiry != 0
    }
}

/// A process's timers.
#[derive(Default)]
pub(crate) struct TimerTable {
    posix: BTreeMap<i32, Arc<SigTimer>>,
    /// The id the next timer_create tries (ids count up from 0, as on Linux).
    next_id: i32,
    /// ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF.
    itimers: [Option<Arc<SigTimer>>; 3],
}

fn read_time(k: &dyn Platform, addr: u64, unit: u64) -> Result<u64, Errno> {
    let sec = read_u64(k, addr)? as i64;
    let frac = read_u64(k, addr + 8)? as i64;
    if sec < 0 || frac < 0 || frac as u64 >= NS / unit {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(NS)
        .saturating_add(frac as u64 * unit))
}

/// `struct itimerspec` (unit 1: ns) or `struct itimerval` (unit 1000: µs), interval first.
fn write_pair(
    k: &mut dyn Platform,
    addr: u64,
    (value, interval): (u64, u64),
    unit: u64,
) -> Result<(), Errno> {
    if unit == 1 {
        let its = Itimerspec {
            it_interval: Timespec::from_ns(interval),
            it_value: Timespec::from_ns(value),
        };
        write_struct(k, addr, &its)
    } else {
        let itv = Itimerval {
            it_interval: Timeval::from_ns(interval),
            it_value: Timeval::from_ns(value),
        };
        write_struct(k, addr, &itv)
    }
}

/// Itimer `which` (valid), made on first use. ITIMER_VIRTUAL counts the process's CPU time
/// like ITIMER_PROF: user and system time are not told apart.
fn itimer(p: &Current, which: i32) -> Arc<SigTimer> {
    let (signo, clock) = match which {
        ITIMER_REAL => (SIGALRM, Clock::Wall { realtime: false }),
        ITIMER_VIRTUAL => (SIGVTALRM, Clock::ProcessCpu),
        _ => (SIGPROF, Clock::ProcessCpu),
    };
    p.process.signals.timers.lock().itimers[which as usize]
        .get_or_insert_with(|| SigTimer::new(p, Kind::Itimer(signo), clock))
        .clone()
}

/// Sets itimer `which` (valid); returns the old (remaining, interval).
fn set_itimer(p: &Current, k: &dyn Platform, which: i32, value: u64, interval: u64) -> (u64, u64) {
    let t = itimer(p, which);
    let now = t.now(p, k);
    let old = t.remaining(now, 1000);
    let expiry = if value == 0 {
        0
    } else {
        now.saturating_add(value)
    };
    t.arm(p, expiry, interval, now);
    old
}

pub(crate) fn alarm(p: &mut Current, k: &mut dyn Platform, seconds: u32) -> SysResult {
    let (old, _) = set_itimer(p, k, ITIMER_REAL, u64::from(seconds) * NS, 0);
    // Never 0 while an alarm was pending, and rounded to the nearest second.
    let (sec, ns) = (old / NS, old % NS);
    Ok(if (sec == 0 && ns != 0) || ns >= NS / 2 {
        sec + 1
    } else {
        sec
    })
}

pub(crate) fn getitimer(p: &mut Current, k: &mut dyn Platform, which: i32, curr: u64) -> SysResult {
    if !(ITIMER_REAL..=ITIMER_PROF).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let t = itimer(p, which);
    let now = t.remaining(t.now(p, k), 1000);
    write_pair(k, curr, now, 1000)?;
    Ok(0)
}

pub(crate) fn setitimer(
    p: &mut Current,
    k: &mut dyn Platform,
    which: i32,
    new: u64,
    old: u64,
) -> SysResult {
    // A null new value disarms (a misfeature Linux still accepts).
    let (interval, value) = if new != 0 {
        (read_time(k, new, 1000)?, read_time(k, new + 16, 1000)?)
    } else {
        (0, 0)
    };
    if !(ITIMER_REAL..=ITIMER_PROF).contains(&which) {
        return Err(Errno::EINVAL);
    }
    let before = set_itimer(p, k, which, value, interval);
    if old != 0 {
        write_pair(k, old, before, 1000)?;
    }
    Ok(0)
}

/// The clock of a timer_create: Err with the errno Linux gives for those without timers.
fn timer_clock(p: &Current, clock: i32) -> Result<Clock, Errno> {
    if let Some(cpu) = crate::sys::time::CpuClock::decode(p, clock, false)? {
        return Ok(match cpu {
            crate::sys::time::CpuClock::Process => Clock::ProcessCpu,
            crate::sys::time::CpuClock::Thread(tid) => Clock::ThreadCpu(tid),
        });
    }
    match clock {
        0 | 11 => Ok(Clock::Wall { realtime: true }), // REALTIME, TAI
        1 | 7 => Ok(Clock::Wall { realtime: false }), // MONOTONIC, BOOTTIME
        4..=6 => Err(Errno::EOPNOTSUPP), // MONOTONIC_RAW and the coarse clocks have no timers
        8 | 9 => Err(Errno::EPERM),      // the alarm clocks need CAP_WAKE_ALARM
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn timer_create(
    p: &mut Current,
    k: &mut dyn Platform,
    clock: i32,
    sevp: u64,
    timerid: u64,
) -> SysResult {
    let event = if sevp != 0 {
        Some(read_struct::<Sigevent>(k, sevp)?)
    } else {
        None
    };
    let clock = timer_clock(p, clock)?;
    // The id is taken before the event is checked, as on Linux.
    let id = {
        let mut table = p.process.signals.timers.lock();
        if table.posix.len() >= MAX_TIMERS {
            return Err(Errno::EAGAIN);
        }
        let mut id = table.next_id;
        while table.posix.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(0);
        }
        table.next_id = id.checked_add(1).unwrap_or(0);
        id
    };
    let kind = match event {
        None => Kind::Posix {
            id,
            notify: Notify::To(Target::Process),
            signo: SIGALRM,
            value: id as u32 as u64,
        },
        Some(ev) => {
            let (value, signo, notify, tid) = (
                ev.sigev_value,
                ev.sigev_signo,
                ev.sigev_notify,
                ev.sigev_notify_thread_id,
            );
            let target = match notify {
                SIGEV_NONE => Notify::Nothing,
                SIGEV_SIGNAL | SIGEV_THREAD => Notify::To(Target::Process),
                SIGEV_THREAD_ID if p.process.threads.lock().contains(&tid) => {
                    Notify::To(Target::Thread(tid))
                }
                _ => return Err(Errno::EINVAL),
            };
            if target != Notify::Nothing && !valid(signo) {
                return Err(Errno::EINVAL);
            }
            Kind::Posix {
                id,
                notify: target,
                signo,
                value,
            }
        }
    };
    k.write_user(timerid, &id.to_le_bytes())?;
    let timer = SigTimer::new(p, kind, clock);
    p.process.signals.timers.lock().posix.insert(id, timer);
    Ok(0)
}

fn posix_timer(p: &Current, id: i32) -> Result<Arc<SigTimer>, Errno> {
    p.process
        .signals
        .timers
        .lock()
        .posix
        .get(&id)
        .cloned()
        .ok_or(Errno::EINVAL)
}

pub(crate) fn timer_settime(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    flags: i32,
    new: u64,
    old: u64,
) -> SysResult {
    if new == 0 {
        return Err(Errno::EINVAL);
    }
    let interval = read_time(k, new, 1);
    let value = read_time(k, new.saturating_add(16), 1);
    let (interval, value) = match (interval, value) {
        (Err(Errno::EFAULT), _) | (_, Err(Errno::EFAULT)) => return Err(Errno::EFAULT),
        (i, v) => (i, v),
    };
    let timer = posix_timer(p, id)?;
    let (interval, value) = (interval?, value?);
    let now = timer.now(p, k);
    let before = timer.remaining(now, 1);
    let expiry = if value == 0 {
        0
    } else if flags & TIMER_ABSTIME == 0 {
        now.saturating_add(value)
    } else if timer.clock == (Clock::Wall { realtime: true }) {
        // Placed on the monotonic clock now: the VM's clocks do not jump.
        value.saturating_sub(k.realtime_offset_ns())
    } else {
        value
    }
    .max(u64::from(value != 0)); // a time in the past expires at once; 0 would disarm
    timer.arm(p, expiry, interval, now);
    drop_stale_signal(p, &timer);
    timer.signal.last.store(0, Ordering::SeqCst);
    if old != 0 {
        write_pair(k, old, before, 1)?;
    }
    Ok(0)
}

pub(crate) fn timer_gettime(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    curr: u64,
) -> SysResult {
    let timer = posix_timer(p, id)?;
    let now = timer.remaining(timer.now(p, k), 1);
    write_pair(k, curr, now, 1)?;
    Ok(0)
}

pub(crate) fn timer_getoverrun(p: &mut Current, _k: &mut dyn Platform, id: i32) -> SysResult {
    let timer = posix_timer(p, id)?;
    Ok(timer.signal.last.load(Ordering::SeqCst))
}

/// A re-armed or deleted timer's queued signal is not delivered (Linux 6.13 and later drop it
/// at dequeue; here it goes at once).
fn drop_stale_signal(p: &Current, timer: &SigTimer) {
    p.process
        .signals
        .state
        .lock()
        .drop_timer_signal(&timer.signal);
}

pub(crate) fn timer_delete(p: &mut Current, _k: &mut dyn Platform, id: i32) -> SysResult {
    let timer = p
        .process
        .signals
        .timers
        .lock()
        .posix
        .remove(&id)
        .ok_or(Errno::EINVAL)?;
    timer.arm(p, 0, 0, 0);
    drop_stale_signal(p, &timer);
    Ok(0)
}
