//! What a signal carries: [`SigInfo`] over the ABI's `struct kernel_siginfo`, its
//! constructors for each kind of sender, and how Linux reads its union (`siginfo_layout`).
//!
//! The layout itself (`KernelSiginfo`, `UserSiginfo`, the `Si*` members of the union, the
//! si_code values) is in `coracle_abi::signal`.

use super::*;

/// A `siginfo_t` as Linux keeps it: the first 48 bytes (signo, errno, code and the union);
/// the user's 128-byte copy has zeros after them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    raw: KernelSiginfo,
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
    /// The size of `siginfo_t`.
    pub const SIZE: usize = size_of::<UserSiginfo>();

    /// A siginfo with only signo and code set.
    pub fn new(signo: u32, code: i32) -> Self {
        SigInfo {
            raw: KernelSiginfo {
                si_signo: signo,
                si_code: code,
                ..KernelSiginfo::default()
            },
        }
    }

    /// `new` with the union's member `fields`.
    fn with<T: SiFields>(signo: u32, code: i32, fields: &T) -> Self {
        let mut s = Self::new(signo, code);
        s.set_fields(fields);
        s
    }

    /// From a process (kill, tkill, SIGPIPE): si_pid and si_uid of the sender.
    pub fn from_process(signo: u32, code: i32, pid: u32, uid: u32) -> Self {
        Self::with(
            signo,
            code,
            &SiKill {
                si_pid: pid,
                si_uid: uid,
            },
        )
    }

    /// From a fault: si_addr.
    pub fn fault(signo: u32, code: i32, addr: u64) -> Self {
        Self::with(signo, code, &SiFault { si_addr: addr })
    }

    /// From a POSIX timer: si_tid (the timer id), si_overrun, si_value.
    pub fn timer(signo: u32, id: i32, value: u64) -> Self {
        let fields = SiTimer {
            si_tid: id,
            si_value: value,
            ..SiTimer::default()
        };
        Self::with(signo, SI_TIMER, &fields)
    }

    /// From a POSIX message queue's notification (SI_MESGQ): the sender's pid and uid, and
    /// the registration's si_value.
    pub fn mesgq(signo: u32, pid: u32, uid: u32, value: u64) -> Self {
        let fields = SiRt {
            si_pid: pid,
            si_uid: uid,
            si_value: value,
        };
        Self::with(signo, SI_MESGQ, &fields)
    }

    /// A siginfo from user memory (rt_sigqueueinfo), with the signal number set to `signo`.
    /// Linux only keeps the first 48 bytes; when it does not know the layout for the code,
    /// the rest must be zero (E2BIG).
    pub fn from_user(signo: u32, user: &UserSiginfo) -> Result<Self, Errno> {
        let mut raw = user.head;
        raw.si_signo = signo;
        if !known_layout(signo, raw.si_code) && user.tail.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
        Ok(SigInfo { raw })
    }

    pub fn signo(&self) -> u32 {
        self.raw.si_signo
    }

    pub fn code(&self) -> i32 {
        self.raw.si_code
    }

    pub fn errno(&self) -> i32 {
        self.raw.si_errno
    }

    /// The union read as the member `T` (pick it by [`layout`]).
    pub fn fields<T: SiFields>(&self) -> T {
        self.raw.fields()
    }

    /// Writes the union's member `T`; the union's bytes after it stay as they are.
    pub fn set_fields<T: SiFields>(&mut self, fields: &T) {
        self.raw.set_fields(fields);
    }

    /// The 128 bytes a handler or sigtimedwait sees.
    pub fn to_user(&self) -> UserSiginfo {
        UserSiginfo {
            head: self.raw,
            ..UserSiginfo::default()
        }
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
