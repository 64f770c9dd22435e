//! The local APIC: end of interrupt, inter-processor interrupts and the per-CPU timer.
//!
//! x2APIC (registers as MSRs) when CPUID offers it, else xAPIC (memory-mapped registers at the
//! APIC base, reached through the direct map, whose top GiB is mapped uncached). The timer runs
//! in TSC-deadline mode when the CPU has it, else in one-shot mode with a count computed from a
//! one-time measurement of APIC timer ticks per TSC tick. Callers always speak in absolute TSC
//! values. Interrupt vectors are in [`super::interrupt`]; `smp` turns CPU indices into APIC ids.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use x86_64::registers::model_specific::Msr;

use super::{cpu, interrupt};
use crate::mm::{phys_to_virt, DIRECT_MAP_SIZE};

const IA32_APIC_BASE: u32 = 0x1b;
const IA32_TSC_DEADLINE: u32 = 0x6e0;
const APIC_BASE_ENABLE: u64 = 1 << 11;
const APIC_BASE_X2APIC: u64 = 1 << 10;

/// Register offsets in the xAPIC page; the x2APIC MSR is `0x800 + offset / 16`.
const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ICR_LOW: u32 = 0x300;
const REG_ICR_HIGH: u32 = 0x310;
const REG_LVT_TIMER: u32 = 0x320;
const REG_TIMER_INITIAL: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_TSC_DEADLINE: u32 = 0b10 << 17;
/// Divide configuration value for "divide by 16".
const DIVIDE_BY_16: u32 = 0b0011;
const ICR_PENDING: u32 = 1 << 12;
const ICR_ASSERT: u32 = 1 << 14;
const ICR_LEVEL: u32 = 1 << 15;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;

/// How this machine's local APICs are reached (the same on every CPU).
#[derive(Debug, Clone, Copy)]
enum Mode {
    X2Apic,
    /// Kernel-virtual address of the register page.
    XApic(u64),
}

#[derive(Debug)]
struct Apic {
    mode: Mode,
    tsc_deadline: bool,
}

static APIC: Once<Result<Apic, ApicError>> = Once::new();
/// APIC timer ticks per TSC tick, as a 32.32 fixed-point number (one-shot mode only).
static TICKS_PER_TSC: Once<u64> = Once::new();

/// Why the local APIC cannot be used.
#[derive(Debug, Clone, Copy)]
pub enum ApicError {
    /// CPUID.1:EDX[9] is clear.
    Missing,
    /// The xAPIC register page lies outside the direct map.
    BaseOutOfReach(u64),
}

impl core::fmt::Display for ApicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Missing => write!(f, "the CPU reports no local APIC"),
            Self::BaseOutOfReach(base) => {
                write!(
                    f,
                    "the APIC registers at {base:#x} lie outside the direct map"
                )
            }
        }
    }
}

fn detect() -> Result<Apic, ApicError> {
    let leaf1 = cpu::cpuid(1, 0);
    if leaf1.edx & (1 << 9) == 0 {
        return Err(ApicError::Missing);
    }
    let tsc_deadline = leaf1.ecx & (1 << 24) != 0;
    if leaf1.ecx & (1 << 21) != 0 {
        return Ok(Apic {
            mode: Mode::X2Apic,
            tsc_deadline,
        });
    }
    // SAFETY: IA32_APIC_BASE exists on every CPU with a local APIC (checked above).
    let base = unsafe { Msr::new(IA32_APIC_BASE).read() } & 0x000f_ffff_ffff_f000;
    if base + 0x1000 > DIRECT_MAP_SIZE {
        return Err(ApicError::BaseOutOfReach(base));
    }
    Ok(Apic {
        mode: Mode::XApic(phys_to_virt(base)),
        tsc_deadline,
    })
}

fn apic() -> Option<&'static Apic> {
    APIC.get().and_then(|r| r.as_ref().ok())
}

fn read(apic: &Apic, reg: u32) -> u32 {
    match apic.mode {
        // SAFETY: x2APIC mode is enabled on this CPU (init_cpu), so the register MSRs exist;
        // reading them has no side effects.
        Mode::X2Apic => unsafe { Msr::new(0x800 + reg / 16).read() as u32 },
        // SAFETY: `base` is the register page, mapped uncached in the direct map; `reg` is one
        // of the 16-byte aligned register offsets above.
        Mode::XApic(base) => unsafe {
            core::ptr::read_volatile((base + u64::from(reg)) as *const u32)
        },
    }
}

fn write(apic: &Apic, reg: u32, value: u32) {
    match apic.mode {
        // SAFETY: as for `read`; each value written is valid for its register.
        Mode::X2Apic => unsafe { Msr::new(0x800 + reg / 16).write(u64::from(value)) },
        // SAFETY: as for `read`.
        Mode::XApic(base) => unsafe {
            core::ptr::write_volatile((base + u64::from(reg)) as *mut u32, value)
        },
    }
}

/// Detects the APIC on the boot CPU and enables it there. Without one the machine runs on one
/// CPU with no timer interrupts.
pub fn init() -> Result<(), ApicError> {
    APIC.call_once(detect).as_ref().map_err(|e| *e)?;
    init_cpu();
    Ok(())
}

/// Whether the local APIC is usable (timers, IPIs, other CPUs).
pub fn available() -> bool {
    apic().is_some()
}

/// Whether the timer runs in TSC-deadline mode (else one-shot).
pub fn has_tsc_deadline() -> bool {
    apic().is_some_and(|a| a.tsc_deadline)
}

/// Enables this CPU's local APIC: software enable with the spurious vector, no priority
/// filtering, the timer on [`interrupt::TIMER`], disarmed.
pub fn init_cpu() {
    let Some(apic) = apic() else { return };
    // SAFETY: sets only the global enable bit and, in x2APIC mode, the x2APIC bit, which CPUID
    // reported; the base address stays as the firmware set it.
    unsafe {
        let mut msr = Msr::new(IA32_APIC_BASE);
        let base = msr.read();
        let want = match apic.mode {
            Mode::X2Apic => base | APIC_BASE_ENABLE | APIC_BASE_X2APIC,
            Mode::XApic(_) => base | APIC_BASE_ENABLE,
        };
        if want != base {
            msr.write(want);
        }
    }
    write(apic, REG_TPR, 0);
    write(apic, REG_SVR, SVR_ENABLE | u32::from(interrupt::SPURIOUS));
    if apic.tsc_deadline {
        write(
            apic,
            REG_LVT_TIMER,
            LVT_TSC_DEADLINE | u32::from(interrupt::TIMER),
        );
        // The SDM asks for the LVT write to be ordered before the first IA32_TSC_DEADLINE write.
        // SAFETY: a fence has no operands.
        unsafe { core::arch::asm!("mfence", options(nostack, preserves_flags)) };
    } else {
        write(apic, REG_TIMER_DIVIDE, DIVIDE_BY_16);
        write(apic, REG_TIMER_INITIAL, 0);
        write(apic, REG_LVT_TIMER, u32::from(interrupt::TIMER));
    }
}

/// This CPU's APIC id, or 0 without an APIC.
pub fn id() -> u32 {
    match apic() {
        Some(
            apic @ Apic {
                mode: Mode::X2Apic, ..
            },
        ) => read(apic, REG_ID),
        Some(apic) => read(apic, REG_ID) >> 24,
        None => 0,
    }
}

/// Signals the end of the interrupt being handled.
pub fn eoi() {
    if let Some(apic) = apic() {
        write(apic, REG_EOI, 0);
    }
}

/// Writes the interrupt command register: `low` (vector, delivery mode, level) to `apic_id`.
fn send(apic_id: u32, low: u32) {
    let Some(apic) = apic() else { return };
    match apic.mode {
        Mode::X2Apic => {
            let value = (u64::from(apic_id) << 32) | u64::from(low);
            // WRMSR to the x2APIC registers is not serializing: the fence makes the stores
            // before the IPI (a request the target will read) visible before it is sent.
            // SAFETY: x2APIC mode is enabled; ICR takes any destination and these modes.
            unsafe {
                core::arch::asm!("mfence", "lfence", options(nostack, preserves_flags));
                Msr::new(0x830).write(value);
            }
        }
        Mode::XApic(_) => {
            // One IPI at a time: wait until the previous one has been accepted.
            while read(apic, REG_ICR_LOW) & ICR_PENDING != 0 {
                core::hint::spin_loop();
            }
            write(apic, REG_ICR_HIGH, apic_id << 24);
            write(apic, REG_ICR_LOW, low);
        }
    }
}

/// Sends a fixed interrupt `vector` to the CPU with APIC id `apic_id`.
pub fn send_ipi(apic_id: u32, vector: u8) {
    send(apic_id, ICR_ASSERT | u32::from(vector));
}

/// Sends INIT (asserted, level-triggered) to `apic_id`: the CPU resets and waits for SIPI.
pub fn send_init(apic_id: u32) {
    send(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
}

/// Sends a STARTUP IPI: the CPU starts in real mode at `page << 12`.
pub fn send_startup(apic_id: u32, page: u8) {
    send(apic_id, ICR_STARTUP | ICR_ASSERT | u32::from(page));
}

/// Measures APIC timer ticks per TSC tick over about 2^21 TSC ticks (below a millisecond on
/// any current CPU), with the timer masked.
fn calibrate(apic: &Apic) -> u64 {
    const WINDOW: u64 = 1 << 21;
    write(
        apic,
        REG_LVT_TIMER,
        LVT_MASKED | u32::from(interrupt::TIMER),
    );
    write(apic, REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(apic, REG_TIMER_INITIAL, u32::MAX);
    let t0 = cpu::rdtsc();
    while cpu::rdtsc().wrapping_sub(t0) < WINDOW {
        core::hint::spin_loop();
    }
    let left = read(apic, REG_TIMER_CURRENT);
    let tsc = cpu::rdtsc().wrapping_sub(t0).max(1);
    write(apic, REG_TIMER_INITIAL, 0);
    write(apic, REG_LVT_TIMER, u32::from(interrupt::TIMER));
    let ticks = u64::from(u32::MAX - left);
    let ratio = ((u128::from(ticks) << 32) / u128::from(tsc)) as u64;
    crate::log!("apic: timer runs at {ticks} ticks per {tsc} TSC ticks (divided by 16)");
    ratio.max(1)
}

/// The deadline last armed on each CPU (0: none), so an early one-shot expiry can be re-armed.
static DEADLINE: [AtomicU64; super::smp::MAX_CPUS] =
    [const { AtomicU64::new(0) }; super::smp::MAX_CPUS];

/// Arms this CPU's timer to raise [`interrupt::TIMER`] once the TSC reaches `deadline_tsc`
/// (at once if it has passed); 0 disarms. A later call replaces the deadline.
///
/// In one-shot mode a deadline beyond the counter's range (a minute or more) fires early;
/// [`super::interrupt_done`] then re-arms for the rest and does not report a timer.
pub fn arm_timer(deadline_tsc: u64) {
    let Some(apic) = apic() else { return };
    DEADLINE[super::cpu_index()].store(deadline_tsc, Ordering::Relaxed);
    if apic.tsc_deadline {
        // SAFETY: the LVT timer is in TSC-deadline mode (init_cpu); any value is valid, 0
        // disarms. The fences order it after earlier stores, as the SDM recommends.
        unsafe {
            core::arch::asm!("mfence", "lfence", options(nostack, preserves_flags));
            Msr::new(IA32_TSC_DEADLINE).write(deadline_tsc);
        }
        return;
    }
    if deadline_tsc == 0 {
        write(apic, REG_TIMER_INITIAL, 0);
        return;
    }
    let ratio = *TICKS_PER_TSC.call_once(|| calibrate(apic));
    let delta = deadline_tsc.saturating_sub(cpu::rdtsc());
    // Rounded up, so that the count never ends before the deadline.
    let ticks = ((u128::from(delta) * u128::from(ratio)) >> 32) + 1;
    write(
        apic,
        REG_TIMER_INITIAL,
        ticks.min(u128::from(u32::MAX)) as u32,
    );
}

/// For a timer interrupt on this CPU: whether the armed deadline has passed. If it has not
/// (a one-shot count that could not reach it, or a timer disarmed while its interrupt was
/// pending), the rest is re-armed and `false` returned.
pub fn timer_expired() -> bool {
    let slot = &DEADLINE[super::cpu_index()];
    let deadline = slot.load(Ordering::Relaxed);
    if deadline == 0 {
        return false;
    }
    if cpu::rdtsc() < deadline {
        arm_timer(deadline);
        return false;
    }
    slot.store(0, Ordering::Relaxed);
    true
}
