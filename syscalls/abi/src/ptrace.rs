//! ptrace's user-visible structs: `struct user_regs_struct` (PTRACE_GETREGS, the NT_PRSTATUS
//! register set, the start of `struct user` that PTRACE_PEEKUSER reads) and the offsets of
//! `struct user` (x86_64, `<sys/user.h>`).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct user_regs_struct` (x86_64), in the kernel's order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct UserRegsStruct {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}
const _: () = assert!(size_of::<UserRegsStruct>() == 216);

/// The size of `struct user_fpregs_struct` (the FXSAVE image).
pub const USER_FPREGS_SIZE: usize = 512;
/// `offsetof(struct user, u_debugreg)`: the eight debug registers PTRACE_PEEKUSER reads.
pub const USER_DEBUGREG_OFFSET: u64 = 848;
/// `sizeof(struct user)`.
pub const USER_SIZE: u64 = 912;

/// `struct ptrace_syscall_info` (PTRACE_GET_SYSCALL_INFO); the union's largest member
/// (seccomp: nr, six arguments, ret_data) makes it 88 bytes.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
#[repr(C)]
pub struct PtraceSyscallInfo {
    pub op: u8,
    pub pad: [u8; 3],
    pub arch: u32,
    pub instruction_pointer: u64,
    pub stack_pointer: u64,
    /// entry: nr, args[6]; exit: rval (i64), is_error (u8) in the first two words.
    pub data: [u64; 8],
}
const _: () = assert!(size_of::<PtraceSyscallInfo>() == 88);
