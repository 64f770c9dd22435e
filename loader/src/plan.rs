//! The load plan: which pages to map with which permissions, and which file bytes to copy.
//!
//! Built from an already validated [`Executable`], so nothing here can fail. The kernel maps
//! every [`Region`] zero-filled, then performs every [`Copy`] from the same file bytes it gave
//! to [`Executable::parse`]; what no copy covers stays zero, which is how `.bss` appears.

use alloc::vec::Vec;

use crate::elf::Executable;
use crate::PAGE_SIZE;

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

/// Whole file pages to map at `[start, end)` from the page-aligned `file_offset` on, private
/// (copy-on-write), as Linux's elf_map maps each segment that has file bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileMap {
    pub start: u64,
    pub end: u64,
    pub file_offset: u64,
    /// Where the segment's file bytes end, when its zero-filled part (.bss) begins inside
    /// the last page: from here to that page's end the page reads as zero (Linux's padzero),
    /// so that page is the file's bytes up to here and zeros after.
    pub zero_from: Option<u64>,
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
    /// The same file bytes as whole-page mappings, in address order; a later one replaces
    /// an earlier one where they share a page (as a later MAP_FIXED mmap does in Linux).
    pub file_maps: Vec<FileMap>,
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
        let file_maps = self
            .segments
            .iter()
            .filter(|s| s.file_len > 0)
            .map(|s| {
                // check_load made sure the offset and the address agree within a page, and
                // that the file bytes lie inside the file.
                let file_end = s.start + s.file_len;
                FileMap {
                    start: s.page_start,
                    end: file_end.next_multiple_of(PAGE_SIZE),
                    file_offset: s.file_offset - (s.start - s.page_start),
                    zero_from: (s.end > file_end && !file_end.is_multiple_of(PAGE_SIZE))
                        .then_some(file_end),
                }
            })
            .collect();
        LoadPlan {
            regions,
            copies,
            file_maps,
            entry: self.entry,
            phdr: self.phdr,
            phent: 56,
            phnum: self.phnum.into(),
            brk: self.segments.last().map_or(0, |s| s.page_end),
        }
    }
}
