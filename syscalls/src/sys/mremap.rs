//! mremap: shrink, grow in place, or move a mapping with its pages (MREMAP_MAYMOVE,
//! MREMAP_FIXED, MREMAP_DONTUNMAP), following mm/mremap.c's checks and their order.
//!
//! Moving moves the page-table entries, not the bytes: a grown malloc arena keeps its pages.

use crate::mm::{page_up, Mm, Vma, VmaName, MAX_MAP_COUNT, PAGE, USER_TOP};
use crate::sys::mman::limit;
use crate::{Current, Errno, Platform, SysResult};

const MREMAP_MAYMOVE: u32 = 1;
const MREMAP_FIXED: u32 = 2;
const MREMAP_DONTUNMAP: u32 = 4;
const RLIMIT_MEMLOCK: usize = 8;
const RLIMIT_AS: usize = 9;

/// Limits a growth must respect.
struct Limits {
    memlock: u64,
    address_space: u64,
}

pub(crate) fn mremap(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    old_len: u64,
    new_len: u64,
    flags: u32,
    new_addr: u64,
) -> SysResult {
    if flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0
        || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
        || (flags & MREMAP_DONTUNMAP != 0 && (flags & MREMAP_MAYMOVE == 0 || old_len != new_len))
        || !addr.is_multiple_of(PAGE)
    {
        return Err(Errno::EINVAL);
    }
    let old_len = page_up(old_len).unwrap_or(0);
    let new_len = page_up(new_len).unwrap_or(0);
    if new_len == 0 {
        return Err(Errno::EINVAL);
    }
    let limits = Limits {
        memlock: limit(p, RLIMIT_MEMLOCK),
        address_space: limit(p, RLIMIT_AS),
    };
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        return remap_to(&mut mm, k, addr, old_len, new_addr, new_len, flags, &limits);
    }
    // Shrinking always works.
    if old_len >= new_len {
        // (A range past the user half is EINVAL, as munmap's.)
        let end = addr.checked_add(old_len).ok_or(Errno::EINVAL)?;
        let unmapped = mm.unmap_range(k, addr + new_len, end);
        if old_len != new_len {
            unmapped?;
        }
        return Ok(addr);
    }
    let (start, vma_end) = checked_vma(&mm, addr, old_len, new_len, &limits)?;
    // Growing in place: the range ends the VMA and the room after it is free.
    if old_len == vma_end - addr {
        let end = addr.checked_add(new_len).filter(|&e| e <= USER_TOP);
        if let Some(end) = end.filter(|&e| !mm.overlaps(vma_end, e)) {
            if let Some(v) = mm.vma_mut(start) {
                v.end = end;
            }
            mm.merge_around(start, end);
            populate_if_locked(&mut mm, k, vma_end, end);
            return Ok(addr);
        }
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    let to = mm.find_gap(new_len).ok_or(Errno::ENOMEM)?;
    move_vma(&mut mm, k, addr, old_len, to, new_len, false)
}

/// mremap_to: MREMAP_FIXED and MREMAP_DONTUNMAP.
fn remap_to(
    mm: &mut Mm,
    k: &mut dyn Platform,
    addr: u64,
    mut old_len: u64,
    new_addr: u64,
    new_len: u64,
    flags: u32,
    limits: &Limits,
) -> SysResult {
    if !new_addr.is_multiple_of(PAGE) || new_len > USER_TOP || new_addr > USER_TOP - new_len {
        return Err(Errno::EINVAL);
    }
    if addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
        return Err(Errno::EINVAL);
    }
    if mm.count() + 2 >= MAX_MAP_COUNT - 3 {
        return Err(Errno::ENOMEM);
    }
    let fixed = flags & MREMAP_FIXED != 0;
    if fixed {
        mm.unmap_range(k, new_addr, new_addr + new_len)?;
    }
    if old_len > new_len {
        let end = addr.checked_add(old_len).ok_or(Errno::EINVAL)?;
        mm.unmap_range(k, addr + new_len, end)?;
        old_len = new_len;
    }
    checked_vma(mm, addr, old_len, new_len, limits)?;
    if flags & MREMAP_DONTUNMAP != 0 && over_address_limit(mm, old_len, limits) {
        return Err(Errno::ENOMEM);
    }
    let to = if fixed || (new_addr != 0 && mm.hint_fits(new_addr, new_len)) {
        new_addr
    } else {
        mm.find_gap(new_len).ok_or(Errno::ENOMEM)?
    };
    move_vma(
        mm,
        k,
        addr,
        old_len,
        to,
        new_len,
        flags & MREMAP_DONTUNMAP != 0,
    )
}

fn over_address_limit(mm: &Mm, grow: u64, limits: &Limits) -> bool {
    limits.address_space != u64::MAX && mm.total_bytes().saturating_add(grow) > limits.address_space
}

/// vma_to_resize: the VMA holding `[addr, addr+old_len)`, as (start, end), if it may become
/// `new_len` long.
fn checked_vma(
    mm: &Mm,
    addr: u64,
    old_len: u64,
    new_len: u64,
    limits: &Limits,
) -> Result<(u64, u64), Errno> {
    let (start, v) = mm.vma_at(addr).ok_or(Errno::EFAULT)?;
    // A length of 0 duplicates a shared mapping; private ones cannot be duplicated.
    if old_len == 0 && !v.shared {
        return Err(Errno::EINVAL);
    }
    if old_len > v.end - addr {
        return Err(Errno::EFAULT);
    }
    if new_len == old_len {
        return Ok((start, v.end));
    }
    let grow = new_len.saturating_sub(old_len);
    if v.locked && mm.locked_bytes().saturating_add(grow) > limits.memlock {
        return Err(Errno::EAGAIN);
    }
    if over_address_limit(mm, grow, limits) {
        return Err(Errno::ENOMEM);
    }
    Ok((start, v.end))
}

/// move_vma: a new VMA of `new_len` at `to` takes over the pages of `[from, from+old_len)`;
/// the old range is unmapped unless `keep_old` (MREMAP_DONTUNMAP leaves it mapped and empty).
fn move_vma(
    mm: &mut Mm,
    k: &mut dyn Platform,
    from: u64,
    old_len: u64,
    to: u64,
    new_len: u64,
    keep_old: bool,
) -> SysResult {
    let (start, v) = mm.vma_at(from).ok_or(Errno::EFAULT)?;
    let moved = Vma {
        end: to + new_len,
        name: match v.name.advanced(from - start) {
            // The stack's name belongs to the stack's place.
            VmaName::Stack => VmaName::Anon,
            other => other,
        },
        growsdown: false,
        ..v.clone()
    };
    let locked = moved.locked;
    k.move_pages(from, to, old_len)?;
    mm.move_pinned(from, to, old_len);
    mm.insert(to, moved);
    if !keep_old && old_len > 0 {
        // Nothing is left to free there; this only removes the VMA.
        mm.unmap_range(k, from, from + old_len)?;
    }
    if locked {
        populate_if_locked(mm, k, to + old_len, to + new_len);
    }
    Ok(to)
}

/// Faults in a locked VMA's new part, as Linux does after growing one.
fn populate_if_locked(mm: &mut Mm, k: &mut dyn Platform, start: u64, end: u64) {
    if mm.vma_at(start).is_some_and(|(_, v)| v.locked) {
        let _ = mm.populate(k, start, end);
    }
}
