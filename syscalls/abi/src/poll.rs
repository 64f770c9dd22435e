//! The readiness bits of poll(2), which epoll's EPOLLIN... share (`uapi/asm-generic/poll.h`).

pub const POLLIN: u32 = 0x001;
pub const POLLPRI: u32 = 0x002;
pub const POLLOUT: u32 = 0x004;
pub const POLLERR: u32 = 0x008;
pub const POLLHUP: u32 = 0x010;
pub const POLLNVAL: u32 = 0x020;
pub const POLLRDNORM: u32 = 0x040;
pub const POLLWRNORM: u32 = 0x100;
/// The peer shut its sending side (EPOLLRDHUP).
pub const POLLRDHUP: u32 = 0x2000;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct pollfd` (poll, ppoll).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct Pollfd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}
const _: () = assert!(size_of::<Pollfd>() == 8);

/// `struct epoll_event`: packed on x86_64 (`__EPOLL_PACKED`), so 12 bytes, not 16.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C, packed)]
pub struct EpollEvent {
    pub events: u32,
    pub data: u64,
}
const _: () = assert!(size_of::<EpollEvent>() == 12);
