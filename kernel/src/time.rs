//! Time: the TSC as the clock source, its frequency, and the host's wall clock.
//!
//! The frequency comes from CPUID (leaf 0x15, or the hypervisor timing leaf 0x40000010) when
//! the CPU tells it; otherwise, lazily, the first time a clock is read (so a program that never
//! asks for the time never pays for it), from KVM's paravirtual clock when KVM offers one (its
//! TSC-to-nanoseconds factors give the frequency the host measured), else by measuring against
//! PIT channel 0 for 5 ms. The wall
//! clock starts at the host time the tool passed on the command line (`coracle.epoch`).
//!
//! Once the frequency is known, one [`TscScale`] turns TSC values into nanoseconds, here and in
//! the vDSO (`vdso.rs`), which gets a copy of it and of the wall-clock offset in its data page:
//! both paths compute the same function of the same counter, so a clock read through the vDSO
//! and one through the system call never disagree or go backwards relative to each other.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use x86_64::registers::model_specific::Msr;

use crate::arch::{cpu, port};
use crate::vdso;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static EPOCH_NS: AtomicU64 = AtomicU64::new(0);
static SCALE: Once<TscScale> = Once::new();

/// TSC to nanoseconds since boot: `((tsc - base) * mult) >> shift`, the product taken in 128
/// bits (the vDSO computes it with one `mul` and one `shrd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TscScale {
    pub base: u64,
    pub mult: u64,
    /// At most 63.
    pub shift: u32,
}

impl TscScale {
    /// The scale for a TSC running at `khz` (at least 1) that read `base` at boot: the largest
    /// shift whose multiplier still fits in 64 bits, for the finest rounding.
    fn new(khz: u64, base: u64) -> Self {
        let khz = u128::from(khz.max(1));
        let mut shift = 63;
        loop {
            let mult = (1_000_000u128 << shift) / khz;
            if let Ok(mult) = u64::try_from(mult) {
                return Self { base, mult, shift };
            }
            shift -= 1;
        }
    }

    /// Nanoseconds since boot at TSC value `tsc`; a value from before `base` (a CPU whose
    /// counter lags the boot CPU's) counts as the boot itself.
    pub fn ns(&self, tsc: u64) -> u64 {
        let delta = u128::from(tsc.saturating_sub(self.base));
        ((delta * u128::from(self.mult)) >> self.shift) as u64
    }
}

/// Records the TSC of the first instruction.
pub fn init(boot_tsc: u64) {
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
}

/// Fixes the TSC frequency once the command line is read: `coracle.tsc_khz` when given (under
/// QEMU's `-icount` the TSC counts virtual nanoseconds, 1 GHz, whatever CPUID says), else
/// CPUID's when it tells one; otherwise it is measured later, on first use.
pub fn set_khz(given: Option<u64>) {
    if let Some(khz) = given.filter(|&k| k > 0).or_else(cpuid_khz) {
        fix_scale(|| khz);
    }
}

/// Sets the host's wall-clock time at VM start.
pub fn set_epoch(epoch_ns: u64) {
    EPOCH_NS.store(epoch_ns, Ordering::Relaxed);
    publish();
}

/// TSC ticks since the kernel's first instruction.
pub fn ticks_since_boot() -> u64 {
    cpu::rdtsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed))
}

fn cpuid_khz() -> Option<u64> {
    let max = cpu::cpuid(0, 0).eax;
    if max >= 0x15 {
        let l = cpu::cpuid(0x15, 0);
        if l.eax != 0 && l.ebx != 0 && l.ecx != 0 {
            return Some(u64::from(l.ecx) * u64::from(l.ebx) / u64::from(l.eax) / 1000);
        }
    }
    let hv_max = cpu::cpuid(0x4000_0000, 0).eax;
    if (0x4000_0010..0x4000_0100).contains(&hv_max) {
        let khz = cpu::cpuid(0x4000_0010, 0).eax;
        if khz != 0 {
            return Some(u64::from(khz));
        }
    }
    None
}

/// Reads PIT channel 0's current count (it counts down at 1.193182 MHz).
fn pit_count() -> u16 {
    port::outb(0x43, 0x00); // latch channel 0
    let lo = port::inb(0x40);
    let hi = port::inb(0x40);
    u16::from_le_bytes([lo, hi])
}

/// Measures the TSC against the PIT over about 5 ms.
fn calibrate() -> u64 {
    const PIT_HZ: u64 = 1_193_182;
    const WINDOW: u64 = PIT_HZ / 200; // 5 ms of PIT ticks
    port::outb(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2 (rate generator)
    port::outb(0x40, 0xff);
    port::outb(0x40, 0xff);
    let mut last = pit_count();
    let t0 = cpu::rdtsc();
    let mut elapsed: u64 = 0;
    while elapsed < WINDOW {
        let now = pit_count();
        elapsed += u64::from(last.wrapping_sub(now));
        last = now;
        core::hint::spin_loop();
    }
    let ticks = cpu::rdtsc() - t0;
    (ticks * PIT_HZ / elapsed / 1000).max(1)
}

/// Fixes the TSC scale from the frequency `measure` returns, unless it is fixed already, and
/// tells the vDSO. Other CPUs asking meanwhile wait for the one measurement.
fn fix_scale(measure: impl FnOnce() -> u64) -> &'static TscScale {
    let scale = SCALE.call_once(|| {
        let khz = measure();
        TSC_KHZ.store(khz, Ordering::Relaxed);
        TscScale::new(khz, BOOT_TSC.load(Ordering::Relaxed))
    });
    publish();
    scale
}

/// The TSC scale, measuring the frequency if no one has yet.
fn scale() -> &'static TscScale {
    SCALE.get().unwrap_or_else(|| {
        fix_scale(|| {
            if let Some(khz) = kvmclock_khz() {
                crate::log!("time: TSC runs at {khz} kHz (from kvmclock)");
                return khz;
            }
            let khz = calibrate();
            crate::log!("time: TSC runs at {khz} kHz (measured against the PIT)");
            khz
        })
    })
}

/// The TSC frequency KVM's clock source reports, if this is KVM with kvmclock: registers a
/// `pvclock_vcpu_time_info` page for this CPU (MSR_KVM_SYSTEM_TIME_NEW), reads the factors
/// the host wrote (ns = (tsc << shift or >> -shift) * mul >> 32), unregisters it.
fn kvmclock_khz() -> Option<u64> {
    const KVM_SIGNATURE: [u32; 3] = [0x4b4d_564b, 0x564b_4d56, 0x4d]; // "KVMKVMKVM\0\0\0"
    const KVM_FEATURE_CLOCKSOURCE2: u32 = 1 << 3;
    const MSR_KVM_SYSTEM_TIME_NEW: u32 = 0x4b56_4d01;
    let id = cpu::cpuid(0x4000_0000, 0);
    if [id.ebx, id.ecx, id.edx] != KVM_SIGNATURE || id.eax < 0x4000_0001 {
        return None;
    }
    if cpu::cpuid(0x4000_0001, 0).eax & KVM_FEATURE_CLOCKSOURCE2 == 0 {
        return None;
    }
    let frame = crate::mm::frame::alloc_zeroed()?;
    let phys = frame.start_address().as_u64();
    let info = crate::mm::phys_to_virt(phys) as *const u8;
    let (mul, shift) = loop {
        // The host writes the structure when the MSR is written; `version` is odd while it
        // updates it.
        // SAFETY: KVM offers this MSR (checked above); it makes the host write a 32-byte
        // structure at `phys`, a frame owned here and freed only after the MSR is cleared.
        unsafe { Msr::new(MSR_KVM_SYSTEM_TIME_NEW).write(phys | 1) };
        // SAFETY: `info` is the direct-map address of the frame allocated above, owned here;
        // volatile because the host writes it behind the compiler's back.
        let (version, mul, shift, again) = unsafe {
            let version = core::ptr::read_volatile(info as *const u32);
            let mul = core::ptr::read_volatile(info.add(24) as *const u32);
            let shift = core::ptr::read_volatile(info.add(28) as *const i8);
            (
                version,
                mul,
                shift,
                core::ptr::read_volatile(info as *const u32),
            )
        };
        if version & 1 == 0 && version == again {
            break (mul, shift);
        }
    };
    // SAFETY: clearing the enable bit stops the host writing the frame, which can then go.
    unsafe { Msr::new(MSR_KVM_SYSTEM_TIME_NEW).write(0) };
    crate::mm::frame::free(frame);
    if mul == 0 {
        return None;
    }
    let khz = (1_000_000u64 << 32) / u64::from(mul);
    let n = u32::from(shift.unsigned_abs());
    let khz = if shift < 0 {
        khz.checked_shl(n).filter(|k| k >> n == khz)?
    } else {
        khz.checked_shr(n)?
    };
    (khz > 0).then_some(khz)
}

/// Gives the vDSO the current scale and wall-clock offset, once the scale is known.
fn publish() {
    if let Some(scale) = SCALE.get() {
        vdso::publish_clock(scale, EPOCH_NS.load(Ordering::Relaxed));
    }
}

/// The TSC frequency in kHz, measuring it if no one has yet.
pub fn tsc_khz() -> u64 {
    scale();
    TSC_KHZ.load(Ordering::Relaxed)
}

/// The TSC frequency if already known, without measuring.
pub fn tsc_khz_if_known() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn monotonic_ns() -> u64 {
    scale().ns(cpu::rdtsc_ordered())
}

/// The TSC value at which `monotonic_ns()` reaches `ns` (for timer deadlines).
pub fn tsc_at(ns: u64) -> u64 {
    let khz = tsc_khz();
    let ticks = (u128::from(ns) * u128::from(khz) / 1_000_000).min(u128::from(u64::MAX / 2)) as u64;
    BOOT_TSC.load(Ordering::Relaxed).saturating_add(ticks)
}

/// The host's wall clock when QEMU started, in ns since the epoch.
pub fn epoch_ns() -> u64 {
    EPOCH_NS.load(Ordering::Relaxed)
}

/// Nanoseconds since boot if the TSC frequency is known already, else 0 (never calibrates).
pub fn monotonic_ns_if_known() -> u64 {
    SCALE.get().map_or(0, |s| s.ns(cpu::rdtsc_ordered()))
}

/// Nanoseconds since the epoch.
pub fn realtime_ns() -> u64 {
    EPOCH_NS
        .load(Ordering::Relaxed)
        .saturating_add(monotonic_ns())
}

/// Waits until `monotonic_ns()` reaches `deadline`. No timer interrupts yet, so this spins
/// with `pause`; the scheduler will put the CPU to sleep instead.
pub fn sleep_until(deadline: u64) {
    while monotonic_ns() < deadline {
        core::hint::spin_loop();
    }
}
