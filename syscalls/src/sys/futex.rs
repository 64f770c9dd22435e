//! futex(2): waiting on a user word, and waking, requeueing and operating on waiters.
//!
//! Waiters are kept per (process, address); the table lock is held while the user word is
//! compared and the waiter queued, and while wakers pick waiters, so a wake that follows a
//! store to the word can never miss a waiter that saw the old value. Timeouts and signals end a
//! wait through the scheduler; the waiter then removes itself. PI futexes are not supported
//! (ENOSYS), as on a kernel built without CONFIG_FUTEX_PI.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::{Waiter, Wake};
use spin::Mutex;

use crate::{Current, Errno, Platform, SysResult};

const FUTEX_WAIT: i32 = 0;
const FUTEX_WAKE: i32 = 1;
const FUTEX_FD: i32 = 2;
const FUTEX_REQUEUE: i32 = 3;
const FUTEX_CMP_REQUEUE: i32 = 4;
const FUTEX_WAKE_OP: i32 = 5;
const FUTEX_WAIT_BITSET: i32 = 9;
const FUTEX_WAKE_BITSET: i32 = 10;
const FUTEX_PRIVATE_FLAG: i32 = 128;
const FUTEX_CLOCK_REALTIME: i32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// The waiters of every futex word, by (process identity, user address).
#[derive(Debug, Default)]
pub struct FutexTable {
    waiters: Mutex<BTreeMap<(usize, u64), Vec<Waiter>>>,
}

impl FutexTable {
    /// Wakes up to `n` waiters of `key` whose bitset meets `mask`, handing them `Done(0)`;
    /// returns how many woke. Finished waits met on the way are dropped.
    fn wake_locked(
        map: &mut BTreeMap<(usize, u64), Vec<Waiter>>,
        key: (usize, u64),
        n: u32,
        mask: u32,
    ) -> u32 {
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

    /// Wakes up to `n` waiters on `uaddr` of the process `mm` (used by thread exit for
    /// CLONE_CHILD_CLEARTID and robust lists).
    pub fn wake(&self, mm: usize, uaddr: u64, n: u32) -> u32 {
        Self::wake_locked(&mut self.waiters.lock(), (mm, uaddr), n, u32::MAX)
    }

    /// Drops the finished waits queued on `key`.
    fn prune(&self, key: (usize, u64)) {
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
pub(crate) fn mm_key(p: &Current) -> usize {
    Arc::as_ptr(&p.process) as usize
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
    let key = (mm_key(p), uaddr);
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
            match p.resumed() {
                Some(Wake::TimedOut) => {
                    p.sys.futexes.prune(key);
                    return Err(Errno::ETIMEDOUT);
                }
                Some(Wake::Interrupted) => {
                    p.sys.futexes.prune(key);
                    // With a timeout Linux restarts only when no handler runs
                    // (ERESTART_RESTARTBLOCK); without one, SA_RESTART decides.
                    return Err(if timeout != 0 {
                        Errno::ERESTARTNOHAND
                    } else {
                        Errno::ERESTARTSYS
                    });
                }
                // A wake without a value is spurious; waking is what FUTEX_WAIT reports.
                Some(_) => return Ok(0),
                None => {}
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
            wait(p, k, key, val, bitset, deadline)
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
            let key2 = (mm_key(p), uaddr2);
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
            let key2 = (mm_key(p), uaddr2);
            let mut map = p.sys.futexes.waiters.lock();
            let old = wake_op_modify(k, uaddr2, val3)?;
            let mut woken = FutexTable::wake_locked(&mut map, key, val, u32::MAX);
            if wake_op_compare(old, val3)? {
                woken += FutexTable::wake_locked(&mut map, key2, n2, u32::MAX);
            }
            Ok(u64::from(woken))
        }
        FUTEX_FD => Err(Errno::ENOSYS),
        _ => Err(Errno::ENOSYS),
    }
}

/// Queues the caller on `key` if the word still holds `val`.
fn wait(
    p: &mut Current,
    k: &mut dyn Platform,
    key: (usize, u64),
    val: u32,
    bitset: u32,
    deadline: Option<u64>,
) -> SysResult {
    let sys = p.sys.clone();
    let mut map = sys.futexes.waiters.lock();
    if read_u32(k, key.1)? != val {
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
