//! The x86_64 signal frame a handler finds on its stack (`arch/x86/include/asm/sigframe.h`,
//! `uapi/asm/sigcontext.h`, `uapi/asm-generic/ucontext.h`): `struct rt_sigframe`, its
//! `struct ucontext` with the interrupted registers as `struct sigcontext`, `stack_t`, and
//! the software-reserved header of the FP area that tells libcs an XSAVE image follows.

use core::mem::offset_of;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::info::UserSiginfo;

/// `uc_flags`: the FP state is an XSAVE image (with `_fpx_sw_bytes` and MAGIC2).
pub const UC_FP_XSTATE: u64 = 0x1;
/// `uc_flags`: `sigcontext.ss` holds the interrupted stack segment.
pub const UC_SIGCONTEXT_SS: u64 = 0x2;
/// `uc_flags`: sigreturn restores `ss` as saved.
pub const UC_STRICT_RESTORE_SS: u64 = 0x4;

/// `FP_XSTATE_MAGIC1`, in `_fpx_sw_bytes.magic1` of an XSAVE frame.
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// `FP_XSTATE_MAGIC2`, the 4 bytes right after an XSAVE image in a frame.
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;

/// `stack_t` (`uapi/asm/signal.h`): an alternate signal stack, as sigaltstack(2) and
/// `uc_stack` hold it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct StackT {
    pub ss_sp: u64,
    pub ss_flags: u32,
    pub pad: u32,
    pub ss_size: u64,
}
const _: () = assert!(size_of::<StackT>() == 24);
const _: () = assert!(offset_of!(StackT, ss_flags) == 8);
const _: () = assert!(offset_of!(StackT, ss_size) == 16);

/// The 64-bit `struct sigcontext`: the interrupted registers in the order glibc's
/// `mcontext_t.gregs` indexes them (REG_R8 = 0 ... REG_CR2 = 22), then the FP state's address.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct SigContext {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub gs: u16,
    pub fs: u16,
    /// The stack segment with UC_SIGCONTEXT_SS (`__pad0` to older programs).
    pub ss: u16,
    pub err: u64,
    pub trapno: u64,
    pub oldmask: u64,
    pub cr2: u64,
    /// The user address of the FP state (`struct _fpstate *`); 0 for none.
    pub fpstate: u64,
    pub reserved1: [u64; 8],
}
const _: () = assert!(size_of::<SigContext>() == 256);
const _: () = assert!(offset_of!(SigContext, rdi) == 64);
const _: () = assert!(offset_of!(SigContext, rip) == 128);
const _: () = assert!(offset_of!(SigContext, eflags) == 136);
const _: () = assert!(offset_of!(SigContext, cs) == 144);
const _: () = assert!(offset_of!(SigContext, ss) == 150);
const _: () = assert!(offset_of!(SigContext, err) == 152);
const _: () = assert!(offset_of!(SigContext, cr2) == 176);
const _: () = assert!(offset_of!(SigContext, fpstate) == 184);

/// `struct ucontext` as the kernel lays it out (not glibc's `ucontext_t`, which goes on with
/// a 128-byte mask and an FP copy): flags, link, stack, registers, then a 64-bit mask.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UContext {
    pub uc_flags: u64,
    pub uc_link: u64,
    pub uc_stack: StackT,
    pub uc_mcontext: SigContext,
    pub uc_sigmask: u64,
}
const _: () = assert!(size_of::<UContext>() == 304);
const _: () = assert!(offset_of!(UContext, uc_stack) == 16);
const _: () = assert!(offset_of!(UContext, uc_mcontext) == 40);
const _: () = assert!(offset_of!(UContext, uc_sigmask) == 296);

/// `struct rt_sigframe` (x86_64): where a handler's stack pointer points on entry. `pretcode`
/// is the return address (sa_restorer); `info` is written only for SA_SIGINFO handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct RtSigframe {
    pub pretcode: u64,
    pub uc: UContext,
    pub info: UserSiginfo,
}
const _: () = assert!(size_of::<RtSigframe>() == 440);
const _: () = assert!(offset_of!(RtSigframe, uc) == 8);
const _: () = assert!(offset_of!(RtSigframe, info) == 312);

/// `struct _fpx_sw_bytes`: the software-reserved last 48 bytes of the FXSAVE image in a
/// frame, which say whether (MAGIC1) and how big an XSAVE image it is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct FpxSwBytes {
    pub magic1: u32,
    /// The whole FP part: the XSAVE image plus MAGIC2.
    pub extended_size: u32,
    pub xfeatures: u64,
    /// The XSAVE image without MAGIC2.
    pub xstate_size: u32,
    pub padding: [u32; 7],
}
const _: () = assert!(size_of::<FpxSwBytes>() == 48);
const _: () = assert!(offset_of!(FpxSwBytes, xstate_size) == 16);

/// `struct _fpstate_64`: the 512-byte legacy (FXSAVE) image every frame's FP part starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct FpState64 {
    pub cwd: u16,
    pub swd: u16,
    pub twd: u16,
    pub fop: u16,
    pub rip: u64,
    pub rdp: u64,
    pub mxcsr: u32,
    pub mxcsr_mask: u32,
    pub st_space: [u32; 32],
    pub xmm_space: [u32; 64],
    pub reserved2: [u32; 12],
    /// `reserved3` to the CPU; the kernel's marker for an XSAVE image.
    pub sw_reserved: FpxSwBytes,
}
const _: () = assert!(size_of::<FpState64>() == 512);
const _: () = assert!(offset_of!(FpState64, mxcsr) == 24);
const _: () = assert!(offset_of!(FpState64, sw_reserved) == 464);

/// `struct _header`: the XSAVE header right after the legacy image; `xfeatures` (XSTATE_BV)
/// says which components the image holds, and the rest must be zero for XRSTOR.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct XStateHeader {
    pub xfeatures: u64,
    pub reserved1: [u64; 2],
    pub reserved2: [u64; 5],
}
const _: () = assert!(size_of::<XStateHeader>() == 64);

/// The start of an XSAVE image (`struct _xstate` without the extended components): the
/// legacy image and the header, the least an image with valid markers holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct XStateHead {
    pub fpstate: FpState64,
    pub header: XStateHeader,
}
const _: () = assert!(size_of::<XStateHead>() == 576);
const _: () = assert!(offset_of!(XStateHead, header) == 512);
