//! Time: the TSC as the clock source, its frequency, and the host's wall clock.
//!
//! The frequency comes from CPUID (leaf 0x15, or the hypervisor timing leaf 0x40000010) when
//! the CPU tells it; otherwise it is measured once against PIT channel 0, lazily, the first
//! time a clock is read, so a program that never asks for the time never pays for it. The wall
//! clock starts at the host time the tool passed on the command line (`coracle.epoch`).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{cpu, port};

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(0);
static EPOCH_NS: AtomicU64 = AtomicU64::new(0);

/// Records the TSC of the first instruction, and the TSC frequency if CPUID tells it.
pub fn init(boot_tsc: u64) {
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
    if let Some(khz) = cpuid_khz() {
        TSC_KHZ.store(khz, Ordering::Relaxed);
    }
}

/// Sets the host's wall-clock time at VM start.
pub fn set_epoch(epoch_ns: u64) {
    EPOCH_NS.store(epoch_ns, Ordering::Relaxed);
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

/// The TSC frequency in kHz, measuring it if no one has yet.
pub fn tsc_khz() -> u64 {
    match TSC_KHZ.load(Ordering::Relaxed) {
        0 => {
            let khz = calibrate();
            TSC_KHZ.store(khz, Ordering::Relaxed);
            crate::log!("time: TSC runs at {khz} kHz (measured against the PIT)");
            khz
        }
        khz => khz,
    }
}

/// The TSC frequency if already known, without measuring.
pub fn tsc_khz_if_known() -> u64 {
    TSC_KHZ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn monotonic_ns() -> u64 {
    let khz = tsc_khz();
    (u128::from(ticks_since_boot()) * 1_000_000 / u128::from(khz)) as u64
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
    let khz = tsc_khz_if_known();
    if khz == 0 {
        return 0;
    }
    (u128::from(ticks_since_boot()) * 1_000_000 / u128::from(khz)) as u64
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
