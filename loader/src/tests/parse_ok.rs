//! Valid images: the plan's regions, permissions, copies, entry, AT_PHDR and brk.

use alloc::vec;

use super::builder::*;
use crate::{Copy, ExecKind, Executable, Perms, Region, PIE_BASE};

const RO: Perms = Perms {
    read: true,
    write: false,
    exec: false,
};
const RX: Perms = Perms {
    read: true,
    write: false,
    exec: true,
};
const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};
const RWX: Perms = Perms {
    read: true,
    write: true,
    exec: true,
};

#[test]
fn exec_plan_has_union_perms_on_shared_page_and_zero_bss() {
    let exe = Executable::parse(&exec_image()).unwrap();
    assert_eq!(exe.kind(), ExecKind::Exec);
    assert_eq!(exe.load_bias(), 0);
    let plan = exe.plan();
    assert_eq!(
        plan.regions,
        vec![
            Region {
                start: 0x40_0000,
                end: 0x40_1000,
                perms: RO
            },
            // Text ends and data starts in this page: Linux leaves it with both mappings'
            // rights.
            Region {
                start: 0x40_1000,
                end: 0x40_2000,
                perms: RWX
            },
            Region {
                start: 0x40_2000,
                end: 0x40_4000,
                perms: RW
            },
        ]
    );
    // Only p_filesz bytes are copied; the rest of the data segment (its .bss) stays zero.
    assert_eq!(
        plan.copies,
        vec![
            Copy {
                vaddr: 0x40_0000,
                file_offset: 0,
                len: 0x200
            },
            Copy {
                vaddr: 0x40_1000,
                file_offset: 0x1000,
                len: 0x500
            },
            Copy {
                vaddr: 0x40_1600,
                file_offset: 0x1600,
                len: 0x100
            },
        ]
    );
    assert_eq!(plan.entry, 0x40_1000);
    assert_eq!(plan.phdr, 0x40_0000 + PHOFF);
    assert_eq!((plan.phent, plan.phnum), (56, 5));
    assert_eq!(plan.brk, 0x40_4000);
}

#[test]
fn static_pie_is_placed_at_pie_base() {
    let exe = Executable::parse(&pie_image()).unwrap();
    assert_eq!(exe.kind(), ExecKind::Pie);
    assert_eq!(exe.load_bias(), PIE_BASE);
    let plan = exe.plan();
    let b = PIE_BASE;
    assert_eq!(
        plan.regions,
        vec![
            Region {
                start: b,
                end: b + 0x1000,
                perms: RO
            },
            Region {
                start: b + 0x1000,
                end: b + 0x2000,
                perms: RX
            },
            Region {
                start: b + 0x3000,
                end: b + 0x5000,
                perms: RW
            },
        ]
    );
    assert_eq!(
        plan.copies,
        vec![
            Copy {
                vaddr: b,
                file_offset: 0,
                len: 0x300
            },
            Copy {
                vaddr: b + 0x1000,
                file_offset: 0x1000,
                len: 0x800
            },
            Copy {
                vaddr: b + 0x3000,
                file_offset: 0x2000,
                len: 0x10
            },
        ]
    );
    assert_eq!(plan.entry, b + 0x1000);
    // From PT_PHDR.
    assert_eq!(plan.phdr, b + PHOFF);
    assert_eq!(plan.phnum, 4);
    assert_eq!(plan.brk, b + 0x5000);
}

#[test]
fn static_pie_linked_above_zero_still_starts_at_pie_base() {
    let f = build(
        ET_DYN,
        0x20_1234,
        &[
            load(R, 0, 0x20_0000, 0x300, 0x300),
            load(R | X, 0x1000, 0x20_1000, 0x800, 0x800),
        ],
        &[],
    );
    let exe = Executable::parse(&f).unwrap();
    assert_eq!(exe.load_bias(), PIE_BASE - 0x20_0000);
    let plan = exe.plan();
    assert_eq!(plan.regions[0].start, PIE_BASE);
    assert_eq!(plan.entry, PIE_BASE + 0x1234);
    // No PT_PHDR: found through the PT_LOAD whose file bytes hold the table.
    assert_eq!(plan.phdr, PIE_BASE + PHOFF);
    assert_eq!(plan.brk, PIE_BASE + 0x2000);
}

#[test]
fn segments_sharing_one_page_get_one_region_with_all_perms() {
    let f = build(
        ET_EXEC,
        0x40_0100,
        &[
            load(X, 0x100, 0x40_0100, 0x10, 0x10),
            load(R, 0x200, 0x40_0200, 0x10, 0x10),
            load(W, 0x300, 0x40_0300, 0x10, 0x10),
        ],
        &[],
    );
    let plan = Executable::parse(&f).unwrap().plan();
    assert_eq!(
        plan.regions,
        vec![Region {
            start: 0x40_0000,
            end: 0x40_1000,
            perms: RWX
        }]
    );
    assert_eq!(plan.copies.len(), 3);
    // The table at offset 64 is in no segment's file bytes.
    assert_eq!(plan.phdr, 0);
}

#[test]
fn adjacent_segments_with_equal_perms_merge() {
    let f = build(
        ET_EXEC,
        0x40_0000,
        &[
            load(R | X, 0, 0x40_0000, 0x1000, 0x1000),
            load(R | X, 0x1000, 0x40_1000, 0x1000, 0x1000),
        ],
        &[],
    );
    let plan = Executable::parse(&f).unwrap().plan();
    assert_eq!(
        plan.regions,
        vec![Region {
            start: 0x40_0000,
            end: 0x40_2000,
            perms: RX
        }]
    );
}

#[test]
fn empty_pt_load_maps_nothing() {
    let f = build(
        ET_EXEC,
        0x40_0000,
        &[
            load(R | X, 0, 0x40_0000, 0x100, 0x100),
            load(R | W, 0x100, 0x7000_0100, 0, 0),
        ],
        &[],
    );
    let plan = Executable::parse(&f).unwrap().plan();
    assert_eq!(plan.regions.len(), 1);
    assert_eq!(plan.copies.len(), 1);
    assert_eq!(plan.brk, 0x40_1000);
}

#[test]
fn pure_bss_segment_has_no_copy() {
    let f = build(
        ET_EXEC,
        0x40_0000,
        &[
            load(R | X, 0, 0x40_0000, 0x100, 0x100),
            load(R | W, 0x1000, 0x40_1000, 0, 0x3000),
        ],
        &[],
    );
    let plan = Executable::parse(&f).unwrap().plan();
    assert_eq!(
        plan.copies,
        vec![Copy {
            vaddr: 0x40_0000,
            file_offset: 0,
            len: 0x100
        }]
    );
    assert_eq!(
        plan.regions[1],
        Region {
            start: 0x40_1000,
            end: 0x40_4000,
            perms: RW
        }
    );
}

#[test]
fn align_zero_and_one_are_accepted() {
    let mut f = exec_image();
    poke(&mut f, ph_field(0, 48), &0u64.to_le_bytes());
    poke(&mut f, ph_field(1, 48), &1u64.to_le_bytes());
    poke(&mut f, ph_field(2, 48), &0x20_0000u64.to_le_bytes());
    assert!(Executable::parse(&f).is_ok());
}

#[test]
fn segment_ending_exactly_at_user_top_is_accepted() {
    let top = crate::USER_TOP;
    let f = build(
        ET_EXEC,
        top - 0x1000,
        &[load(R | X, 0x1000, top - 0x1000, 0x10, 0x1000)],
        &[],
    );
    assert_eq!(Executable::parse(&f).unwrap().plan().brk, top);
}
