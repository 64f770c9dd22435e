//! Reading and writing terminals: canonical and raw reads with VMIN/VTIME, job control
//! (SIGTTIN, SIGTTOU with TOSTOP), output processing, and a pty's master side.

use alloc::vec;
use alloc::vec::Vec;

use coracle_abi::signal::{SIGTTIN, SIGTTOU};
use coracle_abi::termios::{TOSTOP, VMIN, VTIME};
use coracle_vfs::types::Result;
use coracle_vfs::{OpenFile, Wake};

use super::file::{End, TtyFile};
use super::{jobs, After, Kind, Tty, MASTER_BUF};
use crate::sys::io::host::wait_console;
use crate::sys::io::{wait_for_file, UserBufs, CHUNK, MAX_RW_COUNT};
use crate::{Current, Errno, Platform, Stream, SysResult};

/// What one attempt at a read found.
enum Attempt {
    /// Bytes (or 0: end of file, or nothing with VMIN = VTIME = 0).
    Got(usize),
    /// Nothing yet; wait, with a VTIME deadline (ns from now) if one applies.
    Wait(Option<u64>),
}

/// One non-blocking try at reading the slave side, by VMIN and VTIME in raw mode
/// (termios(3) "Canonical and noncanonical mode"); `timed_out`: the VTIME wait ended.
fn try_read_slave(tty: &Tty, buf: &mut [u8], timed_out: bool) -> Attempt {
    let mut after = After::default();
    let got = {
        let mut st = tty.state.lock();
        // Input typed before the hang-up is still read first, the backlog's too.
        tty.drain_backlog(&mut st, &mut after);
        if st.hungup && !st.ldisc.has_input() && st.backlog.is_empty() {
            return Attempt::Got(0);
        }
        let l = &mut st.ldisc;
        let got = if l.canonical() {
            match l.read(buf) {
                Some(n) => n,
                None => return Attempt::Wait(None),
            }
        } else {
            let t = *l.termios();
            let (min, time) = (usize::from(t.c_cc[VMIN]), u64::from(t.c_cc[VTIME]));
            let avail = l.readable_bytes();
            let want = min.min(buf.len()).max(1);
            let deadline = Some(time * 100_000_000);
            if avail >= want || (avail > 0 && (timed_out || min == 0)) {
                l.read(buf).unwrap_or(0)
            } else if min == 0 && (time == 0 || timed_out) {
                0
            } else if time > 0 && (min == 0 || avail > 0) {
                return Attempt::Wait(deadline);
            } else {
                return Attempt::Wait(None);
            }
        };
        tty.drain_backlog(&mut st, &mut after);
        got
    };
    after.wake = true;
    tty.finish(after);
    Attempt::Got(got)
}

/// One non-blocking read of either end: `EAGAIN` when it would wait (the generic paths).
pub(crate) fn read_now(tty: &Tty, end: End, buf: &mut [u8]) -> Result<usize> {
    match end {
        End::Slave => match try_read_slave(tty, buf, false) {
            Attempt::Got(n) => Ok(n),
            Attempt::Wait(_) => Err(Errno::EAGAIN),
        },
        End::Master => {
            let n = {
                let mut st = tty.state.lock();
                if st.master_buf.is_empty() {
                    return Err(if st.slave_closed {
                        Errno::EIO
                    } else {
                        Errno::EAGAIN
                    });
                }
                let n = buf.len().min(st.master_buf.len());
                for (d, s) in buf.iter_mut().zip(st.master_buf.drain(..n)) {
                    *d = s;
                }
                n
            };
            tty.queue.wake_everyone();
            Ok(n)
        }
    }
}

/// One non-blocking write of either end: output processing to the screen (slave), or typing
/// (master). `EAGAIN` when nothing fits.
pub(crate) fn write_now(tty: &Tty, end: End, data: &[u8]) -> Result<usize> {
    match end {
        End::Master => {
            let n = tty.receive(data, false);
            if n == 0 && !data.is_empty() {
                return Err(Errno::EAGAIN);
            }
            Ok(n)
        }
        End::Slave => {
            let n = {
                let mut st = tty.state.lock();
                // The console's input ending leaves its output to the host working.
                if st.hungup && tty.kind == Kind::Pty {
                    return Err(Errno::EIO);
                }
                let room = match tty.kind {
                    Kind::Console => data.len(),
                    Kind::Pty => MASTER_BUF.saturating_sub(st.master_buf.len()),
                };
                let n = room.min(data.len());
                if n == 0 && !data.is_empty() {
                    return Err(Errno::EAGAIN);
                }
                let mut out = Vec::with_capacity(n + n / 8);
                st.ldisc.output(&data[..n], &mut out);
                tty.emit(&mut st, &out);
                n
            };
            tty.queue.wake_everyone();
            Ok(n)
        }
    }
}

/// Hands console output the host did not take yet to it, as far as it takes it now; true
/// when nothing is left.
fn flush_pending(tty: &Tty, k: &mut dyn Platform) -> bool {
    if tty.kind != Kind::Console {
        return true;
    }
    let mut st = tty.state.lock();
    while !st.pending_out.is_empty() {
        let n = k.write_stream(Stream::Stdout, &st.pending_out);
        if n == 0 {
            return false;
        }
        let n = n.min(st.pending_out.len());
        st.pending_out.drain(..n);
    }
    true
}

/// The most console output held for the host beyond what its port takes: a writer waits for
/// the host (`crate::console::writers`) past it, as on a full pipe.
const CONSOLE_OUT_CAP: usize = 4096;

/// One step of a write to the console: output processing, then to the host as far as it
/// takes it, the rest held in order. `EAGAIN` when the held output is full.
/// The end of the host's input (`-i`) does not stop it: the host still reads the output.
fn write_console(tty: &Tty, k: &mut dyn Platform, data: &[u8]) -> Result<usize> {
    flush_pending(tty, k);
    let mut st = tty.state.lock();
    let room = CONSOLE_OUT_CAP.saturating_sub(st.pending_out.len());
    if room == 0 {
        return Err(Errno::EAGAIN);
    }
    let n = room.min(data.len());
    let mut out = Vec::with_capacity(n + n / 8);
    st.ldisc.output(&data[..n], &mut out);
    st.pending_out.extend_from_slice(&out);
    drop(st);
    flush_pending(tty, k);
    Ok(n)
}

/// read(2) on a terminal.
pub(crate) fn read(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    tf: &TtyFile,
    bufs: UserBufs<'_>,
) -> SysResult {
    let tty = &tf.tty;
    if tf.end == End::Slave {
        jobs::check(p, tty, SIGTTIN)?;
    }
    let count = bufs.len().min(MAX_RW_COUNT) as usize;
    if count == 0 {
        return Ok(0);
    }
    let mut buf = vec![0u8; count.min(CHUNK)];
    let timed_out = p.resumed() == Some(Wake::TimedOut);
    let mut registered = false;
    loop {
        let attempt = match tf.end {
            End::Slave => try_read_slave(tty, &mut buf, timed_out),
            End::Master => match read_now(tty, End::Master, &mut buf) {
                Ok(n) => Attempt::Got(n),
                Err(Errno::EAGAIN) => Attempt::Wait(None),
                Err(e) => return Err(e),
            },
        };
        flush_pending(tty, k);
        let deadline = match attempt {
            Attempt::Got(n) => {
                bufs.store(k, 0, &buf[..n])?;
                return Ok(n as u64);
            }
            Attempt::Wait(d) => d,
        };
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        match wait_for_file(p, file, &mut registered) {
            None => {}
            Some(Errno::WAIT) => {
                if let Some(t) = deadline {
                    let now = k.monotonic_ns();
                    if let Some(d) = p.call_deadline(|| Some(now.saturating_add(t))) {
                        p.wait_until(d);
                    }
                }
                return Err(Errno::WAIT);
            }
            Some(e) => return Err(e),
        }
    }
}

/// write(2) on a terminal: a blocking writer waits for room and writes everything.
pub(crate) fn write(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &OpenFile,
    tf: &TtyFile,
    bufs: UserBufs<'_>,
) -> SysResult {
    let tty = &tf.tty;
    if tf.end == End::Slave && tty.state.lock().ldisc.termios().c_lflag & TOSTOP != 0 {
        jobs::check(p, tty, SIGTTOU)?;
    }
    let count = bufs.len().min(MAX_RW_COUNT);
    let mut done = p.progress.min(count);
    let mut buf = vec![0u8; (count as usize).min(CHUNK)];
    let mut registered = false;
    flush_pending(tty, k);
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let (have, fault) = match bufs.load(k, done, &mut buf[..want]) {
            Ok(()) => (want, None),
            Err((have, e)) => (have, Some(e)),
        };
        if have == 0 {
            return match fault {
                Some(e) if done == 0 => Err(e),
                _ => Ok(done),
            };
        }
        let console = tty.kind == Kind::Console && tf.end == End::Slave;
        let r = if console {
            // To the host through the platform, in the writer's order.
            write_console(tty, k, &buf[..have])
        } else {
            write_now(tty, tf.end, &buf[..have])
        };
        match r {
            Ok(n) => {
                done += n as u64;
                if fault.is_some() && n == have {
                    return Ok(done);
                }
            }
            Err(Errno::EAGAIN) if !file.nonblocking() => {
                let waited = if console {
                    wait_console(p, crate::console::writers(), &mut registered)
                } else {
                    wait_for_file(p, file, &mut registered)
                };
                match waited {
                    None => {}
                    Some(Errno::WAIT) => {
                        p.progress = done;
                        return Err(Errno::WAIT);
                    }
                    Some(_) if done > 0 => return Ok(done),
                    Some(e) => return Err(e),
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => return Ok(done),
        }
    }
    // A blocking write to the console returns once the host has taken it all, so nothing is
    // left behind when the program ends right after.
    if tty.kind == Kind::Console && tf.end == End::Slave && !file.nonblocking() {
        while !flush_pending(tty, k) {
            match wait_console(p, crate::console::writers(), &mut registered) {
                None => {}
                Some(Errno::WAIT) => {
                    p.progress = done;
                    return Err(Errno::WAIT);
                }
                Some(_) => return Ok(done),
            }
        }
    }
    Ok(done)
}
