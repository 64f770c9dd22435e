//! futex(2): waiting on a user word, and waking, requeueing and operating on waiters.
//!
//! Waiters are kept by [`FutexKey`], as Linux's get_futex_key makes it: a private futex
//! (FUTEX_PRIVATE_FLAG), or any futex in private memory, is its process's address; a shared
//! futex in a shared mapping (of a file, of shared anonymous memory, of /dev/shm) is the file's
//! page cache and the byte's offset in the file, so processes that map the same file at any
//! address meet on it. The key is made before the table is locked (it takes the mm lock, which
//! a fault in the user copies below takes too). The table lock is held while the user word is
//! compared and the waiter queued, and while wakers pick waiters, so a wake that follows a
//! store to the word can never miss a waiter that saw the old value. Timeouts and signals end a
//! wait through the scheduler; the waiter then removes itself. PI futexes are not supported
//! (ENOSYS), as on a kernel built without CONFIG_FUTEX_PI.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use coracle_vfs::{Waiter, Wake};
use spin::Mutex;

use crate::{Current, Errno, Platform, SysResult};

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAKE_OP: i32 = 5;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// What a futex word is, for meeting its waiters (Linux's union futex_key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FutexKey {
    /// A word of one process's memory: the process's identity and the user address.
    Private { mm: usize, addr: u64 },
    /// A word of a shared mapping: the identity of the file's page cache (Linux's
    /// page->mapping) and the byte offset in the file. A waiter keeps its mapping, so the
    /// cache outlives it; should a waiter's mapping go while it waits, a later file at the
    /// same identity could at worst wake it spuriously, which futex users allow for.
    Shared { object: usize, offset: u64 },
}

type Waiters = BTreeMap<FutexKey, Vec<Waiter>>;

/// The waiters of every futex word, by key.
#[derive(Debug, Default)]
pub struct FutexTable {
    waiters: Mutex<Waiters>,
}

impl FutexTable {
    /// Wakes up to `n` waiters of `key` whose bitset meets `mask`, handing them `Done(0)`;
    /// returns how many woke. Finished waits met on the way are dropped.
    fn wake_locked(map: &mut Waiters, key: FutexKey, n: u32, mask: u32) -> u32 {
        let Some(list) = map.get_mut(&key) else {
            return 0;
        };
        let mut woken = 0;
        let mut i = 0;
        while i < list.len() && woken < n {
            if list[i].mask & u64::from(mask) == 0 {
                if !list[i].is_waiting() {
                    list.remove(i);
                } else {
                    i += 1;
                }
                continue;
            }
            let w = list.remove(i);
            if w.wake(Wake::Done(0)) {
                woken += 1;
            }
        }
        if list.is_empty() {
            map.remove(&key);
        }
        woken
    }

    /// Wakes up to `n` waiters of `key` (used by thread exit for CLONE_CHILD_CLEARTID and
    /// robust lists).
    pub(crate) fn wake(&self, key: FutexKey, n: u32) -> u32 {
        Self::wake_locked(&mut self.waiters.lock(), key, n, u32::MAX)
    }

    /// Drops the finished waits queued on `key`.
    fn prune(&self, key: FutexKey) {
        let mut map = self.waiters.lock();
        if let Some(list) = map.get_mut(&key) {
            list.retain(Waiter::is_waiting);
            if list.is_empty() {
                map.remove(&key);
            }
        }
    }
}

/// The identity futex keys use for the calling process's memory.
fn mm_key(p: &Current) -> usize {
    p.process.mm.get().id()
}

/// The key of the word at `uaddr` (get_futex_key). A private futex is the process's address
/// without a look at the memory. A shared one is looked up: no accessible mapping there is
/// `EFAULT`; in a shared file mapping it is the file's and the offset's, elsewhere (private
/// memory) the address's, so it meets private futexes of the same word.
pub(crate) fn key_of(p: &Current, uaddr: u64, private: bool) -> Result<FutexKey, Errno> {
    let private_key = FutexKey::Private {
        mm: mm_key(p),
        addr: uaddr,
    };
    if private {
        return Ok(private_key);
    }
    Ok(match p.process.mm.get().lock().futex_backing(uaddr)? {
        Some((object, offset)) => FutexKey::Shared { object, offset },
        None => private_key,
    })
}

fn read_u32(k: &dyn Platform, addr: u64) -> Result<u32, Errno> {
    let mut b = [0u8; 4];
    k.read_user(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

pub(crate) fn futex(
    p: &mut Current,
    k: &mut dyn Platform,
    uaddr: u64,
    op: i32,
    val: u32,
    timeout: u64,
    uaddr2: u64,
    val3: u32,
) -> SysResult {
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    if realtime && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
        return Err(Errno::ENOSYS);
    }
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    if !matches!(
        cmd,
        FUTEX_WAIT
            | FUTEX_WAIT_BITSET
            | FUTEX_WAKE
            | FUTEX_WAKE_BITSET
            | FUTEX_REQUEUE
            | FUTEX_CMP_REQUEUE
            | FUTEX_WAKE_OP
    ) {
        return Err(Errno::ENOSYS);
    }
    let key = match p.resumed() {
        // A woken wait only tidies up: its key was made when it queued.
        Some(_) if matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) => {
            return finish_wait(p, uaddr, private, timeout)
        }
        _ => key_of(p, uaddr, private)?,
    };
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = if timeout == 0 {
                None
            } else {
                let t = crate::uaccess::read_timespec(k, timeout)?;
                Some(if cmd == FUTEX_WAIT {
                    k.monotonic_ns().saturating_add(t)
                } else if realtime {
                    // An absolute CLOCK_REALTIME time, moved onto the monotonic timeline.
                    t.saturating_sub(k.realtime_offset_ns())
                } else {
                    t
                })
            };
            wait(p, k, key, uaddr, val, bitset, deadline)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let mask = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                val3
            };
            if mask == 0 {
                return Err(Errno::EINVAL);
            }
            let mut map = p.sys.futexes.waiters.lock();
            Ok(u64::from(FutexTable::wake_locked(&mut map, key, val, mask)))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            // The fourth argument is the requeue count, passed in the timeout register.
            let limit = timeout as u32;
            if (limit as i32) < 0 || (val as i32) < 0 {
                return Err(Errno::EINVAL);
            }
            if !uaddr2.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let key2 = key_of(p, uaddr2, private)?;
            let mut map = p.sys.futexes.waiters.lock();
            if cmd == FUTEX_CMP_REQUEUE && read_u32(k, uaddr)? != val3 {
                return Err(Errno::EAGAIN);
            }
            let woken = FutexTable::wake_locked(&mut map, key, val, u32::MAX);
            let mut moved = 0u32;
            if key2 != key {
                if let Some(list) = map.get_mut(&key) {
                    list.retain(Waiter::is_waiting);
                    let take = (limit as usize).min(list.len());
                    let taken: Vec<Waiter> = list.drain(..take).collect();
                    moved = taken.len() as u32;
                    if list.is_empty() {
                        map.remove(&key);
                    }
                    map.entry(key2).or_default().extend(taken);
                }
            }
            Ok(u64::from(woken + moved))
        }
        FUTEX_WAKE_OP => {
            let n2 = timeout as u32;
            if !uaddr2.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            let key2 = key_of(p, uaddr2, private)?;
            let mut map = p.sys.futexes.waiters.lock();
            let old = wake_op_modify(k, uaddr2, val3)?;
            let mut woken = FutexTable::wake_locked(&mut map, key, val, u32::MAX);
            if wake_op_compare(old, val3)? {
                woken += FutexTable::wake_locked(&mut map, key2, n2, u32::MAX);
            }
            Ok(u64::from(woken))
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// The end of a FUTEX_WAIT that was woken, timed out or interrupted.
fn finish_wait(p: &mut Current, uaddr: u64, private: bool, timeout: u64) -> SysResult {
    let why = p.resumed();
    let prune = |p: &Current| {
        // The mapping may have changed meanwhile; then there is nothing of ours left to prune
        // under the key it has now, and a wake finds the finished wait and drops it.
        if let Ok(key) = key_of(p, uaddr, private) {
            p.sys.futexes.prune(key);
        }
    };
    match why {
        Some(Wake::TimedOut) => {
            prune(p);
            Err(Errno::ETIMEDOUT)
        }
        Some(Wake::Interrupted) => {
            prune(p);
            // With a timeout Linux restarts only when no handler runs
            // (ERESTART_RESTARTBLOCK); without one, SA_RESTART decides.
            Err(if timeout != 0 {
                Errno::ERESTARTNOHAND
            } else {
                Errno::ERESTARTSYS
            })
        }
        // A wake without a value is spurious; waking is what FUTEX_WAIT reports.
        _ => Ok(0),
    }
}

/// Queues the caller on `key` if the word at `uaddr` still holds `val`.
fn wait(
    p: &mut Current,
    k: &mut dyn Platform,
    key: FutexKey,
    uaddr: u64,
    val: u32,
    bitset: u32,
    deadline: Option<u64>,
) -> SysResult {
    let sys = p.sys.clone();
    let mut map = sys.futexes.waiters.lock();
    if read_u32(k, uaddr)? != val {
        return Err(Errno::EAGAIN);
    }
    if let Some(d) = deadline {
        if d <= k.monotonic_ns() {
            return Err(Errno::ETIMEDOUT);
        }
    }
    p.begin_wait();
    map.entry(key)
        .or_default()
        .push(p.thread.waiter(u64::from(bitset)));
    drop(map);
    if let Some(d) = deadline {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// FUTEX_WAKE_OP's operation on `*uaddr2`; returns the old value.
fn wake_op_modify(k: &mut dyn Platform, addr: u64, encoded: u32) -> Result<u32, Errno> {
    let op = (encoded >> 28) & 0xf;
    let shift = op & 8 != 0;
    let raw_arg = ((encoded >> 12) & 0xfff) as i32;
    let mut arg = (raw_arg << 20) >> 20; // sign-extend 12 bits
    if shift {
        if !(0..32).contains(&arg) {
            // Linux masks the shift with a warning; do the same.
            arg &= 31;
        }
        arg = 1 << arg;
    }
    let arg = arg as u32;
    loop {
        let old = read_u32(k, addr)?;
        let new = match op & 7 {
            0 => arg,                   // SET
            1 => old.wrapping_add(arg), // ADD
            2 => old | arg,             // OR
            3 => old & !arg,            // ANDN
            4 => old ^ arg,             // XOR
            _ => return Err(Errno::ENOSYS),
        };
        if k.cmpxchg_user_u32(addr, old, new)? == old {
            return Ok(old);
        }
    }
}

/// FUTEX_WAKE_OP's comparison of the old value.
fn wake_op_compare(old: u32, encoded: u32) -> Result<bool, Errno> {
    let cmp = (encoded >> 24) & 0xf;
    let raw = (encoded & 0xfff) as i32;
    let arg = (raw << 20) >> 20;
    let old = old as i32;
    Ok(match cmp {
        0 => old == arg,
        1 => old != arg,
        2 => old < arg,
        3 => old <= arg,
        4 => old > arg,
        5 => old >= arg,
        _ => return Err(Errno::ENOSYS),
    })
}
