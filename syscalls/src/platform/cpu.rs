//! The calling thread's CPU state that lives outside the saved registers: FP/SIMD state, the
//! features a program is told about, and the TLS base registers.

use crate::regs::{FpArea, FpuLayout};

/// FP/SSE/AVX state and the CPU features of user mode.
pub trait Cpu {
    /// Saves the calling thread's FP/SSE/AVX registers into `area` (for a new thread, which
    /// starts with a copy).
    fn save_fpu(&mut self, area: &mut FpArea);
    /// Loads the calling thread's FP/SSE/AVX registers from `area` (a signal handler starts
    /// with the initial state; rt_sigreturn brings back the saved one). The area holds a valid
    /// image for [`Cpu::fpu_layout`]: the signal code checks what came from user memory.
    fn load_fpu(&mut self, area: &FpArea);
    /// How the CPU saves FP state (the shape of a signal frame's FP part).
    fn fpu_layout(&self) -> FpuLayout;
    /// AT_HWCAP and AT_HWCAP2 for a new program.
    fn hwcaps(&self) -> (u64, u64);
}

/// The user FS and GS bases (arch_prctl; FS holds the thread pointer).
pub trait UserTls {
    /// Sets the user FS base.
    fn set_fs_base(&mut self, base: u64);
    /// The user FS base.
    fn fs_base(&self) -> u64;
    /// Sets the user GS base.
    fn set_gs_base(&mut self, base: u64);
    /// The user GS base.
    fn gs_base(&self) -> u64;
}
