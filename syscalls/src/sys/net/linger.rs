//! SO_LINGER with a time: the last close of a TCP socket waits until the peer has
//! acknowledged the data and the FIN, or the time runs out (Linux's tcp_close waits in
//! sk_stream_wait_close), blocking socket or not: inet_release does not look at O_NONBLOCK.
//! A signal ends the wait and close still returns 0. A process's exit does not wait (its
//! files are dropped, not closed here), as inet_release skips it for an exiting task.
//!
//! The fd is gone from the table when the wait starts, so the open file waits in
//! [`Current::held`] and the re-run of close finds it there.

use alloc::boxed::Box;
use alloc::sync::Arc;

use coracle_vfs::{OpenFile, Wake};

use super::SocketFile;
use crate::{Current, Errno, Platform, SysResult};

/// The open file of a socket whose close waits.
struct Lingering(Arc<OpenFile>);

/// Whether the close of `file`, whose fd is gone, must linger: a socket with SO_LINGER and a
/// time, this the last hold on it (not another fd, a child's or an in-flight call's).
pub(crate) fn wanted(file: &Arc<OpenFile>) -> bool {
    let Some(s) = file.ops().as_any().downcast_ref::<SocketFile>() else {
        return false;
    };
    let linger = s.common.lock().linger;
    linger.onoff != 0 && linger.linger != 0 && Arc::strong_count(file) == 1
}

/// Starts the lingering close of `file` ([`wanted`]): Ok(0) once over, else `Errno::WAIT`
/// with the file held.
pub(crate) fn start(p: &mut Current, k: &mut dyn Platform, file: Arc<OpenFile>) -> SysResult {
    let linger = super::socket(&file).common.lock().linger;
    // sock_setsockopt takes l_linger as unsigned seconds.
    let ns = u64::from(linger.linger as u32).saturating_mul(1_000_000_000);
    let now = k.monotonic_ns();
    p.call_deadline(|| Some(now.saturating_add(ns)));
    p.held = Some(Box::new(Lingering(file)));
    wait(p, k)
}

/// The re-run of a close that lingers: None when this close is not one.
pub(crate) fn resume(p: &mut Current, k: &mut dyn Platform) -> Option<SysResult> {
    p.held.as_ref()?.downcast_ref::<Lingering>()?;
    Some(wait(p, k))
}

/// Ok(0) once the wait is over (the file then goes), else `Errno::WAIT`.
fn wait(p: &mut Current, k: &mut dyn Platform) -> SysResult {
    let Some(file) = p
        .held
        .as_ref()
        .and_then(|h| h.downcast_ref::<Lingering>())
        .map(|l| l.0.clone())
    else {
        return Ok(0);
    };
    let s = super::socket(&file);
    let now = k.monotonic_ns();
    let over = matches!(p.resumed(), Some(Wake::TimedOut | Wake::Interrupted))
        || p.call_deadline(|| None).is_some_and(|d| now >= d);
    if over || s.sock.close_lingering(now) {
        drop(file);
        return Ok(finish(p));
    }
    p.wait_on(s.sock.queue(), u64::MAX);
    if s.sock.close_lingering(now) {
        drop(file);
        return Ok(finish(p));
    }
    if let Some(d) = p.call_deadline(|| None) {
        p.wait_until(d);
    }
    Err(Errno::WAIT)
}

/// Drops the held file (the socket closes, its connection finishing on its own) and wakes
/// lock waiters as close does; close's return value.
fn finish(p: &mut Current) -> u64 {
    p.held = None;
    p.sys.lock_waiters.wake_everyone();
    0
}
