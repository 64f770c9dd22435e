//! Malformed and unsupported files: each gets its own error, and a message a person can act on.

use alloc::string::ToString;
use alloc::vec::Vec;

use super::builder::*;
use crate::{ElfError, Executable, PIE_BASE, USER_TOP};

fn err(f: &[u8]) -> ElfError {
    Executable::parse(f).unwrap_err()
}

fn exec_with(phdrs: &[Ph]) -> Vec<u8> {
    build(ET_EXEC, 0x40_0000, phdrs, &[])
}

#[test]
fn empty_file_is_not_elf() {
    assert_eq!(err(&[]), ElfError::NotElf);
    assert_eq!(err(b"\x7fEL"), ElfError::NotElf);
    assert_eq!(ElfError::NotElf.to_string(), "not an ELF file");
}

#[test]
fn bad_magic_is_not_elf() {
    let mut f = exec_image();
    f[1] = b'X';
    assert_eq!(err(&f), ElfError::NotElf);
    assert_eq!(err(b"#!/bin/sh\necho hi\n"), ElfError::NotElf);
}

#[test]
fn short_header_is_truncated() {
    let f = exec_image();
    assert_eq!(err(&f[..40]), ElfError::TruncatedHeader { len: 40 });
    assert_eq!(err(&f[..4]), ElfError::TruncatedHeader { len: 4 });
    assert!(err(&f[..63]).to_string().starts_with("truncated"));
}

#[test]
fn elf32_is_refused() {
    let mut f = exec_image();
    f[4] = 1;
    assert_eq!(err(&f), ElfError::WrongClass { class: 1 });
    assert!(err(&f).to_string().contains("32-bit"));
}

#[test]
fn big_endian_is_refused() {
    let mut f = exec_image();
    f[5] = 2;
    assert_eq!(err(&f), ElfError::WrongEndian { data: 2 });
    assert!(err(&f).to_string().contains("big-endian"));
}

#[test]
fn wrong_versions_are_refused() {
    let mut f = exec_image();
    f[6] = 0;
    assert_eq!(err(&f), ElfError::WrongVersion { version: 0 });
    let mut f = exec_image();
    poke(&mut f, 20, &2u32.to_le_bytes());
    assert_eq!(err(&f), ElfError::WrongVersion { version: 2 });
}

#[test]
fn aarch64_is_refused_with_its_name() {
    let mut f = exec_image();
    poke(&mut f, 18, &183u16.to_le_bytes());
    assert_eq!(err(&f), ElfError::WrongMachine { machine: 183 });
    assert_eq!(
        err(&f).to_string(),
        "ELF for machine EM_AARCH64 (183), Coracle runs x86_64 only"
    );
    poke(&mut f, 18, &9999u16.to_le_bytes());
    assert_eq!(
        err(&f).to_string(),
        "ELF for machine 9999, Coracle runs x86_64 only"
    );
}

#[test]
fn relocatable_and_core_files_are_refused() {
    for (e_type, word) in [(1u16, "ET_REL"), (4, "ET_CORE"), (0, "ET_NONE")] {
        let mut f = exec_image();
        poke(&mut f, 16, &e_type.to_le_bytes());
        assert_eq!(err(&f), ElfError::WrongType { e_type });
        assert!(err(&f).to_string().contains(word));
    }
}

#[test]
fn program_headers_past_eof_name_the_first_missing_one() {
    let f = exec_image();
    // Cut inside program header 3 (the table starts at 64, 56 bytes each).
    let cut = PHOFF as usize + 56 * 3 + 10;
    assert_eq!(err(&f[..cut]), ElfError::ProgramHeaderPastEnd { index: 3 });
    assert_eq!(
        err(&f[..cut]).to_string(),
        "truncated: program header 3 lies past the end of the file"
    );
    let mut f = exec_image();
    poke(&mut f, 32, &u64::MAX.to_le_bytes());
    assert_eq!(err(&f), ElfError::ProgramHeaderPastEnd { index: 0 });
}

#[test]
fn wrong_phentsize_is_refused() {
    let mut f = exec_image();
    poke(&mut f, 54, &32u16.to_le_bytes());
    assert_eq!(err(&f), ElfError::BadPhentsize { phentsize: 32 });
}

#[test]
fn more_program_headers_than_a_page_is_refused() {
    let mut f = exec_image();
    poke(&mut f, 56, &74u16.to_le_bytes());
    assert_eq!(err(&f), ElfError::TooManyProgramHeaders { phnum: 74 });
}

#[test]
fn no_pt_load_is_refused() {
    let f = exec_with(&[other(PT_GNU_STACK, 0, 0, 0)]);
    assert_eq!(err(&f), ElfError::NoLoadSegment);
    let f = exec_with(&[]);
    assert_eq!(err(&f), ElfError::NoLoadSegment);
    let f = exec_with(&[load(R, 0, 0x40_0000, 0, 0)]);
    assert_eq!(err(&f), ElfError::NoLoadSegment);
}

#[test]
fn segment_data_past_eof_is_truncated() {
    let mut f = exec_image();
    let len = f.len() as u64;
    poke(&mut f, ph_field(2, 32), &len.to_le_bytes()); // p_filesz
    poke(&mut f, ph_field(2, 40), &len.to_le_bytes()); // p_memsz
    assert_eq!(err(&f), ElfError::SegmentPastEnd { index: 2 });
    poke(&mut f, ph_field(2, 8), &u64::MAX.to_le_bytes()); // p_offset: overflows
    assert_eq!(err(&f), ElfError::SegmentPastEnd { index: 2 });
}

#[test]
fn filesz_above_memsz_is_refused() {
    let f = exec_with(&[load(R, 0, 0x40_0000, 0x200, 0x100)]);
    assert_eq!(err(&f), ElfError::FileszExceedsMemsz { index: 0 });
    assert_eq!(err(&f).to_string(), "segment 0 has p_filesz > p_memsz");
}

#[test]
fn vaddr_plus_memsz_overflow_is_refused() {
    let f = exec_with(&[load(R, 0, 0xffff_ffff_ffff_f000, 0x10, 0x2000)]);
    assert_eq!(err(&f), ElfError::SegmentOverflow { index: 0 });
}

#[test]
fn segment_reaching_user_top_is_refused() {
    let f = exec_with(&[load(R, 0x1000, USER_TOP - 0x1000, 0x10, 0x1001)]);
    assert_eq!(
        err(&f),
        ElfError::SegmentInKernelSpace {
            index: 0,
            end: USER_TOP + 1
        }
    );
    assert!(err(&f).to_string().contains("kernel space"));
    let f = exec_with(&[load(R, 0, 0xffff_8000_0000_0000, 0x10, 0x10)]);
    assert!(matches!(
        err(&f),
        ElfError::SegmentInKernelSpace { index: 0, .. }
    ));
}

#[test]
fn static_pie_pushed_past_user_top_by_the_bias_is_refused() {
    // Fine as linked, but PIE_BASE + vaddr is beyond user space.
    let vaddr = USER_TOP - PIE_BASE;
    let f = build(
        ET_DYN,
        0,
        &[
            load(R | X, 0, 0, 0x100, 0x100),
            load(R, 0x1000, vaddr, 0x10, 0x10),
        ],
        &[],
    );
    assert!(matches!(
        err(&f),
        ElfError::SegmentInKernelSpace { index: 1, .. }
    ));
}

#[test]
fn segment_in_the_null_page_is_refused() {
    let f = build(ET_EXEC, 0x1000, &[load(R | X, 0, 0, 0x2000, 0x2000)], &[]);
    assert_eq!(
        err(&f),
        ElfError::SegmentBelowMinAddr { index: 0, start: 0 }
    );
}

#[test]
fn overlapping_segments_are_refused() {
    let f = exec_with(&[
        other(PT_GNU_STACK, 0, 0, 0),
        load(R, 0, 0x40_0000, 0x200, 0x200),
        load(R | W, 0x1100, 0x40_0100, 0x100, 0x100),
    ]);
    assert_eq!(
        err(&f),
        ElfError::SegmentsOverlap {
            first: 1,
            second: 2
        }
    );
    assert_eq!(err(&f).to_string(), "PT_LOAD segments 1 and 2 overlap");
}

#[test]
fn unsorted_segments_are_refused() {
    let f = exec_with(&[
        load(R | W, 0x1000, 0x40_1000, 0x100, 0x100),
        load(R, 0, 0x40_0000, 0x200, 0x200),
    ]);
    assert_eq!(err(&f), ElfError::SegmentsUnsorted { prev: 0, index: 1 });
}

#[test]
fn misaligned_offset_and_vaddr_are_refused() {
    let f = exec_with(&[load(R, 0x10, 0x40_0000, 0x100, 0x100)]);
    assert_eq!(
        err(&f),
        ElfError::MisalignedSegment {
            index: 0,
            vaddr: 0x40_0000,
            offset: 0x10
        }
    );
}

#[test]
fn align_not_a_power_of_two_is_refused() {
    let mut f = exec_image();
    poke(&mut f, ph_field(1, 48), &0x3000u64.to_le_bytes());
    assert_eq!(
        err(&f),
        ElfError::BadAlignment {
            index: 1,
            align: 0x3000
        }
    );
}

#[test]
fn interpreter_makes_it_dynamic_with_the_path() {
    let path = b"/lib64/ld-linux-x86-64.so.2\0";
    let f = build(
        ET_DYN,
        0x1000,
        &[
            other(PT_PHDR, PHOFF, PHOFF, 56 * 3),
            other(PT_INTERP, 0x200, 0x200, path.len() as u64),
            load(R | X, 0, 0, 0x1000, 0x1000),
        ],
        &[(0x200, path)],
    );
    let e = err(&f);
    assert_eq!(
        e,
        ElfError::Dynamic {
            interp: "/lib64/ld-linux-x86-64.so.2".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2): Coracle runs static \
         executables only for now"
    );
}

#[test]
fn interpreter_path_is_lossy_utf8_and_bounded() {
    let f = build(
        ET_EXEC,
        0x40_0000,
        &[
            other(PT_INTERP, 0x200, 0, 4),
            load(R | X, 0, 0x40_0000, 0x300, 0x300),
        ],
        &[(0x200, b"/\xffx\0")],
    );
    assert_eq!(
        err(&f),
        ElfError::Dynamic {
            interp: "/\u{fffd}x".into()
        }
    );
    let f = build(
        ET_EXEC,
        0x40_0000,
        &[
            other(PT_INTERP, 0x200, 0, 0x10_0000),
            load(R | X, 0, 0x40_0000, 0x300, 0x300),
        ],
        &[],
    );
    // build() lengthens the file to hold every segment, so cut it back.
    assert_eq!(err(&f[..0x400]), ElfError::InterpPastEnd { index: 0 });
}

#[test]
fn entry_outside_segments_is_refused() {
    let mut f = exec_image();
    poke(&mut f, 24, &0x50_0000u64.to_le_bytes());
    assert_eq!(err(&f), ElfError::EntryOutsideSegments { entry: 0x50_0000 });
}

#[test]
fn pt_phdr_outside_segments_is_refused() {
    let f = exec_with(&[
        other(PT_PHDR, PHOFF, 0x60_0000, 56 * 2),
        load(R | X, 0, 0x40_0000, 0x300, 0x300),
    ]);
    assert_eq!(err(&f), ElfError::PhdrOutsideSegments { index: 0 });
}

#[test]
fn static_pie_linked_above_pie_base_is_refused() {
    let f = build(
        ET_DYN,
        PIE_BASE + 0x1000,
        &[load(R | X, 0, PIE_BASE + 0x1000, 0x300, 0x300)],
        &[],
    );
    assert_eq!(
        err(&f),
        ElfError::PieAboveBase {
            vaddr: PIE_BASE + 0x1000
        }
    );
}
