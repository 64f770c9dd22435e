//! System V semaphores: semget, semop, semtimedop, semctl (`ipc/sem.c`), with Linux's
//! limits (semmsl 32000, semopm 500, semvmx 32767) and SEM_UNDO, undone when the process
//! ends. A semop applies all its operations or none; one that must wait sleeps on the
//! machine's one semaphore wait queue and tries again whenever any set changes. Waits end
//! with `EIDRM` when the set goes, `EINTR` on a signal (never restarted), `EAGAIN` on
//! semtimedop's timeout.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use coracle_abi::ipc::{SemInfo, SemidDs};
use coracle_vfs::{WaitQueue, Wake};
use spin::Mutex;

use super::{
    find_key, gone, Ids, Object, Perm, IPC_64, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT,
};
use crate::uaccess::{read_struct, read_timespec, write_struct};
use crate::{Current, Errno, Platform, SysResult};

const SEMMSL: u64 = 32000;
const SEMMNI: u32 = 32000;
const SEMMNS: i32 = 1_024_000_000;
const SEMOPM: u64 = 500;
const SEMVMX: i32 = 32767;
const SEMAEM: i32 = SEMVMX;

const SEM_UNDO: i16 = 0x1000;
const GETPID: i32 = 11;
const GETVAL: i32 = 12;
const GETALL: i32 = 13;
const GETNCNT: i32 = 14;
const GETZCNT: i32 = 15;
const SETVAL: i32 = 16;
const SETALL: i32 = 17;
const SEM_STAT: i32 = 18;
const SEM_INFO: i32 = 19;
const SEM_STAT_ANY: i32 = 20;

/// One semaphore set.
#[derive(Debug)]
pub(crate) struct Set {
    perm: Perm,
    vals: Vec<i32>,
    pids: Vec<i32>,
    otime: i64,
    ctime: i64,
    /// Threads waiting in semop: tid to (semaphore, waiting for zero).
    waiting: BTreeMap<u32, (u16, bool)>,
}

/// Every set, and the SEM_UNDO adjustments by (pid, set id).
#[derive(Debug)]
pub(crate) struct Sets {
    ids: Mutex<Ids<Set>>,
    undo: Mutex<BTreeMap<(u32, i32), Vec<i32>>>,
    changed: WaitQueue,
}

impl Default for Sets {
    fn default() -> Self {
        Sets {
            ids: Mutex::new(Ids::new(SEMMNI)),
            undo: Mutex::new(BTreeMap::new()),
            changed: WaitQueue::new(),
        }
    }
}

fn now(k: &dyn Platform) -> i64 {
    (k.realtime_ns() / 1_000_000_000) as i64
}

fn set<'a>(p: &Current, ids: &'a mut Ids<Set>, id: i32) -> Result<&'a mut Set, Errno> {
    ids.get(id, gone(p))
}

impl Object for Set {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

pub(crate) fn semget(
    p: &mut Current,
    k: &mut dyn Platform,
    key: i32,
    nsems: i32,
    flags: i32,
) -> SysResult {
    let sys = p.sys.clone();
    let mut ids = sys.ipc.sem.ids.lock();
    let n = u64::try_from(nsems).map_err(|_| Errno::EINVAL)?;
    if n > SEMMSL {
        return Err(Errno::EINVAL);
    }
    if let Some(index) = find_key(&*ids, key, flags, |s| s.perm, p)? {
        let s = &ids.slots[&index];
        if n > s.vals.len() as u64 {
            return Err(Errno::EINVAL);
        }
        return Ok(Ids::<Set>::id(index, s.perm.seq) as u64);
    }
    if n == 0 {
        return Err(Errno::EINVAL);
    }
    let (index, seq) = ids.reserve()?;
    ids.slots.insert(
        index,
        Set {
            perm: Perm::new(p, key, flags, seq),
            vals: alloc::vec![0; n as usize],
            pids: alloc::vec![0; n as usize],
            otime: 0,
            ctime: now(k),
            waiting: BTreeMap::new(),
        },
    );
    Ok(Ids::<Set>::id(index, seq) as u64)
}

/// One `struct sembuf`.
#[derive(Debug, Clone, Copy)]
struct SemBuf {
    num: u16,
    op: i16,
    flags: i16,
}

pub(crate) fn semop(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    sops: u64,
    nsops: u64,
) -> SysResult {
    semtimedop(p, k, id, sops, nsops, 0)
}

pub(crate) fn semtimedop(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    sops: u64,
    nsops: u64,
    timeout: u64,
) -> SysResult {
    if nsops == 0 {
        return Err(Errno::EINVAL);
    }
    if nsops > SEMOPM {
        return Err(Errno::E2BIG);
    }
    let mut raw = alloc::vec![0u8; nsops as usize * 6];
    k.read_user(sops, &mut raw)?;
    let ops: Vec<SemBuf> = raw
        .chunks_exact(6)
        .map(|b| SemBuf {
            num: u16::from_le_bytes([b[0], b[1]]),
            op: i16::from_le_bytes([b[2], b[3]]),
            flags: i16::from_le_bytes([b[4], b[5]]),
        })
        .collect();
    let relative = if timeout == 0 {
        None
    } else {
        Some(read_timespec(k, timeout)?)
    };
    let now_ns = k.monotonic_ns();
    let deadline = p.call_deadline(|| relative.map(|ns| now_ns.saturating_add(ns)));
    let sys = p.sys.clone();
    let sets = &sys.ipc.sem;
    let pid = p.process.pid;
    let mut registered = false;
    loop {
        {
            let mut ids = sets.ids.lock();
            let s = set(p, &mut ids, id)?;
            s.waiting.remove(&p.tid);
            let n = s.vals.len();
            if ops.iter().any(|o| usize::from(o.num) >= n) {
                return Err(Errno::EFBIG);
            }
            let alter = ops.iter().any(|o| o.op != 0);
            if !s.perm.allows(p, if alter { 0o2 } else { 0o4 }) {
                return Err(Errno::EACCES);
            }
            // Try every operation on a copy: all or none.
            let mut vals = s.vals.clone();
            let mut blocked: Option<&SemBuf> = None;
            for o in &ops {
                let v = &mut vals[usize::from(o.num)];
                let op = i32::from(o.op);
                if op > 0 {
                    if *v + op > SEMVMX {
                        return Err(Errno::ERANGE);
                    }
                    *v += op;
                } else if op < 0 {
                    if *v + op < 0 {
                        blocked = Some(o);
                        break;
                    }
                    *v += op;
                } else if *v != 0 {
                    blocked = Some(o);
                    break;
                }
            }
            match blocked {
                None => {
                    s.vals = vals;
                    for o in &ops {
                        s.pids[usize::from(o.num)] = pid as i32;
                    }
                    s.otime = now(k);
                    let undos: Vec<&SemBuf> = ops
                        .iter()
                        .filter(|o| o.flags & SEM_UNDO != 0 && o.op != 0)
                        .collect();
                    if !undos.is_empty() {
                        let mut undo = sets.undo.lock();
                        let adj = undo.entry((pid, id)).or_insert_with(|| alloc::vec![0; n]);
                        for o in undos {
                            adj[usize::from(o.num)] -= i32::from(o.op);
                        }
                    }
                    drop(ids);
                    sets.changed.wake_all(u64::MAX);
                    return Ok(0);
                }
                Some(o) => {
                    if o.flags & IPC_NOWAIT as i16 != 0 {
                        return Err(Errno::EAGAIN);
                    }
                    match p.resumed() {
                        Some(Wake::Interrupted) => return Err(Errno::EINTR),
                        Some(Wake::TimedOut) => return Err(Errno::EAGAIN),
                        _ => {}
                    }
                    if deadline.is_some_and(|d| k.monotonic_ns() >= d) {
                        return Err(Errno::EAGAIN);
                    }
                    s.waiting.insert(p.tid, (o.num, o.op == 0));
                }
            }
        }
        if registered {
            return Err(Errno::WAIT);
        }
        registered = true;
        p.wait_on(&sets.changed, u64::MAX);
        if let Some(d) = deadline {
            p.wait_until(d);
        }
    }
}

/// Undoes the SEM_UNDO adjustments of process `pid`, which has ended (exit_sem): each value
/// moves by its adjustment, kept within 0..=semvmx.
pub(crate) fn exit(sys: &crate::System, pid: u32) {
    let sets = &sys.ipc.sem;
    let mine: Vec<(i32, Vec<i32>)> = {
        let mut undo = sets.undo.lock();
        let keys: Vec<(u32, i32)> = undo
            .range((pid, i32::MIN)..=(pid, i32::MAX))
            .map(|(k, _)| *k)
            .collect();
        keys.into_iter()
            .filter_map(|key| undo.remove(&key).map(|adj| (key.1, adj)))
            .collect()
    };
    if mine.is_empty() {
        return;
    }
    let mut ids = sets.ids.lock();
    for (id, adj) in mine {
        let Ok(index) = Ids::<Set>::index_of(id) else {
            continue;
        };
        let Some(s) = ids
            .slots
            .get_mut(&index)
            .filter(|s| s.perm.seq == Ids::<Set>::seq_of(id))
        else {
            continue;
        };
        for (i, a) in adj.iter().enumerate() {
            if let Some(v) = s.vals.get_mut(i) {
                *v = (*v + a).clamp(0, SEMVMX);
                if *a != 0 {
                    s.pids[i] = pid as i32;
                }
            }
        }
    }
    drop(ids);
    sets.changed.wake_all(u64::MAX);
}

/// Forgets every process's adjustment of semaphore `num` of set `id` (SETVAL, SETALL).
fn clear_undo(sets: &Sets, id: i32, num: Option<usize>) {
    for ((_, set_id), adj) in sets.undo.lock().iter_mut() {
        if *set_id == id {
            match num {
                Some(i) => {
                    if let Some(a) = adj.get_mut(i) {
                        *a = 0;
                    }
                }
                None => adj.iter_mut().for_each(|a| *a = 0),
            }
        }
    }
}

/// Threads still waiting on semaphore `num` for an increase (`zero` false) or for zero.
fn waiters(sys: &crate::System, s: &Set, num: u16, zero: bool) -> u64 {
    s.waiting
        .iter()
        .filter(|(&tid, &(n, z))| n == num && z == zero && sys.sched.thread(tid).is_some())
        .count() as u64
}

pub(crate) fn semctl(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    num: i32,
    cmd: i32,
    arg: u64,
) -> SysResult {
    let sys = p.sys.clone();
    let sets = &sys.ipc.sem;
    let cmd = cmd & !IPC_64;
    let mut ids = sets.ids.lock();
    let max = ids.slots.keys().next_back().copied().unwrap_or(0);
    match cmd {
        IPC_INFO | SEM_INFO => {
            let mut info = SemInfo {
                semmap: SEMMNS,
                semmni: SEMMNI as i32,
                semmns: SEMMNS,
                semmnu: SEMMNS,
                semmsl: SEMMSL as i32,
                semopm: SEMOPM as i32,
                semume: SEMOPM as i32,
                semusz: 0,
                semvmx: SEMVMX,
                semaem: SEMAEM,
            };
            if cmd == SEM_INFO {
                info.semusz = ids.slots.len() as i32;
                info.semaem = ids.slots.values().map(|s| s.vals.len() as i32).sum();
            }
            drop(ids);
            write_struct(k, arg, &info)?;
            return Ok(u64::from(max));
        }
        IPC_STAT | SEM_STAT | SEM_STAT_ANY => {
            let (s, ret) = ids.stat_target(p, cmd, id, SEM_STAT_ANY, gone(p))?;
            let ds = SemidDs {
                sem_perm: s.perm.abi(),
                sem_otime: s.otime,
                sem_ctime: s.ctime,
                sem_nsems: s.vals.len() as u64,
                ..SemidDs::default()
            };
            drop(ids);
            write_struct(k, arg, &ds)?;
            return Ok(ret);
        }
        _ => {}
    }
    let s = set(p, &mut ids, id)?;
    let n = s.vals.len();
    let index = usize::try_from(num).ok().filter(|&i| i < n);
    match cmd {
        IPC_SET => {
            let ds: SemidDs = read_struct(k, arg)?;
            s.perm.set(p, &ds.sem_perm)?;
            s.ctime = now(k);
            Ok(0)
        }
        IPC_RMID => {
            s.perm.may_change(p)?;
            let slot = Ids::<Set>::index_of(id)?;
            ids.slots.remove(&slot);
            drop(ids);
            sets.undo.lock().retain(|(_, set_id), _| *set_id != id);
            sets.changed.wake_all(u64::MAX);
            Ok(0)
        }
        GETVAL | GETPID | GETNCNT | GETZCNT => {
            if !s.perm.allows(p, 0o4) {
                return Err(Errno::EACCES);
            }
            let i = index.ok_or(Errno::EINVAL)?;
            Ok(match cmd {
                GETVAL => s.vals[i] as u64,
                GETPID => s.pids[i] as u64,
                GETNCNT => waiters(&sys, s, i as u16, false),
                _ => waiters(&sys, s, i as u16, true),
            })
        }
        GETALL => {
            if !s.perm.allows(p, 0o4) {
                return Err(Errno::EACCES);
            }
            let out: Vec<u8> = s
                .vals
                .iter()
                .flat_map(|&v| (v as u16).to_le_bytes())
                .collect();
            drop(ids);
            k.write_user(arg, &out)?;
            Ok(0)
        }
        SETVAL => {
            if !s.perm.allows(p, 0o2) {
                return Err(Errno::EACCES);
            }
            let i = index.ok_or(Errno::EINVAL)?;
            let v = arg as i32;
            if !(0..=SEMVMX).contains(&v) {
                return Err(Errno::ERANGE);
            }
            s.vals[i] = v;
            s.pids[i] = p.process.pid as i32;
            s.ctime = now(k);
            drop(ids);
            clear_undo(sets, id, Some(i));
            sets.changed.wake_all(u64::MAX);
            Ok(0)
        }
        SETALL => {
            if !s.perm.allows(p, 0o2) {
                return Err(Errno::EACCES);
            }
            let mut raw = alloc::vec![0u8; n * 2];
            k.read_user(arg, &mut raw)?;
            let vals: Vec<i32> = raw
                .chunks_exact(2)
                .map(|b| i32::from(u16::from_le_bytes([b[0], b[1]])))
                .collect();
            if vals.iter().any(|&v| v > SEMVMX) {
                return Err(Errno::ERANGE);
            }
            s.vals = vals;
            let me = p.process.pid as i32;
            s.pids.iter_mut().for_each(|x| *x = me);
            s.ctime = now(k);
            drop(ids);
            clear_undo(sets, id, None);
            sets.changed.wake_all(u64::MAX);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
