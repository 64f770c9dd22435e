//! A thread's user-mode registers, as the kernel saves them on every entry.

/// `UserRegs::trap` after a SYSCALL instruction (exceptions and interrupts use their vector).
pub const TRAP_SYSCALL: u64 = 0x100;
/// `UserRegs::trap` once rt_sigreturn has replaced every register: not a system call return,
/// so the way back restores rcx and r11 too (IRET, not SYSRET) and nothing restarts.
pub const TRAP_SIGRETURN: u64 = 0x101;

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
        let mut area = FpArea {
            bytes: [0; FP_AREA_SIZE],
        };
        area.reset();
        area
    }
}

impl FpArea {
    /// Puts the area back to the initial state of [`FpArea::default`] (what a signal handler
    /// starts with), in place.
    pub fn reset(&mut self) {
        self.bytes.fill(0);
        self.bytes[FCW_OFFSET..FCW_OFFSET + 2].copy_from_slice(&0x037fu16.to_le_bytes());
        self.bytes[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
    }
}

/// How this machine saves FP state, which is what a signal frame's FP part looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FpuLayout {
    /// Bytes XSAVE writes for the enabled components (CPUID 0xd.0 EBX); 0 when the CPU saves
    /// with FXSAVE only (512 bytes, no extended state).
    pub xsave_size: u32,
    /// The enabled components (XCR0); 0 with FXSAVE.
    pub xfeatures: u64,
    /// The MXCSR bits the CPU accepts (MXCSR_MASK); loading others faults.
    pub mxcsr_mask: u32,
}

impl FpuLayout {
    /// A CPU without XSAVE.
    pub const FXSAVE: FpuLayout = FpuLayout {
        xsave_size: 0,
        xfeatures: 0,
        mxcsr_mask: 0xffbf,
    };
}

impl core::fmt::Debug for FpArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FpArea").finish_non_exhaustive()
    }
}

/// DR6's single-step bit (BS).
pub const DR_STEP: u64 = 0x4000;
/// DR7's enable bits (L0, G0 ... L3, G3).
const DR7_ENABLES: u64 = 0xff;
/// RFLAGS' resume flag: the instruction breakpoint at the return address does not fire again.
pub const RFLAGS_RF: u64 = 0x1_0000;

/// A thread's hardware breakpoints, as a tracer set them through the debug registers of
/// `struct user` (DR0-DR3 and DR7, checked by `crate::ptrace`), and the debug status ptrace
/// shows for its last debug exception (Linux's `virtual_dr6`: BS and the breakpoints that
/// fired, active-high). The kernel arms them only while the thread runs in user mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebugRegs {
    pub addr: [u64; 4],
    pub dr7: u64,
    pub status: u64,
    /// The si_code of the SIGTRAP for the last debug exception.
    pub trap_code: i32,
}

impl Default for DebugRegs {
    fn default() -> Self {
        DebugRegs {
            addr: [0; 4],
            dr7: 0,
            status: 0,
            // int1 (icebp) without a status: TRAP_BRKPT.
            trap_code: 1,
        }
    }
}

impl DebugRegs {
    /// Whether any breakpoint is enabled (the kernel loads the registers then).
    pub fn armed(&self) -> bool {
        self.dr7 & DR7_ENABLES != 0
    }

    /// A debug exception from user mode with hardware status `dr6`: the status ptrace shows
    /// becomes BS and the enabled breakpoints that fired (exc_debug_user, ptrace_triggered),
    /// and the SIGTRAP's code follows (get_si_code). True when an instruction breakpoint
    /// fired, which the return must step over with RF set, as Linux's hw_breakpoint_handler
    /// does.
    pub fn note_trap(&mut self, dr6: u64) -> bool {
        const TRAP_BRKPT: i32 = 1;
        const TRAP_TRACE: i32 = 2;
        const TRAP_HWBKPT: i32 = 4;
        let mut exec = false;
        self.status = dr6 & DR_STEP;
        for n in 0..4 {
            let enabled = self.dr7 & (3 << (2 * n)) != 0;
            if enabled && dr6 & (1 << n) != 0 {
                self.status |= 1 << n;
                exec |= (self.dr7 >> (16 + 4 * n)) & 3 == 0;
            }
        }
        self.trap_code = if self.status & DR_STEP != 0 {
            TRAP_TRACE
        } else if self.status & 0xf != 0 {
            TRAP_HWBKPT
        } else {
            TRAP_BRKPT
        };
        exec
    }
}
