//! A thread's user-mode registers, as the kernel saves them on every entry.

/// `UserRegs::trap` after a SYSCALL instruction (exceptions and interrupts use their vector).
pub const TRAP_SYSCALL: u64 = 0x100;

/// The general registers of a thread in user mode. The kernel's entry assembly stores into and
/// loads from this exact layout (fields up to `error_code`); keep it in sync.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub rsp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
    /// Why the kernel was entered: [`TRAP_SYSCALL`] or a vector.
    pub trap: u64,
    pub error_code: u64,
    /// The FS and GS bases (thread pointers); not touched by the entry assembly.
    pub fs_base: u64,
    pub gs_base: u64,
}

impl UserRegs {
    /// The system call number and its six arguments, as the SYSCALL ABI passes them.
    pub fn syscall_args(&self) -> (u64, [u64; 6]) {
        (
            self.rax,
            [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9],
        )
    }
}

/// Room for one thread's x87/SSE/AVX state in XSAVE layout (64-byte aligned, as XSAVE needs).
/// 4 KiB holds every component of current CPUs up to AVX-512.
#[repr(C, align(64))]
#[derive(Clone)]
pub struct FpArea {
    pub bytes: [u8; FP_AREA_SIZE],
}

pub const FP_AREA_SIZE: usize = 4096;

/// Where the legacy (FXSAVE) region keeps the x87 control word and MXCSR.
const FCW_OFFSET: usize = 0;
const MXCSR_OFFSET: usize = 24;

impl Default for FpArea {
    /// The state a new program starts with, as Linux sets it: x87 control word 0x37f (all
    /// exceptions masked, 64-bit precision), MXCSR 0x1f80, every register zero, and an XSAVE
    /// header that marks every other component as in its initial state.
    fn default() -> Self {
        let mut bytes = [0; FP_AREA_SIZE];
        bytes[FCW_OFFSET..FCW_OFFSET + 2].copy_from_slice(&0x037fu16.to_le_bytes());
        bytes[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        FpArea { bytes }
    }
}

impl core::fmt::Debug for FpArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FpArea").finish_non_exhaustive()
    }
}
