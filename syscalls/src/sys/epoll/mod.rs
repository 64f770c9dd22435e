//! epoll: epoll_create/create1, epoll_ctl, epoll_wait/pwait/pwait2, and the epoll object.
//!
//! Readiness comes from the watched files alone: [`FileOps::poll`] says what is ready now and
//! [`FileOps::wait_queue`] is woken when that may change. Any file with that pair (pipes,
//! eventfds, timerfds, other epolls, and sockets when they come) can be watched; nothing here
//! knows the kinds.
//!
//! Each interest puts a hook on its file's wait queue. A wake of the queue (with poll bits
//! meeting the interest's events) puts the interest on the epoll's ready list and wakes the
//! epoll's own queue: the threads in `epoll_wait` (one at a time, exclusively) and whoever
//! polls the epoll fd itself. `epoll_wait` looks only at the ready list: it re-hooks each
//! interest on its file's queue, polls the file, reports what is ready, and keeps
//! level-triggered interests on the list (at the back, so reports go round in a fair order);
//! edge-triggered ones come back only with the next wake, one-shot ones only after
//! `EPOLL_CTL_MOD`. Hooks are one-shot registrations (a wake removes them from the queue), so
//! a busy file costs one wake per `epoll_wait`, not one per change.
//!
//! Interests are keyed by (fd, open file description) and hold the description weakly: when
//! its last fd closes, the interest is gone (dropped when met on the ready list, or swept).
//!
//! Locks (see `instance::Epoll`): an epoll's interests lock is held while it polls its files,
//! so it comes before their locks and before the interests locks of epolls nested in it
//! (loops are refused, so the order is well founded). Hooks are woken with no file lock held
//! and take only the ready-list lock, which nothing holds while taking another.
//!
//! This file has the system calls; `instance` the epoll object.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::poll::EpollEvent;
use coracle_abi::IntoBytes;
use coracle_vfs::types::oflags::O_CLOEXEC;

use crate::sys::anon::install_anon;
use crate::uaccess::{read_struct, read_u64};
use crate::{Current, Errno, Platform, SysResult};

mod instance;

use instance::*;

/// `struct epoll_event` is packed on x86_64: u32 events, u64 data.
const EVENT_SIZE: u64 = size_of::<EpollEvent>() as u64;
/// Largest maxevents (EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event)).
const MAX_EVENTS: i32 = i32::MAX / EVENT_SIZE as i32;

const EPOLL_CTL_ADD: i32 = 1;
const EPOLL_CTL_DEL: i32 = 2;
const EPOLL_CTL_MOD: i32 = 3;

pub(crate) fn epoll_create1(p: &mut Current, _k: &mut dyn Platform, flags: i32) -> SysResult {
    let flags = flags as u32;
    if flags & !O_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    install_anon(p, "eventpoll", flags, Box::new(EpollOps::new()))
}

pub(crate) fn epoll_create(p: &mut Current, k: &mut dyn Platform, size: i32) -> SysResult {
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    epoll_create1(p, k, 0)
}

pub(crate) fn epoll_ctl(
    p: &mut Current,
    k: &mut dyn Platform,
    epfd: i32,
    op: i32,
    fd: i32,
    event: u64,
) -> SysResult {
    // Linux's order (do_epoll_ctl): the event, the fds, pollability, the epoll, the
    // EPOLLEXCLUSIVE rules, loops, then the operation.
    let (events, data) = if op != EPOLL_CTL_DEL {
        let e: EpollEvent = read_struct(k, event)?;
        (e.events, e.data)
    } else {
        (0, 0)
    };
    let epfile = p.file(epfd)?;
    let tfile = p.file(fd)?;
    // O_PATH descriptors are not usable here at all (fdget refuses them).
    if epfile.is_path() || tfile.is_path() {
        return Err(Errno::EBADF);
    }
    if !tfile.ops().pollable() {
        return Err(Errno::EPERM);
    }
    let ep = match epoll_of(&epfile) {
        Some(ep) if !Arc::ptr_eq(&epfile, &tfile) => ep,
        _ => return Err(Errno::EINVAL),
    };
    let target = epoll_of(&tfile);
    if op != EPOLL_CTL_DEL && events & EPOLLEXCLUSIVE != 0 {
        if op == EPOLL_CTL_MOD {
            return Err(Errno::EINVAL);
        }
        if op == EPOLL_CTL_ADD && (target.is_some() || events & !EXCLUSIVE_OK_BITS != 0) {
            return Err(Errno::EINVAL);
        }
    }
    match op {
        EPOLL_CTL_ADD => match target {
            Some(child) => ep.add_epoll(fd, &tfile, &child, events, data).map(|_| 0),
            None => ep.add(fd, &tfile, events, data).map(|_| 0),
        },
        EPOLL_CTL_MOD => ep.modify(fd, &tfile, events, data).map(|_| 0),
        EPOLL_CTL_DEL => ep.delete(fd, &tfile).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// epoll_pwait and epoll_pwait2 (like ppoll and pselect6) wait with `mask` as the thread's
/// signal mask; the old one comes back when the call returns, or after the handler of the
/// signal that interrupted it (Linux's `set_user_sigmask`).
pub(crate) fn wait_with_sigmask(p: &mut Current, mask: Option<u64>) {
    if let Some(mask) = mask {
        crate::signal::set_call_mask_to(p, mask);
    }
}

/// Reads the `sigmask`/`sigsetsize` pair of the p-variants: `None` for a null mask; `EINVAL`
/// for a size other than 8, `EFAULT` for a bad pointer.
pub(crate) fn read_wait_sigmask(
    k: &dyn Platform,
    sigmask: u64,
    sigsetsize: u64,
) -> Result<Option<u64>, Errno> {
    if sigmask == 0 {
        return Ok(None);
    }
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    read_u64(k, sigmask).map(Some)
}

/// The wait of epoll_wait and its variants; `timeout` is `None` to wait forever.
fn do_epoll_wait(
    p: &mut Current,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: Option<u64>,
) -> SysResult {
    const USER_END: u64 = 1 << 47;
    if maxevents <= 0 || maxevents > MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let len = maxevents as u64 * EVENT_SIZE;
    if events.checked_add(len).is_none_or(|end| end > USER_END) {
        return Err(Errno::EFAULT);
    }
    let file = p.file(epfd)?;
    let ep = epoll_of(&file).ok_or(Errno::EINVAL)?;
    let deadline =
        timeout.and_then(|ns| p.call_deadline(|| Some(k.monotonic_ns().saturating_add(ns))));
    // epoll_wait is never restarted after a signal handler (epoll_wait(2)): EINTR.
    crate::sys::io::wait_ready(
        p,
        k,
        deadline,
        |p| {
            ep.queue
                .register_exclusive(p.thread.waiter(u64::from(EPOLLIN)))
        },
        |_, k| deliver(k, &ep, events, maxevents as usize),
    )
}

/// Harvests up to `max` events and copies them to `events`; on a fault they go back on the
/// ready list.
fn deliver(k: &mut dyn Platform, ep: &Epoll, events: u64, max: usize) -> SysResult {
    let taken = ep.harvest(max);
    if taken.is_empty() {
        return Ok(0);
    }
    let buf: Vec<EpollEvent> = taken
        .iter()
        .map(|r| EpollEvent {
            events: r.events,
            data: r.data,
        })
        .collect();
    if let Err(e) = k.write_user(events, buf.as_bytes()) {
        ep.unharvest(&taken);
        return Err(e);
    }
    Ok(taken.len() as u64)
}

/// A timeout in ms as epoll_wait takes it: negative waits forever.
fn ms_timeout(timeout: i32) -> Option<u64> {
    u64::try_from(timeout).ok().map(|ms| ms * 1_000_000)
}

pub(crate) fn epoll_wait(
    p: &mut Current,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: i32,
) -> SysResult {
    do_epoll_wait(p, k, epfd, events, maxevents, ms_timeout(timeout))
}

pub(crate) fn epoll_pwait(
    p: &mut Current,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: i32,
    sigmask: u64,
    sigsetsize: u64,
) -> SysResult {
    let mask = read_wait_sigmask(k, sigmask, sigsetsize)?;
    wait_with_sigmask(p, mask);
    do_epoll_wait(p, k, epfd, events, maxevents, ms_timeout(timeout))
}

pub(crate) fn epoll_pwait2(
    p: &mut Current,
    k: &mut dyn Platform,
    epfd: i32,
    events: u64,
    maxevents: i32,
    timeout: u64,
    sigmask: u64,
    sigsetsize: u64,
) -> SysResult {
    let timeout = if timeout == 0 {
        None
    } else {
        let sec = read_u64(k, timeout)? as i64;
        let nsec = read_u64(k, timeout + 8)? as i64;
        if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
            return Err(Errno::EINVAL);
        }
        Some(
            (sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(nsec as u64),
        )
    };
    let mask = read_wait_sigmask(k, sigmask, sigsetsize)?;
    wait_with_sigmask(p, mask);
    do_epoll_wait(p, k, epfd, events, maxevents, timeout)
}
