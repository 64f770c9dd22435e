//! Readiness: poll, ppoll, select, pselect6, and the wait for a file to become ready that
//! epoll shares.

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::poll::Pollfd;
use coracle_abi::IntoBytes;
use coracle_vfs::file::events::*;
use coracle_vfs::{HostDevice, OpenFile, Wake};

use crate::process::NOFILE;
use crate::uaccess::{read_u64, write_u64};
use crate::{Current, Errno, Platform, SysResult};

/// The poll(2) events of an open file now, as any process sees them (epoll uses this).
pub(crate) fn poll_file(file: &OpenFile) -> u32 {
    match file.ops().host_device() {
        Some(HostDevice::Random) | None => file.ops().poll(),
        Some(dev) => {
            // The console's pollers wait on `coracle_vfs::dev::CONSOLE_POLLERS`, which input
            // arriving or ending and output taken by the host wake.
            let mut r = 0;
            if file.readable() && crate::console::input_ready() {
                // Data or the end of the host's input (at once without `-i`).
                r |= POLLIN | POLLRDNORM;
            }
            if file.writable() && crate::console::writable(super::host::stream_of(dev)) {
                r |= POLLOUT | POLLWRNORM;
            }
            r
        }
    }
}

/// The poll(2) events of `fd` now (POLLNVAL if it is not open).
fn readiness(p: &Current, fd: i32) -> u32 {
    let Ok(file) = p.file(fd) else {
        return POLLNVAL;
    };
    if file.is_path() {
        return POLLNVAL;
    }
    let mut r = poll_file(&file);
    let console = matches!(file.ops().host_device(), Some(d) if d != HostDevice::Random);
    let forwarded = console && file.readable() && !p.info.tty && p.info.stdin_forwarded;
    if forwarded && p.stdin_eof {
        r |= POLLIN | POLLRDNORM | POLLHUP;
    }
    r
}

/// The wait of every "until something is ready" call (poll, select, epoll_wait): `check`
/// counts what is ready (and reports it to the caller); while that is 0, a signal ends the
/// wait with EINTR (as poll, select and epoll_wait do even with SA_RESTART) and the deadline
/// (CLOCK_MONOTONIC ns) with 0; otherwise `register` puts the thread on the wait queues, and
/// `check` runs once more (so a change between the two is not missed) before the thread
/// waits.
pub(crate) fn wait_ready(
    p: &mut Current,
    k: &mut dyn Platform,
    deadline: Option<u64>,
    register: impl FnOnce(&mut Current),
    mut check: impl FnMut(&Current, &mut dyn Platform) -> Result<u64, Errno>,
) -> SysResult {
    let n = check(p, k)?;
    if n > 0 {
        return Ok(n);
    }
    match p.resumed() {
        Some(Wake::Interrupted) => return Err(Errno::EINTR),
        Some(Wake::TimedOut) => return Ok(0),
        _ => {}
    }
    if deadline.is_some_and(|d| d <= k.monotonic_ns()) {
        return Ok(0);
    }
    p.begin_wait();
    register(p);
    let n = check(p, k)?;
    if n > 0 {
        return Ok(n);
    }
    if let Some(d) = deadline {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// Registers the thread on the wait queues of `fds`' files.
fn register_fds(p: &mut Current, fds: &[i32]) {
    for &fd in fds {
        if let Ok(file) = p.file(fd) {
            if let Some(q) = file.ops().wait_queue() {
                p.wait_on(q, u64::MAX);
            }
        }
    }
}

fn poll_fds(
    p: &mut Current,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    deadline: Option<u64>,
) -> SysResult {
    if nfds > NOFILE as u64 {
        return Err(Errno::EINVAL);
    }
    let mut table = vec![Pollfd::default(); nfds as usize];
    k.read_user(fds, table.as_mut_bytes())?;
    let watched: Vec<i32> = table.iter().map(|r| r.fd).filter(|&fd| fd >= 0).collect();
    wait_ready(
        p,
        k,
        deadline,
        |p| register_fds(p, &watched),
        |p, k| {
            let mut ready = 0;
            for rec in table.iter_mut() {
                let events = u32::from(rec.events as u16);
                let revents = if rec.fd < 0 {
                    0
                } else {
                    readiness(p, rec.fd) & (events | POLLERR | POLLHUP | POLLNVAL)
                };
                if revents != 0 {
                    ready += 1;
                }
                rec.revents = revents as u16 as i16;
            }
            k.write_user(fds, table.as_bytes())?;
            Ok(ready)
        },
    )
}

/// The deadline `ns` from now, fixed on the call's first run (a re-run after a wait keeps it).
fn deadline_after(p: &mut Current, k: &dyn Platform, ns: u64) -> Option<u64> {
    p.call_deadline(|| Some(k.monotonic_ns().saturating_add(ns)))
}

pub(crate) fn poll(
    p: &mut Current,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    timeout_ms: i32,
) -> SysResult {
    let deadline = if timeout_ms < 0 {
        None
    } else {
        deadline_after(p, k, timeout_ms as u64 * 1_000_000)
    };
    poll_fds(p, k, fds, nfds, deadline)
}

/// Reads a `struct timespec` timeout: `None` for a null pointer (wait forever).
fn read_timeout(k: &dyn Platform, tsp: u64) -> Result<Option<u64>, Errno> {
    if tsp == 0 {
        return Ok(None);
    }
    crate::uaccess::read_timespec(k, tsp).map(Some)
}

pub(crate) fn ppoll(
    p: &mut Current,
    k: &mut dyn Platform,
    fds: u64,
    nfds: u64,
    tsp: u64,
    sigmask: u64,
    size: u64,
) -> SysResult {
    let deadline = read_timeout(k, tsp)?.and_then(|ns| deadline_after(p, k, ns));
    crate::signal::set_call_mask(p, k, sigmask, size)?;
    poll_fds(p, k, fds, nfds, deadline)
}

fn select_fds(
    p: &mut Current,
    k: &mut dyn Platform,
    nfds: i32,
    sets: [u64; 3],
    deadline: Option<u64>,
) -> SysResult {
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let nfds = (nfds as usize).min(NOFILE);
    let words = nfds.div_ceil(64);
    let mut input = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
    for (set, addr) in input.iter_mut().zip(sets) {
        if addr != 0 {
            for (i, w) in set.iter_mut().enumerate() {
                *w = read_u64(k, addr + i as u64 * 8)?;
            }
        }
    }
    // Every fd named must be open.
    let mut watched = Vec::new();
    for fd in 0..nfds {
        let named = input.iter().any(|s| s[fd / 64] & (1 << (fd % 64)) != 0);
        if named {
            if p.file(fd as i32).is_err() {
                return Err(Errno::EBADF);
            }
            watched.push(fd as i32);
        }
    }
    let write_sets = |k: &mut dyn Platform, out: &[Vec<u64>; 3]| -> Result<(), Errno> {
        for (set, addr) in out.iter().zip(sets) {
            if addr != 0 {
                for (i, w) in set.iter().enumerate() {
                    write_u64(k, addr + i as u64 * 8, *w)?;
                }
            }
        }
        Ok(())
    };
    // The sets are both the input and the result: they are written only when the call
    // returns (a call that waits runs again from scratch and reads them again).
    let n = wait_ready(
        p,
        k,
        deadline,
        |p| register_fds(p, &watched),
        |p, k| {
            let mut out = [vec![0u64; words], vec![0u64; words], vec![0u64; words]];
            let mut count = 0;
            for fd in 0..nfds {
                let (w, b) = (fd / 64, 1u64 << (fd % 64));
                if !input.iter().any(|s| s[w] & b != 0) {
                    continue;
                }
                let r = readiness(p, fd as i32);
                let hits = [
                    r & (POLLIN | POLLRDNORM | POLLHUP | POLLERR) != 0,
                    r & (POLLOUT | POLLWRNORM | POLLERR) != 0,
                    r & POLLPRI != 0,
                ];
                for i in 0..3 {
                    if input[i][w] & b != 0 && hits[i] {
                        out[i][w] |= b;
                        count += 1;
                    }
                }
            }
            if count > 0 {
                write_sets(k, &out)?;
            }
            Ok(count)
        },
    )?;
    if n == 0 {
        // Timed out: nothing is ready.
        write_sets(
            k,
            &[vec![0u64; words], vec![0u64; words], vec![0u64; words]],
        )?;
    }
    Ok(n)
}

/// personality(2)'s flag that keeps select's timeout unchanged.
const STICKY_TIMEOUTS: u32 = 0x0400_0000;

pub(crate) fn select(
    p: &mut Current,
    k: &mut dyn Platform,
    nfds: i32,
    readfds: u64,
    writefds: u64,
    exceptfds: u64,
    timeout: u64,
) -> SysResult {
    let deadline = if timeout == 0 {
        None
    } else {
        let sec = read_u64(k, timeout)? as i64;
        let usec = read_u64(k, timeout + 8)? as i64;
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        deadline_after(
            p,
            k,
            (sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(usec as u64 * 1000),
        )
    };
    let n = select_fds(p, k, nfds, [readfds, writefds, exceptfds], deadline)?;
    let sticky = sticky_timeouts(p);
    if let (Some(d), true) = (deadline, timeout != 0 && !sticky) {
        // Linux writes back the time left.
        let left = d.saturating_sub(k.monotonic_ns());
        write_u64(k, timeout, left / 1_000_000_000)?;
        write_u64(k, timeout + 8, (left % 1_000_000_000) / 1000)?;
    }
    Ok(n)
}

/// STICKY_TIMEOUTS in the personality: select's timeout is left as given instead of
/// holding the time left (poll_select_finish).
fn sticky_timeouts(p: &Current) -> bool {
    p.process
        .personality
        .load(core::sync::atomic::Ordering::Relaxed)
        & STICKY_TIMEOUTS
        != 0
}

pub(crate) fn pselect6(
    p: &mut Current,
    k: &mut dyn Platform,
    nfds: i32,
    readfds: u64,
    writefds: u64,
    exceptfds: u64,
    timeout: u64,
    sigmask: u64,
) -> SysResult {
    let deadline = read_timeout(k, timeout)?.and_then(|ns| deadline_after(p, k, ns));
    // The last argument points at { const sigset_t *ss; size_t ss_len; }.
    if sigmask != 0 {
        let ss = read_u64(k, sigmask)?;
        let len = read_u64(k, sigmask + 8)?;
        crate::signal::set_call_mask(p, k, ss, len)?;
    }
    let n = select_fds(p, k, nfds, [readfds, writefds, exceptfds], deadline)?;
    // Like select, the time left goes back in the timespec (glibc's select is pselect6).
    let sticky = sticky_timeouts(p);
    if let (Some(d), false) = (deadline, sticky) {
        let left = d.saturating_sub(k.monotonic_ns());
        write_u64(k, timeout, left / 1_000_000_000)?;
        write_u64(k, timeout + 8, left % 1_000_000_000)?;
    }
    Ok(n)
}
