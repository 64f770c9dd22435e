//! A tiny ELF64 writer for tests: an ELF header, program headers right after it, and file
//! bytes filled with a recognisable pattern so that copies can be checked.

use alloc::vec;
use alloc::vec::Vec;

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_TLS: u32 = 7;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const R: u32 = 4;
pub const W: u32 = 2;
pub const X: u32 = 1;

/// One program header.
#[derive(Clone, Copy, Debug)]
pub struct Ph {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}

/// A PT_LOAD with page alignment.
pub fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Ph {
    Ph {
        p_type: PT_LOAD,
        p_flags: flags,
        p_offset: offset,
        p_vaddr: vaddr,
        p_filesz: filesz,
        p_memsz: memsz,
        p_align: 0x1000,
    }
}

/// Any other program header.
pub fn other(p_type: u32, offset: u64, vaddr: u64, size: u64) -> Ph {
    Ph {
        p_type,
        p_flags: R,
        p_offset: offset,
        p_vaddr: vaddr,
        p_filesz: size,
        p_memsz: size,
        p_align: 8,
    }
}

pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const PHOFF: u64 = 64;

/// The pattern byte at file offset `off`.
pub fn pattern(off: u64) -> u8 {
    (off % 251) as u8 ^ 0x5a
}

/// Writes an ELF file: header, program headers at [`PHOFF`], the pattern everywhere else,
/// `extra` bytes written over it, and long enough to hold every segment's file bytes.
pub fn build(e_type: u16, entry: u64, phdrs: &[Ph], extra: &[(u64, &[u8])]) -> Vec<u8> {
    let table_end = PHOFF + 56 * phdrs.len() as u64;
    let mut len = table_end;
    for p in phdrs {
        len = len.max(p.p_offset + p.p_filesz);
    }
    for (off, bytes) in extra {
        len = len.max(off + bytes.len() as u64);
    }
    let mut f: Vec<u8> = (0..len).map(pattern).collect();
    let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    h.resize(16, 0);
    h.extend_from_slice(&e_type.to_le_bytes());
    h.extend_from_slice(&62u16.to_le_bytes());
    h.extend_from_slice(&1u32.to_le_bytes());
    h.extend_from_slice(&entry.to_le_bytes());
    h.extend_from_slice(&PHOFF.to_le_bytes());
    h.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    h.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    h.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
    h.extend_from_slice(&56u16.to_le_bytes());
    h.extend_from_slice(&(phdrs.len() as u16).to_le_bytes());
    h.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    assert_eq!(h.len(), 64);
    for p in phdrs {
        h.extend_from_slice(&p.p_type.to_le_bytes());
        h.extend_from_slice(&p.p_flags.to_le_bytes());
        h.extend_from_slice(&p.p_offset.to_le_bytes());
        h.extend_from_slice(&p.p_vaddr.to_le_bytes());
        h.extend_from_slice(&p.p_vaddr.to_le_bytes()); // p_paddr
        h.extend_from_slice(&p.p_filesz.to_le_bytes());
        h.extend_from_slice(&p.p_memsz.to_le_bytes());
        h.extend_from_slice(&p.p_align.to_le_bytes());
    }
    f[..h.len()].copy_from_slice(&h);
    for (off, bytes) in extra {
        let off = *off as usize;
        f[off..off + bytes.len()].copy_from_slice(bytes);
    }
    f
}

/// Overwrites a little-endian field of a built file.
pub fn poke(f: &mut [u8], off: usize, bytes: &[u8]) {
    f[off..off + bytes.len()].copy_from_slice(bytes);
}

/// File offset of field `field` of program header `index`.
pub fn ph_field(index: usize, field: usize) -> usize {
    PHOFF as usize + 56 * index + field
}

/// A valid static ET_EXEC: headers in a read-only segment, text and data sharing a page,
/// a `.bss`, plus PT_TLS and PT_GNU_STACK that the loader ignores.
pub fn exec_image() -> Vec<u8> {
    build(
        ET_EXEC,
        0x40_1000,
        &[
            load(R, 0, 0x40_0000, 0x200, 0x200),
            load(R | X, 0x1000, 0x40_1000, 0x500, 0x500),
            load(R | W, 0x1600, 0x40_1600, 0x100, 0x2000),
            other(PT_TLS, 0x1600, 0x40_1600, 0x10),
            other(PT_GNU_STACK, 0, 0, 0),
        ],
        &[],
    )
}

/// A valid static-PIE linked at 0, with PT_PHDR.
pub fn pie_image() -> Vec<u8> {
    build(
        ET_DYN,
        0x1000,
        &[
            other(PT_PHDR, PHOFF, PHOFF, 56 * 4),
            load(R, 0, 0, 0x300, 0x300),
            load(R | X, 0x1000, 0x1000, 0x800, 0x800),
            load(R | W, 0x2000, 0x3000, 0x10, 0x1010),
        ],
        &[],
    )
}
