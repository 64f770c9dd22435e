//! `coracle exec -t`: the exec'd process on a pseudo-terminal of its own, as `docker exec -t`
//! gives one. The kernel makes a /dev/ptmx pair and keeps its master: the slave (/dev/pts/N)
//! is the process's fds 0-2 and the controlling terminal of its session (foreground group:
//! the process), with the window size of the request. The session's `STDIN` bytes are typed
//! on the master; what the terminal shows (the process's output, stdout and stderr alike, and
//! echoes) goes back as `STDOUT` messages as the port takes them; `WINSIZE` resizes it
//! (SIGWINCH to the foreground group). When the process ends the master is closed, which hangs
//! the terminal up for whatever still holds it, and /dev/pts/N goes away.

use alloc::collections::VecDeque;
use alloc::sync::Arc;

use coracle_abi::exec_wire::{self, MAX_PAYLOAD};
use coracle_abi::termios::Winsize;
use coracle_vfs::types::{makedev, oflags};
use coracle_vfs::OpenFile;

use super::{flush_outbox, Session, HOOKS};
use crate::process::System;
use crate::tty::{pty, End, Kind, TtyFile};
use crate::Errno;

/// A new terminal for `session` of `rows` x `cols` (0 x 0: the kernel's default of none):
/// its master, kept by the session, and the slave's open file for fds 0-2.
pub(super) fn open(
    sys: &Arc<System>,
    session: &Session,
    (rows, cols): (u16, u16),
) -> Result<(TtyFile, Arc<OpenFile>), Errno> {
    let tty = sys.ttys.add(Kind::Pty, Arc::downgrade(sys));
    pty::add_node(sys, &tty)?;
    let master = TtyFile::new(tty.clone(), End::Master);
    {
        let mut st = tty.state.lock();
        st.locked = false;
        st.winsize = Winsize {
            ws_row: rows,
            ws_col: cols,
            ..Winsize::default()
        };
    }
    let name = alloc::format!("{}", tty.index);
    let dir = pty::pts_dir(sys)?;
    let inode = dir.lookup(&pty::root_caller(&dir), name.as_bytes())?;
    if inode.stat().rdev != makedev(pty::PTS_MAJOR, tty.index) {
        return Err(Errno::EIO);
    }
    let slave = OpenFile::new(
        inode,
        alloc::format!("/dev/pts/{name}").into_bytes(),
        oflags::O_RDWR | oflags::O_LARGEFILE,
        alloc::boxed::Box::new(TtyFile::new(tty.clone(), End::Slave)),
    );
    tty.state.lock().exec = Some(session.id);
    Ok((master, slave))
}

/// Makes session `sid` (the new process's own) the terminal's, with `pgrp` in the
/// foreground, as the session leader's TIOCSCTTY does.
pub(super) fn control(master: &TtyFile, sid: u32, pgrp: u32) {
    let mut st = master.tty.state.lock();
    st.session = sid;
    st.pgrp = pgrp;
}

/// The process is about to run: the session keeps `master`, and input the host sent before
/// is typed on it first.
pub(super) fn started(s: &Session, master: TtyFile) {
    let tty = master.tty.clone();
    // Under the input lock, as [`type_input`]: no later input overtakes it.
    let mut input = s.input.lock();
    *s.tty.lock() = Some(master);
    let early: alloc::vec::Vec<u8> = input.queue.drain(..).collect();
    if !early.is_empty() {
        tty.receive(&early, true);
    }
    drop(input);
}

/// Sends what the terminal of session `id` showed (`shown`: its master's buffer), as far as
/// the port takes it now; the rest stays for [`super::output_ready`]. Called with the
/// terminal's state locked.
pub(crate) fn send_output(id: u32, shown: &mut VecDeque<u8>) {
    let Some(h) = HOOKS.get() else {
        // No driver (host tests): nothing to send to.
        shown.clear();
        return;
    };
    if !flush_outbox() {
        return;
    }
    while !shown.is_empty() {
        let n = shown.len().min(MAX_PAYLOAD);
        let data = &shown.make_contiguous()[..n];
        if !(h.send)(&exec_wire::header(exec_wire::STDOUT, id, n), data) {
            return;
        }
        shown.drain(..n);
    }
}

/// The port has room again: each terminal's held output goes on, its blocked writers retry.
pub(super) fn output_ready(sessions: &[Arc<Session>]) {
    for s in sessions {
        let Some(tty) = s.tty.lock().as_ref().map(|m| m.tty.clone()) else {
            continue;
        };
        {
            let mut st = tty.state.lock();
            send_output(s.id, &mut st.master_buf);
        }
        tty.queue.wake_everyone();
    }
}

/// Bytes from the host for session `s`: typed on its terminal (kept beyond the line
/// discipline's room until the process reads), or queued for its stdin stream before it has
/// one or without `-t`.
pub(super) fn take_input(s: &Session, bytes: &[u8]) {
    let mut input = s.input.lock();
    let tty = s.tty.lock().as_ref().map(|m| m.tty.clone());
    match tty {
        Some(tty) => {
            tty.receive(bytes, true);
        }
        None => {
            input.queue.extend(bytes);
            drop(input);
            super::streams::wake(&s.readers);
        }
    }
}

/// `WINSIZE` for session `s`: the terminal's new size (SIGWINCH when it changed).
pub(super) fn resize(s: &Session, (rows, cols): (u16, u16)) {
    if let Some(tty) = s.tty.lock().as_ref().map(|m| m.tty.clone()) {
        tty.set_winsize(Winsize {
            ws_row: rows,
            ws_col: cols,
            ..Winsize::default()
        });
    }
}

/// Input held back beyond the terminal's line discipline.
pub(super) fn held_input(s: &Session) -> usize {
    s.tty.lock().as_ref().map_or(0, |m| m.tty.backlog_len())
}

/// The process ended: what its terminal still holds goes to the host before the exit
/// status; the master is closed.
pub(super) fn close(s: &Session) {
    let Some(master) = s.tty.lock().take() else {
        return;
    };
    let held: alloc::vec::Vec<u8> = {
        let mut st = master.tty.state.lock();
        st.exec = None;
        st.master_buf.drain(..).collect()
    };
    for chunk in held.chunks(MAX_PAYLOAD) {
        super::post(exec_wire::STDOUT, s.id, chunk);
    }
    drop(master);
}
