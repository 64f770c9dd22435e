//! The ELF auxiliary vector: the `AT_*` keys (include/uapi/linux/auxvec.h) and the values
//! Coracle hands a new program, in the order Linux writes them.
//!
//! `stack.rs` places the vector on the initial stack; the kernel fills [`AuxValues`] from the
//! load plan and its own knowledge (vDSO address, signal frame size, CPU features).

use alloc::vec::Vec;

use crate::plan::LoadPlan;
use crate::PAGE_SIZE;

pub const AT_NULL: u64 = 0;
pub const AT_IGNORE: u64 = 1;
pub const AT_EXECFD: u64 = 2;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_NOTELF: u64 = 10;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_BASE_PLATFORM: u64 = 24;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_RSEQ_FEATURE_SIZE: u64 = 27;
pub const AT_RSEQ_ALIGN: u64 = 28;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;
pub const AT_MINSIGSTKSZ: u64 = 51;

/// Legacy x86 `MINSIGSTKSZ`, the default for [`AuxValues::minsigstksz`] until the kernel knows
/// its real signal frame size (Linux reports `get_sigframe_size()`, which grows with XSAVE).
pub const DEFAULT_MINSIGSTKSZ: u64 = 2048;

/// `sysconf(_SC_CLK_TCK)`: Linux's USER_HZ.
pub const CLOCK_TICKS: u64 = 100;

/// The values of the auxiliary vector that do not point into the initial stack (AT_RANDOM,
/// AT_EXECFN and AT_PLATFORM do; [`crate::build_stack`] fills those in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuxValues {
    /// Address of the vDSO's ELF header; `None` leaves AT_SYSINFO_EHDR out, as Linux does with
    /// `vdso=0`, and libc then makes real system calls.
    pub sysinfo_ehdr: Option<u64>,
    pub minsigstksz: u64,
    pub hwcap: u64,
    pub pagesz: u64,
    pub clktck: u64,
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    /// Load address of the interpreter: 0 for a static program.
    pub base: u64,
    pub flags: u64,
    pub entry: u64,
    pub uid: u64,
    pub euid: u64,
    pub gid: u64,
    pub egid: u64,
    pub secure: bool,
    pub hwcap2: u64,
}

impl AuxValues {
    /// Values for the static program `plan` describes, run by root, without a vDSO, with no
    /// CPU feature bits, and with the legacy minimum signal stack size.
    pub fn for_plan(plan: &LoadPlan) -> Self {
        Self {
            sysinfo_ehdr: None,
            minsigstksz: DEFAULT_MINSIGSTKSZ,
            hwcap: 0,
            pagesz: PAGE_SIZE,
            clktck: CLOCK_TICKS,
            phdr: plan.phdr,
            phent: plan.phent,
            phnum: plan.phnum,
            base: 0,
            flags: 0,
            entry: plan.entry,
            uid: 0,
            euid: 0,
            gid: 0,
            egid: 0,
            secure: false,
            hwcap2: 0,
        }
    }
}

/// Addresses of the bytes [`crate::build_stack`] puts on the stack for the vector to point at.
pub(crate) struct StackAddrs {
    pub(crate) random: u64,
    pub(crate) execfn: u64,
    pub(crate) platform: u64,
}

/// Number of `(key, value)` pairs [`entries`] returns, AT_NULL included.
pub(crate) fn entry_count(v: &AuxValues) -> u64 {
    20 + u64::from(v.sysinfo_ehdr.is_some())
}

/// The `(key, value)` pairs in the order of Linux 6.1's `create_elf_tables`: ARCH_DLINFO first
/// (AT_SYSINFO_EHDR, AT_MINSIGSTKSZ on x86_64), AT_PLATFORM last. Linux 6.3+ adds AT_RSEQ_*
/// after AT_PLATFORM (and AT_EXECFD); Coracle does not emit them, nor AT_BASE_PLATFORM, which
/// x86 never has.
pub(crate) fn entries(v: &AuxValues, at: &StackAddrs) -> Vec<(u64, u64)> {
    let mut e = Vec::with_capacity(21);
    if let Some(vdso) = v.sysinfo_ehdr {
        e.push((AT_SYSINFO_EHDR, vdso));
    }
    e.extend_from_slice(&[
        (AT_MINSIGSTKSZ, v.minsigstksz),
        (AT_HWCAP, v.hwcap),
        (AT_PAGESZ, v.pagesz),
        (AT_CLKTCK, v.clktck),
        (AT_PHDR, v.phdr),
        (AT_PHENT, v.phent),
        (AT_PHNUM, v.phnum),
        (AT_BASE, v.base),
        (AT_FLAGS, v.flags),
        (AT_ENTRY, v.entry),
        (AT_UID, v.uid),
        (AT_EUID, v.euid),
        (AT_GID, v.gid),
        (AT_EGID, v.egid),
        (AT_SECURE, u64::from(v.secure)),
        (AT_RANDOM, at.random),
        (AT_HWCAP2, v.hwcap2),
        (AT_EXECFN, at.execfn),
        (AT_PLATFORM, at.platform),
        (AT_NULL, 0),
    ]);
    e
}
