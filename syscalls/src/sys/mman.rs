//! mmap, munmap, mprotect, pkey_mprotect, brk, msync and the mlock family, over the VMAs of
//! [`crate::mm`].
//!
//! Nothing is allocated here but VMAs: pages come on first touch (`mm::fault`), except for
//! MAP_POPULATE, MAP_LOCKED and mlock, which fault the range in at once.

use alloc::sync::Arc;

use coracle_vfs::types::FileType;

use crate::mm::{page_up, Mm, Vma, VmaName, MAX_MAP_COUNT, MMAP_MIN_ADDR, PAGE, USER_TOP};
use crate::{Current, Errno, Perms, Platform, SysResult};

const PROT_READ: u32 = 1;
const PROT_WRITE: u32 = 2;
const PROT_EXEC: u32 = 4;
const PROT_SEM: u32 = 8;
const PROT_GROWSDOWN: u32 = 0x0100_0000;
const PROT_GROWSUP: u32 = 0x0200_0000;

const MAP_TYPE: u32 = 0xf;
const MAP_SHARED: u32 = 0x1;
const MAP_PRIVATE: u32 = 0x2;
const MAP_SHARED_VALIDATE: u32 = 0x3;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_GROWSDOWN: u32 = 0x100;
const MAP_DENYWRITE: u32 = 0x800;
const MAP_EXECUTABLE: u32 = 0x1000;
const MAP_LOCKED: u32 = 0x2000;
const MAP_NORESERVE: u32 = 0x4000;
const MAP_POPULATE: u32 = 0x8000;
const MAP_NONBLOCK: u32 = 0x1_0000;
const MAP_STACK: u32 = 0x2_0000;
const MAP_HUGETLB: u32 = 0x4_0000;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
const MAP_UNINITIALIZED: u32 = 0x400_0000;
/// The flags MAP_SHARED_VALIDATE accepts (LEGACY_MAP_MASK; tmpfs adds none).
const LEGACY_MAP_MASK: u32 = MAP_SHARED
    | MAP_PRIVATE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_UNINITIALIZED
    | MAP_GROWSDOWN
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB;

/// RLIMIT_* indexes.
const RLIMIT_DATA: usize = 2;
const RLIMIT_MEMLOCK: usize = 8;
const RLIMIT_AS: usize = 9;

/// What shared anonymous memory is called in /proc/<pid>/maps.
const SHARED_ANON_NAME: &[u8] = b"/dev/zero (deleted)";

pub(crate) fn perms_of(prot: u32) -> Perms {
    Perms {
        read: prot & PROT_READ != 0,
        write: prot & PROT_WRITE != 0,
        exec: prot & PROT_EXEC != 0,
    }
}

/// The soft limit of resource `r`.
pub(crate) fn limit(p: &Current, r: usize) -> u64 {
    p.process.limits.lock()[r].0
}

/// What a new mapping is backed by.
struct Backing {
    name: VmaName,
    shared: bool,
    may_write: bool,
}

pub(crate) fn mmap(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    offset: u64,
) -> SysResult {
    if !offset.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let anonymous = flags & MAP_ANONYMOUS != 0;
    let file = if anonymous { None } else { Some(p.file(fd)?) };
    if anonymous && flags & MAP_HUGETLB != 0 {
        // No huge pages are reserved (nr_hugepages is 0): hugetlbfs cannot back it.
        return Err(Errno::ENOMEM);
    }
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len)
        .filter(|&l| l <= USER_TOP)
        .ok_or(Errno::ENOMEM)?;
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    if fixed {
        if !addr.is_multiple_of(PAGE) {
            return Err(Errno::EINVAL);
        }
        if addr > USER_TOP - len {
            return Err(Errno::ENOMEM);
        }
        if addr < MMAP_MIN_ADDR {
            // Below mmap_min_addr needs CAP_SYS_RAWIO, which a container lacks.
            return Err(Errno::EPERM);
        }
    }
    let perms = perms_of(prot);
    let backing = match &file {
        None => match flags & MAP_TYPE {
            MAP_SHARED if flags & MAP_GROWSDOWN == 0 => shared_anon(p, len)?,
            MAP_PRIVATE => Backing {
                name: VmaName::Anon,
                shared: false,
                may_write: true,
            },
            _ => return Err(Errno::EINVAL),
        },
        Some(file) => file_backing(p, file, len, perms, flags, offset)?,
    };
    let locked = flags & MAP_LOCKED != 0;
    if locked && limit(p, RLIMIT_MEMLOCK) == 0 {
        return Err(Errno::EPERM);
    }
    let total_ram = p.sys.info.mem_total();
    let as_limit = limit(p, RLIMIT_AS);
    let memlock = limit(p, RLIMIT_MEMLOCK);
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if mm.count() >= MAX_MAP_COUNT {
        return Err(Errno::ENOMEM);
    }
    let start = if fixed {
        if flags & MAP_FIXED_NOREPLACE != 0 && mm.overlaps(addr, addr + len) {
            return Err(Errno::EEXIST);
        }
        addr
    } else {
        let hint = match addr & !(PAGE - 1) {
            0 => 0,
            h => h.max(MMAP_MIN_ADDR),
        };
        if hint != 0 && mm.hint_fits(hint, len) {
            hint
        } else {
            mm.find_gap(len).ok_or(Errno::ENOMEM)?
        }
    };
    let locked = locked || mm.locks_future();
    if locked && mm.locked_bytes().saturating_add(len) > memlock {
        return Err(Errno::EAGAIN);
    }
    if as_limit != u64::MAX && mm.total_bytes().saturating_add(len) > as_limit {
        return Err(Errno::ENOMEM);
    }
    // Overcommit heuristic (mode 0): one private writable mapping may not exceed all of RAM.
    let accountable = !backing.shared && perms.write && flags & MAP_NORESERVE == 0;
    if accountable && len > total_ram {
        return Err(Errno::ENOMEM);
    }
    if fixed {
        mm.unmap_range(k, start, start + len)?;
    }
    let vma = Vma {
        end: start + len,
        perms,
        shared: backing.shared,
        may_write: backing.may_write,
        growsdown: file.is_none() && flags & MAP_GROWSDOWN != 0,
        locked,
        dontfork: false,
        wipeonfork: false,
        name: backing.name,
    };
    mm.insert(start, vma);
    let populate = locked || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
    if populate {
        if let Err(Errno::ENOMEM) = mm.populate(k, start, start + len) {
            // Linux would let the OOM killer decide later; an error now is kinder.
            mm.unmap_range(k, start, start + len)?;
            return Err(Errno::ENOMEM);
        }
    }
    Ok(start)
}

/// Shared anonymous memory: an unnamed tmpfs file of the mapping's size (shmem_zero_setup).
fn shared_anon(p: &Current, len: u64) -> Result<Backing, Errno> {
    let inode = coracle_vfs::tmpfs::create_unnamed(&p.sys.memfd_dir(), 0o600, 0, 0, false)?;
    inode.truncate(len)?;
    Ok(Backing {
        name: VmaName::File {
            inode,
            path: Arc::from(SHARED_ANON_NAME),
            offset: 0,
        },
        shared: true,
        may_write: true,
    })
}

/// The checks of a file mapping (do_mmap's file half) and what backs it.
fn file_backing(
    p: &Current,
    file: &Arc<coracle_vfs::OpenFile>,
    len: u64,
    perms: Perms,
    flags: u32,
    offset: u64,
) -> Result<Backing, Errno> {
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    // file_mmap_ok: the range must fit below MAX_LFS_FILESIZE.
    if offset.checked_add(len).is_none_or(|e| e > i64::MAX as u64) {
        return Err(Errno::EOVERFLOW);
    }
    let mut may_write = true;
    let shared = match flags & MAP_TYPE {
        MAP_SHARED | MAP_SHARED_VALIDATE => {
            if flags & MAP_TYPE == MAP_SHARED_VALIDATE && flags & !LEGACY_MAP_MASK != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if perms.write && !file.writable() {
                return Err(Errno::EACCES);
            }
            may_write = file.writable();
            true
        }
        MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    if !file.readable() {
        return Err(Errno::EACCES);
    }
    let inode = file.inode();
    let st = inode.stat();
    match st.file_type() {
        FileType::Regular if inode.cached().is_some() => {}
        // /dev/zero: private maps are anonymous memory, shared ones shared anonymous memory.
        FileType::CharDevice if st.rdev == coracle_vfs::makedev(1, 5) => {
            if flags & MAP_GROWSDOWN != 0 {
                return Err(Errno::EINVAL);
            }
            return if shared {
                shared_anon(p, len)
            } else {
                Ok(Backing {
                    name: VmaName::Anon,
                    shared: false,
                    may_write: true,
                })
            };
        }
        _ => return Err(Errno::ENODEV),
    }
    if flags & MAP_GROWSDOWN != 0 {
        return Err(Errno::EINVAL);
    }
    if shared && may_write {
        let seals = crate::sys::fs::seals_of(p, file);
        if seals & (crate::sys::fs::F_SEAL_WRITE | crate::sys::fs::F_SEAL_FUTURE_WRITE) != 0 {
            if perms.write {
                return Err(Errno::EPERM);
            }
            // A read-only shared map of a write-sealed memfd may never become writable.
            may_write = false;
        }
    }
    Ok(Backing {
        name: VmaName::File {
            inode: inode.clone(),
            path: file.path().into(),
            offset,
        },
        shared,
        may_write,
    })
}

pub(crate) fn munmap(p: &mut Current, k: &mut dyn Platform, addr: u64, len: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) || addr > USER_TOP || len > USER_TOP - addr {
        return Err(Errno::EINVAL);
    }
    let len = page_up(len).ok_or(Errno::EINVAL)?;
    if len == 0 {
        return Err(Errno::EINVAL);
    }
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    let written = mm.backed_shared_files(addr, addr + len);
    mm.unmap_range(k, addr, addr + len)?;
    drop(mm);
    // Nothing writes dirty file pages back in the background: what was stored through a
    // mapping of a file with a backing store goes back when the mapping goes (munmap reports
    // no I/O error; fsync would).
    for inode in written {
        let _ = crate::mm::sync_file(p, k, &inode, true);
    }
    Ok(0)
}

pub(crate) fn mprotect(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
) -> SysResult {
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    protect(&mut mm, k, addr, len, prot)
}

pub(crate) fn pkey_mprotect(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
    pkey: i32,
) -> SysResult {
    // No protection key is ever allocated (pkey_alloc is not offered): only -1 is valid.
    if pkey != -1 {
        return Err(Errno::EINVAL);
    }
    mprotect(p, k, addr, len, prot)
}

/// do_mprotect_pkey: the range must start in a VMA; VMAs are changed one by one, and a hole or
/// a refused VMA stops the walk with the earlier ones changed, as on Linux.
fn protect(mm: &mut Mm, k: &mut dyn Platform, addr: u64, len: u64, prot: u32) -> SysResult {
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .filter(|&e| e > addr)
        .ok_or(Errno::ENOMEM)?;
    let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
    if grows == PROT_GROWSDOWN | PROT_GROWSUP {
        return Err(Errno::EINVAL);
    }
    let prot = prot & !grows;
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
        return Err(Errno::EINVAL);
    }
    let perms = perms_of(prot);
    let (first, vma) = mm.find(addr).ok_or(Errno::ENOMEM)?;
    let start = if grows == PROT_GROWSDOWN {
        if first >= end {
            return Err(Errno::ENOMEM);
        }
        if !vma.growsdown {
            return Err(Errno::EINVAL);
        }
        first
    } else if grows == PROT_GROWSUP {
        // x86 has no stacks that grow up.
        return Err(Errno::EINVAL);
    } else if first > addr {
        return Err(Errno::ENOMEM);
    } else {
        addr
    };
    let result = protect_walk(mm, k, start, end, perms);
    mm.merge_around(start, end);
    result.map(|()| 0)
}

fn protect_walk(
    mm: &mut Mm,
    k: &mut dyn Platform,
    start: u64,
    end: u64,
    perms: Perms,
) -> Result<(), Errno> {
    let mut cursor = start;
    while cursor < end {
        let (_, v) = mm.vma_at(cursor).ok_or(Errno::ENOMEM)?;
        let piece_end = v.end.min(end);
        if perms.write && !v.may_write {
            return Err(Errno::EACCES);
        }
        if v.perms != perms {
            mm.split_at(cursor)?;
            mm.split_at(piece_end)?;
            if let Some(v) = mm.vma_mut(cursor) {
                v.perms = perms;
            }
            k.protect(cursor, piece_end - cursor, perms);
        }
        cursor = piece_end;
    }
    Ok(())
}

pub(crate) fn brk(p: &mut Current, k: &mut dyn Platform, addr: u64) -> SysResult {
    let data_limit = limit(p, RLIMIT_DATA);
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    let (start, cur) = mm.brk_area();
    if addr < start {
        return Ok(cur);
    }
    if addr - start > data_limit {
        return Ok(cur);
    }
    let (Some(old_top), Some(new_top)) = (page_up(cur), page_up(addr)) else {
        return Ok(cur);
    };
    if new_top > USER_TOP {
        return Ok(cur);
    }
    if new_top < old_top {
        if mm.unmap_range(k, new_top, old_top).is_err() {
            return Ok(cur);
        }
    } else if new_top > old_top {
        // The heap keeps a page of room below the next mapping (and its guard gap).
        if let Some((s, v)) = mm.find(old_top) {
            if new_top + PAGE > crate::mm::start_gap(s, v) {
                return Ok(cur);
            }
        }
        let locked = mm.locks_future();
        let vma = Vma {
            locked,
            ..Vma::anon(new_top, crate::mm::RW)
        };
        mm.insert(old_top, vma);
        if locked {
            let _ = mm.populate(k, old_top, new_top);
        }
    }
    mm.set_brk(addr);
    Ok(addr)
}

const MS_ASYNC: u32 = 1;
const MS_INVALIDATE: u32 = 2;
const MS_SYNC: u32 = 4;

/// msync: shared mappings' pages are the file's page-cache pages, so MS_SYNC writes back the
/// files they map (as fsync; tmpfs has nothing to write), after Linux's checks, in its order.
pub(crate) fn msync(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
        || !addr.is_multiple_of(PAGE)
        || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
    {
        return Err(Errno::EINVAL);
    }
    // Rounded up as Linux does, wrapping: a length near 2^64 becomes 0.
    let end = addr.wrapping_add(len.wrapping_add(PAGE - 1) & !(PAGE - 1));
    if end < addr {
        return Err(Errno::ENOMEM);
    }
    if end == addr {
        return Ok(0);
    }
    let shared = p.process.mm.get();
    let mm = shared.lock();
    let mut start = addr;
    let mut unmapped = false;
    let mut files: alloc::vec::Vec<Arc<dyn coracle_vfs::Inode>> = alloc::vec::Vec::new();
    let result = loop {
        let (s, v) = mm.find(start).ok_or(Errno::ENOMEM)?;
        if start < s {
            if flags == MS_ASYNC {
                return Err(Errno::ENOMEM);
            }
            start = s;
            if start >= end {
                return Err(Errno::ENOMEM);
            }
            unmapped = true;
        }
        if flags & MS_INVALIDATE != 0 && v.locked {
            return Err(Errno::EBUSY);
        }
        if let (true, VmaName::File { inode, .. }) = (v.shared, &v.name) {
            files.push(inode.clone());
        }
        start = v.end;
        if start >= end {
            break if unmapped { Err(Errno::ENOMEM) } else { Ok(0) };
        }
    };
    drop(mm);
    // Linux's msync syncs each shared file VMA it passed (vfs_fsync_range), also when the
    // range had a hole and the call fails with ENOMEM.
    if flags & MS_SYNC != 0 {
        for f in files {
            crate::mm::sync_file(p, k, &f, false)?;
        }
    }
    result
}

const MLOCK_ONFAULT: u32 = 1;
const MCL_CURRENT: u32 = 1;
const MCL_FUTURE: u32 = 2;
const MCL_ONFAULT: u32 = 4;

pub(crate) fn mlock(p: &mut Current, k: &mut dyn Platform, addr: u64, len: u64) -> SysResult {
    lock_range(p, k, addr, len, true, true)
}

pub(crate) fn mlock2(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    if flags & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    lock_range(p, k, addr, len, true, flags & MLOCK_ONFAULT == 0)
}

pub(crate) fn munlock(p: &mut Current, k: &mut dyn Platform, addr: u64, len: u64) -> SysResult {
    lock_range(p, k, addr, len, false, false)
}

/// mlock/munlock: pages are never swapped out here, so locking only marks the VMAs (for the
/// RLIMIT_MEMLOCK accounting and the calls that refuse locked memory) and faults the range in.
fn lock_range(
    p: &mut Current,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    lock: bool,
    populate: bool,
) -> SysResult {
    let memlock = limit(p, RLIMIT_MEMLOCK);
    if lock && memlock == 0 {
        return Err(Errno::EPERM);
    }
    let start = addr & !(PAGE - 1);
    let len = len.wrapping_add(addr % PAGE).wrapping_add(PAGE - 1) & !(PAGE - 1);
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if lock {
        let already: u64 = mm
            .pieces(start, start.saturating_add(len))
            .into_iter()
            .filter(|&(s, _)| mm.vma_at(s).is_some_and(|(_, v)| v.locked))
            .map(|(s, e)| e - s)
            .sum();
        let locked = mm.locked_bytes().saturating_add(len) - already;
        if locked > memlock {
            return Err(Errno::ENOMEM);
        }
    }
    let end = start.checked_add(len).ok_or(Errno::EINVAL)?;
    if end == start {
        return Ok(0);
    }
    let marked = set_locked(&mut mm, start, end, lock);
    mm.merge_around(start, end);
    marked?;
    if populate {
        match mm.populate(k, start, end) {
            Ok(()) => {}
            Err(Errno::ENOMEM) => return Err(Errno::EAGAIN),
            Err(_) => return Err(Errno::ENOMEM),
        }
    }
    Ok(0)
}

/// Sets the lock flag of the VMAs over `[start, end)`; a hole is `ENOMEM` (after the VMAs
/// before it were changed).
fn set_locked(mm: &mut Mm, start: u64, end: u64, lock: bool) -> Result<(), Errno> {
    let mut cursor = start;
    while cursor < end {
        let (_, v) = mm.vma_at(cursor).ok_or(Errno::ENOMEM)?;
        let piece_end = v.end.min(end);
        if v.locked != lock {
            mm.split_at(cursor)?;
            mm.split_at(piece_end)?;
            if let Some(v) = mm.vma_mut(cursor) {
                v.locked = lock;
            }
        }
        cursor = piece_end;
    }
    Ok(())
}

pub(crate) fn mlockall(p: &mut Current, k: &mut dyn Platform, flags: u32) -> SysResult {
    if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT
    {
        return Err(Errno::EINVAL);
    }
    let memlock = limit(p, RLIMIT_MEMLOCK);
    if memlock == 0 {
        return Err(Errno::EPERM);
    }
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if flags & MCL_CURRENT != 0 && mm.total_bytes() > memlock {
        return Err(Errno::ENOMEM);
    }
    mm.set_lock_future(flags & MCL_FUTURE != 0);
    if flags & MCL_CURRENT != 0 {
        mm.set_all_locked(true);
        if flags & MCL_ONFAULT == 0 {
            for (s, e) in mm.pieces(0, USER_TOP) {
                let _ = mm.populate(k, s, e);
            }
        }
    }
    Ok(0)
}

pub(crate) fn munlockall(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    mm.set_lock_future(false);
    mm.set_all_locked(false);
    Ok(0)
}
