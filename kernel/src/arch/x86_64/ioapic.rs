//! The I/O APICs: routing a global system interrupt (GSI) to a vector on one CPU.
//!
//! The MADT lists each I/O APIC with its register address and the first GSI it serves
//! (microvm with ACPI has two: GSIs 0-23 and, for the virtio-mmio slots, 24-47). Registers are
//! reached through the direct map, whose top GiB (where I/O APICs live) is mapped uncached.
//! Every redirection entry starts masked (the firmware's reset state) and is only unmasked by
//! [`route`]; `dev::irq` decides which vector and CPU.

use spin::{Mutex, Once};

use super::acpi;
use crate::mm::{phys_to_virt, DIRECT_MAP_SIZE};

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;

const MASKED: u32 = 1 << 16;
const LEVEL: u32 = 1 << 15;
const ACTIVE_LOW: u32 = 1 << 13;

/// Most I/O APICs used.
const MAX_IOAPICS: usize = 8;

#[derive(Debug, Clone, Copy)]
struct IoApic {
    /// Kernel-virtual address of the register window.
    base: u64,
    gsi_base: u32,
    /// Number of redirection entries.
    count: u32,
}

/// The I/O APICs found; the lock serialises the select/window register pairs.
static IOAPICS: Once<Mutex<([Option<IoApic>; MAX_IOAPICS], usize)>> = Once::new();

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` is an I/O APIC's register page in the uncached direct map (checked in
        // `init`); the select/window pair is used under the IOAPICS lock.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::read_volatile((self.base + IOWIN) as *const u32)
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as for `read`.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::write_volatile((self.base + IOWIN) as *mut u32, value);
        }
    }
}

/// Finds the I/O APICs in the MADT. Without any, device interrupts cannot be routed (the
/// devices behind them are then not used).
pub fn init(rsdp: u64) {
    IOAPICS.call_once(|| {
        let mut list = [None; MAX_IOAPICS];
        let mut len = 0;
        let result = acpi::for_each_ioapic(rsdp, |id, addr, gsi_base| {
            if len == MAX_IOAPICS || addr == 0 || addr + 0x20 > DIRECT_MAP_SIZE {
                crate::log!("ioapic: ignoring I/O APIC {id} at {addr:#x}");
                return;
            }
            let mut apic = IoApic {
                base: phys_to_virt(addr),
                gsi_base,
                count: 0,
            };
            apic.count = ((apic.read(REG_VERSION) >> 16) & 0xff) + 1;
            list[len] = Some(apic);
            len += 1;
        });
        if let Err(e) = result {
            crate::log!("ioapic: {e}");
        }
        Mutex::new((list, len))
    });
}

/// Why a GSI could not be routed.
#[derive(Debug, Clone, Copy)]
pub struct NoIoApic(pub u32);

impl core::fmt::Display for NoIoApic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "no I/O APIC serves GSI {}", self.0)
    }
}

/// Sends GSI `gsi` as `vector` to the CPU with APIC id `apic_id` (fixed delivery, physical
/// destination), with the line's trigger mode and polarity, and unmasks it.
pub fn route(
    gsi: u32,
    vector: u8,
    level: bool,
    active_low: bool,
    apic_id: u32,
) -> Result<(), NoIoApic> {
    let apics = IOAPICS.get().ok_or(NoIoApic(gsi))?.lock();
    let (list, len) = &*apics;
    let apic = list[..*len]
        .iter()
        .flatten()
        .find(|a| gsi >= a.gsi_base && gsi - a.gsi_base < a.count)
        .ok_or(NoIoApic(gsi))?;
    let pin = gsi - apic.gsi_base;
    let mut low = u32::from(vector);
    if level {
        low |= LEVEL;
    }
    if active_low {
        low |= ACTIVE_LOW;
    }
    // Destination first, with the entry still masked, then the vector and the unmask.
    apic.write(REG_REDIRECTION + 2 * pin, MASKED);
    apic.write(REG_REDIRECTION + 2 * pin + 1, (apic_id & 0xff) << 24);
    apic.write(REG_REDIRECTION + 2 * pin, low);
    Ok(())
}
