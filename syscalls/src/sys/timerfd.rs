//! timerfd_create, timerfd_settime, timerfd_gettime: timers read through a file descriptor
//! (timerfd_create(2)).
//!
//! A timerfd is a [`Waker`] on the scheduler's timer map: at its deadline the scheduler wakes
//! it, it counts one expiry and wakes its queue (readers, poll, epoll). As in Linux, a
//! periodic timer is not re-armed by the expiry itself: the next read (or gettime) counts the
//! periods that passed meanwhile and arms the next one, so a fast timer nobody reads costs
//! nothing. Deadlines are kept on the CLOCK_MONOTONIC timeline; a CLOCK_REALTIME absolute time
//! is moved onto it when set (the wall clock is never set here, so TFD_TIMER_CANCEL_ON_SET is
//! accepted and never fires).

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use core::any::Any;

use coracle_abi::time::{Itimerspec, Timespec};
use coracle_vfs::file::events::*;
use coracle_vfs::types::oflags::{O_CLOEXEC, O_NONBLOCK};
use coracle_vfs::types::Result;
use coracle_vfs::{FileOps, WaitQueue, Wake, Waker};
use spin::Mutex;

use crate::sched::{Scheduler, TimerKey};
use crate::sys::anon::install_anon;
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Platform, SysResult};

const TFD_TIMER_ABSTIME: i32 = 1;
const TFD_TIMER_CANCEL_ON_SET: i32 = 2;

const CLOCK_REALTIME: i32 = 0;
const CLOCK_MONOTONIC: i32 = 1;
const CLOCK_BOOTTIME: i32 = 7;
const CLOCK_REALTIME_ALARM: i32 = 8;
const CLOCK_BOOTTIME_ALARM: i32 = 9;

#[derive(Default)]
struct State {
    /// The next expiry (CLOCK_MONOTONIC ns), `None` when disarmed.
    deadline: Option<u64>,
    /// The period, 0 for a one-shot timer.
    interval: u64,
    /// Expiries not read yet.
    ticks: u64,
    /// It expired and (if periodic) waits to be forwarded to the next period.
    expired: bool,
    /// Identifies the current arming; wakes of older ones are stale.
    token: u64,
    /// The pending entry in the scheduler's timer map.
    timer: Option<TimerKey>,
}

struct TimerFd {
    me: Weak<TimerFd>,
    sched: Weak<Scheduler>,
    realtime: bool,
    state: Mutex<State>,
    queue: WaitQueue,
}

impl TimerFd {
    fn now(&self) -> u64 {
        self.sched.upgrade().map_or(0, |s| s.now_ns())
    }

    /// Cancels the pending expiry, if any.
    fn cancel(&self, st: &mut State) {
        st.token += 1;
        if let (Some(key), Some(sched)) = (st.timer.take(), self.sched.upgrade()) {
            sched.remove_timer(key);
        }
    }

    /// Arms the expiry at `st.deadline`.
    fn arm(&self, st: &mut State) {
        self.cancel(st);
        if let (Some(deadline), Some(sched)) = (st.deadline, self.sched.upgrade()) {
            let me: Weak<dyn Waker> = self.me.clone();
            st.timer = Some(sched.add_timer(deadline, me, st.token));
        }
    }

    /// Linux's hrtimer_forward_now for a periodic timer that expired: moves the deadline past
    /// `now` and returns how many periods that skipped (0 if there was nothing to forward).
    fn forward(st: &mut State, now: u64) -> u64 {
        let Some(deadline) = st.deadline.filter(|_| st.expired && st.interval > 0) else {
            return 0;
        };
        let periods = now.max(deadline).saturating_sub(deadline) / st.interval + 1;
        st.deadline = Some(deadline.saturating_add(periods.saturating_mul(st.interval)));
        periods
    }

    /// What timerfd_gettime reports: (time left, interval), after forwarding a periodic timer
    /// that expired (counting the periods it missed, as a read would).
    fn current(&self, now: u64) -> (u64, u64) {
        let mut st = self.state.lock();
        let periods = Self::forward(&mut st, now);
        if periods > 0 {
            st.ticks += periods - 1;
            st.expired = false;
            self.arm(&mut st);
        }
        (
            st.deadline.map_or(0, |d| d.saturating_sub(now)),
            st.interval,
        )
    }

    /// Sets a new deadline (`None` disarms) and interval; returns the old (time left,
    /// interval).
    fn set(&self, deadline: Option<u64>, interval: u64, now: u64) -> (u64, u64) {
        let fired = {
            let mut st = self.state.lock();
            // The old value as Linux reports it: forwarded, without counting.
            Self::forward(&mut st, now);
            let old = (
                st.deadline.map_or(0, |d| d.saturating_sub(now)),
                st.interval,
            );
            self.cancel(&mut st);
            st.deadline = deadline;
            st.interval = interval;
            st.ticks = 0;
            st.expired = false;
            match deadline {
                // Already due: it expires now rather than at the next timer interrupt.
                Some(d) if d <= now => {
                    st.ticks = 1;
                    st.expired = true;
                    (old, true)
                }
                Some(_) => {
                    self.arm(&mut st);
                    (old, false)
                }
                None => (old, false),
            }
        };
        if fired.1 {
            self.queue.wake_all(u64::from(POLLIN));
        }
        fired.0
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        let st = self.state.get_mut();
        if let (Some(key), Some(sched)) = (st.timer.take(), self.sched.upgrade()) {
            sched.remove_timer(key);
        }
    }
}

impl Waker for TimerFd {
    fn wake(&self, token: u64, why: Wake) -> bool {
        if why != Wake::TimedOut {
            return false;
        }
        {
            let mut st = self.state.lock();
            if st.token != token || st.timer.is_none() {
                return false;
            }
            st.timer = None;
            st.ticks += 1;
            st.expired = true;
        }
        self.queue.wake_all(u64::from(POLLIN));
        true
    }

    fn is_waiting(&self, token: u64) -> bool {
        let st = self.state.lock();
        st.token == token && st.timer.is_some()
    }
}

/// The open file ops of a timerfd.
struct TimerOps(Arc<TimerFd>);

impl FileOps for TimerOps {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let t = &self.0;
        let now = t.now();
        let ticks = {
            let mut st = t.state.lock();
            if st.ticks == 0 {
                return Err(Errno::EAGAIN);
            }
            let periods = TimerFd::forward(&mut st, now);
            if periods > 0 {
                st.ticks += periods - 1;
                t.arm(&mut st);
            }
            st.expired = false;
            core::mem::take(&mut st.ticks)
        };
        buf[..8].copy_from_slice(&ticks.to_le_bytes());
        Ok(8)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
        if self.0.state.lock().ticks > 0 {
            POLLIN
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.0.queue)
    }

    fn record_io(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub(crate) fn timerfd_create(
    p: &mut Current,
    _k: &mut dyn Platform,
    clock: i32,
    flags: i32,
) -> SysResult {
    let realtime = match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_ALARM => true,
        CLOCK_MONOTONIC | CLOCK_BOOTTIME | CLOCK_BOOTTIME_ALARM => false,
        _ => return Err(Errno::EINVAL),
    };
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let timer = Arc::new_cyclic(|me| TimerFd {
        me: me.clone(),
        sched: Arc::downgrade(&p.sys.sched),
        realtime,
        state: Mutex::new(State::default()),
        queue: WaitQueue::new(),
    });
    install_anon(p, "timerfd", flags, Box::new(TimerOps(timer)))
}

/// The timerfd open at `fd`: `EBADF` if none, `EINVAL` if it is another kind of file.
fn timer_at(p: &Current, fd: i32) -> core::result::Result<Arc<TimerFd>, Errno> {
    let file = p.file(fd)?;
    file.ops()
        .as_any()
        .downcast_ref::<TimerOps>()
        .map(|t| t.0.clone())
        .ok_or(Errno::EINVAL)
}

fn write_itimerspec(
    k: &mut dyn Platform,
    addr: u64,
    (value, interval): (u64, u64),
) -> core::result::Result<(), Errno> {
    let its = Itimerspec {
        it_interval: Timespec::from_ns(interval),
        it_value: Timespec::from_ns(value),
    };
    write_struct(k, addr, &its)
}

pub(crate) fn timerfd_settime(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    flags: i32,
    new: u64,
    old: u64,
) -> SysResult {
    // Linux's order: copy the new value, check flags and ranges, then the fd.
    let its: Itimerspec = read_struct(k, new)?;
    let (Some(interval), Some(value)) = (its.it_interval.to_ns(), its.it_value.to_ns()) else {
        return Err(Errno::EINVAL);
    };
    if flags & !(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let timer = timer_at(p, fd)?;
    let now = timer.now();
    let deadline = match value {
        0 => None,
        v if flags & TFD_TIMER_ABSTIME == 0 => Some(now.saturating_add(v)),
        // An absolute wall-clock time, moved onto the monotonic timeline.
        v if timer.realtime => Some(v.saturating_sub(k.realtime_offset_ns())),
        v => Some(v),
    };
    let previous = timer.set(deadline, interval, now);
    if old != 0 {
        write_itimerspec(k, old, previous)?;
    }
    Ok(0)
}

pub(crate) fn timerfd_gettime(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    curr: u64,
) -> SysResult {
    let timer = timer_at(p, fd)?;
    let now = timer.now();
    write_itimerspec(k, curr, timer.current(now))?;
    Ok(0)
}
