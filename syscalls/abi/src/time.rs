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

impl Timespec {
    /// A valid timespec: seconds not negative, nanoseconds below one second.
    pub fn is_valid(&self) -> bool {
        self.tv_sec >= 0 && (0..1_000_000_000).contains(&self.tv_nsec)
    }
}
