//! PCI configuration space, read through a [`Config`] the kernel implements: the capability
//! list, MSI-X and virtio's vendor capabilities (BARs are sized by virtio-drivers' `PciRoot`).
//!
//! Configuration space is device-provided data: the capability list is followed with a bound
//! on its length and offsets checked, so a looping or out-of-range list ends the walk instead
//! of hanging the kernel.

use alloc::vec::Vec;

/// 32-bit reads of one function's configuration space (offsets below 256, 4-aligned).
pub trait Config {
    fn read32(&self, offset: u8) -> u32;
}

pub const CAP_MSIX: u8 = 0x11;
pub const CAP_VENDOR: u8 = 0x09;
const STATUS_CAP_LIST: u32 = 1 << 20;
/// Most capabilities followed (192 bytes of capability space hold at most 48).
const MAX_CAPS: usize = 48;

/// The capabilities of a function: (id, offset of the capability header), in list order.
pub fn capabilities(cfg: &impl Config) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    if cfg.read32(0x04) & STATUS_CAP_LIST == 0 {
        return out;
    }
    let mut next = (cfg.read32(0x34) & 0xfc) as u8;
    while next >= 0x40 && out.len() < MAX_CAPS {
        let header = cfg.read32(next);
        out.push((header as u8, next));
        next = ((header >> 8) & 0xfc) as u8;
    }
    out
}

/// An MSI-X capability (PCI Local Bus 3.0 section 6.8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msix {
    /// Offset of the capability in configuration space.
    pub offset: u8,
    /// Number of table entries.
    pub table_size: u16,
    pub table_bar: u8,
    pub table_offset: u32,
}

impl Msix {
    /// The offset of the 16-bit Message Control register (enable: bit 15, mask all: bit 14).
    pub fn control_offset(&self) -> u8 {
        self.offset + 2
    }
}

/// Reads the MSI-X capability, if the function has one.
pub fn msix(cfg: &impl Config) -> Option<Msix> {
    let (_, offset) = capabilities(cfg)
        .into_iter()
        .find(|&(id, _)| id == CAP_MSIX)?;
    let control = cfg.read32(offset) >> 16;
    let table = cfg.read32(offset.checked_add(4)?);
    Some(Msix {
        offset,
        table_size: (control & 0x7ff) as u16 + 1,
        table_bar: (table & 7) as u8,
        table_offset: table & !7,
    })
}

/// An MSI message for a fixed, edge-triggered interrupt `vector` to the local APIC `apic_id`
/// (Intel SDM vol. 3A section 11.11): (address, data).
pub fn msi_message(apic_id: u8, vector: u8) -> (u64, u32) {
    (0xfee0_0000 | (u64::from(apic_id) << 12), u32::from(vector))
}

/// Where a virtio structure lives (virtio 1.2 section 4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioCap {
    pub cfg_type: u8,
    pub bar: u8,
    pub offset: u32,
    pub length: u32,
}

pub const VIRTIO_COMMON_CFG: u8 = 1;

/// The virtio vendor capabilities of a function.
pub fn virtio_caps(cfg: &impl Config) -> Vec<VirtioCap> {
    capabilities(cfg)
        .into_iter()
        .filter(|&(id, off)| id == CAP_VENDOR && off <= 0xff - 15)
        .filter_map(|(_, off)| {
            let header = cfg.read32(off);
            if (header >> 16) & 0xff < 16 {
                return None;
            }
            Some(VirtioCap {
                cfg_type: (header >> 24) as u8,
                bar: cfg.read32(off + 4) as u8,
                offset: cfg.read32(off + 8),
                length: cfg.read32(off + 12),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// A configuration space in an array.
    struct Fake([u8; 256]);

    impl Config for Fake {
        fn read32(&self, offset: u8) -> u32 {
            let o = usize::from(offset & 0xfc);
            u32::from_le_bytes(self.0[o..o + 4].try_into().unwrap())
        }
    }

    impl Fake {
        fn put(&mut self, at: usize, bytes: &[u8]) {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    /// Like QEMU's virtio-net-pci: MSI-X at 0x98 (3 vectors, table in BAR 1), then the
    /// virtio capabilities at 0x84, 0x70, 0x60, 0x50, 0x40.
    fn virtio_net() -> Fake {
        let mut f = Fake([0; 256]);
        f.put(0, &[0xf4, 0x1a, 0x00, 0x10]);
        f.put(6, &[0x10, 0x00]); // status: capability list
        f.put(0x34, &[0x98]);
        f.put(0x98, &[CAP_MSIX, 0x84, 0x02, 0x00]);
        f.put(0x9c, &1u32.to_le_bytes());
        f.put(0xa0, &(0x800u32 | 1).to_le_bytes());
        let caps = [
            (0x84, 0x70, 5u8),
            (0x70, 0x60, 4),
            (0x60, 0x50, 3),
            (0x50, 0x40, 2),
            (0x40, 0, 1),
        ];
        for (at, next, kind) in caps {
            f.put(at, &[CAP_VENDOR, next, 16, kind]);
            f.put(at + 4, &[4, 0, 0, 0]);
            f.put(at + 8, &(u32::from(kind - 1) * 0x1000).to_le_bytes());
            f.put(at + 12, &0x1000u32.to_le_bytes());
        }
        f
    }

    #[test]
    fn walks_the_list() {
        let f = virtio_net();
        let ids: Vec<_> = capabilities(&f).iter().map(|c| c.0).collect();
        assert_eq!(ids, vec![CAP_MSIX, 9, 9, 9, 9, 9]);
        assert_eq!(
            msix(&f),
            Some(Msix {
                offset: 0x98,
                table_size: 3,
                table_bar: 1,
                table_offset: 0
            })
        );
        let caps = virtio_caps(&f);
        assert_eq!(caps.len(), 5);
        let common = caps
            .iter()
            .find(|c| c.cfg_type == VIRTIO_COMMON_CFG)
            .unwrap();
        assert_eq!((common.bar, common.offset, common.length), (4, 0, 0x1000));
    }

    #[test]
    fn no_list_and_looping_lists() {
        let mut f = virtio_net();
        f.put(6, &[0, 0]);
        assert!(capabilities(&f).is_empty());
        // A list that points back at itself ends after the bound.
        let mut f = virtio_net();
        f.put(0x40, &[CAP_VENDOR, 0x98]);
        assert_eq!(capabilities(&f).len(), MAX_CAPS);
        // A pointer into the header area ends the walk.
        let mut f = virtio_net();
        f.put(0x98, &[CAP_MSIX, 0x10]);
        assert_eq!(capabilities(&f).len(), 1);
        // A vendor capability too short for virtio's fields is ignored.
        let mut f = virtio_net();
        f.put(0x84, &[CAP_VENDOR, 0x70, 8, 5]);
        assert_eq!(virtio_caps(&f).len(), 4);
    }

    #[test]
    fn messages() {
        assert_eq!(msi_message(3, 0x41), (0xfee0_3000, 0x41));
    }
}
