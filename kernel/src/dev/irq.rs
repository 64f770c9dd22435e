//! Device interrupts: vectors handed to drivers, their handlers, and the routes that bring a
//! device's line or message to a vector.
//!
//! A driver registers a handler and gets a vector from the device range of
//! `arch::interrupt`; the route is an I/O APIC redirection (a platform device's GSI, as the
//! ACPI `_CRS` gives it) or an MSI-X message (a PCI function, see `dev::pci`). All device
//! interrupts go to the boot CPU. A handler runs in interrupt context, with interrupts off and
//! before the end-of-interrupt: it must acknowledge its device (a level-triggered line fires
//! again otherwise), note what happened, and leave the real work to `dev::work`, which the CPU
//! loop runs outside the raw handler. Handlers never run while kernel code on the same CPU
//! holds a lock (the kernel takes interrupts only in user mode and the idle halt), so a
//! handler may take its device's lock.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use spin::Once;

use crate::arch::{interrupt, ioapic, smp};

/// What a device interrupt runs.
pub type Handler = Box<dyn Fn() + Send + Sync>;

static HANDLERS: [Once<Handler>; interrupt::DEVICE_COUNT] =
    [const { Once::new() }; interrupt::DEVICE_COUNT];
static COUNTS: [AtomicU64; interrupt::DEVICE_COUNT] =
    [const { AtomicU64::new(0) }; interrupt::DEVICE_COUNT];
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Why an interrupt could not be set up.
#[derive(Debug, Clone, Copy)]
pub enum IrqError {
    /// Every device vector is taken.
    NoVector,
    NoIoApic(u32),
}

impl core::fmt::Display for IrqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoVector => write!(f, "no free interrupt vector"),
            Self::NoIoApic(gsi) => write!(f, "no I/O APIC serves GSI {gsi}"),
        }
    }
}

/// A device vector with its handler installed.
#[derive(Debug, Clone, Copy)]
pub struct Vector(u8);

impl Vector {
    pub fn number(self) -> u8 {
        self.0
    }

    /// Interrupts handled on this vector so far.
    pub fn count(self) -> u64 {
        COUNTS[usize::from(self.0 - interrupt::DEVICE_BASE)].load(Ordering::Relaxed)
    }
}

/// Takes a free vector and installs `handler` on it.
pub fn allocate(handler: Handler) -> Result<Vector, IrqError> {
    let index = NEXT.fetch_add(1, Ordering::Relaxed);
    if index >= interrupt::DEVICE_COUNT {
        return Err(IrqError::NoVector);
    }
    HANDLERS[index].call_once(|| handler);
    Ok(Vector(interrupt::DEVICE_BASE + index as u8))
}

/// The APIC id device interrupts are sent to (the boot CPU's).
pub fn target_apic_id() -> u32 {
    smp::apic_id(device_cpu())
}

/// The index of the CPU device interrupts go to, whose timer keeps the device work's
/// deadlines (`dev::work`): the boot CPU. (Sending them to another CPU than the one a
/// server's thread runs on, so that the stack's receive path ran beside it, was measured
/// slower under TCG: the two CPUs then wait for each other on the card's lock and on QEMU's,
/// which every MMIO access takes.)
pub fn device_cpu() -> usize {
    0
}

/// Routes the global system interrupt `gsi` (trigger mode and polarity from the firmware) to
/// a new vector running `handler`.
pub fn route_gsi(
    gsi: u32,
    level: bool,
    active_low: bool,
    handler: Handler,
) -> Result<Vector, IrqError> {
    let vector = allocate(handler)?;
    ioapic::route(gsi, vector.0, level, active_low, target_apic_id())
        .map_err(|e| IrqError::NoIoApic(e.0))?;
    Ok(vector)
}

/// Runs the handler of device vector `index` (called by `arch::interrupt_done`).
pub fn dispatch(index: usize) {
    if let Some(handler) = HANDLERS.get(index).and_then(Once::get) {
        COUNTS[index].fetch_add(1, Ordering::Relaxed);
        crate::cpu_stats::add(crate::cpu_stats::Stat::Irqs, 1);
        handler();
    }
}
