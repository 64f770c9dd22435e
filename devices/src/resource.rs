//! ACPI resource templates (ACPI 6.5 section 6.4): the byte lists in a device's `_CRS`.
//!
//! Only what a device driver needs is kept: fixed memory ranges (where a device's registers
//! are) and interrupts (which GSI, and how it is triggered). Other descriptors are skipped by
//! their length; a descriptor that runs past the buffer is an error.

use alloc::vec::Vec;

/// How an interrupt line signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt {
    /// The global system interrupt (an IOAPIC input once the MADT says which IOAPIC).
    pub gsi: u32,
    /// Level-triggered (else edge).
    pub level: bool,
    /// Active low (else active high).
    pub active_low: bool,
}

/// The resources of one `_CRS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Memory ranges: (base, length).
    pub memory: Vec<(u64, u64)>,
    pub interrupts: Vec<Interrupt>,
}

/// Why a resource template was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceError {
    /// The descriptor at this offset runs past the end of the template.
    Truncated(usize),
    /// A descriptor at this offset is shorter than its type requires.
    TooShort(usize),
}

impl core::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated(at) => write!(f, "resource descriptor at {at} runs past the template"),
            Self::TooShort(at) => write!(f, "resource descriptor at {at} is too short"),
        }
    }
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn le64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

// Small descriptor types (bits 6:3 of the tag byte).
const SMALL_IRQ: u8 = 0x4;
const SMALL_END: u8 = 0xf;
// Large descriptor types (bits 6:0 of the tag byte).
const LARGE_MEMORY32: u8 = 0x05;
const LARGE_MEMORY32_FIXED: u8 = 0x06;
const LARGE_DWORD_ADDRESS: u8 = 0x07;
const LARGE_EXTENDED_IRQ: u8 = 0x09;
const LARGE_QWORD_ADDRESS: u8 = 0x0a;

/// Parses a resource template. Stops at the end tag (or the end of the bytes).
pub fn parse(bytes: &[u8]) -> Result<Resources, ResourceError> {
    let mut out = Resources::default();
    let mut at = 0;
    while at < bytes.len() {
        let tag = bytes[at];
        if tag & 0x80 == 0 {
            let kind = (tag >> 3) & 0xf;
            let len = usize::from(tag & 7);
            let body = bytes
                .get(at + 1..at + 1 + len)
                .ok_or(ResourceError::Truncated(at))?;
            match kind {
                SMALL_END => return Ok(out),
                SMALL_IRQ => {
                    let mask = le16(body, 0).ok_or(ResourceError::TooShort(at))?;
                    // Without the flags byte: edge-triggered, active high (ISA).
                    let flags = body.get(2).copied().unwrap_or(1);
                    for gsi in (0..16).filter(|i| mask & (1 << i) != 0) {
                        out.interrupts.push(Interrupt {
                            gsi,
                            level: flags & 1 == 0,
                            active_low: flags & 8 != 0,
                        });
                    }
                }
                _ => {}
            }
            at += 1 + len;
        } else {
            let len = usize::from(le16(bytes, at + 1).ok_or(ResourceError::Truncated(at))?);
            let body = bytes
                .get(at + 3..at + 3 + len)
                .ok_or(ResourceError::Truncated(at))?;
            let short = ResourceError::TooShort(at);
            match tag & 0x7f {
                LARGE_MEMORY32_FIXED => {
                    let base = le32(body, 1).ok_or(short)?;
                    let size = le32(body, 5).ok_or(short)?;
                    out.memory.push((u64::from(base), u64::from(size)));
                }
                LARGE_MEMORY32 => {
                    // Minimum, maximum, alignment, length: a fixed range when min == max.
                    let base = le32(body, 1).ok_or(short)?;
                    let size = le32(body, 13).ok_or(short)?;
                    out.memory.push((u64::from(base), u64::from(size)));
                }
                LARGE_DWORD_ADDRESS | LARGE_QWORD_ADDRESS => {
                    // Resource type 0 is memory; the minimum and the length are what is used.
                    let (min, size) = if tag & 0x7f == LARGE_QWORD_ADDRESS {
                        (le64(body, 11), le64(body, 35))
                    } else {
                        (le32(body, 7).map(u64::from), le32(body, 19).map(u64::from))
                    };
                    if body.first() == Some(&0) {
                        out.memory.push((min.ok_or(short)?, size.ok_or(short)?));
                    }
                }
                LARGE_EXTENDED_IRQ => {
                    let flags = *body.first().ok_or(short)?;
                    let count = usize::from(*body.get(1).ok_or(short)?);
                    for i in 0..count {
                        let gsi = le32(body, 2 + 4 * i).ok_or(short)?;
                        out.interrupts.push(Interrupt {
                            gsi,
                            level: flags & 2 == 0,
                            active_low: flags & 4 != 0,
                        });
                    }
                }
                _ => {}
            }
            at += 3 + len;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// What QEMU's microvm puts in a virtio-mmio slot's `_CRS`: Memory32Fixed and a
    /// level-triggered, active-high Interrupt, then the end tag.
    pub(crate) fn virtio_slot(base: u32, gsi: u32) -> Vec<u8> {
        let mut v = vec![0x86, 9, 0, 1];
        v.extend_from_slice(&base.to_le_bytes());
        v.extend_from_slice(&0x200u32.to_le_bytes());
        v.extend_from_slice(&[0x89, 6, 0, 0x09, 1]);
        v.extend_from_slice(&gsi.to_le_bytes());
        v.extend_from_slice(&[0x79, 0]);
        v
    }

    #[test]
    fn virtio_mmio_slot() {
        let r = parse(&virtio_slot(0xfeb0_2e00, 47)).unwrap();
        assert_eq!(r.memory, vec![(0xfeb0_2e00, 0x200)]);
        assert_eq!(
            r.interrupts,
            vec![Interrupt {
                gsi: 47,
                level: true,
                active_low: false
            }]
        );
    }

    #[test]
    fn isa_irq_and_io_are_read_or_skipped() {
        // IO(Decode16, 0x3f8, 0x3f8, 0, 8), IRQNoFlags {4}, end.
        let bytes = [0x47, 1, 0xf8, 3, 0xf8, 3, 0, 8, 0x22, 0x10, 0, 0x79, 0];
        let r = parse(&bytes).unwrap();
        assert!(r.memory.is_empty());
        assert_eq!(
            r.interrupts,
            vec![Interrupt {
                gsi: 4,
                level: false,
                active_low: false
            }]
        );
    }

    #[test]
    fn truncated_descriptors_are_errors() {
        let full = virtio_slot(0xfeb0_0000, 24);
        for cut in 1..full.len() - 2 {
            // Cutting inside a descriptor must never panic, and mostly is an error.
            let _ = parse(&full[..cut]);
        }
        assert_eq!(parse(&full[..5]), Err(ResourceError::Truncated(0)));
        // An extended interrupt claiming more entries than it holds.
        let bad = [0x89, 6, 0, 0x09, 3, 24, 0, 0, 0];
        assert_eq!(parse(&bad), Err(ResourceError::TooShort(0)));
        // Memory32Fixed with a length too small for its fields.
        let bad = [0x86, 3, 0, 1, 0, 0];
        assert_eq!(parse(&bad), Err(ResourceError::TooShort(0)));
    }

    #[test]
    fn no_end_tag_is_accepted_at_the_end() {
        let mut bytes = virtio_slot(0x1000, 5);
        bytes.truncate(bytes.len() - 2);
        assert_eq!(parse(&bytes).unwrap().memory, vec![(0x1000, 0x200)]);
        assert_eq!(parse(&[]).unwrap(), Resources::default());
    }
}
