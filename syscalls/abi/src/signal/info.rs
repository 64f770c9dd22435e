//! `siginfo_t` (`uapi/asm-generic/siginfo.h`): what a signal carries, the si_code values,
//! and the per-kind members of its `union __sifields`.
//!
//! The kernel keeps `struct kernel_siginfo` (48 bytes: signo, errno, code and the 32-byte
//! union); the 128-byte `siginfo_t` programs see is that plus zeros. The union is kept as
//! bytes and read or written as one of the `Si*` structs, as `siginfo_layout` picks it.

use core::mem::offset_of;

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_MESGQ: i32 = -3;
pub const SI_SIGIO: i32 = -5;
pub const SI_TKILL: i32 = -6;
pub const SI_DETHREAD: i32 = -7;
pub const SI_ASYNCNL: i32 = -60;

pub const ILL_ILLOPN: i32 = 2;
pub const FPE_INTDIV: i32 = 1;
pub const FPE_FLTDIV: i32 = 3;
pub const FPE_FLTOVF: i32 = 4;
pub const FPE_FLTUND: i32 = 5;
pub const FPE_FLTRES: i32 = 6;
pub const FPE_FLTINV: i32 = 7;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;
pub const SEGV_CPERR: i32 = 10;
pub const BUS_ADRALN: i32 = 1;
pub const BUS_ADRERR: i32 = 2;
pub const TRAP_BRKPT: i32 = 1;

/// The size of `union __sifields` in the kernel's siginfo (its largest member, `_sigchld`).
pub const SI_FIELDS: usize = 32;

/// `struct kernel_siginfo`: the part of a siginfo the kernel keeps and queues.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct KernelSiginfo {
    pub si_signo: u32,
    pub si_errno: i32,
    pub si_code: i32,
    /// The union is 8-aligned: these 4 bytes are padding.
    pub pad: u32,
    /// `union __sifields`, read with [`KernelSiginfo::fields`].
    pub sifields: [u8; SI_FIELDS],
}
const _: () = assert!(size_of::<KernelSiginfo>() == 48);
const _: () = assert!(offset_of!(KernelSiginfo, si_code) == 8);
const _: () = assert!(offset_of!(KernelSiginfo, sifields) == 16);

/// `siginfo_t` as a handler, sigtimedwait, waitid and rt_sigqueueinfo see it: 128 bytes,
/// zeros after what the kernel keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct UserSiginfo {
    pub head: KernelSiginfo,
    pub tail: [u8; 128 - 48],
}
const _: () = assert!(size_of::<UserSiginfo>() == 128);

impl Default for UserSiginfo {
    fn default() -> Self {
        FromZeros::new_zeroed()
    }
}

/// A member of `union __sifields`: at most [`SI_FIELDS`] bytes, at offset 16 of a siginfo.
pub trait SiFields: FromBytes + IntoBytes + Immutable {}

impl KernelSiginfo {
    /// The union read as `T` (the caller picks the member by the siginfo's layout).
    pub fn fields<T: SiFields>(&self) -> T {
        const { assert!(size_of::<T>() <= SI_FIELDS) };
        let mut v = T::new_zeroed();
        v.as_mut_bytes()
            .copy_from_slice(&self.sifields[..size_of::<T>()]);
        v
    }

    /// Writes `v` at the start of the union; the bytes after it are left as they are.
    pub fn set_fields<T: SiFields>(&mut self, v: &T) {
        const { assert!(size_of::<T>() <= SI_FIELDS) };
        self.sifields[..size_of::<T>()].copy_from_slice(v.as_bytes());
    }
}

/// `_kill`: kill(2), tkill(2), and kernel-sent signals that name a sender.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiKill {
    pub si_pid: u32,
    pub si_uid: u32,
}
impl SiFields for SiKill {}
const _: () = assert!(offset_of!(SiKill, si_uid) == 4);

/// `_timer`: POSIX timers.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiTimer {
    pub si_tid: i32,
    pub si_overrun: i32,
    pub si_value: u64,
    /// `_sys_private`: the kernel's own, not passed to the program.
    pub sys_private: i32,
    pub pad: u32,
}
impl SiFields for SiTimer {}
const _: () = assert!(offset_of!(SiTimer, si_overrun) == 4);
const _: () = assert!(offset_of!(SiTimer, si_value) == 8);

/// `_rt`: sigqueue(3) and other queued signals from a process.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiRt {
    pub si_pid: u32,
    pub si_uid: u32,
    pub si_value: u64,
}
impl SiFields for SiRt {}
const _: () = assert!(offset_of!(SiRt, si_value) == 8);

/// `_sigchld`: a child's state change; the times are in clock ticks.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiChld {
    pub si_pid: u32,
    pub si_uid: u32,
    pub si_status: i32,
    pub pad: u32,
    pub si_utime: u64,
    pub si_stime: u64,
}
impl SiFields for SiChld {}
const _: () = assert!(size_of::<SiChld>() == SI_FIELDS);
const _: () = assert!(offset_of!(SiChld, si_status) == 8);
const _: () = assert!(offset_of!(SiChld, si_utime) == 16);
const _: () = assert!(offset_of!(SiChld, si_stime) == 24);

/// `_sigfault`: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP; the members after `si_addr`
/// (`si_addr_lsb`, bounds, protection keys) are not reported.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiFault {
    pub si_addr: u64,
}
impl SiFields for SiFault {}

/// `_sigpoll`: SIGIO/SIGPOLL.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiPoll {
    pub si_band: i64,
    pub si_fd: i32,
    pub pad: u32,
}
impl SiFields for SiPoll {}
const _: () = assert!(offset_of!(SiPoll, si_fd) == 8);

/// `_sigsys`: seccomp and syscall user dispatch.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SiSys {
    pub si_call_addr: u64,
    pub si_syscall: i32,
    pub si_arch: u32,
}
impl SiFields for SiSys {}
const _: () = assert!(offset_of!(SiSys, si_syscall) == 8);
const _: () = assert!(offset_of!(SiSys, si_arch) == 12);
