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

use coracle_vfs::{Wake, Waker};
use spin::Mutex;

use super::{send, valid, SigInfo, Target, SIGALRM, SI_KERNEL};
use crate::process::ProcShared;
use crate::sched::{Scheduler, TimerKey};
use crate::uaccess::read_u64;
use crate::{Errno, Platform, Process, SysResult};

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
    /// ITIMER_REAL: SIGALRM from the kernel.
    Real,
    Posix {
        id: i32,
        notify: Notify,
        signo: u32,
        value: u64,
        clock: i32,
    },
}

#[derive(Debug, Default)]
struct Armed {
    /// Identifies the current arming; a wake with another token is stale.
    token: u64,
    key: Option<TimerKey>,
    /// The next expiry on CLOCK_MONOTONIC (0: disarmed).
    expiry: u64,
    interval: u64,
}

/// One timer.
pub(crate) struct SigTimer {
    me: Weak<SigTimer>,
    proc: Weak<ProcShared>,
    sched: Weak<Scheduler>,
    kind: Kind,
    signal: Arc<TimerSignal>,
    state: Mutex<Armed>,
}

impl SigTimer {
    fn new(p: &Process, kind: Kind) -> Arc<Self> {
        Arc::new_cyclic(|me| SigTimer {
            me: me.clone(),
            proc: Arc::downgrade(&p.shared),
            sched: Arc::downgrade(&p.sys.sched),
            kind,
            signal: Arc::default(),
            state: Mutex::new(Armed::default()),
        })
    }

    /// Whether its clock is CLOCK_REALTIME or CLOCK_TAI (absolute times are wall times).
    fn realtime(&self) -> bool {
        matches!(self.kind, Kind::Posix { clock: 0 | 11, .. })
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

    /// Arms the timer for `expiry` (CLOCK_MONOTONIC ns; 0 disarms), then every `interval`.
    fn arm(&self, expiry: u64, interval: u64) {
        let Some(sched) = self.sched.upgrade() else {
            return;
        };
        let mut st = self.state.lock();
        if let Some(key) = st.key.take() {
            sched.remove_timer(key);
        }
        st.token += 1;
        st.expiry = expiry;
        st.interval = if expiry == 0 { 0 } else { interval };
        if expiry != 0 && !self.silent() {
            let me: Weak<dyn Waker> = self.me.clone();
            st.key = Some(sched.add_timer(expiry, me, st.token));
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
    fn fire(&self, proc: &ProcShared, sched: &Scheduler, missed: u64) {
        match self.kind {
            Kind::Real => {
                let _ = send(
                    proc,
                    sched,
                    Target::Process,
                    SigInfo::new(SIGALRM, SI_KERNEL),
                    None,
                );
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
                ..
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
            let now = sched.now_ns().max(st.expiry);
            if let Some(periods) = (now - st.expiry).checked_div(st.interval) {
                st.expiry = st
                    .expiry
                    .saturating_add((periods + 1).saturating_mul(st.interval));
                st.token += 1;
                let me: Weak<dyn Waker> = self.me.clone();
                st.key = Some(sched.add_timer(st.expiry, me, st.token));
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
    real: Option<Arc<SigTimer>>,
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
    let mut b = [0u8; 32];
    for (i, t) in [interval, value].into_iter().enumerate() {
        b[i * 16..i * 16 + 8].copy_from_slice(&(t / NS).to_le_bytes());
        b[i * 16 + 8..i * 16 + 16].copy_from_slice(&((t % NS) / unit).to_le_bytes());
    }
    k.write_user(addr, &b)
}

/// The ITIMER_REAL timer, made on first use.
fn real_timer(p: &Process) -> Arc<SigTimer> {
    p.shared
        .signals
        .timers
        .lock()
        .real
        .get_or_insert_with(|| SigTimer::new(p, Kind::Real))
        .clone()
}

/// Sets ITIMER_REAL; returns the old (remaining, interval).
fn set_real(p: &Process, k: &dyn Platform, value: u64, interval: u64) -> (u64, u64) {
    let t = real_timer(p);
    let now = k.monotonic_ns();
    let old = t.remaining(now, 1000);
    let expiry = if value == 0 {
        0
    } else {
        now.saturating_add(value)
    };
    t.arm(expiry, interval);
    old
}

pub(crate) fn alarm(p: &mut Process, k: &mut dyn Platform, seconds: u32) -> SysResult {
    let (old, _) = set_real(p, k, u64::from(seconds) * NS, 0);
    // Never 0 while an alarm was pending, and rounded to the nearest second.
    let (sec, ns) = (old / NS, old % NS);
    Ok(if (sec == 0 && ns != 0) || ns >= NS / 2 {
        sec + 1
    } else {
        sec
    })
}

/// ITIMER_VIRTUAL and ITIMER_PROF count CPU time, which is not measured yet: they can be
/// read (never armed) and disarmed, and arming them is refused.
fn cpu_itimer(k: &mut dyn Platform, which: i32, value: u64) -> Result<(), Errno> {
    if value != 0 {
        k.log(format_args!(
            "setitimer({}) is not supported (CPU-time timers): EINVAL",
            if which == ITIMER_VIRTUAL {
                "ITIMER_VIRTUAL"
            } else {
                "ITIMER_PROF"
            }
        ));
        return Err(Errno::EINVAL);
    }
    Ok(())
}

pub(crate) fn getitimer(p: &mut Process, k: &mut dyn Platform, which: i32, curr: u64) -> SysResult {
    let now = match which {
        ITIMER_REAL => real_timer(p).remaining(k.monotonic_ns(), 1000),
        ITIMER_VIRTUAL | ITIMER_PROF => (0, 0),
        _ => return Err(Errno::EINVAL),
    };
    write_pair(k, curr, now, 1000)?;
    Ok(0)
}

pub(crate) fn setitimer(
    p: &mut Process,
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
    let before = match which {
        ITIMER_REAL => set_real(p, k, value, interval),
        ITIMER_VIRTUAL | ITIMER_PROF => {
            cpu_itimer(k, which, value)?;
            (0, 0)
        }
        _ => return Err(Errno::EINVAL),
    };
    if old != 0 {
        write_pair(k, old, before, 1000)?;
    }
    Ok(0)
}

/// A clock timer_create accepts: Err with the errno Linux gives otherwise.
fn timer_clock(k: &mut dyn Platform, clock: i32) -> Result<(), Errno> {
    match clock {
        0 | 1 | 7 | 11 => Ok(()),        // REALTIME, MONOTONIC, BOOTTIME, TAI
        4..=6 => Err(Errno::EOPNOTSUPP), // MONOTONIC_RAW and the coarse clocks have no timers
        8 | 9 => Err(Errno::EPERM),      // the alarm clocks need CAP_WAKE_ALARM
        c if c == 2 || c == 3 || c < 0 => {
            k.log(format_args!(
                "timer_create on a CPU-time clock ({c}) is not supported: EINVAL"
            ));
            Err(Errno::EINVAL)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn timer_create(
    p: &mut Process,
    k: &mut dyn Platform,
    clock: i32,
    sevp: u64,
    timerid: u64,
) -> SysResult {
    let event = if sevp != 0 {
        let mut raw = [0u8; 64];
        k.read_user(sevp, &mut raw)?;
        Some(raw)
    } else {
        None
    };
    timer_clock(k, clock)?;
    // The id is taken before the event is checked, as on Linux.
    let id = {
        let mut table = p.shared.signals.timers.lock();
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
            clock,
        },
        Some(raw) => {
            let word = |o: usize| u32::from_le_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]);
            let value = u64::from(word(0)) | (u64::from(word(4)) << 32);
            let signo = word(8);
            let notify = word(12) as i32;
            let tid = word(16);
            let target = match notify {
                SIGEV_NONE => Notify::Nothing,
                SIGEV_SIGNAL | SIGEV_THREAD => Notify::To(Target::Process),
                SIGEV_THREAD_ID if p.shared.threads.lock().contains(&tid) => {
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
                clock,
            }
        }
    };
    k.write_user(timerid, &id.to_le_bytes())?;
    let timer = SigTimer::new(p, kind);
    p.shared.signals.timers.lock().posix.insert(id, timer);
    Ok(0)
}

fn posix_timer(p: &Process, id: i32) -> Result<Arc<SigTimer>, Errno> {
    p.shared
        .signals
        .timers
        .lock()
        .posix
        .get(&id)
        .cloned()
        .ok_or(Errno::EINVAL)
}

pub(crate) fn timer_settime(
    p: &mut Process,
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
    let value = read_time(k, new + 16, 1);
    let (interval, value) = match (interval, value) {
        (Err(Errno::EFAULT), _) | (_, Err(Errno::EFAULT)) => return Err(Errno::EFAULT),
        (i, v) => (i, v),
    };
    let timer = posix_timer(p, id)?;
    let (interval, value) = (interval?, value?);
    let now = k.monotonic_ns();
    let before = timer.remaining(now, 1);
    let expiry = if value == 0 {
        0
    } else if flags & TIMER_ABSTIME == 0 {
        now.saturating_add(value)
    } else if timer.realtime() {
        // Placed on the monotonic clock now: the VM's clocks do not jump.
        now.saturating_add(value.saturating_sub(k.realtime_ns()))
    } else {
        value
    }
    .max(u64::from(value != 0)); // a time in the past expires at once; 0 would disarm
    timer.signal.last.store(0, Ordering::SeqCst);
    timer.arm(expiry, interval);
    if old != 0 {
        write_pair(k, old, before, 1)?;
    }
    Ok(0)
}

pub(crate) fn timer_gettime(
    p: &mut Process,
    k: &mut dyn Platform,
    id: i32,
    curr: u64,
) -> SysResult {
    let timer = posix_timer(p, id)?;
    let now = timer.remaining(k.monotonic_ns(), 1);
    write_pair(k, curr, now, 1)?;
    Ok(0)
}

pub(crate) fn timer_getoverrun(p: &mut Process, _k: &mut dyn Platform, id: i32) -> SysResult {
    let timer = posix_timer(p, id)?;
    Ok(timer.signal.last.load(Ordering::SeqCst))
}

pub(crate) fn timer_delete(p: &mut Process, _k: &mut dyn Platform, id: i32) -> SysResult {
    let timer = p
        .shared
        .signals
        .timers
        .lock()
        .posix
        .remove(&id)
        .ok_or(Errno::EINVAL)?;
    // A signal it already queued stays pending, as on Linux.
    timer.arm(0, 0);
    Ok(0)
}
