//! Memory maps: brk, mmap, munmap, mprotect, madvise, over a list of VMAs.
//!
//! The VMA list is the truth about the user half; the kernel's page tables follow it through
//! [`Platform::map_zeroed`], [`Platform::unmap`] and [`Platform::protect`]. Pages are mapped
//! eagerly for now; PROT_NONE reservations map nothing, so they cost nothing.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_loader::USER_TOP;
use coracle_vfs::Inode;

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

/// What a VMA maps, as /proc/<pid>/maps names it.
#[derive(Clone, Default)]
pub enum VmaName {
    /// Anonymous memory (the heap is recognised by the program break, as Linux does).
    #[default]
    Anon,
    /// The main thread's stack.
    Stack,
    /// Kernel-provided pages with a bracketed name: `[vdso]`, `[vvar]`.
    Special(&'static str),
    /// A file's pages from byte `offset` on; `path` is the one it was opened by.
    File {
        inode: Arc<dyn Inode>,
        path: Arc<[u8]>,
        offset: u64,
    },
}

impl VmaName {
    /// The name of the part of the VMA that starts `by` bytes further.
    fn advanced(&self, by: u64) -> VmaName {
        match self {
            VmaName::File {
                inode,
                path,
                offset,
            } => VmaName::File {
                inode: inode.clone(),
                path: path.clone(),
                offset: offset + by,
            },
            other => other.clone(),
        }
    }
}

impl PartialEq for VmaName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (VmaName::Anon, VmaName::Anon) | (VmaName::Stack, VmaName::Stack) => true,
            (VmaName::Special(a), VmaName::Special(b)) => a == b,
            (
                VmaName::File {
                    inode: a,
                    offset: x,
                    ..
                },
                VmaName::File {
                    inode: b,
                    offset: y,
                    ..
                },
            ) => Arc::ptr_eq(a, b) && x == y,
            _ => false,
        }
    }
}

impl Eq for VmaName {}

impl core::fmt::Debug for VmaName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VmaName::Anon => f.write_str("Anon"),
            VmaName::Stack => f.write_str("Stack"),
            VmaName::Special(name) => f.write_str(name),
            VmaName::File { path, offset, .. } => f
                .debug_struct("File")
                .field("path", &alloc::string::String::from_utf8_lossy(path))
                .field("offset", offset)
                .finish(),
        }
    }
}

/// One mapped range of the user half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub perms: Perms,
    pub name: VmaName,
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
        self.record_named(start, end, perms, VmaName::Anon);
    }

    /// Records a range the kernel mapped itself, with its name for /proc/<pid>/maps.
    pub fn record_named(&mut self, start: u64, end: u64, perms: Perms, name: VmaName) {
        self.vmas.insert(start, Vma { end, perms, name });
    }

    /// The VMAs as `(start, end, perms, name)`, in address order.
    pub fn vmas_named(&self) -> impl Iterator<Item = (u64, u64, Perms, VmaName)> + '_ {
        self.vmas
            .iter()
            .map(|(&s, v)| (s, v.end, v.perms, v.name.clone()))
    }

    /// The program break's start and current value (`start_brk`, `brk`).
    pub fn brk_area(&self) -> (u64, u64) {
        (self.brk_start, self.brk)
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
    fn carve(&mut self, start: u64, end: u64) -> Vec<(u64, u64, Perms, VmaName)> {
        let touched: Vec<(u64, Vma)> = self
            .vmas
            .range(..end)
            .rev()
            .take_while(|(_, v)| v.end > start)
            .map(|(&s, v)| (s, v.clone()))
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
                        name: v.name.clone(),
                    },
                );
            }
            if v.end > end {
                let tail = Vma {
                    name: v.name.advanced(end - s),
                    ..v.clone()
                };
                self.vmas.insert(end, tail);
            }
            let from = s.max(start);
            removed.push((from, v.end.min(end), v.perms, v.name.advanced(from - s)));
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
        let name = VmaName::Anon;
        self.vmas.insert(start, Vma { end, perms, name });
        Ok(())
    }

    fn unmap_range(&mut self, k: &mut dyn Platform, start: u64, end: u64) {
        for (s, e, perms, _) in self.carve(start, end) {
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
    let shared = p.shared.clone();
    let mut mm = shared.mm.lock();
    let perms = prot_to_perms(prot)?;
    if len == 0 || !offset.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & MAP_ANONYMOUS == 0 {
        drop(mm);
        return map_file(p, k, addr, len, perms, flags, fd, offset);
    }
    place_and_map(&mut mm, k, addr, len, perms, flags)
}

/// Picks where a new mapping goes (MAP_FIXED, the hint, or the highest free gap) and maps it
/// with fresh zeroed memory.
fn place_and_map(
    mm: &mut Mm,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    perms: Perms,
    flags: u32,
) -> SysResult {
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
        if mm.overlaps(addr, end) {
            if flags & MAP_FIXED_NOREPLACE != 0 && flags & MAP_FIXED == 0 {
                return Err(Errno::EEXIST);
            }
            mm.unmap_range(k, addr, end);
        }
        addr
    } else {
        let hint = addr & !(PAGE - 1);
        let hint_ok = hint >= 0x1_0000
            && hint
                .checked_add(len)
                .is_some_and(|e| e <= USER_TOP && !mm.overlaps(hint, e));
        if hint_ok {
            hint
        } else {
            mm.find_gap(len, mm.mmap_top).ok_or(Errno::ENOMEM)?
        }
    };
    mm.map(k, start, start + len, perms)?;
    Ok(start)
}

/// A file mapping. Private mappings get a copy of the file's pages (eagerly, like the rest
/// of mmap for now); shared read-only mappings too, since nobody can change what they show
/// without writing the file. Shared writable mappings need the page cache (not yet).
fn map_file(
    p: &mut Process,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    perms: Perms,
    flags: u32,
    fd: i32,
    offset: u64,
) -> SysResult {
    use coracle_vfs::types::FileType;
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    if !file.readable() {
        return Err(Errno::EACCES);
    }
    let st = file.inode().stat();
    let shared_map = flags & MAP_TYPE != MAP_PRIVATE;
    match st.file_type() {
        FileType::Regular => {}
        FileType::CharDevice if st.rdev == coracle_vfs::makedev(1, 5) => {
            // /dev/zero: anonymous memory.
            let shared = p.shared.clone();
            let mut mm = shared.mm.lock();
            return place_and_map(&mut mm, k, addr, len, perms, flags);
        }
        _ => return Err(Errno::ENODEV),
    }
    if shared_map && perms.write {
        if !file.writable() {
            return Err(Errno::EACCES);
        }
        if crate::sys::fs::seals_of(p, &file)
            & (crate::sys::fs::F_SEAL_WRITE | crate::sys::fs::F_SEAL_FUTURE_WRITE)
            != 0
        {
            return Err(Errno::EPERM);
        }
        k.log(format_args!(
            "mmap: writable MAP_SHARED file mappings are not supported yet: ENODEV"
        ));
        return Err(Errno::ENODEV);
    }
    if offset.checked_add(len).is_none_or(|e| e > i64::MAX as u64) {
        return Err(Errno::EOVERFLOW);
    }
    let shared = p.shared.clone();
    let mut mm = shared.mm.lock();
    if !has_access(perms) {
        return place_and_map(&mut mm, k, addr, len, perms, flags);
    }
    let rw = Perms {
        read: true,
        write: true,
        exec: false,
    };
    let start = place_and_map(&mut mm, k, addr, len, rw, flags)?;
    let plen = page_up(len).ok_or(Errno::ENOMEM)?;
    let mut buf = alloc::vec![0u8; 64 * 1024];
    let mut done = 0u64;
    while done < plen {
        let want = ((plen - done) as usize).min(buf.len());
        let n = file.inode().read_at(offset + done, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        k.write_user(start + done, &buf[..n])?;
        done += n as u64;
    }
    if perms != rw {
        k.protect(start, plen, perms);
    }
    let name = VmaName::File {
        inode: file.inode().clone(),
        path: file.path().into(),
        offset,
    };
    mm.vmas.insert(
        start,
        Vma {
            end: start + plen,
            perms,
            name,
        },
    );
    Ok(start)
}

pub(crate) fn munmap(p: &mut Process, k: &mut dyn Platform, addr: u64, len: u64) -> SysResult {
    let shared = p.shared.clone();
    let mut mm = shared.mm.lock();
    if !addr.is_multiple_of(PAGE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    let end = page_up(len)
        .and_then(|l| addr.checked_add(l))
        .filter(|&e| e <= USER_TOP)
        .ok_or(Errno::EINVAL)?;
    mm.unmap_range(k, addr, end);
    Ok(0)
}

pub(crate) fn mprotect(
    p: &mut Process,
    k: &mut dyn Platform,
    addr: u64,
    len: u64,
    prot: u32,
) -> SysResult {
    let shared = p.shared.clone();
    let mut mm = shared.mm.lock();
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
    for (s, v) in mm.vmas.range(..end) {
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
    for (s, e, old, name) in mm.carve(addr, end) {
        match (has_access(old), has_access(perms)) {
            (false, true) => k.map_zeroed(s, e - s, perms)?,
            (true, false) => k.unmap(s, e - s),
            (true, true) => k.protect(s, e - s, perms),
            (false, false) => {}
        }
        mm.vmas.insert(
            s,
            Vma {
                end: e,
                perms,
                name,
            },
        );
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
    let shared = p.shared.clone();
    let mm = shared.mm.lock();
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
            mm.vmas().filter(|&(s, e, _)| s < end && e > addr).collect();
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
    let shared = p.shared.clone();
    let mm = &mut *shared.mm.lock();
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
                        name: VmaName::Anon,
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
