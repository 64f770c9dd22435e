//! I/O scheduling priorities: ioprio_get and ioprio_set (`block/ioprio.c`).
//!
//! Coracle has no I/O scheduler to apply them to; a process keeps the value it was given
//! (inherited by fork) and reads it back, with Linux's checks: the realtime class needs
//! CAP_SYS_NICE or CAP_SYS_ADMIN, which Docker does not give, so it is `EPERM`.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use crate::{Current, Errno, Platform, Process, SysResult};

const IOPRIO_WHO_PROCESS: i32 = 1;
const IOPRIO_WHO_PGRP: i32 = 2;
const IOPRIO_WHO_USER: i32 = 3;

const CLASS_NONE: u32 = 0;
const CLASS_RT: u32 = 1;
const CLASS_BE: u32 = 2;
const CLASS_IDLE: u32 = 3;
/// What a process without a priority of its own counts as when several are compared
/// (IOPRIO_DEFAULT_NORM: best effort, level 4).
const DEFAULT_NORM: u32 = CLASS_BE << 13 | 4;

/// The processes `which`/`who` name; `ESRCH` when none, `EINVAL` for an unknown `which`.
fn targets(p: &Current, which: i32, who: i32) -> Result<alloc::vec::Vec<Arc<Process>>, Errno> {
    let who = u32::try_from(who).map_err(|_| Errno::ESRCH)?;
    let tree = p.sys.tree.lock();
    let live = tree.values().filter(|q| q.life.lock().ended.is_none());
    let found: alloc::vec::Vec<_> = match which {
        IOPRIO_WHO_PROCESS => {
            let pid = if who == 0 { p.process.pid } else { who };
            live.filter(|q| q.pid == pid).cloned().collect()
        }
        IOPRIO_WHO_PGRP => {
            let pgid = if who == 0 { p.process.pgid() } else { who };
            live.filter(|q| q.pgid() == pgid).cloned().collect()
        }
        IOPRIO_WHO_USER => {
            let uid = if who == 0 { p.process.creds().uid } else { who };
            live.filter(|q| q.creds().uid == uid).cloned().collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}

pub(crate) fn ioprio_set(
    p: &mut Current,
    _k: &mut dyn Platform,
    which: i32,
    who: i32,
    ioprio: i32,
) -> SysResult {
    let value = u32::try_from(ioprio).map_err(|_| Errno::EINVAL)?;
    let (class, data) = (value >> 13, value & 0x1fff);
    let (level, hint) = (data & 7, data >> 3);
    match class {
        CLASS_RT => return Err(Errno::EPERM),
        CLASS_BE | CLASS_IDLE if hint <= 7 => {}
        CLASS_NONE if level == 0 && hint <= 7 => {}
        _ => return Err(Errno::EINVAL),
    }
    for q in targets(p, which, who)? {
        q.ioprio.store(value, Ordering::Relaxed);
    }
    Ok(0)
}

pub(crate) fn ioprio_get(
    p: &mut Current,
    _k: &mut dyn Platform,
    which: i32,
    who: i32,
) -> SysResult {
    let found = targets(p, which, who)?;
    if let [one] = &found[..] {
        return Ok(u64::from(one.ioprio.load(Ordering::Relaxed)));
    }
    // Several: the best (ioprio_best: the lowest class, unset counting as best effort 4).
    let best = found
        .iter()
        .map(|q| match q.ioprio.load(Ordering::Relaxed) {
            v if v >> 13 == CLASS_NONE => DEFAULT_NORM,
            v => v,
        })
        .min_by_key(|&v| (v >> 13, v & 7))
        .unwrap_or(DEFAULT_NORM);
    Ok(u64::from(best))
}
