//! Clocks and sleeping: clock_gettime and friends, nanosleep.

use coracle_vfs::Wake;

use coracle_abi::time::Timeval;

use crate::uaccess::{read_timespec, write_struct, write_timespec, write_u64};
use crate::{Current, Errno, Platform, SysResult};

const NS: u64 = 1_000_000_000;

/// The time of clock `clock` in ns, or `EINVAL` for clocks Linux does not have.
fn clock_now(p: &Current, k: &dyn Platform, clock: i32) -> Result<u64, Errno> {
    if let Some(c) = CpuClock::decode(p, clock, true)? {
        return Ok(c.ns(p));
    }
    match clock {
        0 | 5 | 8 | 11 => Ok(k.realtime_ns()), // REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
        // MONOTONIC, MONOTONIC_RAW, MONOTONIC_COARSE, BOOTTIME, BOOTTIME_ALARM.
        1 | 4 | 6 | 7 | 9 => Ok(k.monotonic_ns()),
        _ => Err(Errno::EINVAL),
    }
}

/// A CPU-time clock: CLOCK_PROCESS_CPUTIME_ID (2), CLOCK_THREAD_CPUTIME_ID (3), or one from
/// clock_getcpuclockid/pthread_getcpuclockid in Linux's encoding (posix-cpu-timers.h): a
/// negative id whose bits 0-1 say which time (PROF, VIRT, SCHED; 3 is a clock fd, not a CPU
/// clock), bit 2 that it is a thread's, and the rest `~pid` (0: the caller).
pub(crate) enum CpuClock {
    Process,
    Thread(u32),
}

/// CPUCLOCK_SCHED: the precise runtime (the others are tick-sampled on Linux).
const CPUCLOCK_SCHED: i32 = 2;

impl CpuClock {
    /// `Some` for a CPU clock, `None` for another clock, `EINVAL` for a CPU clock of a
    /// process or thread that is not there (or not reachable: a thread of another process, a
    /// process by a non-leader tid except the caller's own when reading the time, as Linux's
    /// `lookup_task`).
    pub(crate) fn decode(
        p: &Current,
        clock: i32,
        gettime: bool,
    ) -> Result<Option<CpuClock>, Errno> {
        match clock {
            2 => return Ok(Some(CpuClock::Process)),
            3 => return Ok(Some(CpuClock::Thread(p.tid))),
            c if c >= 0 => return Ok(None),
            _ => {}
        }
        let which = clock & 3;
        if which == 3 {
            // A dynamic clock from a file descriptor: no such fds here.
            return Err(Errno::EINVAL);
        }
        let thread = clock & 4 != 0;
        let pid = !(clock >> 3) as u32;
        let mine = p.process.threads.lock().contains(&pid);
        match (thread, pid) {
            (true, 0) => Ok(Some(CpuClock::Thread(p.tid))),
            (true, tid) if mine => Ok(Some(CpuClock::Thread(tid))),
            (false, 0) => Ok(Some(CpuClock::Process)),
            (false, pid) if pid == p.process.pid || (gettime && pid == p.tid) => {
                Ok(Some(CpuClock::Process))
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn ns(&self, p: &Current) -> u64 {
        match *self {
            CpuClock::Process => crate::sys::info::process_cpu_ns(p),
            CpuClock::Thread(tid) => crate::sys::info::thread_cpu_ns(p, tid).unwrap_or(0),
        }
    }
}

pub(crate) fn clock_gettime(
    p: &mut Current,
    k: &mut dyn Platform,
    clock: i32,
    tp: u64,
) -> SysResult {
    let now = clock_now(p, k, clock)?;
    write_timespec(k, tp, now).map(|_| 0)
}

pub(crate) fn clock_getres(
    p: &mut Current,
    k: &mut dyn Platform,
    clock: i32,
    res: u64,
) -> SysResult {
    let ns = if CpuClock::decode(p, clock, false)?.is_some() {
        // The SCHED clocks are precise; PROF and VIRT are sampled at HZ (250): 4 ms.
        if clock >= 0 || clock & 3 == CPUCLOCK_SCHED {
            1
        } else {
            4_000_000
        }
    } else {
        clock_now(p, k, clock)?;
        // The coarse clocks tick at HZ (250 on Debian kernels): 4 ms.
        if matches!(clock, 5 | 6) {
            4_000_000
        } else {
            1
        }
    };
    if res != 0 {
        write_timespec(k, res, ns)?;
    }
    Ok(0)
}

pub(crate) fn gettimeofday(_p: &mut Current, k: &mut dyn Platform, tv: u64, tz: u64) -> SysResult {
    if tv != 0 {
        let now = k.realtime_ns();
        write_struct(k, tv, &Timeval::from_ns(now))?;
    }
    if tz != 0 {
        k.write_user(tz, &[0u8; 8])?;
    }
    Ok(0)
}

pub(crate) fn time(_p: &mut Current, k: &mut dyn Platform, tloc: u64) -> SysResult {
    let secs = k.realtime_ns() / NS;
    if tloc != 0 {
        write_u64(k, tloc, secs)?;
    }
    Ok(secs)
}

/// Sleeps until `deadline` (CLOCK_MONOTONIC ns) through the scheduler. Interrupted by a signal,
/// it writes the time left to `rem` (if non-zero) and fails with EINTR.
fn sleep(p: &mut Current, k: &mut dyn Platform, deadline: u64, rem: u64) -> SysResult {
    let now = k.monotonic_ns();
    if p.resumed() == Some(Wake::Interrupted) {
        if rem != 0 {
            write_timespec(k, rem, deadline.saturating_sub(now))?;
        }
        return Err(Errno::EINTR);
    }
    if now >= deadline {
        return Ok(0);
    }
    p.wait_until(deadline);
    Err(Errno::WAIT)
}

pub(crate) fn nanosleep(p: &mut Current, k: &mut dyn Platform, req: u64, rem: u64) -> SysResult {
    let deadline = match p.deadline {
        Some(d) => d,
        None => {
            let d = read_timespec(k, req)?;
            k.monotonic_ns().saturating_add(d)
        }
    };
    p.deadline = Some(deadline);
    sleep(p, k, deadline, rem)
}

pub(crate) fn clock_nanosleep(
    p: &mut Current,
    k: &mut dyn Platform,
    clock: i32,
    flags: i32,
    req: u64,
    rem: u64,
) -> SysResult {
    const TIMER_ABSTIME: i32 = 1;
    if !matches!(clock, 0 | 1 | 7 | 11) {
        return Err(if matches!(clock, 2 | 3) {
            Errno::EOPNOTSUPP
        } else {
            Errno::EINVAL
        });
    }
    let absolute = flags & TIMER_ABSTIME != 0;
    let deadline = match p.deadline {
        Some(d) => d,
        None => {
            let t = read_timespec(k, req)?;
            if absolute {
                if matches!(clock, 0 | 11) {
                    // Absolute realtime: moved onto the monotonic timeline.
                    t.saturating_sub(k.realtime_offset_ns())
                } else {
                    t
                }
            } else {
                k.monotonic_ns().saturating_add(t)
            }
        }
    };
    p.deadline = Some(deadline);
    // An absolute sleep leaves `rem` alone.
    sleep(p, k, deadline, if absolute { 0 } else { rem })
}
