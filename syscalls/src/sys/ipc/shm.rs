//! System V shared memory: shmget, shmat, shmdt, shmctl (`ipc/shm.c`).
//!
//! A segment is an unnamed tmpfs file, as on Linux; shmat maps it shared like an mmap of that
//! file, named `/SYSV<key> (deleted)` in /proc/<pid>/maps. The number of attaches is counted
//! from the mappings themselves (every process's VMAs of the segment's file, as Linux counts
//! one per VMA), so fork, munmap, exec and exit need no bookkeeping; a segment removed with
//! IPC_RMID goes once nothing maps it (checked at each shm call and listing).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::ipc::{ShmInfo64, ShmUsage, ShmidDs};
use coracle_vfs::Inode;
use spin::Mutex;

use super::{
    find_key, Ids, Object, Perm, IPC_64, IPC_INFO, IPC_PRIVATE, IPC_RMID, IPC_SET, IPC_STAT,
};
use crate::mm::{page_up, Vma, VmaName, MAX_MAP_COUNT, MMAP_MIN_ADDR, PAGE, USER_TOP};
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Perms, Platform, SysResult};

/// Linux's defaults: SHMMAX and SHMALL (ULONG_MAX - 2^24), SHMMNI, SHMMIN.
pub(crate) const SHMMAX: u64 = u64::MAX - (1 << 24);
pub(crate) const SHMALL: u64 = u64::MAX - (1 << 24);
pub(crate) const SHMMNI: u32 = 4096;
const SHMMIN: u64 = 1;

const SHM_RDONLY: i32 = 0o10000;
const SHM_RND: i32 = 0o20000;
const SHM_REMAP: i32 = 0o40000;
const SHM_EXEC: i32 = 0o100000;
const SHM_HUGETLB: i32 = 0o4000;
const SHM_LOCK: i32 = 11;
const SHM_UNLOCK: i32 = 12;
const SHM_STAT: i32 = 13;
const SHM_INFO: i32 = 14;
const SHM_STAT_ANY: i32 = 15;
/// Mode bits Linux shows: marked for removal, locked.
const SHM_DEST: u16 = 0o1000;
const SHM_LOCKED: u16 = 0o2000;

/// One segment.
pub(crate) struct Segment {
    perm: Perm,
    size: u64,
    file: Arc<dyn Inode>,
    cpid: i32,
    lpid: i32,
    atime: i64,
    dtime: i64,
    ctime: i64,
}

impl core::fmt::Debug for Segment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Segment")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Every segment of the machine.
#[derive(Debug)]
pub(crate) struct Segments {
    ids: Mutex<Ids<Segment>>,
}

impl Default for Segments {
    fn default() -> Self {
        Segments {
            ids: Mutex::new(Ids::new(SHMMNI)),
        }
    }
}

/// One line of /proc/sysvipc/shm.
pub(crate) struct ShmLine {
    pub id: i32,
    pub perm: Perm,
    pub size: u64,
    pub cpid: i32,
    pub lpid: i32,
    pub nattch: u64,
    pub times: [i64; 3],
}

impl Segments {
    /// /proc/sysvipc/shm's lines (after dropping removed segments nothing maps).
    pub(crate) fn proc_lines(&self, sys: &crate::System) -> Vec<ShmLine> {
        let mut ids = self.ids.lock();
        reap(sys, &mut ids);
        ids.slots
            .iter()
            .map(|(&i, s)| ShmLine {
                id: Ids::<Segment>::id(i, s.perm.seq),
                perm: s.perm,
                size: s.size,
                cpid: s.cpid,
                lpid: s.lpid,
                nattch: attaches(sys, &s.file),
                times: [s.atime, s.dtime, s.ctime],
            })
            .collect()
    }
}

fn now(k: &dyn Platform) -> i64 {
    (k.realtime_ns() / 1_000_000_000) as i64
}

/// The VMAs of `file` in every live process (shm_nattch).
fn attaches(sys: &crate::System, file: &Arc<dyn Inode>) -> u64 {
    let tree = sys.tree.lock();
    let mut n = 0;
    for q in tree.values() {
        let shared = q.mm.get();
        let mm = shared.lock();
        let mut cursor = 0;
        while let Some((_, v)) = mm.find(cursor) {
            if let VmaName::File { inode, .. } = &v.name {
                if coracle_vfs::inode::same_inode(inode, file) {
                    n += 1;
                }
            }
            cursor = v.end;
        }
    }
    n
}

/// Drops the segments marked for removal that nothing maps any more.
fn reap(sys: &crate::System, ids: &mut Ids<Segment>) {
    let dead: Vec<u32> = ids
        .slots
        .iter()
        .filter(|(_, s)| s.perm.mode & SHM_DEST != 0 && attaches(sys, &s.file) == 0)
        .map(|(&i, _)| i)
        .collect();
    for i in dead {
        ids.slots.remove(&i);
    }
}

fn segment(ids: &mut Ids<Segment>, id: i32) -> Result<&mut Segment, Errno> {
    ids.get(id, Errno::EINVAL)
}

impl Object for Segment {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

pub(crate) fn shmget(
    p: &mut Current,
    k: &mut dyn Platform,
    key: i32,
    size: u64,
    flags: i32,
) -> SysResult {
    let sys = p.sys.clone();
    let mut ids = sys.ipc.shm.ids.lock();
    reap(&sys, &mut ids);
    if let Some(index) = find_key(&*ids, key, flags, |s| s.perm, p)? {
        let s = &ids.slots[&index];
        if size > s.size {
            return Err(Errno::EINVAL);
        }
        return Ok(Ids::<Segment>::id(index, s.perm.seq) as u64);
    }
    if flags & SHM_HUGETLB != 0 {
        // No huge pages are reserved (nr_hugepages is 0).
        return Err(Errno::ENOMEM);
    }
    if !(SHMMIN..=SHMMAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let bytes = page_up(size).ok_or(Errno::ENOMEM)?;
    let (index, seq) = ids.reserve()?;
    let file = coracle_vfs::tmpfs::create_unnamed(&sys.memfd_dir(), 0o600, 0, 0, false)?;
    file.truncate(bytes)?;
    ids.slots.insert(
        index,
        Segment {
            perm: Perm::new(p, key, flags, seq),
            size,
            file,
            cpid: p.process.pid as i32,
            lpid: 0,
            atime: 0,
            dtime: 0,
            ctime: now(k),
        },
    );
    Ok(Ids::<Segment>::id(index, seq) as u64)
}

pub(crate) fn shmat(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    addr: u64,
    flags: i32,
) -> SysResult {
    let sys = p.sys.clone();
    let (file, size, key) = {
        let mut ids = sys.ipc.shm.ids.lock();
        let s = segment(&mut ids, id)?;
        let want = if flags & SHM_RDONLY != 0 { 0o4 } else { 0o6 };
        if !s.perm.allows(p, want) {
            return Err(Errno::EACCES);
        }
        (s.file.clone(), s.size, s.perm.key)
    };
    let addr = if flags & SHM_RND != 0 {
        addr & !(PAGE - 1)
    } else if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    } else {
        addr
    };
    if addr == 0 && flags & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_up(size).ok_or(Errno::EINVAL)?;
    let perms = Perms {
        read: true,
        write: flags & SHM_RDONLY == 0,
        exec: flags & SHM_EXEC != 0,
    };
    let path: Arc<[u8]> =
        Arc::from(alloc::format!("/SYSV{:08x} (deleted)", key as u32).into_bytes());
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    if mm.count() >= MAX_MAP_COUNT {
        return Err(Errno::ENOMEM);
    }
    let start = if addr != 0 {
        if addr < MMAP_MIN_ADDR || addr > USER_TOP - len.min(USER_TOP) {
            return Err(Errno::EINVAL);
        }
        if mm.overlaps(addr, addr + len) {
            if flags & SHM_REMAP == 0 {
                return Err(Errno::EINVAL);
            }
            mm.unmap_range(k, addr, addr + len)?;
        }
        addr
    } else {
        mm.find_gap(len).ok_or(Errno::ENOMEM)?
    };
    mm.insert(
        start,
        Vma {
            end: start + len,
            perms,
            shared: true,
            may_write: flags & SHM_RDONLY == 0,
            growsdown: false,
            locked: false,
            dontfork: false,
            wipeonfork: false,
            name: VmaName::File {
                inode: file,
                path,
                offset: 0,
            },
        },
    );
    drop(mm);
    let mut ids = sys.ipc.shm.ids.lock();
    if let Ok(s) = segment(&mut ids, id) {
        s.atime = now(k);
        s.lpid = p.process.pid as i32;
    }
    Ok(start)
}

pub(crate) fn shmdt(p: &mut Current, k: &mut dyn Platform, addr: u64) -> SysResult {
    if !addr.is_multiple_of(PAGE) {
        return Err(Errno::EINVAL);
    }
    let sys = p.sys.clone();
    let mut ids = sys.ipc.shm.ids.lock();
    let process = p.process.clone();
    let shared = process.mm.get();
    let mut mm = shared.lock();
    // The attach that starts at addr: a VMA of a segment's file at offset 0.
    let Some((start, vma)) = mm.vma_at(addr).filter(|&(s, _)| s == addr) else {
        return Err(Errno::EINVAL);
    };
    let VmaName::File {
        inode, offset: 0, ..
    } = &vma.name
    else {
        return Err(Errno::EINVAL);
    };
    let Some(seg) = ids
        .slots
        .values_mut()
        .find(|s| coracle_vfs::inode::same_inode(&s.file, inode))
    else {
        return Err(Errno::EINVAL);
    };
    let end = start + page_up(seg.size).ok_or(Errno::EINVAL)?;
    mm.unmap_range(k, start, end)?;
    drop(mm);
    seg.dtime = now(k);
    seg.lpid = p.process.pid as i32;
    reap(&sys, &mut ids);
    Ok(0)
}

fn stat_of(sys: &crate::System, s: &Segment) -> ShmidDs {
    ShmidDs {
        shm_perm: s.perm.abi(),
        shm_segsz: s.size,
        shm_atime: s.atime,
        shm_dtime: s.dtime,
        shm_ctime: s.ctime,
        shm_cpid: s.cpid,
        shm_lpid: s.lpid,
        shm_nattch: attaches(sys, &s.file),
        ..ShmidDs::default()
    }
}

pub(crate) fn shmctl(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    cmd: i32,
    buf: u64,
) -> SysResult {
    let sys = p.sys.clone();
    let cmd = cmd & !IPC_64;
    let mut ids = sys.ipc.shm.ids.lock();
    reap(&sys, &mut ids);
    let max = ids.slots.keys().next_back().copied().unwrap_or(0);
    match cmd {
        IPC_INFO => {
            let info = ShmInfo64 {
                shmmax: SHMMAX,
                shmmin: SHMMIN,
                shmmni: u64::from(SHMMNI),
                shmseg: u64::from(SHMMNI),
                shmall: SHMALL,
                unused: [0; 4],
            };
            drop(ids);
            write_struct(k, buf, &info)?;
            Ok(u64::from(max))
        }
        SHM_INFO => {
            let pages: u64 = ids
                .slots
                .values()
                .map(|s| page_up(s.size).unwrap_or(0) / PAGE)
                .sum();
            let info = ShmUsage {
                used_ids: ids.slots.len() as i32,
                shm_tot: pages,
                shm_rss: pages,
                ..ShmUsage::default()
            };
            drop(ids);
            write_struct(k, buf, &info)?;
            Ok(u64::from(max))
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ds, ret) = {
                let (s, ret) = ids.stat_target(p, cmd, id, SHM_STAT_ANY, Errno::EINVAL)?;
                (stat_of(&sys, s), ret)
            };
            drop(ids);
            write_struct(k, buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let ds: ShmidDs = read_struct(k, buf)?;
            let s = segment(&mut ids, id)?;
            s.perm.set(p, &ds.shm_perm)?;
            s.ctime = now(k);
            Ok(0)
        }
        IPC_RMID => {
            let s = segment(&mut ids, id)?;
            s.perm.may_change(p)?;
            // The key is free at once; the memory stays while something maps it.
            s.perm.key = IPC_PRIVATE;
            s.perm.mode |= SHM_DEST;
            reap(&sys, &mut ids);
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => {
            let s = segment(&mut ids, id)?;
            // Without CAP_IPC_LOCK: the owner, with a memlock limit above zero.
            s.perm.may_change(p)?;
            if crate::sys::mman::limit(p, 8) == 0 {
                return Err(Errno::EPERM);
            }
            if cmd == SHM_LOCK {
                s.perm.mode |= SHM_LOCKED;
            } else {
                s.perm.mode &= !SHM_LOCKED;
            }
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
