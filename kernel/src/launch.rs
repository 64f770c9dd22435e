//! Launch records embedded in the kernel image, for a packed image booted without an initrd
//! (docs/packed-image.md).
//!
//! The kernel carries an empty section, `.coracle_launch`; `coracle pack` writes the launch
//! records (the initrd of docs/guest-protocol.md with the root on the drive: the records and
//! the trailer) into the packed file's copy of it. The section is: 8 bytes of magic, the
//! records' length (u32, little-endian), 4 reserved bytes, then the records.

/// The section's size, its header included; `coracle pack` refuses larger records.
const SECTION_SIZE: usize = 32 * 1024;
const HEADER: usize = 16;
const MAGIC: &[u8; 8] = b"CRCLLNCH";

core::arch::global_asm!(
    r#"
    .section .coracle_launch, "a"
    .balign 4096
    .globl __coracle_launch
__coracle_launch:
    .ascii "CRCLLNCH"
    .zero {rest}
    "#,
    rest = const SECTION_SIZE - 8,
);

extern "C" {
    static __coracle_launch: [u8; SECTION_SIZE];
}

/// The embedded records as a physical range, if the packed file filled them in.
pub fn embedded() -> Option<(u64, u64)> {
    // SAFETY: the section is part of the kernel image, mapped read-only for the kernel's
    // whole life; its contents are whatever the file held, hence every check below.
    let section: &[u8; SECTION_SIZE] = unsafe { &*core::ptr::addr_of!(__coracle_launch) };
    if &section[..8] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes([section[8], section[9], section[10], section[11]]) as usize;
    if len == 0 || len > SECTION_SIZE - HEADER {
        return None;
    }
    let virt = section.as_ptr() as u64 + HEADER as u64;
    Some((virt - crate::mm::KERNEL_VMA, len as u64))
}
