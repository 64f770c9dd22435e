//! Saving and restoring a thread's x87/SSE/AVX registers when a CPU switches threads.
//!
//! The kernel is built without SSE, so these registers only ever hold user state: they are
//! saved when a thread leaves a CPU for another thread and loaded when it comes back.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use coracle_syscalls::{FpArea, FpuLayout};

use super::cpu::cpuid;

/// Whether XSAVE is in use (set once by [`init`]); FXSAVE otherwise.
static XSAVE: AtomicBool = AtomicBool::new(false);
/// What signal frames need to know about the saved state (set once by [`init`]).
static XSAVE_SIZE: AtomicU32 = AtomicU32::new(0);
static XFEATURES: AtomicU64 = AtomicU64::new(0);
static MXCSR_MASK: AtomicU32 = AtomicU32::new(0xffbf);

/// Whether XSAVE is enabled (CR4.OSXSAVE was set by `cpu::init`), and the bytes it writes.
fn xsave_size() -> Option<usize> {
    if cpuid(1, 0).ecx & (1 << 27) == 0 {
        return None; // OSXSAVE clear
    }
    Some(cpuid(0xd, 0).ebx as usize)
}

/// Chooses XSAVE or FXSAVE and checks that the enabled state fits a [`FpArea`]; the kernel
/// cannot run threads otherwise. Called on the boot CPU after `cpu::init`.
pub fn init() {
    if let Some(size) = xsave_size() {
        XSAVE.store(true, Ordering::Relaxed);
        if size > core::mem::size_of::<FpArea>() {
            crate::fatal(format_args!(
                "XSAVE needs {size} bytes, more than the {} a thread has",
                core::mem::size_of::<FpArea>()
            ));
        }
        XSAVE_SIZE.store(size as u32, Ordering::Relaxed);
        XFEATURES.store(xcr0(), Ordering::Relaxed);
    }
    MXCSR_MASK.store(mxcsr_mask(), Ordering::Relaxed);
}

/// The enabled XSAVE components (XCR0); only called when CR4.OSXSAVE is set.
fn xcr0() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV with ECX = 0 reads XCR0; it is valid because OSXSAVE is set (checked
    // by the caller) and has no other effect.
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
            options(nomem, nostack, preserves_flags))
    };
    u64::from(lo) | (u64::from(hi) << 32)
}

/// The MXCSR bits this CPU accepts, from an FXSAVE image (0 there means the 0xffbf default).
fn mxcsr_mask() -> u32 {
    #[repr(C, align(16))]
    struct Fx([u8; 512]);
    let mut fx = Fx([0; 512]);
    // SAFETY: FXSAVE writes 512 bytes to a 16-byte aligned buffer of that size, which is a
    // local; it changes no register.
    unsafe {
        core::arch::asm!("fxsave64 [{}]", in(reg) fx.0.as_mut_ptr(),
            options(nostack, preserves_flags))
    };
    match u32::from_le_bytes([fx.0[28], fx.0[29], fx.0[30], fx.0[31]]) {
        0 => 0xffbf,
        m => m,
    }
}

/// How the state is saved, for signal frames.
pub fn layout() -> FpuLayout {
    FpuLayout {
        xsave_size: XSAVE_SIZE.load(Ordering::Relaxed),
        xfeatures: XFEATURES.load(Ordering::Relaxed),
        mxcsr_mask: MXCSR_MASK.load(Ordering::Relaxed),
    }
}

/// Saves this CPU's FP/SIMD registers into `area`.
pub fn save(area: &mut FpArea) {
    let ptr = area.bytes.as_mut_ptr();
    if XSAVE.load(Ordering::Relaxed) {
        // SAFETY: `area` is 64-byte aligned and at least as large as XSAVE's size for the
        // enabled components (checked in init); XSAVE only writes inside it.
        unsafe {
            core::arch::asm!("xsave64 [{}]", in(reg) ptr, in("eax") u32::MAX, in("edx") u32::MAX,
                options(nostack, preserves_flags))
        };
    } else {
        // SAFETY: the 512-byte FXSAVE image fits the 16-byte aligned area.
        unsafe {
            core::arch::asm!("fxsave64 [{}]", in(reg) ptr, options(nostack, preserves_flags))
        };
    }
}

/// Loads this CPU's FP/SIMD registers from `area` (as written by [`save`] or
/// `FpArea::default`).
pub fn restore(area: &FpArea) {
    let ptr = area.bytes.as_ptr();
    if XSAVE.load(Ordering::Relaxed) {
        // SAFETY: the area holds an XSAVE image (or the default one: legacy region set, header
        // all zero = every other component initial), 64-byte aligned; reserved header bytes
        // are zero, so XRSTOR does not fault on them.
        unsafe {
            core::arch::asm!("xrstor64 [{}]", in(reg) ptr, in("eax") u32::MAX, in("edx") u32::MAX,
                options(nostack, preserves_flags))
        };
    } else {
        // SAFETY: a valid FXSAVE image with reserved MXCSR bits clear.
        unsafe {
            core::arch::asm!("fxrstor64 [{}]", in(reg) ptr, options(nostack, preserves_flags))
        };
    }
}
