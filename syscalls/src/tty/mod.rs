//! Terminals: the console (fds 0-2 under `-t`, /dev/console, /dev/pts/0) and pseudo-terminals
//! (/dev/ptmx, /dev/pts/N), each a [`Tty`] around one [`ldisc::Ldisc`].
//!
//! A tty owns its settings, window size, foreground process group and session, and the wait
//! queue its readers, writers and pollers share. Typed bytes arrive from the host through
//! [`crate::console::input`] (or, for a pty, from writes to its master); what the terminal
//! shows goes to the host's stdout (console) or to the master's reader (pty). The system calls
//! on tty files live in [`io`] (read, write, job control) and [`ioctl`]; [`pty`] makes pairs.

pub(crate) mod file;
pub(crate) mod io;
pub(crate) mod ioctl;
pub(crate) mod jobs;
pub mod ldisc;
#[cfg(test)]
mod ldisc_tests;
pub(crate) mod pty;

use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use coracle_abi::termios::{Termios, Winsize};
use coracle_abi::wait::WaitQueue;
use coracle_vfs::file::events::*;
use spin::Mutex;

use crate::process::System;
use ldisc::Ldisc;

pub(crate) use file::{file_tty, on_open, End, TtyFile};

/// How many bytes a pty's master may have waiting before the slave's writers wait.
const MASTER_BUF: usize = 64 * 1024;

/// Which kind of terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The host's terminal (`-t`).
    Console,
    /// The slave side of a pseudo-terminal; the master reads its output.
    Pty,
}

/// The mutable state of a terminal.
pub(crate) struct State {
    pub ldisc: Ldisc,
    pub winsize: Winsize,
    /// The foreground process group (0: none).
    pub pgrp: u32,
    /// The session this is the controlling terminal of (0: none).
    pub session: u32,
    /// Typed bytes the line discipline had no room for yet.
    backlog: VecDeque<u8>,
    /// Console output the host has not taken yet (its port was full, or echoes before the
    /// kernel registered its output, host tests): flushed first by the next read or write in
    /// a process, or when the host takes output ([`crate::console::output_ready`]).
    pub pending_out: Vec<u8>,
    /// Pty: what the slave wrote, for the master's reader.
    pub master_buf: VecDeque<u8>,
    /// Pty: descriptions open on the master and on the slave.
    pub masters: usize,
    pub slaves: usize,
    /// Pty: a slave was opened and all its descriptions are closed now (master reads EIO).
    pub slave_closed: bool,
    /// Pty: TIOCSPTLCK (a fresh pty is locked until unlockpt).
    pub locked: bool,
    /// Pty: the `coracle exec -t` session whose messages carry the master's side
    /// (`crate::exec`), none for a /dev/ptmx pair.
    pub exec: Option<u32>,
    /// The other side is gone (pty master closed, host input ended): reads see end of file,
    /// writes EIO.
    pub hungup: bool,
}

/// One terminal.
pub(crate) struct Tty {
    pub kind: Kind,
    /// Its number under /dev/pts.
    pub index: u32,
    pub state: Mutex<State>,
    /// Readers, writers and pollers of both sides (woken on every change).
    pub queue: WaitQueue,
    sys: Weak<System>,
}

impl core::fmt::Debug for Tty {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tty")
            .field("kind", &self.kind)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

/// What input processing asks of the caller once the state's lock is released.
#[derive(Debug, Default)]
#[must_use]
pub(crate) struct After {
    pub signals: u64,
    pub wake: bool,
}

impl Tty {
    pub(crate) fn new(kind: Kind, index: u32, sys: Weak<System>) -> Arc<Tty> {
        Arc::new(Tty {
            kind,
            index,
            state: Mutex::new(State {
                ldisc: Ldisc::default(),
                winsize: Winsize::default(),
                pgrp: 0,
                session: 0,
                backlog: VecDeque::new(),
                pending_out: Vec::new(),
                master_buf: VecDeque::new(),
                masters: 0,
                slaves: 0,
                slave_closed: false,
                locked: kind == Kind::Pty,
                exec: None,
                hungup: false,
            }),
            queue: WaitQueue::new(),
            sys,
        })
    }

    pub(crate) fn system(&self) -> Option<Arc<System>> {
        self.sys.upgrade()
    }

    /// Typed bytes: through the line discipline, the rest kept for when a reader makes room
    /// (console) or left to the caller (`keep`: a pty master's writer waits). Returns how many
    /// were taken.
    pub(crate) fn receive(&self, data: &[u8], keep: bool) -> usize {
        let (taken, after) = {
            let mut st = self.state.lock();
            let mut after = After::default();
            // Older bytes first.
            self.drain_backlog(&mut st, &mut after);
            let taken = if st.backlog.is_empty() {
                self.receive_locked(&mut st, data, &mut after)
            } else {
                0
            };
            if keep && taken < data.len() {
                st.backlog.extend(&data[taken..]);
                (data.len(), after)
            } else {
                (taken, after)
            }
        };
        self.finish(after);
        taken
    }

    /// Runs `data` through the line discipline; the echo goes where this terminal's output
    /// goes.
    fn receive_locked(&self, st: &mut State, data: &[u8], after: &mut After) -> usize {
        let mut echo = Vec::new();
        let r = st.ldisc.receive(data, &mut echo);
        if !echo.is_empty() {
            self.emit(st, &echo);
            after.wake = true;
        }
        after.signals |= r.signals;
        after.wake |= r.readable || r.signals != 0;
        r.consumed
    }

    /// Typed bytes waiting for room in the line discipline.
    pub(crate) fn backlog_len(&self) -> usize {
        self.state.lock().backlog.len()
    }

    /// Moves backlogged input into the line discipline as far as it has room.
    pub(crate) fn drain_backlog(&self, st: &mut State, after: &mut After) {
        if st.backlog.is_empty() {
            return;
        }
        let data: Vec<u8> = st.backlog.iter().copied().collect();
        let n = self.receive_locked(st, &data, after);
        st.backlog.drain(..n);
        if n > 0 {
            after.wake = true;
            if self.kind == Kind::Console {
                // The host's input held back for the backlog's room may come now.
                crate::console::input_taken();
            } else if st.exec.is_some() {
                crate::exec::input_taken();
            }
        }
    }

    /// Output the terminal shows: to the master's reader (pty) or the host (console).
    pub(crate) fn emit(&self, st: &mut State, data: &[u8]) {
        match self.kind {
            Kind::Pty => {
                st.master_buf.extend(data);
                if let Some(id) = st.exec {
                    crate::exec::send_terminal_output(id, &mut st.master_buf);
                }
            }
            Kind::Console => {
                let took = if st.pending_out.is_empty() {
                    crate::console::emit(data).unwrap_or(0)
                } else {
                    0
                };
                st.pending_out
                    .extend_from_slice(&data[took.min(data.len())..]);
            }
        }
    }

    /// Console: hands held-back output to the host through the kernel's writer, as far as it
    /// takes it. Skipped when the state is busy: its holder, a process reading or writing,
    /// flushes it itself.
    pub(crate) fn flush_out(&self) {
        let Some(mut st) = self.state.try_lock() else {
            return;
        };
        while !st.pending_out.is_empty() {
            match crate::console::emit(&st.pending_out) {
                Some(n) if n > 0 => {
                    let n = n.min(st.pending_out.len());
                    st.pending_out.drain(..n);
                }
                _ => break,
            }
        }
    }

    /// Sends the signals typed and wakes the queue, after the state's lock is released.
    pub(crate) fn finish(&self, after: After) {
        if after.signals != 0 {
            let pgrp = self.state.lock().pgrp;
            if let Some(sys) = self.system() {
                for sig in 1..64 {
                    if after.signals & (1 << sig) != 0 {
                        jobs::signal_group(&sys, pgrp, sig);
                    }
                }
            }
        }
        if after.wake || after.signals != 0 {
            self.queue.wake_everyone();
        }
    }

    /// A new window size: SIGWINCH to the foreground group when it changed (tiocswinsz).
    pub(crate) fn set_winsize(&self, w: Winsize) {
        let (changed, pgrp) = {
            let mut st = self.state.lock();
            let changed = st.winsize != w;
            st.winsize = w;
            (changed, st.pgrp)
        };
        if changed {
            if let Some(sys) = self.system() {
                jobs::signal_group(&sys, pgrp, coracle_abi::signal::SIGWINCH);
            }
        }
    }

    /// New settings (TCSETS*): `flush` drops pending input first (TCSETSF).
    pub(crate) fn set_termios(&self, t: Termios, flush: bool) {
        let mut after = After {
            wake: true,
            ..After::default()
        };
        {
            let mut st = self.state.lock();
            if flush {
                st.ldisc.flush_input();
                st.backlog.clear();
            }
            st.ldisc.set_termios(t);
            self.drain_backlog(&mut st, &mut after);
        }
        self.finish(after);
    }

    /// The other side went away: readers see end of file, writers EIO.
    pub(crate) fn hang_up(&self) {
        self.state.lock().hungup = true;
        self.queue.wake_everyone();
    }

    /// The poll bits of the slave side (or the console).
    pub(crate) fn poll_slave(&self) -> u32 {
        let st = self.state.lock();
        if st.hungup && self.kind == Kind::Pty {
            return POLLIN | POLLOUT | POLLERR | POLLHUP | POLLRDNORM | POLLWRNORM;
        }
        let mut r = 0;
        if st.hungup {
            // The console's input ended: reads see the end, output goes on.
            r |= POLLIN | POLLRDNORM | POLLHUP;
        }
        if jobs::poll_ready(&st.ldisc) {
            r |= POLLIN | POLLRDNORM;
        }
        let writable = match self.kind {
            // Echoes held back count as output not taken yet, as a full write buffer.
            Kind::Console => {
                st.pending_out.is_empty() && crate::console::writable(crate::Stream::Stdout)
            }
            Kind::Pty => st.master_buf.len() < MASTER_BUF,
        };
        if writable {
            r |= POLLOUT | POLLWRNORM;
        }
        r
    }

    /// The poll bits of a pty's master.
    pub(crate) fn poll_master(&self) -> u32 {
        let st = self.state.lock();
        let mut r = 0;
        if !st.master_buf.is_empty() {
            r |= POLLIN | POLLRDNORM;
        }
        if st.slave_closed {
            r |= POLLHUP;
        }
        if st.backlog.is_empty() {
            r |= POLLOUT | POLLWRNORM;
        }
        r
    }
}

/// The terminals of a system, by pts number, and the /dev/pts directory their nodes are in.
#[derive(Default)]
pub(crate) struct Registry {
    ttys: Mutex<alloc::collections::BTreeMap<u32, Weak<Tty>>>,
    /// /dev/pts (set at boot).
    pub pts_dir: Mutex<Option<Arc<dyn coracle_vfs::Inode>>>,
    /// The console, when the VM runs with `-t`.
    pub console: Mutex<Option<Arc<Tty>>>,
}

impl core::fmt::Debug for Registry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// The live terminals.
    pub(crate) fn all(&self) -> Vec<Arc<Tty>> {
        self.ttys
            .lock()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// The lowest free pts number for a new terminal of `kind`.
    pub(crate) fn add(&self, kind: Kind, sys: Weak<System>) -> Arc<Tty> {
        let mut ttys = self.ttys.lock();
        ttys.retain(|_, t| t.strong_count() > 0);
        let index = (0..).find(|i| !ttys.contains_key(i)).unwrap_or(0);
        let tty = Tty::new(kind, index, sys);
        ttys.insert(index, Arc::downgrade(&tty));
        tty
    }

    pub(crate) fn remove(&self, index: u32) {
        self.ttys.lock().remove(&index);
    }

    /// The controlling terminal of session `sid`.
    pub(crate) fn of_session(&self, sid: u32) -> Option<Arc<Tty>> {
        self.all()
            .into_iter()
            .find(|t| sid != 0 && t.state.lock().session == sid)
    }
}
