//! The handlers, one module per syscall family, named after the Linux calls.

pub(crate) mod anon;
pub(crate) mod creds;
pub(crate) mod epoll;
pub(crate) mod eventfd;
pub(crate) mod fifo;
pub(crate) mod fs;
pub(crate) mod futex;
pub(crate) mod info;
pub(crate) mod io;
pub(crate) mod ioprio;
pub(crate) mod ipc;
pub(crate) mod keys;
pub(crate) mod madvise;
pub(crate) mod mman;
pub(crate) mod mremap;
pub(crate) mod net;
pub(crate) mod process;
pub(crate) mod process_vm;
pub(crate) use crate::ptrace;
pub(crate) mod sched;
pub(crate) mod signal;
pub(crate) mod stat;
pub(crate) mod thread;
pub(crate) mod time;
pub(crate) mod timerfd;
