//! Signal numbers of x86_64 (`uapi/asm-generic/signal.h`), the kernel's `struct sigaction`,
//! and the structs signals carry to programs: `siginfo_t` (`info`), the handler's stack frame
//! (`frame`), signalfd records and `struct sigevent`.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

mod frame;
mod info;

pub use frame::*;
pub use info::*;

pub const SIGHUP: u32 = 1;
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGABRT: u32 = 6;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGKILL: u32 = 9;
pub const SIGUSR1: u32 = 10;
pub const SIGSEGV: u32 = 11;
pub const SIGUSR2: u32 = 12;
pub const SIGPIPE: u32 = 13;
pub const SIGALRM: u32 = 14;
pub const SIGTERM: u32 = 15;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;
pub const SIGURG: u32 = 23;
pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
pub const SIGWINCH: u32 = 28;
pub const SIGIO: u32 = 29;
pub const SIGSYS: u32 = 31;
/// The first real-time signal as the kernel counts (glibc keeps 32 and 33 for itself).
pub const SIGRTMIN: u32 = 32;
/// The highest signal number.
pub const NSIG: u32 = 64;

/// `struct sigaction` as rt_sigaction(2) takes it from the kernel ABI (not a libc's, whose
/// mask is 128 bytes): handler, flags, restorer, then a 64-bit mask.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct KernelSigaction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}
const _: () = assert!(size_of::<KernelSigaction>() == 32);

/// `struct signalfd_siginfo` (`uapi/linux/signalfd.h`): what read(2) of a signalfd returns,
/// one 128-byte record per signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SignalfdSiginfo {
    pub ssi_signo: u32,
    pub ssi_errno: i32,
    pub ssi_code: i32,
    pub ssi_pid: u32,
    pub ssi_uid: u32,
    pub ssi_fd: i32,
    pub ssi_tid: u32,
    pub ssi_band: u32,
    pub ssi_overrun: u32,
    pub ssi_trapno: u32,
    pub ssi_status: i32,
    pub ssi_int: i32,
    pub ssi_ptr: u64,
    pub ssi_utime: u64,
    pub ssi_stime: u64,
    pub ssi_addr: u64,
    pub ssi_addr_lsb: u16,
    pub pad2: u16,
    pub ssi_syscall: i32,
    pub ssi_call_addr: u64,
    pub ssi_arch: u32,
    pub pad: [u8; 28],
}
const _: () = assert!(size_of::<SignalfdSiginfo>() == 128);
const _: () = assert!(core::mem::offset_of!(SignalfdSiginfo, ssi_ptr) == 48);
const _: () = assert!(core::mem::offset_of!(SignalfdSiginfo, ssi_syscall) == 84);
const _: () = assert!(core::mem::offset_of!(SignalfdSiginfo, ssi_arch) == 96);

impl Default for SignalfdSiginfo {
    fn default() -> Self {
        zerocopy::FromZeros::new_zeroed()
    }
}

/// `struct sigevent` (timer_create): the value, the signal, how to notify, and for
/// SIGEV_THREAD_ID the thread; the rest of the 64 bytes is a union the kernel does not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct Sigevent {
    pub sigev_value: u64,
    pub sigev_signo: u32,
    pub sigev_notify: i32,
    pub sigev_notify_thread_id: u32,
    pub pad: [u8; 44],
}
const _: () = assert!(size_of::<Sigevent>() == 64);
