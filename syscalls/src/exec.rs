//! `coracle exec`: processes the host starts in the running machine, beside PID 1, as
//! `docker exec` starts them in a container (docs/guest-protocol.md, "Exec").
//!
//! The kernel's console driver hands the bytes of the exec input port to [`feed`]; each
//! [`exec_wire::START`] message opens a session and queues a start request, which the kernel
//! carries out with [`spawn_pending`] where it has a [`Platform`] (its CPU loop). The
//! process gets a parent of none (ppid 0, as a process entered from outside the PID
//! namespace), a session of its own, the container's environment, working directory and
//! user unless the request says otherwise, and fds 0-2 on its session's streams
//! (`streams`): stdin from the host's [`exec_wire::STDIN`] messages, stdout and stderr
//! written as messages on the exec output port through the kernel's [`Hooks::send`]. When
//! it ends ([`process_ended`]) its status goes back as an [`exec_wire::EXIT`] message.
//! With `tty=` the process gets a pseudo-terminal instead (`terminal`).
//! PID 1's streams are not touched. Several sessions run at once; their input shares one
//! port, so a session whose program does not read holds the others' input back once its
//! queue is full.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::exec_wire::{self, Decoder, Message, StartFields};
use coracle_abi::WaitQueue;
use spin::{Mutex, Once};

use crate::creds::Creds;
use crate::process::{ExitStatus, System};

mod spawn;
mod streams;
mod terminal;
mod users;

pub use spawn::spawn_pending;
pub(crate) use terminal::send_output as send_terminal_output;

/// The most input queued for one session's reads (Linux's pipe size); past it the driver
/// keeps the rest and the host waits.
const INPUT_CAP: usize = 64 * 1024;

/// What the kernel's console driver does for exec sessions.
#[derive(Debug, Clone, Copy)]
pub struct Hooks {
    /// Hands one whole message (header and payload) to the exec output port; false when it
    /// has no room now (then [`output_ready`] is called once it has).
    pub send: fn(&[u8], &[u8]) -> bool,
    /// Whether a message would find room now.
    pub writable: fn() -> bool,
    /// Queued input was taken: input the driver held back may come now.
    pub input_taken: fn(),
}

/// The container's defaults for an exec: PID 1's user, working directory and environment
/// at start (the image's User, WorkingDir and Env with `run -e`).
#[derive(Debug, Clone)]
pub struct Defaults {
    pub creds: Creds,
    pub cwd: Vec<u8>,
    pub env: Vec<Vec<u8>>,
}

/// One exec: its input queue and the process once started.
#[derive(Debug)]
pub(crate) struct Session {
    id: u32,
    /// The process's pid, 0 until it started.
    pid: core::sync::atomic::AtomicU32,
    input: Mutex<Input>,
    readers: WaitQueue,
    /// `-t`: the master of the process's terminal, once it started.
    tty: Mutex<Option<crate::tty::TtyFile>>,
}

#[derive(Debug, Default)]
struct Input {
    queue: VecDeque<u8>,
    ended: bool,
}

static HOOKS: Once<Hooks> = Once::new();
static DEFAULTS: Once<Defaults> = Once::new();
static SYSTEM: Once<Arc<System>> = Once::new();
static DECODER: Mutex<Decoder> = Mutex::new(Decoder::new());
static SESSIONS: Mutex<BTreeMap<u32, Arc<Session>>> = Mutex::new(BTreeMap::new());
/// Start requests not carried out yet, oldest first.
static REQUESTS: Mutex<VecDeque<(u32, StartFields)>> = Mutex::new(VecDeque::new());
/// Messages of the kernel's own (exits, start failures) waiting for room on the port.
static OUTBOX: Mutex<VecDeque<Vec<u8>>> = Mutex::new(VecDeque::new());
/// Writers of every session's output wait here for room on the port.
static WRITERS: WaitQueue = WaitQueue::new();

/// Registers the kernel driver's hooks (once, at boot).
pub fn set_hooks(hooks: Hooks) {
    HOOKS.call_once(|| hooks);
}

/// Gives exec its machine and the container's defaults (once, at boot).
pub fn attach(system: Arc<System>, defaults: Defaults) {
    SYSTEM.call_once(|| system);
    DEFAULTS.call_once(|| defaults);
}

/// Decodes bytes of the exec input port; returns how many it consumed (fewer when a
/// session's input queue is full: the caller keeps the rest and offers it again after
/// [`Hooks::input_taken`]).
pub fn feed(bytes: &[u8]) -> usize {
    if input_full() {
        return 0;
    }
    DECODER.lock().feed(bytes, |m| {
        handle(m);
        !input_full()
    })
}

/// Whether some session's queue is over its cap.
fn input_full() -> bool {
    SESSIONS
        .lock()
        .values()
        .any(|s| s.input.lock().queue.len() + terminal::held_input(s) >= INPUT_CAP)
}

fn session(id: u32) -> Option<Arc<Session>> {
    SESSIONS.lock().get(&id).cloned()
}

/// Carries out one message from the host; unknown kinds and sessions are ignored.
fn handle(m: Message<'_>) {
    match m.kind {
        exec_wire::START => {
            let mut sessions = SESSIONS.lock();
            if sessions.contains_key(&m.id) {
                return;
            }
            sessions.insert(
                m.id,
                Arc::new(Session {
                    id: m.id,
                    pid: core::sync::atomic::AtomicU32::new(0),
                    input: Mutex::new(Input::default()),
                    readers: WaitQueue::new(),
                    tty: Mutex::new(None),
                }),
            );
            drop(sessions);
            REQUESTS
                .lock()
                .push_back((m.id, StartFields::parse(m.payload)));
        }
        exec_wire::STDIN => {
            if let Some(s) = session(m.id) {
                terminal::take_input(&s, m.payload);
            }
        }
        exec_wire::STDIN_END => {
            if let Some(s) = session(m.id) {
                s.input.lock().ended = true;
                streams::wake(&s.readers);
            }
        }
        exec_wire::WINSIZE => {
            if let (Some(s), Some(size)) = (session(m.id), exec_wire::parse_winsize(m.payload)) {
                terminal::resize(&s, size);
            }
        }
        _ => {}
    }
}

/// Queues one message of the kernel's own and sends what the port takes.
fn post(kind: u8, id: u32, payload: &[u8]) {
    OUTBOX
        .lock()
        .push_back(exec_wire::encode(kind, id, payload));
    flush_outbox();
}

/// Sends the queued messages in order while the port takes them; returns whether all went.
fn flush_outbox() -> bool {
    let Some(h) = HOOKS.get() else {
        // No driver (host tests): nothing to send to.
        OUTBOX.lock().clear();
        return true;
    };
    let mut outbox = OUTBOX.lock();
    while let Some(msg) = outbox.front() {
        if !(h.send)(msg, &[]) {
            return false;
        }
        outbox.pop_front();
    }
    true
}

/// The port took output: the kernel's queued messages go first, blocked writers try again.
pub fn output_ready() {
    flush_outbox();
    let sessions: Vec<Arc<Session>> = SESSIONS.lock().values().cloned().collect();
    terminal::output_ready(&sessions);
    streams::wake(&WRITERS);
}

/// A terminal's reader made room: input the driver held back may come now.
pub(crate) fn input_taken() {
    if let Some(h) = HOOKS.get() {
        (h.input_taken)();
    }
}

/// Ends session `id` before its process ran: `message` on its stderr, then `status`.
fn fail(id: u32, message: &[u8], status: u8) {
    SESSIONS.lock().remove(&id);
    post(exec_wire::STDERR, id, message);
    post(exec_wire::EXIT, id, &[status]);
}

/// A process ended: if an exec started it, its status goes to the host.
pub(crate) fn process_ended(pid: u32, status: ExitStatus) {
    let ended = {
        let mut sessions = SESSIONS.lock();
        let id = sessions
            .values()
            .find(|s| s.pid.load(core::sync::atomic::Ordering::Relaxed) == pid)
            .map(|s| s.id);
        id.and_then(|id| sessions.remove(&id))
    };
    if let Some(s) = ended {
        terminal::close(&s);
        post(exec_wire::EXIT, s.id, &[status.docker() as u8]);
    }
}

/// Whether the kernel has start requests to carry out ([`spawn_pending`]).
pub fn pending() -> bool {
    !REQUESTS.lock().is_empty()
}

#[cfg(test)]
mod tests;
