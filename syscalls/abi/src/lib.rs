//! The Linux x86_64 ABI as Coracle's portable crates share it: errno, signal numbers, the
//! page size, poll bits, the structs the kernel exchanges with programs, and wait queues.
//!
//! Every struct the kernel writes to or reads from user memory is declared here once,
//! `#[repr(C)]`, with `zerocopy` derives for safe byte conversion and its size checked at
//! compile time against the Linux x86_64 ABI; a libc's larger struct in its place would
//! overrun the caller's buffer. `vfs`, `net` and `syscalls` depend on this crate; it depends
//! on none of them, so sockets need not depend on the filesystem's internals.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod errno;
pub mod exec_wire;
pub mod fcntl;
pub mod ipc;
pub mod mm;
pub mod netlink;
pub mod peer_hosts;
pub mod poll;
pub mod ptrace;
pub mod resource;
pub mod sched;
pub mod signal;
pub mod socket;
pub mod stat;
pub mod termios;
pub mod time;
pub mod wait;

pub use errno::Errno;
pub use mm::PAGE_SIZE;
pub use wait::{WaitQueue, Waiter, Wake, Waker};
pub use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes};
