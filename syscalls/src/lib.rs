//! Coracle's Linux x86_64 system-call layer.
//!
//! The kernel decodes nothing itself: it hands the raw syscall number and six argument
//! registers to [`dispatch`], with a [`Platform`] that gives access to what only the kernel can
//! do (user memory, console, page mappings, clocks, the FS base). Everything Linux-specific —
//! argument checking, errno choice, struct layouts — lives here and is tested on the host
//! against fake platforms.
#![no_std]
#![forbid(unsafe_code)]
// Handlers take the process, the platform and up to six syscall arguments, as the C prototypes do.
#![allow(clippy::too_many_arguments)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod console;
pub mod creds;
pub mod current;
mod kmem;
pub mod locks;
pub mod mm;
mod names;
pub mod net;
pub mod platform;
pub mod process;
pub mod procfs;
pub mod ptrace;
pub mod regs;
pub mod rootfs;
pub mod sched;
pub mod setup;
pub mod signal;
mod sys;
mod table;
pub mod tty;
pub mod uaccess;
pub mod user_ptr;

#[cfg(test)]
mod tests;

pub use coracle_vfs::errno;
pub use coracle_vfs::Errno;
pub use current::Current;
pub use mm::VmaName;
pub use names::syscall_name;
pub use platform::{Perms, Platform, Stream};
pub use process::{Process, StartInfo, System, SystemInfo};
pub use ptrace::trace_wait;
pub use regs::{DebugRegs, FpArea, FpuLayout, UserRegs, RFLAGS_RF, TRAP_SIGRETURN, TRAP_SYSCALL};
pub use sys::process::exec::start_first;
pub use sys::process::exit::{exit_process, thread_gone};
pub use sys::process::image;
pub use sys::process::jobs::stop_wait;
pub use table::{dispatch, implemented, resume, Outcome, Syscall};

/// `SYS_*`: every Linux x86_64 system-call number by its Linux name (`SYS_openat`),
/// implemented (from the table) or not (from the list of names).
pub mod nr {
    pub use crate::names::nr::*;
    pub use crate::table::nr::*;
}

/// What a handler returns: the value for rax, or an error that becomes `-errno`.
pub type SysResult = Result<u64, Errno>;
