//! virtio-mmio discovery: the `LNRO0005` devices of the DSDT (QEMU's microvm declares one per
//! populated slot when ACPI is on, with its register window and GSI in `_CRS`).

use alloc::format;
use alloc::vec::Vec;
use core::ptr::NonNull;

use coracle_devices::aml;
use virtio_drivers::transport::mmio::{MmioError, MmioTransport, VirtIOHeader};
use virtio_drivers::transport::DeviceTypeError;

use super::hal::UNCACHED_START;
use super::{Found, IrqLine};
use crate::arch::acpi;
use crate::log;
use crate::mm::{phys_to_virt, DIRECT_MAP_SIZE};

/// The `_HID` of a virtio-mmio device (Linux: drivers/virtio/virtio_mmio.c).
const VIRTIO_MMIO_HID: &str = "LNRO0005";
/// The header's size (virtio 1.2 section 4.2.2): a window smaller than this is refused.
const MIN_WINDOW: u64 = 0x100;

/// Finds the virtio-mmio devices of a hardware-reduced ACPI machine (microvm). A full PC
/// (q35) keeps its virtio devices on PCI, and its 8 KiB DSDT is not worth scanning at boot.
pub fn discover(rsdp: u64, out: &mut Vec<Found>) {
    if !acpi::hardware_reduced(rsdp) {
        return;
    }
    let dsdt = match acpi::dsdt(rsdp) {
        Ok(dsdt) => dsdt,
        Err(e) => {
            log!("dev: no DSDT ({e}): no virtio-mmio devices");
            return;
        }
    };
    for dev in aml::devices(dsdt) {
        if !dev.hid_is(VIRTIO_MMIO_HID) || !dev.present() {
            continue;
        }
        let name = core::str::from_utf8(&dev.name).unwrap_or("?");
        let Some(res) = &dev.resources else {
            log!("dev: virtio-mmio {name} has no readable _CRS");
            continue;
        };
        let (Some(&(base, size)), Some(&irq)) = (res.memory.first(), res.interrupts.first()) else {
            log!("dev: virtio-mmio {name} lacks a register window or an interrupt");
            continue;
        };
        if base < UNCACHED_START
            || size < MIN_WINDOW
            || base.saturating_add(size) > DIRECT_MAP_SIZE
            || base % 4 != 0
        {
            log!("dev: virtio-mmio {name} at {base:#x}+{size:#x} is out of reach");
            continue;
        }
        let header = phys_to_virt(base) as *mut VirtIOHeader;
        let Some(header) = NonNull::new(header) else {
            continue;
        };
        // SAFETY: the firmware declares `[base, base+size)` as this device's register window;
        // it lies in the direct map's uncached top GiB (checked), is 4-byte aligned, and
        // nothing else in the kernel maps or uses it, for the kernel's whole lifetime.
        match unsafe { MmioTransport::new(header, size as usize) } {
            Ok(transport) => out.push(Found {
                transport: transport.into(),
                irq: IrqLine::Gsi(irq),
                location: format!("mmio@{base:#x}"),
            }),
            // An empty slot reads device id 0.
            Err(MmioError::InvalidDeviceID(DeviceTypeError::InvalidDeviceType(0))) => {}
            Err(e) => log!("dev: virtio-mmio {name} at {base:#x}: {e}"),
        }
    }
}
