//! ACPI tables: RSDP -> XSDT (or RSDT) -> the MADT (the local APIC ids of the enabled
//! processors, the I/O APICs) and the FADT -> the DSDT, whose AML `dev` scans for devices.
//!
//! The tables come from the firmware (QEMU, Firecracker) and are read through the direct map.
//! Every address, length and checksum is checked before a byte is used; a broken table is an
//! [`AcpiError`], never a panic. The caller (`smp`) falls back to one CPU on any error.

use core::fmt;

use crate::mm::{phys_to_virt, DIRECT_MAP_SIZE};

/// Largest table accepted (a MADT for hundreds of CPUs is a few KiB).
const MAX_TABLE: u64 = 1 << 20;
const SDT_HEADER: usize = 36;

/// What went wrong reading the tables.
#[derive(Debug, Clone, Copy)]
pub enum AcpiError {
    /// The boot information has no RSDP.
    NoRsdp,
    /// A table lies (partly) outside the direct map.
    OutOfReach {
        what: &'static str,
        addr: u64,
    },
    BadSignature {
        what: &'static str,
        addr: u64,
    },
    BadChecksum {
        what: &'static str,
        addr: u64,
    },
    BadLength {
        what: &'static str,
        addr: u64,
        len: u64,
    },
    /// The root table lists no table with this signature.
    Missing(&'static str),
    /// A MADT entry whose length is too small or runs past the table.
    BadMadtEntry {
        offset: usize,
        kind: u8,
        len: u8,
    },
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoRsdp => write!(f, "no ACPI RSDP from the boot loader"),
            Self::OutOfReach { what, addr } => {
                write!(f, "the {what} at {addr:#x} lies outside the direct map")
            }
            Self::BadSignature { what, addr } => write!(f, "bad {what} signature at {addr:#x}"),
            Self::BadChecksum { what, addr } => write!(f, "bad {what} checksum at {addr:#x}"),
            Self::BadLength { what, addr, len } => {
                write!(f, "bad {what} length {len} at {addr:#x}")
            }
            Self::Missing(sig) => write!(f, "no {sig} table in the ACPI root table"),
            Self::BadMadtEntry { offset, kind, len } => {
                write!(
                    f,
                    "bad MADT entry at offset {offset}: type {kind}, length {len}"
                )
            }
        }
    }
}

/// Physical memory `[addr, addr+len)` as bytes, if the direct map covers it.
fn phys(what: &'static str, addr: u64, len: u64) -> Result<&'static [u8], AcpiError> {
    if addr == 0 || len > MAX_TABLE || addr.saturating_add(len) > DIRECT_MAP_SIZE {
        return Err(AcpiError::OutOfReach { what, addr });
    }
    // SAFETY: the range lies in the direct map (checked), which maps all of the first 4 GiB
    // readable; ACPI tables are firmware data that nothing in the kernel writes.
    Ok(unsafe { core::slice::from_raw_parts(phys_to_virt(addr) as *const u8, len as usize) })
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from(le32(b, at)?) | (u64::from(le32(b, at + 4)?) << 32))
}

/// Whether the bytes sum to 0 mod 256 (an ACPI checksum). Eight bytes per step, in 16-bit
/// lanes folded before they could carry: q35's DSDT is 8 KiB, and a byte loop over it cost
/// 4% of boot under TCG.
fn sums_to_zero(b: &[u8]) -> bool {
    const LANES: u64 = 0x00ff_00ff_00ff_00ff;
    let fold = |acc: u64| (acc + (acc >> 16) + (acc >> 32) + (acc >> 48)) as u8;
    let words = b.chunks_exact(8);
    let mut total = words
        .remainder()
        .iter()
        .fold(0u8, |a, &x| a.wrapping_add(x));
    let (mut acc, mut n) = (0u64, 0);
    for word in words {
        let v = u64::from_le_bytes(word.try_into().unwrap_or_default());
        acc += (v & LANES) + ((v >> 8) & LANES);
        n += 1;
        // Each lane gains at most 510 per word: 128 words stay below 2^16.
        if n == 128 {
            total = total.wrapping_add(fold(acc));
            (acc, n) = (0, 0);
        }
    }
    total.wrapping_add(fold(acc)) == 0
}

/// A whole system description table with its header and checksum checked.
fn table(what: &'static str, addr: u64) -> Result<&'static [u8], AcpiError> {
    let header = phys(what, addr, SDT_HEADER as u64)?;
    let len = u64::from(le32(header, 4).unwrap_or(0));
    if len < SDT_HEADER as u64 || len > MAX_TABLE {
        return Err(AcpiError::BadLength { what, addr, len });
    }
    let body = phys(what, addr, len)?;
    if !sums_to_zero(body) {
        return Err(AcpiError::BadChecksum { what, addr });
    }
    Ok(body)
}

/// The root table's entries (table addresses), found through the RSDP at `rsdp`.
fn root_entries(rsdp: u64) -> Result<impl Iterator<Item = u64>, AcpiError> {
    if rsdp == 0 {
        return Err(AcpiError::NoRsdp);
    }
    let v1 = phys("RSDP", rsdp, 20)?;
    if &v1[..8] != b"RSD PTR " {
        return Err(AcpiError::BadSignature {
            what: "RSDP",
            addr: rsdp,
        });
    }
    if !sums_to_zero(v1) {
        return Err(AcpiError::BadChecksum {
            what: "RSDP",
            addr: rsdp,
        });
    }
    let revision = v1[15];
    // ACPI 2.0+: the XSDT (64-bit entries) if present, checked by the extended checksum.
    let (root_addr, entry_size, what) = if revision >= 2 {
        let v2 = phys("RSDP", rsdp, 36)?;
        let len = u64::from(le32(v2, 20).unwrap_or(0));
        if len < 36 {
            return Err(AcpiError::BadLength {
                what: "RSDP",
                addr: rsdp,
                len,
            });
        }
        if !sums_to_zero(phys("RSDP", rsdp, len)?) {
            return Err(AcpiError::BadChecksum {
                what: "extended RSDP",
                addr: rsdp,
            });
        }
        match le64(v2, 24).unwrap_or(0) {
            0 => (u64::from(le32(v1, 16).unwrap_or(0)), 4, "RSDT"),
            xsdt => (xsdt, 8, "XSDT"),
        }
    } else {
        (u64::from(le32(v1, 16).unwrap_or(0)), 4, "RSDT")
    };
    let root = table(what, root_addr)?;
    let expected: &[u8; 4] = if entry_size == 8 { b"XSDT" } else { b"RSDT" };
    if &root[..4] != expected {
        return Err(AcpiError::BadSignature {
            what,
            addr: root_addr,
        });
    }
    let entries = root.get(SDT_HEADER..).unwrap_or_default();
    Ok(entries.chunks_exact(entry_size).filter_map(move |entry| {
        if entry_size == 8 {
            le64(entry, 0)
        } else {
            le32(entry, 0).map(u64::from)
        }
    }))
}

/// The table with signature `sig` listed in the root table, checked.
fn find_table(rsdp: u64, sig: &'static str) -> Result<&'static [u8], AcpiError> {
    for addr in root_entries(rsdp)? {
        // Peek at the signature first: other tables are not checked or used.
        if phys("table", addr, 4).is_ok_and(|s| s == sig.as_bytes()) {
            return table(sig, addr);
        }
    }
    Err(AcpiError::Missing(sig))
}

fn find_madt(rsdp: u64) -> Result<&'static [u8], AcpiError> {
    find_table(rsdp, "APIC")
}

/// Whether the FADT says the machine is hardware-reduced ACPI (flag bit 20: no legacy
/// fixed hardware; QEMU's microvm), as opposed to a full PC.
pub fn hardware_reduced(rsdp: u64) -> bool {
    find_table(rsdp, "FACP").is_ok_and(|fadt| le32(fadt, 112).is_some_and(|f| f & (1 << 20) != 0))
}

/// The AML of the DSDT (its body after the header), found through the FADT: `X_DSDT` when
/// the FADT is long enough to hold it and it is set, else `DSDT`.
pub fn dsdt(rsdp: u64) -> Result<&'static [u8], AcpiError> {
    let fadt = find_table(rsdp, "FACP")?;
    let addr = match le64(fadt, 140) {
        Some(x) if x != 0 => x,
        _ => u64::from(le32(fadt, 40).unwrap_or(0)),
    };
    let dsdt = table("DSDT", addr)?;
    if &dsdt[..4] != b"DSDT" {
        return Err(AcpiError::BadSignature { what: "DSDT", addr });
    }
    Ok(&dsdt[SDT_HEADER..])
}

/// Calls `found(id, address, gsi_base)` for every I/O APIC in the MADT (entry type 1).
pub fn for_each_ioapic(rsdp: u64, mut found: impl FnMut(u8, u64, u32)) -> Result<(), AcpiError> {
    for_each_madt_entry(rsdp, |kind, entry| {
        if kind == 1 {
            if let (Some(addr), Some(gsi_base)) = (le32(entry, 4), le32(entry, 8)) {
                found(entry[2], u64::from(addr), gsi_base);
            }
        }
    })
}

/// Walks the MADT's entries: `f(type, entry bytes)`, each entry at least 2 bytes long and the
/// minimum length of its type (types 0 and 9: CPUs; 1: I/O APIC, 12 bytes).
fn for_each_madt_entry(rsdp: u64, mut f: impl FnMut(u8, &[u8])) -> Result<(), AcpiError> {
    let madt = find_madt(rsdp)?;
    // Header, then the local APIC address (u32) and flags (u32), then the entries.
    let mut offset = SDT_HEADER + 8;
    while offset < madt.len() {
        let (Some(&kind), Some(&len)) = (madt.get(offset), madt.get(offset + 1)) else {
            return Err(AcpiError::BadMadtEntry {
                offset,
                kind: madt.get(offset).copied().unwrap_or(0),
                len: 0,
            });
        };
        let bad = AcpiError::BadMadtEntry { offset, kind, len };
        let entry = madt.get(offset..offset + usize::from(len)).ok_or(bad)?;
        let min = match kind {
            0 => 8,
            1 => 12,
            9 => 16,
            _ => 2,
        };
        if entry.len() < min {
            return Err(bad);
        }
        f(kind, entry);
        offset += usize::from(len);
    }
    Ok(())
}

/// Calls `found` with the APIC id of every enabled processor in the MADT, in table order.
/// x2APIC entries (type 9) and local APIC entries (type 0) both count; processors that are
/// only "online capable" (hot-pluggable, not present) do not.
pub fn for_each_cpu(rsdp: u64, mut found: impl FnMut(u32)) -> Result<(), AcpiError> {
    let enabled = |flags: Option<u32>| flags.is_some_and(|f| f & 1 != 0);
    for_each_madt_entry(rsdp, |kind, entry| match kind {
        0 if enabled(le32(entry, 4)) && entry[3] != 0xff => found(u32::from(entry[3])),
        9 if enabled(le32(entry, 8)) => {
            if let Some(id) = le32(entry, 4).filter(|&id| id != u32::MAX) {
                found(id);
            }
        }
        _ => {}
    })
}
