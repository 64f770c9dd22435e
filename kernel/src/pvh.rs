//! The PVH `hvm_start_info` block: memory map, command line and the initrd module.
//!
//! QEMU and Firecracker put it in guest memory and pass its physical address in %ebx. Every
//! field is read unaligned through the direct map (on microvm the module list is not even
//! 8-byte aligned) and checked before use.

use crate::mm::phys_to_virt;

const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Most RAM ranges kept from the memory map (QEMU gives 2-4).
pub const MAX_RANGES: usize = 32;

/// One RAM range usable by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRange {
    pub start: u64,
    pub end: u64,
}

/// What the kernel takes from `hvm_start_info`.
#[derive(Debug)]
pub struct BootInfo {
    /// RAM ranges (type 1 entries of the memory map), at most [`MAX_RANGES`].
    pub ram: [MemRange; MAX_RANGES],
    pub ram_len: usize,
    pub cmdline: &'static [u8],
    /// The initrd: physical start and length.
    pub initrd: Option<(u64, u64)>,
    /// The ACPI RSDP (0 if ACPI is off).
    pub rsdp: u64,
    /// A free page of RAM below 1 MiB, for the start-up code of the other CPUs.
    pub ap_trampoline: Option<u64>,
}

/// The highest 4 KiB page of RAM in [4 KiB, 640 KiB) that overlaps none of `keep` (boot data
/// read after boot). The frame allocator never hands out the first MiB, so it stays free.
fn low_free_page(ram: &[MemRange], keep: &[(u64, u64)]) -> Option<u64> {
    (1..0xa0u64).rev().map(|n| n << 12).find(|&page| {
        let end = page + 0x1000;
        ram.iter().any(|r| r.start <= page && end <= r.end)
            && keep
                .iter()
                .all(|&(start, stop)| stop <= page || start >= end)
    })
}

fn read_u32(phys: u64) -> u32 {
    // SAFETY: callers pass addresses inside the start_info structures QEMU wrote in RAM, which
    // the boot direct map covers (it maps the whole of low memory).
    unsafe { core::ptr::read_unaligned(phys_to_virt(phys) as *const u32) }
}

fn read_u64(phys: u64) -> u64 {
    // SAFETY: as for `read_u32`.
    unsafe { core::ptr::read_unaligned(phys_to_virt(phys) as *const u64) }
}

/// Reads the start_info at physical address `phys`. Returns `None` if its magic is wrong.
pub fn parse(phys: u64) -> Option<BootInfo> {
    if read_u32(phys) != START_INFO_MAGIC {
        return None;
    }
    let version = read_u32(phys + 4);
    let nr_modules = read_u32(phys + 12);
    let modlist = read_u64(phys + 16);
    let cmdline_paddr = read_u64(phys + 24);
    let rsdp = read_u64(phys + 32);

    let cmdline: &'static [u8] = if cmdline_paddr == 0 {
        &[]
    } else {
        let start = phys_to_virt(cmdline_paddr) as *const u8;
        let mut len = 0;
        // The command line is NUL-terminated; QEMU limits it well below 64 KiB.
        // SAFETY: the bytes up to and including the NUL lie in RAM covered by the direct map,
        // and stay untouched for the kernel's lifetime (the region is reserved below).
        while len < 65536 && unsafe { *start.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: `len` bytes from `start` were just read one by one.
        unsafe { core::slice::from_raw_parts(start, len) }
    };

    let initrd =
        (nr_modules > 0 && modlist != 0).then(|| (read_u64(modlist), read_u64(modlist + 8)));

    let mut ram = [MemRange { start: 0, end: 0 }; MAX_RANGES];
    let mut ram_len = 0;
    if version >= 1 {
        let memmap = read_u64(phys + 40);
        let entries = read_u32(phys + 48);
        for i in 0..u64::from(entries.min(128)) {
            let e = memmap + i * 24;
            let (addr, size, kind) = (read_u64(e), read_u64(e + 8), read_u32(e + 16));
            if kind == 1 && size > 0 && ram_len < MAX_RANGES {
                ram[ram_len] = MemRange {
                    start: addr,
                    end: addr.saturating_add(size),
                };
                ram_len += 1;
            }
        }
    }
    let keep = [
        (phys, phys + 64),
        (cmdline_paddr, cmdline_paddr + cmdline.len() as u64 + 1),
        (rsdp, rsdp.saturating_add(36)),
        initrd.map_or((0, 0), |(start, len)| (start, start.saturating_add(len))),
    ];
    let ap_trampoline = low_free_page(&ram[..ram_len], &keep);
    Some(BootInfo {
        ram,
        ram_len,
        cmdline,
        initrd,
        rsdp,
        ap_trampoline,
    })
}
