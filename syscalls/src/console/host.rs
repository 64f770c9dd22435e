//! The console's link to the host: the input the host sends (decoded from its framing), the
//! queue the program's reads take it from, the control records (signals for PID 1, the
//! window size, stop), and the wait queues of the console's readers and writers.
//!
//! The kernel's console driver feeds what its devices received to [`feed_stdin`] and
//! [`feed_control`] from its deferred work, and wakes writers with [`output_ready`] when the
//! host has taken output. Input bytes go through [`input`] (the terminal layer takes them
//! there with `-t`); the queue is bounded, and what does not fit stays in the driver's
//! buffers, so a program that does not read holds the host back instead of filling memory.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use coracle_abi::WaitQueue;
use spin::{Mutex, Once};

use super::framing::{Decoder, Event, Record};
use crate::signal::{self, SigInfo, Target, SIGKILL, SIGSTOP, SI_USER};
use crate::System;

/// The most input queued for the program's reads (Linux's pipe holds 64 KiB; more keeps a
/// fast host busy while the program runs).
const INPUT_CAP: usize = 256 * 1024;
/// Under `-t`, the most typed input the terminal holds beyond its line discipline's own
/// buffer: past it the driver keeps the rest and the host waits, as without `-t`.
const TERMINAL_INPUT_CAP: usize = 64 * 1024;

struct Input {
    queue: VecDeque<u8>,
    ended: bool,
}

static INPUT: Mutex<Input> = Mutex::new(Input {
    queue: VecDeque::new(),
    ended: false,
});
static READERS: WaitQueue = WaitQueue::new();
static WRITERS: WaitQueue = WaitQueue::new();
static STDIN: Mutex<Decoder> = Mutex::new(Decoder::new());
static CONTROL: Mutex<Decoder> = Mutex::new(Decoder::new());
static SYSTEM: Once<Arc<System>> = Once::new();
/// The kernel's hooks: input was taken (input it held back for lack of room can come now),
/// and whether an output stream takes bytes now.
static HOOKS: Once<Hooks> = Once::new();

/// What the kernel's console driver tells the console layer.
#[derive(Debug, Clone, Copy)]
pub struct Hooks {
    /// Called when queued input was taken (by a read, or moved into the terminal).
    pub input_taken: fn(),
    /// Whether a write to the stream would take bytes now; when not, the driver arranges
    /// for [`output_ready`] to be called once it does.
    pub writable: fn(crate::Stream) -> bool,
}

/// Registers the kernel driver's hooks (once, at boot).
pub fn set_hooks(hooks: Hooks) {
    HOOKS.call_once(|| hooks);
}

/// Queued input was taken: the driver may decode what it held back.
pub(crate) fn input_taken() {
    if let Some(h) = HOOKS.get() {
        (h.input_taken)();
    }
}

/// Whether `stream` takes output now (always, without a driver: the host tests' fake).
pub(crate) fn writable(stream: crate::Stream) -> bool {
    HOOKS.get().is_none_or(|h| (h.writable)(stream))
}

/// Wakes the readers or writers on `queue` and everyone polling the console.
fn wake(queue: &WaitQueue) {
    queue.wake_all(u64::MAX);
    coracle_vfs::dev::CONSOLE_POLLERS.wake_all(u64::MAX);
}
/// rows << 16 | cols, 0 until the host sends a size.
static WINSIZE: AtomicU32 = AtomicU32::new(0);

/// Gives the records their machine (signals go to its PID 1).
pub fn attach(system: Arc<System>) {
    SYSTEM.call_once(|| system);
}

/// Input bytes from the host, for the program's reads.
pub fn input(bytes: &[u8]) {
    INPUT.lock().queue.extend(bytes);
    wake(&READERS);
}

/// How many more input bytes [`input`] takes now.
pub fn input_room() -> usize {
    INPUT_CAP.saturating_sub(INPUT.lock().queue.len())
}

/// The host's input ended: reads return 0 once the queue is empty.
pub fn end_of_input() {
    INPUT.lock().ended = true;
    wake(&READERS);
}

/// Takes queued input into `buf`: `Some(n)` bytes, `Some(0)` at the end of input, `None`
/// when there is nothing yet (wait on [`readers`]).
pub fn take_input(buf: &mut [u8]) -> Option<usize> {
    let mut input = INPUT.lock();
    if input.queue.is_empty() {
        return input.ended.then_some(0);
    }
    let n = buf.len().min(input.queue.len());
    let (a, b) = input.queue.as_slices();
    let from_a = n.min(a.len());
    buf[..from_a].copy_from_slice(&a[..from_a]);
    buf[from_a..n].copy_from_slice(&b[..n - from_a]);
    input.queue.drain(..n);
    drop(input);
    if n > 0 {
        input_taken();
    }
    Some(n)
}

/// Whether a read of the input would return at once (data or the end).
pub fn input_ready() -> bool {
    let input = INPUT.lock();
    !input.queue.is_empty() || input.ended
}

/// Where readers of the input wait.
pub fn readers() -> &'static WaitQueue {
    &READERS
}

/// Where writers wait for the host to take output.
pub fn writers() -> &'static WaitQueue {
    &WRITERS
}

/// The host took output: the terminal's held-back echoes go first, blocked writers try again.
pub fn output_ready() {
    if let Some(tty) = super::terminal() {
        tty.flush_out();
    }
    wake(&WRITERS);
}

/// The host terminal's size (`winsize` records, `coracle.winsize` at start): the terminal's
/// under `-t`.
pub fn set_winsize(rows: u16, cols: u16) {
    WINSIZE.store(u32::from(rows) << 16 | u32::from(cols), Ordering::Relaxed);
    if let Some(tty) = super::terminal() {
        super::terminal_winsize(&tty, (rows, cols));
    }
}

/// The last size the host sent, as (rows, cols); (0, 0) before any.
pub fn winsize() -> (u16, u16) {
    let v = WINSIZE.load(Ordering::Relaxed);
    ((v >> 16) as u16, v as u16)
}

/// Decodes bytes of the host's input stream; returns how many it consumed (fewer when the
/// input queue is full: the caller keeps the rest and offers it again later). Under `-t` the
/// data goes to the terminal's line discipline (echo, signal characters), which keeps what
/// its reader has not made room for yet, up to [`TERMINAL_INPUT_CAP`].
pub fn feed_stdin(bytes: &[u8]) -> usize {
    let tty = super::terminal();
    let room = match &tty {
        Some(tty) => TERMINAL_INPUT_CAP.saturating_sub(tty.backlog_len()),
        None => input_room(),
    };
    STDIN.lock().feed(bytes, room, |e| match (e, &tty) {
        (Event::Data(d), Some(tty)) => {
            tty.receive(d, true);
        }
        (Event::Data(d), None) => input(d),
        (Event::End, Some(tty)) => super::terminal_input_ended(tty),
        (Event::End, None) => end_of_input(),
        (Event::Record(r), _) => record(r),
    })
}

/// Decodes bytes of the host's control stream (records only; stray data is dropped).
pub fn feed_control(bytes: &[u8]) -> usize {
    CONTROL.lock().feed(bytes, usize::MAX, |e| {
        if let Event::Record(r) = e {
            record(r);
        }
    })
}

/// Carries out one control record; unknown ones are ignored (a newer host's).
fn record(payload: &[u8]) {
    let r = Record::parse(payload);
    match r.name {
        b"winsize" => {
            if let (Some(rows), Some(cols)) = (r.number(b"rows"), r.number(b"cols")) {
                set_winsize(rows.min(0xffff) as u16, cols.min(0xffff) as u16);
            }
        }
        b"signal" => {
            if let Some(sig) = r.number(b"n").filter(|n| (1..=64).contains(n)) {
                signal_init(sig);
            }
        }
        b"stop" => signal_init(SIGKILL),
        b"host" => super::peer_hosts::record(payload),
        _ => {}
    }
}

/// Sends `sig` to PID 1 as a process outside its namespace does (`docker kill`): SIGKILL
/// and SIGSTOP always arrive, other signals only if PID 1 handles or ignores them
/// (pid_namespaces(7); si_pid is 0 since the sender is not in the namespace).
fn signal_init(sig: u32) {
    let Some(sys) = SYSTEM.get() else { return };
    let Some(init) = sys.tree.lock().get(&1).cloned() else {
        return;
    };
    let info = SigInfo::from_process(sig, SI_USER, 0, 0);
    if sig == SIGKILL || sig == SIGSTOP {
        if init.life.lock().ended.is_some() {
            return;
        }
        crate::sys::process::jobs::on_signal_sent(sys, &init, sig);
        let _ = signal::send(&init, &sys.sched, Target::Process, info, None);
    } else {
        let _ = crate::sys::signal::send_to_other(sys, &init, Target::Process, info);
    }
}
