//! Executables with an interpreter and the placement of ET_DYN images: the parts of the
//! loader the kernel uses for PT_INTERP and ASLR.

use alloc::vec::Vec;

use super::builder::*;
use crate::{interp_path, ElfError, ElfFile, ExecKind, InterpRef, MMAP_MIN_ADDR, USER_TOP};

const LD_SO: &[u8] = b"/lib64/ld-linux-x86-64.so.2\0";

/// A PIE with an interpreter, as gcc links one: PT_PHDR, PT_INTERP, then the segments.
fn dynamic_pie() -> Vec<u8> {
    build(
        ET_DYN,
        0x1040,
        &[
            other(PT_PHDR, PHOFF, PHOFF, 56 * 5),
            other(PT_INTERP, 0x318, 0x318, LD_SO.len() as u64),
            load(R, 0, 0, 0x600, 0x600),
            load(R | X, 0x1000, 0x1000, 0x200, 0x200),
            load(R | W, 0x2000, 0x3000, 0x10, 0x1010),
        ],
        &[(0x318, LD_SO)],
    )
}

#[test]
fn interpreter_is_found_and_its_path_read() {
    let f = dynamic_pie();
    let elf = ElfFile::parse(&f).unwrap();
    assert_eq!(elf.kind(), ExecKind::Pie);
    let r = elf.interp().unwrap();
    assert_eq!(
        r,
        InterpRef {
            index: 1,
            offset: 0x318,
            len: LD_SO.len() as u64
        }
    );
    let bytes = &f[0x318..0x318 + LD_SO.len()];
    assert_eq!(
        interp_path(&r, bytes).unwrap(),
        b"/lib64/ld-linux-x86-64.so.2"
    );
}

#[test]
fn interpreter_path_must_end_in_nul() {
    let r = InterpRef {
        index: 1,
        offset: 0,
        len: 4,
    };
    let bad = ElfError::BadInterpPath { index: 1 };
    assert_eq!(interp_path(&r, b"/abc"), Err(bad.clone()));
    // Not as many bytes as the header says.
    assert_eq!(interp_path(&r, b"/a\0"), Err(bad.clone()));
    assert_eq!(interp_path(&r, b"\0\0\0\0"), Err(bad));
    assert_eq!(interp_path(&r, b"/a\0\0").unwrap(), b"/a");
}

#[test]
fn interpreter_header_sizes_are_bounded_as_linux_does() {
    for size in [0, 1, 4097] {
        let f = build(
            ET_DYN,
            0x1000,
            &[
                other(PT_INTERP, 0x200, 0x200, size),
                load(R | X, 0, 0, 0x2000, 0x2000),
            ],
            &[],
        );
        assert_eq!(
            ElfFile::parse(&f).unwrap_err(),
            ElfError::BadInterpPath { index: 0 },
            "size {size}"
        );
    }
    let mut f = dynamic_pie();
    let len = f.len() as u64;
    poke(&mut f, ph_field(1, 8), &len.to_le_bytes());
    assert_eq!(
        ElfFile::parse(&f).unwrap_err(),
        ElfError::InterpPastEnd { index: 1 }
    );
}

#[test]
fn pie_is_placed_at_any_page_and_keeps_its_layout() {
    let elf = ElfFile::parse(&dynamic_pie()).unwrap();
    assert_eq!(elf.span(), 0x5000);
    assert_eq!(elf.max_align(), 0x1000);
    for base in [0x5555_5555_4000, 0x5600_1234_5000, MMAP_MIN_ADDR] {
        let exe = elf.place(base).unwrap();
        assert_eq!(exe.load_bias(), base);
        let plan = exe.plan();
        assert_eq!(plan.regions[0].start, base);
        assert_eq!(plan.entry, base + 0x1040);
        assert_eq!(plan.phdr, base + PHOFF);
        assert_eq!(plan.brk, base + 0x5000);
    }
}

#[test]
fn pie_placed_out_of_user_space_is_refused() {
    let elf = ElfFile::parse(&dynamic_pie()).unwrap();
    assert_eq!(
        elf.place(USER_TOP - 0x1000).unwrap_err(),
        ElfError::SegmentInKernelSpace {
            index: 3,
            end: USER_TOP + 0x200
        }
    );
    assert!(matches!(
        elf.place(0).unwrap_err(),
        ElfError::SegmentBelowMinAddr { index: 2, start: 0 }
    ));
    assert!(matches!(
        elf.place(u64::MAX - 0xfff).unwrap_err(),
        ElfError::SegmentOverflow { .. } | ElfError::SegmentInKernelSpace { .. }
    ));
}

#[test]
fn pie_linked_high_moves_down() {
    // A prelinked interpreter: linked at a high address, placed below it.
    let high = 0x7f00_0000_0000;
    let f = build(
        ET_DYN,
        high + 0x1000,
        &[
            load(R, 0, high, 0x300, 0x300),
            load(R | X, 0x1000, high + 0x1000, 0x100, 0x100),
        ],
        &[],
    );
    let elf = ElfFile::parse(&f).unwrap();
    let exe = elf.place(0x10_0000).unwrap();
    assert_eq!(exe.plan().entry, 0x10_1000);
    assert_eq!(exe.plan().phdr, 0x10_0000 + PHOFF);
}

#[test]
fn fixed_executable_ignores_the_base() {
    let f = build(
        ET_EXEC,
        0x40_1000,
        &[
            other(PT_INTERP, 0x200, 0, LD_SO.len() as u64),
            load(R | X, 0, 0x40_0000, 0x1100, 0x1100),
        ],
        &[(0x200, LD_SO)],
    );
    let elf = ElfFile::parse(&f).unwrap();
    assert!(elf.interp().is_some());
    assert_eq!(elf.place(0x5555_0000_0000).unwrap().plan().entry, 0x40_1000);
}

#[test]
fn segment_alignment_is_reported() {
    let mut f = dynamic_pie();
    poke(&mut f, ph_field(3, 48), &0x20_0000u64.to_le_bytes());
    poke(&mut f, ph_field(3, 8), &0x1000u64.to_le_bytes());
    assert_eq!(ElfFile::parse(&f).unwrap().max_align(), 0x20_0000);
}
