//! `siginfo_t`: what a signal carries, its si_code values, and how Linux reads its union.

use super::*;

pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_SIGIO: i32 = -5;
pub const SI_TKILL: i32 = -6;
const SI_DETHREAD: i32 = -7;
const SI_ASYNCNL: i32 = -60;

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

/// A `siginfo_t` as Linux keeps it: the first 48 bytes (signo, errno, code and the union);
/// the user's 128-byte copy has zeros after them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    bytes: [u8; SigInfo::KERNEL_SIZE],
}

impl core::fmt::Debug for SigInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigInfo")
            .field("signo", &self.signo())
            .field("code", &self.code())
            .finish_non_exhaustive()
    }
}

impl SigInfo {
    const KERNEL_SIZE: usize = 48;
    /// The size of `siginfo_t`.
    pub const SIZE: usize = 128;

    /// A siginfo with only signo and code set.
    pub fn new(signo: u32, code: i32) -> Self {
        let mut s = SigInfo {
            bytes: [0; Self::KERNEL_SIZE],
        };
        s.set_u32(0, signo);
        s.set_u32(8, code as u32);
        s
    }

    /// From a process (kill, tkill, SIGPIPE): si_pid and si_uid of the sender.
    pub fn from_process(signo: u32, code: i32, pid: u32, uid: u32) -> Self {
        let mut s = Self::new(signo, code);
        s.set_u32(16, pid);
        s.set_u32(20, uid);
        s
    }

    /// From a fault: si_addr.
    pub fn fault(signo: u32, code: i32, addr: u64) -> Self {
        let mut s = Self::new(signo, code);
        s.set_u64(16, addr);
        s
    }

    /// From a POSIX timer: si_tid (the timer id), si_overrun, si_value.
    pub fn timer(signo: u32, id: i32, value: u64) -> Self {
        let mut s = Self::new(signo, SI_TIMER);
        s.set_u32(16, id as u32);
        s.set_u64(24, value);
        s
    }

    /// A siginfo from user memory (rt_sigqueueinfo), with the signal number set to `signo`.
    /// Linux only keeps the first 48 bytes; when it does not know the layout for the code,
    /// the rest must be zero (E2BIG).
    pub fn from_user(signo: u32, raw: &[u8; Self::SIZE]) -> Result<Self, Errno> {
        let mut s = SigInfo {
            bytes: [0; Self::KERNEL_SIZE],
        };
        s.bytes.copy_from_slice(&raw[..Self::KERNEL_SIZE]);
        s.set_u32(0, signo);
        if !known_layout(signo, s.code()) && raw[Self::KERNEL_SIZE..].iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
        Ok(s)
    }

    pub fn signo(&self) -> u32 {
        self.u32_at(0)
    }

    pub fn code(&self) -> i32 {
        self.u32_at(8) as i32
    }

    /// si_addr (faults) or si_pid/si_uid as one word.
    pub fn addr(&self) -> u64 {
        self.u64_at(16)
    }

    /// The 128 bytes a handler or sigtimedwait sees.
    pub fn to_user(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[..Self::KERNEL_SIZE].copy_from_slice(&self.bytes);
        out
    }

    pub(crate) fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes([
            self.bytes[off],
            self.bytes[off + 1],
            self.bytes[off + 2],
            self.bytes[off + 3],
        ])
    }

    pub(crate) fn u64_at(&self, off: usize) -> u64 {
        u64::from(self.u32_at(off)) | (u64::from(self.u32_at(off + 4)) << 32)
    }

    pub(crate) fn set_u32(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn set_u64(&mut self, off: usize, v: u64) {
        self.bytes[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }
}

/// The number of si_code values each fault-like signal defines (NSIGILL, NSIGFPE, ...).
fn code_limit(sig: u32) -> Option<i32> {
    Some(match sig {
        SIGILL => 11,
        SIGFPE => 15,
        SIGSEGV => 10,
        SIGBUS => 5,
        SIGTRAP => 6,
        SIGCHLD => 6,
        SIGIO => 6,
        SIGSYS => 2,
        _ => return None,
    })
}

/// Linux's known_siginfo_layout.
fn known_layout(sig: u32, code: i32) -> bool {
    const NSIGPOLL: i32 = 6;
    if code == SI_KERNEL {
        true
    } else if code > SI_USER {
        code <= code_limit(sig).unwrap_or(NSIGPOLL)
    } else {
        code >= SI_DETHREAD || code == SI_ASYNCNL
    }
}

/// The layout of a siginfo's union, as Linux's siginfo_layout decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Kill,
    Timer,
    Poll,
    Fault,
    Chld,
    Rt,
    Sys,
}

pub(crate) fn layout(sig: u32, code: i32) -> Layout {
    if code > SI_USER && code < SI_KERNEL {
        match code_limit(sig) {
            Some(limit) if code <= limit => match sig {
                SIGCHLD => Layout::Chld,
                SIGIO => Layout::Poll,
                SIGSYS => Layout::Sys,
                _ => Layout::Fault,
            },
            _ if code <= 6 => Layout::Poll,
            _ => Layout::Kill,
        }
    } else if code == SI_TIMER {
        Layout::Timer
    } else if code == SI_SIGIO {
        Layout::Poll
    } else if code < 0 {
        Layout::Rt
    } else {
        Layout::Kill
    }
}
