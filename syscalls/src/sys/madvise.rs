//! madvise and mincore, with mm/madvise.c's and mm/mincore.c's checks in their order.
//!
//! MADV_DONTNEED and MADV_FREE drop the pages at once (private anonymous memory then reads
//! as zeros, file mappings read the file again); MADV_REMOVE punches the hole in the file;
//! MADV_POPULATE_* fault the range in; MADV_DONTFORK and MADV_WIPEONFORK (and their undoing)
//! mark the VMAs for fork. The other advice is valid and changes nothing here.

use alloc::vec::Vec;

use crate::mm::{page_up, Mm, VmaName, PAGE, USER_TOP};
use crate::{Current, Errno, Platform, SysResult};

const MADV_WILLNEED: i32 = 3;
const MADV_DONTNEED: i32 = 4;
const MADV_FREE: i32 = 8;
const MADV_REMOVE: i32 = 9;
const MADV_DONTFORK: i32 = 10;
const MADV_DOFORK: i32 = 11;
const MADV_WIPEONFORK: i32 = 18;
const MADV_KEEPONFORK: i32 = 19;
const MADV_COLD: i32 = 20;
const MADV_PAGEOUT: i32 = 21;
const MADV_POPULATE_READ: i32 = 22;
const MADV_POPULATE_WRITE: i32 = 23;
const MADV_DONTNEED_LOCKED: i32 = 24;
const MADV_HWPOISON: i32 = 100;
const MADV_SOFT_OFFLINE: i32 = 101;

fn valid(advice: i32) -> bool {
    matches!(advice, 0..=4 | 8..=25 | MADV_HWPOISON | MADV_SOFT_OFFLINE)
}

pub(crate) fn madvise(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    advice: i32,
) -> SysResult {
    if !valid(advice) || !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let rounded = page_up(len).unwrap_or(0);
    if len != 0 && rounded == 0 {
        return Err(Errno::EINVAL);
    }
    let end = addr.checked_add(rounded).ok_or(Errno::EINVAL)?;
    if end == addr {
        return Ok(0);
    }
    if matches!(advice, MADV_HWPOISON | MADV_SOFT_OFFLINE) {
        // Needs CAP_SYS_ADMIN, which a container lacks.
        return Err(Errno::EPERM);
    }
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if matches!(advice, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
        return populate(&mut mm, k, addr, end, advice == MADV_POPULATE_WRITE).map(|()| 0);
    }
    // madvise_walk_vmas: holes are skipped and reported as ENOMEM at the end.
    let mut start = addr;
    let mut unmapped = false;
    loop {
        let (s, v) = mm.find(start).ok_or(Errno::ENOMEM)?;
        if start < s {
            unmapped = true;
            start = s;
            if start >= end {
                break;
            }
        }
        let piece_end = v.end.min(end);
        advise_one(&mut mm, k, s, start, piece_end, advice)?;
        start = piece_end;
        if start >= end {
            break;
        }
    }
    if unmapped {
        Err(Errno::ENOMEM)
    } else {
        Ok(0)
    }
}

/// The advice for `[start, end)` of the VMA at `vma_start`.
fn advise_one(
    mm: &mut Mm,
    k: &mut dyn Platform,
    vma_start: u64,
    start: u64,
    end: u64,
    advice: i32,
) -> Result<(), Errno> {
    let Some((_, v)) = mm.vma_at(vma_start) else {
        return Ok(());
    };
    let anonymous = matches!(v.name, VmaName::Anon | VmaName::Stack);
    match advice {
        MADV_DONTNEED | MADV_DONTNEED_LOCKED | MADV_FREE => {
            // The kernel's own pages (VM_PFNMAP-like) cannot be dropped.
            if matches!(v.name, VmaName::Special(_)) {
                return Err(Errno::EINVAL);
            }
            if v.locked && advice != MADV_DONTNEED_LOCKED {
                return Err(Errno::EINVAL);
            }
            if advice == MADV_FREE && !anonymous {
                return Err(Errno::EINVAL);
            }
            mm.drop_pages(k, start, end);
        }
        MADV_REMOVE => {
            if v.locked {
                return Err(Errno::EINVAL);
            }
            let VmaName::File { inode, offset, .. } = &v.name else {
                return Err(Errno::EINVAL);
            };
            if !(v.shared && v.may_write) {
                return Err(Errno::EACCES);
            }
            let (inode, at) = (inode.clone(), offset + (start - vma_start));
            inode.punch_hole(at, end - start)?;
            mm.drop_pages(k, start, end);
        }
        MADV_WIPEONFORK if !anonymous || v.shared => return Err(Errno::EINVAL),
        MADV_DONTFORK | MADV_DOFORK | MADV_WIPEONFORK | MADV_KEEPONFORK => {
            // Flags of the VMA, so the range gets VMAs of its own (as Linux splits them).
            mm.split_at(start)?;
            mm.split_at(end)?;
            if let Some(v) = mm.vma_mut(start) {
                match advice {
                    MADV_DONTFORK => v.dontfork = true,
                    MADV_DOFORK => v.dontfork = false,
                    MADV_WIPEONFORK => v.wipeonfork = true,
                    _ => v.wipeonfork = false,
                }
            }
            mm.merge_around(start, end);
        }
        MADV_COLD | MADV_PAGEOUT if v.locked => return Err(Errno::EINVAL),
        MADV_WILLNEED => {}
        _ => {}
    }
    Ok(())
}

/// madvise_populate: every page of the range resident, readable (or writable).
fn populate(
    mm: &mut Mm,
    k: &mut dyn Platform,
    start: u64,
    end: u64,
    write: bool,
) -> Result<(), Errno> {
    let mut cursor = start;
    while cursor < end {
        let (_, v) = mm.vma_at(cursor).ok_or(Errno::ENOMEM)?;
        // Linux 6.x answers EINVAL for a mapping that does not allow the access.
        if !crate::mm::accessible(v.perms) || (write && !v.perms.write) {
            return Err(Errno::EINVAL);
        }
        let piece_end = v.end.min(end);
        mm.populate(k, cursor, piece_end)?;
        cursor = piece_end;
    }
    Ok(())
}

pub(crate) fn mincore(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    vec: u64,
) -> SysResult {
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    if addr.checked_add(len).is_none_or(|e| e > USER_TOP) {
        return Err(Errno::ENOMEM);
    }
    let mut pages = len / PAGE + u64::from(!len.is_multiple_of(PAGE));
    if vec.checked_add(pages).is_none_or(|e| e > USER_TOP) {
        return Err(Errno::EFAULT);
    }
    let (mut at, mut out) = (addr, vec);
    // A page of results at a time, the mm lock dropped for each copy (as Linux does).
    while pages > 0 {
        let chunk = residency(&p.process.mm.get().lock(), k, at, pages.min(PAGE))?;
        k.write_user(out, &chunk)?;
        let n = chunk.len() as u64;
        pages -= n;
        out += n;
        at += n * PAGE;
    }
    Ok(0)
}

/// One byte per page from `addr` on, up to `pages` and the end of the VMA holding `addr`:
/// 1 if the page is resident (mapped, or in the page cache of the file it maps).
fn residency(mm: &Mm, k: &dyn Platform, addr: u64, pages: u64) -> Result<Vec<u8>, Errno> {
    let (s, v) = mm.vma_at(addr).ok_or(Errno::ENOMEM)?;
    let end = v.end.min(addr + pages * PAGE);
    let mut out = Vec::with_capacity(((end - addr) / PAGE) as usize);
    let mut page = addr;
    while page < end {
        let resident = k.query(page).is_some()
            || match &v.name {
                VmaName::File { inode, offset, .. } => inode
                    .cached()
                    .is_some_and(|c| c.page_cache().contains((offset + (page - s)) / PAGE)),
                _ => false,
            };
        out.push(u8::from(resident));
        page += PAGE;
    }
    Ok(out)
}
