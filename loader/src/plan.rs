//! The load plan: which pages to map with which permissions, and which file bytes to copy.
//!
//! Built from an already validated [`Executable`], so nothing here can fail. The kernel maps
//! every [`Region`] zero-filled, then performs every [`Copy`] from the same file bytes it gave
//! to [`Executable::parse`]; what no copy covers stays zero, which is how `.bss` appears.

use alloc::vec::Vec;

use crate::elf::Executable;

/// Access rights of a mapping (an ELF segment's `p_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Perms {
    fn union(self, other: Perms) -> Perms {
        Perms {
            read: self.read || other.read,
            write: self.write || other.write,
            exec: self.exec || other.exec,
        }
    }
}

/// A page-aligned range `[start, end)` to map zero-filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    pub perms: Perms,
}

/// `len` bytes of the file from `file_offset` to be copied to user address `vaddr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    pub vaddr: u64,
    pub file_offset: u64,
    pub len: u64,
}

/// Everything the kernel needs to build the process image, with the load bias applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    /// Page-aligned, sorted, non-overlapping regions to map zero-filled with these permissions.
    /// Where two segments share a page, that page gets the union of their permissions (as Linux
    /// ends up with). Adjacent regions with equal permissions are merged.
    pub regions: Vec<Region>,
    /// File bytes to copy into the mapped regions after mapping (everything else stays zero:
    /// .bss). Exactly each segment's `[p_offset, p_offset + p_filesz)`: unlike Linux's
    /// whole-page file mappings, the bytes of a page outside every segment read as zero.
    pub copies: Vec<Copy>,
    /// `e_entry` + bias.
    pub entry: u64,
    /// User address of the program headers (AT_PHDR), 0 if no segment maps them.
    pub phdr: u64,
    /// Size of one program header (AT_PHENT).
    pub phent: u64,
    /// Number of program headers (AT_PHNUM).
    pub phnum: u64,
    /// Page-aligned end of the highest segment (initial program break).
    pub brk: u64,
}

/// Adds the pages of one segment to `regions`, which holds the pages of the segments below
/// it. Segments are sorted and do not overlap, so the new pages can share at most the last
/// page of `regions`.
fn add_pages(regions: &mut Vec<Region>, mut new: Region) {
    if let Some(last) = regions.last_mut() {
        if new.start < last.end {
            // `new` starts inside the last region's final page: split that page off with the
            // union of both permissions (mprotect of the second segment in Linux leaves it so).
            let shared = Region {
                start: new.start,
                end: last.end,
                perms: last.perms.union(new.perms),
            };
            last.end = new.start;
            if last.start == last.end {
                regions.pop();
            }
            new.start = shared.end;
            push_merged(regions, shared);
        }
    }
    if new.start < new.end {
        push_merged(regions, new);
    }
}

/// Appends `region`, merging it into the last one if they touch and have equal permissions.
fn push_merged(regions: &mut Vec<Region>, region: Region) {
    match regions.last_mut() {
        Some(last) if last.end == region.start && last.perms == region.perms => {
            last.end = region.end;
        }
        _ => regions.push(region),
    }
}

impl Executable {
    /// The load plan, with the bias applied.
    pub fn plan(&self) -> LoadPlan {
        let mut regions = Vec::new();
        for s in &self.segments {
            add_pages(
                &mut regions,
                Region {
                    start: s.page_start,
                    end: s.page_end,
                    perms: s.perms,
                },
            );
        }
        let copies = self
            .segments
            .iter()
            .filter(|s| s.file_len > 0)
            .map(|s| Copy {
                vaddr: s.start,
                file_offset: s.file_offset,
                len: s.file_len,
            })
            .collect();
        LoadPlan {
            regions,
            copies,
            entry: self.entry,
            phdr: self.phdr,
            phent: 56,
            phnum: self.phnum.into(),
            brk: self.segments.last().map_or(0, |s| s.page_end),
        }
    }
}
