//! The host's terminal under `coracle run -t`: raw mode while the VM runs (the guest's line
//! discipline does the editing, echo and signals), always restored — when the run ends, on a
//! panic, and on SIGINT, SIGTERM, SIGHUP or SIGQUIT before they take their default action —
//! and the window size, at start and on every SIGWINCH.
//!
//! After a `kill -9` of `coracle` nothing can restore it: `stty sane` (or `reset`) does.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Mutex, Once};
use std::thread;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use rustix::termios::{self, OptionalActions, Termios};

/// The settings to put back: set while the terminal is raw.
static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

fn stdin_fd() -> BorrowedFd<'static> {
    // fd 0 stays open for the whole life of the process.
    rustix::stdio::stdin()
}

/// Puts the saved settings back, if the terminal is raw.
fn restore() {
    let saved = SAVED.lock().map(|mut s| s.take()).unwrap_or(None);
    if let Some(t) = saved {
        let _ = termios::tcsetattr(stdin_fd(), OptionalActions::Now, &t);
    }
}

/// The size of the host's terminal (rows, columns), when stdin or stdout is one.
pub fn window_size() -> Option<(u16, u16)> {
    [stdin_fd(), rustix::stdio::stdout()]
        .into_iter()
        .filter(|fd| termios::isatty(fd))
        .find_map(|fd| termios::tcgetwinsize(fd).ok())
        .filter(|w| w.ws_row > 0 && w.ws_col > 0)
        .map(|w| (w.ws_row, w.ws_col))
}

/// The host terminal in raw mode; dropping it restores the terminal.
#[derive(Debug)]
pub struct RawMode(());

impl RawMode {
    /// Raw mode on stdin when it is a terminal (`None` when it is not: a pipe, a file).
    pub fn enter() -> io::Result<Option<RawMode>> {
        let fd = stdin_fd();
        if !termios::isatty(fd) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(fd)?;
        let mut raw = saved.clone();
        raw.make_raw();
        *SAVED
            .lock()
            .map_err(|_| io::Error::other("terminal state lock poisoned"))? = Some(saved);
        install_panic_hook();
        termios::tcsetattr(fd, OptionalActions::Now, &raw)?;
        Ok(Some(RawMode(())))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore();
    }
}

/// A panic restores the terminal before its message is printed.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// The signals that end `coracle` by default and so must restore the terminal first.
const ENDING: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Watches the signals of a `-t` run on a thread of its own: each SIGWINCH calls `resized`
/// with the new size; an ending signal restores the terminal, then takes its default action.
/// Must be called before other threads start, so that they all leave these signals to it.
pub fn watch_signals(resized: impl Fn(u16, u16) + Send + 'static) -> io::Result<()> {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGWINCH);
    for s in ENDING {
        mask.add(s);
    }
    mask.thread_block().map_err(io::Error::from)?;
    let fd = SignalFd::new(&mask).map_err(io::Error::from)?;
    thread::spawn(move || loop {
        let Ok(Some(info)) = fd.read_signal() else {
            continue;
        };
        let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
            continue;
        };
        if sig == Signal::SIGWINCH {
            if let Some((rows, cols)) = window_size() {
                resized(rows, cols);
            }
            continue;
        }
        restore();
        let mut one = SigSet::empty();
        one.add(sig);
        // Its action is the default one (never changed): unblocked, it ends the process.
        let _ = one.thread_unblock();
        let _ = nix::sys::signal::raise(sig);
    });
    Ok(())
}
