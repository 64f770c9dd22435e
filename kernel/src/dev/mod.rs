//! Devices: discovery at boot, the registry drivers claim devices from, interrupts, deferred
//! work, the virtio HAL and the drivers.
//!
//! At boot [`init`] finds the virtio devices of both machines: virtio-mmio slots declared in
//! the DSDT (`-M microvm` with ACPI; `mmio`) and virtio-pci functions on PCI bus 0 (`-M q35`;
//! `pci`). Each becomes a [`Found`]: a virtio-drivers transport plus the interrupt line to
//! bind. A driver takes the devices of its type with [`claim`], initialises them through
//! virtio-drivers, then binds the line to a handler with [`bind_irq`] (after the device's
//! queues exist: a PCI function maps each queue to its MSI-X vector then). The handler
//! acknowledges the device and raises the driver's [`work::Work`], which the CPU loop runs.
//! virtio-net (`net`) was the first driver; virtio-console (`console`) carries the
//! program's streams; virtio-blk (`blk`) carries the root filesystem's drive; virtio-9p
//! (`p9`) carries the `-v` volumes.

pub mod blk;
pub mod console;
pub mod hal;
pub mod irq;
mod mmio;
pub mod net;
pub mod net_drain;
mod net_notify;
mod net_selftest;
pub mod p9;
mod pci;
pub mod work;

use alloc::string::String;
use alloc::vec::Vec;

use coracle_devices::resource;
use spin::Mutex;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

use crate::log;

/// How a found device interrupts.
pub enum IrqLine {
    /// A line into an I/O APIC (a virtio-mmio slot).
    Gsi(resource::Interrupt),
    /// MSI-X table entry 0 of a PCI function, which all of its queues are mapped to.
    Msix(pci::MsixRoute),
}

impl core::fmt::Debug for IrqLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Gsi(i) => write!(
                f,
                "GSI {}, {}, active {}",
                i.gsi,
                if i.level { "level" } else { "edge" },
                if i.active_low { "low" } else { "high" }
            ),
            Self::Msix(route) => route.fmt(f),
        }
    }
}

/// A virtio device found at boot and not yet claimed by a driver.
#[derive(Debug)]
pub struct Found {
    pub transport: SomeTransport<'static>,
    pub irq: IrqLine,
    /// Where it is, for the log (`mmio@0xfeb02e00`, `pci 00:02.0`).
    pub location: String,
}

static FOUND: Mutex<Vec<Found>> = Mutex::new(Vec::new());

/// Finds the I/O APICs and the virtio devices. Cheap when there are none: a scan of the DSDT's
/// few hundred bytes and one PCI configuration read.
pub fn init(rsdp: u64) {
    crate::arch::ioapic::init(rsdp);
    let mut found = Vec::new();
    mmio::discover(rsdp, &mut found);
    pci::discover(&mut found);
    for f in &found {
        log!(
            "dev: virtio {:?} at {} ({:?})",
            f.transport.device_type(),
            f.location,
            f.irq
        );
    }
    *FOUND.lock() = found;
}

/// Takes every found device of type `kind`.
pub fn claim(kind: DeviceType) -> Vec<Found> {
    let mut found = FOUND.lock();
    let (mine, rest) = core::mem::take(&mut *found)
        .into_iter()
        .partition(|f| f.transport.device_type() == kind);
    *found = rest;
    mine
}

/// Routes a device's interrupt to `handler` and returns the vector. For a PCI function, call
/// it after the driver set up the queues: each of the `queues` is mapped to the vector.
pub fn bind_irq(
    line: &IrqLine,
    queues: u16,
    handler: irq::Handler,
) -> Result<irq::Vector, irq::IrqError> {
    match line {
        IrqLine::Gsi(i) => irq::route_gsi(i.gsi, i.level, i.active_low, handler),
        IrqLine::Msix(route) => {
            let vector = irq::allocate(handler)?;
            route.bind(vector.number(), irq::target_apic_id(), queues);
            Ok(vector)
        }
    }
}
