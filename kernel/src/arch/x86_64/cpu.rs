//! CPU features and control registers: SSE/AVX state for user code, FSGSBASE, halting the VM.

use core::arch::x86_64::{__cpuid, __cpuid_count, CpuidResult};

use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use x86_64::registers::xcontrol::XCr0Flags;

use super::port;

/// Runs CPUID.
pub fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    // SAFETY: CPUID exists on every x86_64 CPU and has no side effects.
    if subleaf == 0 {
        __cpuid(leaf)
    } else {
        __cpuid_count(leaf, subleaf)
    }
}

/// What the CPU offers that the kernel enables for user code, as reported in AT_HWCAP2.
#[derive(Debug, Clone, Copy, Default)]
pub struct Features {
    pub fsgsbase: bool,
    pub xsave: bool,
    /// AT_HWCAP: CPUID.1:EDX, as Linux reports it on x86.
    pub hwcap: u32,
}

/// Enables x87/SSE (and AVX, AVX-512 where present, through XSAVE) so user code can use them,
/// and FSGSBASE. The kernel itself is built without SSE, so it never touches this state: with
/// one thread per CPU no save/restore is needed yet; the scheduler will save it per thread.
pub fn init() -> Features {
    let leaf1 = cpuid(1, 0);
    let leaf7 = cpuid(7, 0);
    let mut features = Features {
        hwcap: leaf1.edx,
        ..Features::default()
    };

    let mut cr0 = Cr0::read();
    cr0.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
    cr0.insert(Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR);
    let mut cr4 = Cr4::read();
    cr4.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
    if leaf1.ecx & (1 << 26) != 0 {
        cr4.insert(Cr4Flags::OSXSAVE);
        features.xsave = true;
    }
    if leaf7.ebx & 1 != 0 {
        cr4.insert(Cr4Flags::FSGSBASE);
        features.fsgsbase = true;
    }
    // SAFETY: these bits only enable instruction sets for later use; nothing running relies on
    // them being off (the kernel has no SSE code).
    unsafe {
        Cr0::write(cr0);
        Cr4::write(cr4);
    }
    if features.xsave {
        let supported = cpuid(0xd, 0).eax as u64;
        // x87, SSE, AVX, and the three AVX-512 components together (they are all-or-nothing).
        let mut want = XCr0Flags::X87 | XCr0Flags::SSE;
        if supported & 0b100 != 0 {
            want |= XCr0Flags::AVX;
            if supported & 0xe0 == 0xe0 {
                want |= XCr0Flags::OPMASK | XCr0Flags::ZMM_HI256 | XCr0Flags::HI16_ZMM;
            }
        }
        let bits = want.bits();
        // Written with XSETBV directly: the x86_64 crate reads XCR0 first (XGETBV), which some
        // nested hypervisors fail to emulate in ring 0.
        // SAFETY: every bit set is reported supported by CPUID leaf 0xD, and the set respects the
        // architectural dependencies (SSE with AVX, AVX with all AVX-512 parts).
        unsafe {
            core::arch::asm!("xsetbv", in("ecx") 0u32, in("eax") bits as u32, in("edx") (bits >> 32) as u32,
                options(nomem, nostack, preserves_flags))
        };
    }
    features
}

/// Stops the VM through the `isa-debug-exit` device: QEMU exits with `(code << 1) | 1`.
pub fn exit_vm(code: u8) -> ! {
    port::outb(0xf4, code);
    // The write above ends QEMU; if the device is missing, park the CPU forever.
    loop {
        x86_64::instructions::interrupts::disable();
        x86_64::instructions::hlt();
    }
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC is always available on x86_64 and CR4.TSD is clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads the time-stamp counter once every earlier instruction has completed (LFENCE first, as
/// Linux's `rdtsc_ordered`), so a clock read cannot run ahead of the code before it.
pub fn rdtsc_ordered() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: LFENCE and RDTSC exist on every x86_64 CPU, CR4.TSD is clear, and they only
    // write EDX:EAX.
    unsafe {
        core::arch::asm!("lfence", "rdtsc", out("eax") lo, out("edx") hi,
            options(nomem, nostack, preserves_flags))
    };
    u64::from(hi) << 32 | u64::from(lo)
}

/// One RDRAND value, or `None` if the CPU's generator was not ready.
pub fn rdrand() -> Option<u64> {
    let mut v: u64 = 0;
    // SAFETY: only called when CPUID reports RDRAND; the intrinsic writes `v` only.
    let ok = unsafe { core::arch::x86_64::_rdrand64_step(&mut v) };
    (ok == 1).then_some(v)
}
