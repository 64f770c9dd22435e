//! Fuzzes the loader as execve uses it: any bytes, as an executable or an interpreter placed
//! at a base taken from the input, give a load plan or an error, never a panic; and whatever
//! is accepted keeps the plan's invariants (page-aligned, sorted regions inside user space,
//! copies inside the file and mapped by the regions, the entry point mapped) and builds a
//! stack.
#![no_main]

use coracle_loader::{
    build_stack, interp_path, AuxValues, ElfFile, LoadPlan, StackParams, MMAP_MIN_ADDR, PAGE_SIZE,
    USER_TOP,
};
use libfuzzer_sys::fuzz_target;

/// Whether `[start, end)` is mapped by the plan's regions (sorted, not overlapping; a range
/// may span several where segments share a page and their permissions differ).
fn covered(plan: &LoadPlan, start: u64, end: u64) -> bool {
    let mut at = start;
    for r in &plan.regions {
        if r.start <= at && at < r.end {
            at = r.end;
        }
    }
    at >= end
}

fn check(plan: &LoadPlan, file_len: u64) {
    let mut prev_end = MMAP_MIN_ADDR;
    for r in &plan.regions {
        assert!(r.start % PAGE_SIZE == 0 && r.end % PAGE_SIZE == 0);
        assert!(prev_end <= r.start && r.start < r.end && r.end <= USER_TOP);
        prev_end = r.end;
    }
    for c in &plan.copies {
        assert!(c.file_offset.checked_add(c.len).unwrap() <= file_len);
        let end = c.vaddr.checked_add(c.len).unwrap();
        assert!(covered(plan, c.vaddr, end));
    }
    for m in &plan.file_maps {
        assert!(m.start % PAGE_SIZE == 0 && m.end % PAGE_SIZE == 0 && m.start < m.end);
        assert!(m.file_offset % PAGE_SIZE == 0);
        assert!(covered(plan, m.start, m.end));
    }
    assert!(plan
        .regions
        .iter()
        .any(|r| r.start <= plan.entry && plan.entry < r.end));
    assert!(plan.brk <= USER_TOP && plan.brk % PAGE_SIZE == 0);
}

fuzz_target!(|data: &[u8]| {
    // The first 8 bytes choose the base an ET_DYN is placed at; the rest is the file.
    let (base, file) = match data.split_first_chunk::<8>() {
        Some((b, rest)) => (u64::from_le_bytes(*b) & !(PAGE_SIZE - 1), rest),
        None => (0, data),
    };
    let len = file.len() as u64;
    // As the kernel does: the head alone, checked against the file's length.
    let head_len = coracle_loader::headers_len(file).map_or(file.len(), |n| {
        usize::try_from(n).unwrap_or(usize::MAX).min(file.len())
    });
    let Ok(elf) = ElfFile::parse_head(&file[..head_len], len) else {
        return;
    };
    let _ = (elf.span(), elf.max_align(), elf.lowest());
    if let Some(r) = elf.interp() {
        assert!(r.offset.checked_add(r.len).unwrap() <= len);
        let bytes = &file[r.offset as usize..(r.offset + r.len) as usize];
        let _ = interp_path(&r, bytes);
    }
    for base in [base, coracle_loader::PIE_BASE] {
        if let Ok(exe) = elf.place(base) {
            let plan = exe.plan();
            check(&plan, len);
            let params = StackParams {
                argv: &[b"prog"],
                envp: &[b"A=1"],
                execfn: b"/prog",
                random: [7; 16],
                align_pad: base % 9000,
                auxv: AuxValues::for_plan(&plan),
            };
            let stack = build_stack(&params, USER_TOP, 1 << 21).unwrap();
            assert_eq!(stack.sp % 16, 0);
        }
    }
});
