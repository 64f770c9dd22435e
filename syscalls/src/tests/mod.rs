//! Host tests of the syscall layer against a fake platform: Linux semantics without a VM.

mod cpu;
mod creds;
mod epoll;
mod evfds;
pub(crate) mod fake;
mod fifo;
mod fs;
mod futex_shared;
mod fuzz;
mod interp;
mod io;
mod io_wait;
mod misc;
mod mman;
mod mremap;
mod net;
mod pagecache;
mod platform;
mod process;
mod reclaim;
mod select;
mod signal;
mod threads;
mod truncate;
mod tty;
