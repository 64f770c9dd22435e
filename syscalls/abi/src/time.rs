//! Time structs of the x86_64 ABI: `struct timespec`, `timeval`, `itimerspec`, `itimerval`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct timespec` (`__kernel_timespec`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}
const _: () = assert!(size_of::<Timespec>() == 16);

/// `struct timeval`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i64,
}
const _: () = assert!(size_of::<Timeval>() == 16);

/// `struct itimerspec` (timer_settime, timerfd_settime).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Itimerspec {
    pub it_interval: Timespec,
    pub it_value: Timespec,
}
const _: () = assert!(size_of::<Itimerspec>() == 32);

/// `struct itimerval` (setitimer).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Itimerval {
    pub it_interval: Timeval,
    pub it_value: Timeval,
}
const _: () = assert!(size_of::<Itimerval>() == 32);

/// Nanoseconds in a second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

impl Timespec {
    /// A duration or a time since an epoch, in nanoseconds.
    pub fn from_ns(ns: u64) -> Self {
        Timespec {
            tv_sec: (ns / NSEC_PER_SEC) as i64,
            tv_nsec: (ns % NSEC_PER_SEC) as i64,
        }
    }

    /// The value in nanoseconds (saturating), or `None` when it is not valid: negative
    /// seconds, or nanoseconds outside 0..1e9 (the EINVAL cases of the calls taking one).
    pub fn to_ns(&self) -> Option<u64> {
        if self.tv_sec < 0 || !(0..NSEC_PER_SEC as i64).contains(&self.tv_nsec) {
            return None;
        }
        Some(
            (self.tv_sec as u64)
                .saturating_mul(NSEC_PER_SEC)
                .saturating_add(self.tv_nsec as u64),
        )
    }
}

impl Timeval {
    /// A duration or a time since an epoch given in nanoseconds, truncated to microseconds.
    pub fn from_ns(ns: u64) -> Self {
        Timeval {
            tv_sec: (ns / NSEC_PER_SEC) as i64,
            tv_usec: ((ns % NSEC_PER_SEC) / 1000) as i64,
        }
    }
}
