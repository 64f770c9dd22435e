//! virtio-pci discovery on PCI bus 0 (`-M q35`): configuration space, BAR assignment, and the
//! MSI-X route each function's queues are bound to.
//!
//! Configuration space is read through mechanism #1 (ports 0xcf8/0xcfc), which reaches the
//! first 256 bytes of every function: QEMU's virtio functions keep all their capabilities
//! there, and ECAM would need the MCFG table and an uncached mapping of its window for nothing
//! more. qboot leaves BARs unassigned, so memory BARs are placed here, from 0xc000_0000 (above
//! q35's ECAM window, inside the direct map's uncached GiB, below the I/O APIC). Only bus 0 is
//! scanned: QEMU puts `-device ...-pci` there unless told otherwise.

use alloc::format;
use alloc::vec::Vec;

use coracle_devices::pci::{self as pcidesc, Msix, VIRTIO_COMMON_CFG};
use spin::Mutex;
use virtio_drivers::transport::pci::bus::{
    BarInfo, Command, ConfigurationAccess, DeviceFunction, MemoryBarType, PciRoot,
};
use virtio_drivers::transport::pci::{virtio_device_type, PciTransport};

use super::hal::KernelHal;
use super::{Found, IrqLine};
use crate::arch::port;
use crate::log;
use crate::mm::phys_to_virt;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
/// Where memory BARs go: `[start, end)`.
const BAR_WINDOW: (u64, u64) = (0xc000_0000, 0xfec0_0000);

/// Serialises the address/data port pairs.
static CONFIG_LOCK: Mutex<()> = Mutex::new(());
/// The next free address of the BAR window.
static NEXT_BAR: Mutex<u64> = Mutex::new(BAR_WINDOW.0);

fn address(df: DeviceFunction, offset: u8) -> u32 {
    0x8000_0000
        | (u32::from(df.bus) << 16)
        | (u32::from(df.device & 0x1f) << 11)
        | (u32::from(df.function & 7) << 8)
        | u32::from(offset & 0xfc)
}

/// Configuration mechanism #1.
#[derive(Debug)]
pub struct PortCam;

impl ConfigurationAccess for PortCam {
    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        let _guard = CONFIG_LOCK.lock();
        port::outl(CONFIG_ADDRESS, address(df, offset));
        port::inl(CONFIG_DATA)
    }

    fn write_word(&mut self, df: DeviceFunction, offset: u8, data: u32) {
        let _guard = CONFIG_LOCK.lock();
        port::outl(CONFIG_ADDRESS, address(df, offset));
        port::outl(CONFIG_DATA, data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortCam
    }
}

/// One function's configuration space, for the checked capability readers.
struct FunctionConfig(DeviceFunction);

impl pcidesc::Config for FunctionConfig {
    fn read32(&self, offset: u8) -> u32 {
        PortCam.read_word(self.0, offset)
    }
}

/// Gives every memory BAR of `df` an address in the window.
fn assign_bars(root: &mut PciRoot<PortCam>, df: DeviceFunction) -> Result<(), &'static str> {
    let bars = root.bars(df).map_err(|_| "unreadable BARs")?;
    let mut next = NEXT_BAR.lock();
    for (index, bar) in bars.iter().enumerate() {
        let Some(BarInfo::Memory {
            address_type, size, ..
        }) = bar
        else {
            continue;
        };
        if *size == 0 || !size.is_power_of_two() {
            continue;
        }
        let addr = next.next_multiple_of(*size);
        if addr.saturating_add(*size) > BAR_WINDOW.1 {
            return Err("no room for its BARs");
        }
        match address_type {
            MemoryBarType::Width32 => root.set_bar_32(df, index as u8, addr as u32),
            MemoryBarType::Width64 => root.set_bar_64(df, index as u8, addr),
            MemoryBarType::Below1MiB => continue,
        }
        *next = addr + size;
    }
    Ok(())
}

/// The physical address of memory BAR `index` of `df`, as assigned.
fn bar_address(root: &mut PciRoot<PortCam>, df: DeviceFunction, index: u8) -> Option<u64> {
    let (addr, _) = root.bar_info(df, index).ok()??.memory_address_size()?;
    (addr >= BAR_WINDOW.0 && addr < BAR_WINDOW.1).then_some(addr)
}

pub fn discover(out: &mut Vec<Found>) {
    // No host bridge (microvm): the port reads all ones.
    let host = DeviceFunction {
        bus: 0,
        device: 0,
        function: 0,
    };
    if PortCam.read_word(host, 0) & 0xffff == 0xffff {
        return;
    }
    let mut root = PciRoot::new(PortCam);
    let functions: Vec<_> = root.enumerate_bus(0).collect();
    for (df, info) in functions {
        if virtio_device_type(&info).is_none() {
            continue;
        }
        let location = format!("pci {:02x}:{:02x}.{}", df.bus, df.device, df.function);
        if let Err(e) = assign_bars(&mut root, df) {
            log!("dev: {location}: {e}");
            continue;
        }
        root.set_command(df, Command::MEMORY_SPACE | Command::BUS_MASTER);
        let cfg = FunctionConfig(df);
        let route = (|| {
            let msix = pcidesc::msix(&cfg)?;
            let common = pcidesc::virtio_caps(&cfg)
                .into_iter()
                .find(|c| c.cfg_type == VIRTIO_COMMON_CFG && c.length >= 0x38)?;
            let table = bar_address(&mut root, df, msix.table_bar)? + u64::from(msix.table_offset);
            let common = bar_address(&mut root, df, common.bar)? + u64::from(common.offset);
            Some(MsixRoute {
                df,
                msix,
                table: phys_to_virt(table),
                common: phys_to_virt(common),
            })
        })();
        let Some(route) = route else {
            log!("dev: {location}: no usable MSI-X capability; not used");
            continue;
        };
        match PciTransport::new::<KernelHal, _>(&mut root, df) {
            Ok(transport) => out.push(Found {
                transport: transport.into(),
                irq: IrqLine::Msix(route),
                location,
            }),
            Err(e) => log!("dev: {location}: {e}"),
        }
    }
}

// Common configuration registers (virtio 1.2 section 4.1.4.3).
const COMMON_MSIX_CONFIG: u64 = 16;
const COMMON_QUEUE_SELECT: u64 = 22;
const COMMON_QUEUE_MSIX_VECTOR: u64 = 26;
const NO_VECTOR: u16 = 0xffff;

/// Where a PCI function's MSI-X table and virtio common configuration are (kernel-virtual,
/// in the uncached direct map).
pub struct MsixRoute {
    df: DeviceFunction,
    msix: Msix,
    table: u64,
    common: u64,
}

impl core::fmt::Debug for MsixRoute {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "MSI-X, {} entries, table at {:#x}",
            self.msix.table_size,
            self.table - crate::mm::PHYS_OFFSET
        )
    }
}

fn write16(addr: u64, value: u16) {
    // SAFETY: `addr` is a register of a BAR this module assigned, in the uncached direct map
    // (`MsixRoute` only holds such addresses); device registers have no Rust-visible memory.
    unsafe { core::ptr::write_volatile(addr as *mut u16, value) }
}

fn read16(addr: u64) -> u16 {
    // SAFETY: as for `write16`.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}

fn write32(addr: u64, value: u32) {
    // SAFETY: as for `write16`.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

impl MsixRoute {
    /// Points MSI-X table entry 0 at `vector` on `apic_id`, enables MSI-X, and maps each of
    /// the first `queues` virtqueues to entry 0 (configuration changes get no vector). The
    /// driver's lock must be held or the driver not shared yet: this selects queues through
    /// the same common configuration the transport uses.
    pub fn bind(&self, vector: u8, apic_id: u32, queues: u16) {
        let (addr, data) = pcidesc::msi_message(apic_id as u8, vector);
        write32(self.table, addr as u32);
        write32(self.table + 4, (addr >> 32) as u32);
        write32(self.table + 8, data);
        write32(self.table + 12, 0); // unmasked
        let cap = self.msix.offset;
        let control = PortCam.read_word(self.df, cap) >> 16;
        let enabled = (control | 0x8000) & !0x4000; // enable, no function mask
        let head = PortCam.read_word(self.df, cap) & 0xffff;
        PortCam.write_word(self.df, cap, head | (enabled << 16));
        write16(self.common + COMMON_MSIX_CONFIG, NO_VECTOR);
        for queue in 0..queues {
            write16(self.common + COMMON_QUEUE_SELECT, queue);
            write16(self.common + COMMON_QUEUE_MSIX_VECTOR, 0);
            if read16(self.common + COMMON_QUEUE_MSIX_VECTOR) != 0 {
                log!("dev: queue {queue} refused its MSI-X vector");
            }
        }
    }
}
