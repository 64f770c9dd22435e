//! Memory maps: brk, mmap, munmap, mprotect, madvise, over a list of VMAs.
//!
//! The VMA list is the truth about the user half; the kernel's page tables follow it through
//! [`Platform::map_zeroed`], [`Platform::unmap`] and [`Platform::protect`]. Pages are mapped
//! eagerly for now; PROT_NONE reservations map nothing, so they cost nothing.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use coracle_loader::USER_TOP;

use crate::{Errno, Perms, Platform, Process, SysResult};

pub(crate) const PAGE: u64 = 4096;

const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;

const MAP_TYPE: u32 = 0xf;
const MAP_SHARED: u32 = 0x1;
const MAP_PRIVATE: u32 = 0x2;
const MAP_SHARED_VALIDATE: u32 = 0x3;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE - 1).map(|v| v & !(PAGE - 1))
}

fn prot_to_perms(prot: u32) -> Result<Perms, Errno> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(Perms {
        read: prot & PROT_READ != 0,
        write: prot & PROT_WRITE != 0,
        exec: prot & PROT_EXEC != 0,
    })
}

fn has_access(p: Perms) -> bool {
    p.read || p.write || p.exec
}

/// One mapped range of the user half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub perms: Perms,
}

/// The user half's layout: VMAs by start address, the program break, where mmap searches.
#[derive(Debug)]
pub struct Mm {
    vmas: BTreeMap<u64, Vma>,
    brk_start: u64,
    brk: u64,
    mmap_top: u64,
}

impl Mm {
    pub fn new(brk: u64, mmap_top: u64) -> Self {
        Self {
            vmas: BTreeMap::new(),
            brk_start: brk,
            brk,
            mmap_top,
        }
    }

    /// Records a range the kernel mapped itself (the image, the stack).
    pub fn record(&mut self, start: u64, end: u64, perms: Perms) {
        self.vmas.insert(start, Vma { end, perms });
    }

    /// The VMAs as `(start, end, perms)`, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = (u64, u64, Perms)> + '_ {
        self.vmas.iter().map(|(&s, v)| (s, v.end, v.perms))
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Removes `[start, end)` from the VMA list, splitting VMAs at the edges; returns the removed
    /// pieces.
    fn carve(&mut self, start: u64, end: u64) -> Vec<(u64, u64, Perms)> {
        let touched: Vec<(u64, Vma)> = self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .map(|(&s, &v)| (s, v))
            .collect();
        let mut removed = Vec::new();
        for (s, v) in touched {
            self.vmas.remove(&s);
            if s < start {
                self.vmas.insert(
                    s,
                    Vma {
                        end: start,
                        perms: v.perms,
                    },
                );
            }
            if v.end > end {
                self.vmas.insert(end, v);
            }
            removed.push((s.max(start), v.end.min(end), v.perms));
        }
        removed.reverse();
        removed
    }

    /// The highest free gap of `len` bytes ending at or below `top`, above the program break.
    fn find_gap(&self, len: u64, top: u64) -> Option<u64> {
        let mut hole_end = top;
        for (&s, v) in self.vmas.range(..top).rev() {
            if v.end <= hole_end && hole_end - v.end >= len {
                return Some(hole_end - len);
            }
            hole_end = hole_end.min(s);
        }
        let floor = page_up(self.brk)?.max(0x1_0000);
        (hole_end >= floor.checked_add(len)?).then(|| hole_end - len)
    }

    fn map(
        &mut self,
        k: &mut dyn Platform,
        start: u64,
        end: u64,
        perms: Perms,
    ) -> Result<(), Errno> {
        if has_access(perms) {
            k.map_zeroed(start, end - start, perms)?;
        }
        self.vmas.insert(start, Vma { end, perms });
        Ok(())
    }

    fn unmap_range(&mut self, k: &mut dyn Platform, start: u64, end: u64) {
        for (s, e, perms) in self.carve(start, end) {
            if has_access(perms) {
                k.unmap(s, e - s);
            }
        }
    }
}

pub(crate) fn mmap(
    p: &mut Process,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    offset: u64,
) -> SysResult {
    let perms = prot_to_perms(prot)?;
    if len == 0 || !offset.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & MAP_ANONYMOUS == 0 {
        // Only the console fds exist, and pipes and terminals cannot be mapped.
        p.fd(fd)?;
        return Err(Errno::ENODEV);
    }
    let len = page_up(len).ok_or(Errno::ENOMEM)?;
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let start = if fixed {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        let end = addr
            .checked_add(len)
            .filter(|&e| e <= USER_TOP)
            .ok_or(Errno::ENOMEM)?;
        if p.mm.overlaps(addr, end) {
            if flags & MAP_FIXED_NOREPLACE != 0 && flags & MAP_FIXED == 0 {
                return Err(Errno::EEXIST);
            }
            p.mm.unmap_range(k, addr, end);
        }
        addr
    } else {
        let hint = addr & !(PAGE - 1);
        let hint_ok = hint >= 0x1_0000
            && hint
                .checked_add(len)
                .is_some_and(|e| e <= USER_TOP && !p.mm.overlaps(hint, e));
        if hint_ok {
            hint
        } else {
            p.mm.find_gap(len, p.mm.mmap_top).ok_or(Errno::ENOMEM)?
        }
    };
    p.mm.map(k, start, start + len, perms)?;
    Ok(start)
}

pub(crate) fn munmap(p: &mut Process, k: &mut dyn Platform, addr: u64, len: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .filter(|&e| e <= USER_TOP)
        .ok_or(Errno::EINVAL)?;
    p.mm.unmap_range(k, addr, end);
    Ok(0)
}

pub(crate) fn mprotect(
    p: &mut Process,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
) -> SysResult {
    let perms = prot_to_perms(prot & !0x0300_0000)?; // PROT_GROWSDOWN/UP accepted and ignored
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::ENOMEM)?;
    if end == addr {
        return Ok(0);
    }
    // Linux requires the whole range to be mapped: ENOMEM otherwise.
    let mut cursor = addr;
    for (s, v) in p.mm.vmas.range(..end) {
        if v.end <= cursor {
            continue;
        }
        if *s > cursor {
            return Err(Errno::ENOMEM);
        }
        cursor = v.end;
    }
    if cursor < end {
        return Err(Errno::ENOMEM);
    }
    for (s, e, old) in p.mm.carve(addr, end) {
        match (has_access(old), has_access(perms)) {
            (false, true) => k.map_zeroed(s, e - s, perms)?,
            (true, false) => k.unmap(s, e - s),
            (true, true) => k.protect(s, e - s, perms),
            (false, false) => {}
        }
        p.mm.vmas.insert(s, Vma { end: e, perms });
    }
    Ok(0)
}

pub(crate) fn madvise(
    p: &mut Process,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    advice: i32,
) -> SysResult {
    const MADV_DONTNEED: i32 = 4;
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .ok_or(Errno::EINVAL)?;
    if advice == MADV_DONTNEED {
        // Private anonymous pages read back as zero after DONTNEED.
        let pieces: Vec<(u64, u64, Perms)> =
            p.mm.vmas()
                .filter(|&(s, e, _)| s < end && e > addr)
                .collect();
        for (s, e, perms) in pieces {
            if has_access(perms) {
                let (s, e) = (s.max(addr), e.min(end));
                k.map_zeroed(s, e - s, perms)?;
            }
        }
    }
    Ok(0)
}

pub(crate) fn brk(p: &mut Process, k: &mut dyn Platform, addr: u64) -> SysResult {
    let mm = &mut p.mm;
    if addr < mm.brk_start {
        return Ok(mm.brk);
    }
    let (Some(old_top), Some(new_top)) = (page_up(mm.brk), page_up(addr)) else {
        return Ok(mm.brk);
    };
    if new_top > old_top {
        if new_top > mm.mmap_top || mm.overlaps(old_top, new_top) {
            return Ok(mm.brk);
        }
        let rw = Perms {
            read: true,
            write: true,
            exec: false,
        };
        if mm.map(k, old_top, new_top, rw).is_err() {
            return Ok(mm.brk);
        }
        // Keep the heap one VMA, as /proc/self/maps shows it.
        if let Some((&s, v)) = mm.vmas.range(..old_top).next_back() {
            if v.end == old_top && v.perms == rw && s >= mm.brk_start {
                mm.vmas.remove(&old_top);
                mm.vmas.insert(
                    s,
                    Vma {
                        end: new_top,
                        perms: rw,
                    },
                );
            }
        }
    } else if new_top < old_top {
        mm.unmap_range(k, new_top, old_top);
    }
    mm.brk = addr;
    Ok(addr)
}
