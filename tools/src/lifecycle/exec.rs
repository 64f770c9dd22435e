//! `coracle exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] VM CMD [ARGS...]`: a new process in a
//! running VM, as `docker exec` starts one in a running container.
//!
//! The command connects to the VM's control socket, says `exec` on the first line, and then
//! speaks the exec messages of `coracle_abi::exec_wire` with session id 0: a START with the
//! command, then its stdin (with `-i`); back come its stdout, stderr and exit status. The VM's supervisor ([`Relay`]) gives each connection a session
//! id and passes the messages through the exec ports of the virtio-serial device
//! (docs/guest-protocol.md, "Exec"), so several execs run at once.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use coracle_abi::exec_wire::{self, Decoder, StartFields, MAX_PAYLOAD};

use super::{dir_of, find, root, Liveness};
use crate::error::RunError;

/// The first line a client sends on the control socket to start an exec.
pub const HELLO: &str = "exec";

/// The exec ports' pipes of a running VM: messages for the guest, messages from it.
#[derive(Debug)]
pub struct Pipes {
    pub input: io::PipeWriter,
    pub output: io::PipeReader,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// Keep stdin open and send it to the process.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the process a terminal (with -i on a terminal: ours in raw mode, sizes forwarded).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set an environment variable (`KEY=VALUE`), on top of the container's.
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The working directory in the VM (default: the image's).
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// The user, `NAME|UID[:GROUP|GID]`, looked up in the VM's /etc/passwd.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// The VM: a name, an id, or an id prefix.
    pub vm: String,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// The supervisor's side: the exec-in pipe shared by the clients, and each session's
/// socket for what comes back.
#[derive(Debug)]
pub struct Relay {
    input: Mutex<io::PipeWriter>,
    sessions: Mutex<HashMap<u32, UnixStream>>,
    next_id: AtomicU32,
}

impl Relay {
    /// Starts relaying the guest's exec messages to their clients.
    pub fn start(pipes: Pipes) -> Arc<Relay> {
        let relay = Arc::new(Relay {
            input: Mutex::new(pipes.input),
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU32::new(1),
        });
        let from_guest = relay.clone();
        let mut output = pipes.output;
        thread::spawn(move || {
            let mut decoder = Decoder::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match output.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.feed(&buf[..n], |m| {
                    from_guest.to_client(m.kind, m.id, m.payload);
                    true
                });
                if decoder.broken() {
                    eprintln!("coracle: the guest's exec messages are corrupt; execs end");
                    break;
                }
            }
            // The VM is gone: every client sees its socket close.
            from_guest
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clear();
        });
        relay
    }

    /// Passes one message from the guest to its session's client; the exit ends the session.
    fn to_client(&self, kind: u8, id: u32, payload: &[u8]) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let Some(client) = sessions.get_mut(&id) else {
            return;
        };
        let sent = client.write_all(&exec_wire::encode(kind, 0, payload));
        if kind == exec_wire::EXIT || sent.is_err() {
            if let Some(c) = sessions.remove(&id) {
                let _ = c.shutdown(std::net::Shutdown::Both);
            }
        }
    }

    fn to_guest(&self, kind: u8, id: u32, payload: &[u8]) -> io::Result<()> {
        let mut input = self.input.lock().unwrap_or_else(|e| e.into_inner());
        input.write_all(&exec_wire::encode(kind, id, payload))?;
        input.flush()
    }

    /// Serves one client on a thread of its own: its messages go to the guest under a fresh
    /// session id. A client that goes away ends its process's stdin.
    pub fn serve(self: &Arc<Self>, mut client: impl Read + Send + 'static, reply: UnixStream) {
        let relay = self.clone();
        thread::spawn(move || {
            let id = relay.next_id.fetch_add(1, Ordering::Relaxed);
            relay
                .sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, reply);
            let mut decoder = Decoder::new();
            let mut buf = vec![0u8; 64 * 1024];
            let mut ended = false;
            loop {
                let n = match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut failed = false;
                decoder.feed(&buf[..n], |m| {
                    ended |= m.kind == exec_wire::STDIN_END;
                    failed = relay.to_guest(m.kind, id, m.payload).is_err();
                    !failed
                });
                if failed || decoder.broken() {
                    break;
                }
            }
            if !ended {
                let _ = relay.to_guest(exec_wire::STDIN_END, id, &[]);
            }
        });
    }
}

/// The START message's fields for `args`.
fn start_fields(args: &ExecArgs, winsize: Option<(u16, u16)>) -> StartFields {
    let bytes = |s: &std::ffi::OsString| s.as_encoded_bytes().to_vec();
    StartFields {
        args: args.command.iter().map(bytes).collect(),
        env: args.env.iter().map(|e| e.as_bytes().to_vec()).collect(),
        cwd: args.workdir.as_ref().map(|w| w.as_bytes().to_vec()),
        user: args.user.as_ref().map(|u| u.as_bytes().to_vec()),
        tty: args.tty.then(|| winsize.unwrap_or((0, 0))),
        stdin: args.interactive,
    }
}

/// The socket's sending side, shared by the stdin copier and the window-size watcher (one
/// whole message at a time).
type Sender = Arc<Mutex<UnixStream>>;

fn send(socket: &Sender, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut s = socket.lock().unwrap_or_else(|e| e.into_inner());
    s.write_all(&exec_wire::encode(kind, 0, payload))
}

/// Sends our stdin as STDIN messages, then its end.
fn send_stdin(socket: &Sender) {
    let mut stdin = io::stdin().lock();
    let mut buf = vec![0u8; MAX_PAYLOAD];
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if send(socket, exec_wire::STDIN, &buf[..n]).is_err() {
            return;
        }
    }
    let _ = send(socket, exec_wire::STDIN_END, &[]);
}

/// `coracle exec`: the process's status, or 125 (no such VM, or the VM ended first) and 126
/// (the VM is not running), as podman's exec and docker's daemon errors give them.
pub fn exec(args: ExecArgs) -> Result<u8, RunError> {
    let record = find(&root(), &args.vm).map_err(RunError::Usage)?;
    if record.liveness() != Liveness::Running {
        return Err(RunError::CannotRun {
            program: args.vm.clone(),
            why: "the VM is not running".into(),
        });
    }
    let socket = dir_of(&root(), &record.id).join("control.sock");
    let mut stream = UnixStream::connect(&socket)
        .map_err(|e| RunError::io(format!("cannot reach VM {}", args.vm), e))?;
    let winsize = if args.tty {
        crate::terminal::window_size()
    } else {
        None
    };
    let start = start_fields(&args, winsize);
    stream
        .write_all(format!("{HELLO}\n").as_bytes())
        .and_then(|()| stream.write_all(&exec_wire::encode(exec_wire::START, 0, &start.encode())))
        .map_err(|e| RunError::io(format!("cannot reach VM {}", args.vm), e))?;
    let writer: Sender = Arc::new(Mutex::new(
        stream
            .try_clone()
            .map_err(|e| RunError::io("cannot share the socket", e))?,
    ));
    // `-it` on a terminal, as `docker exec -it`: ours in raw mode until this function returns
    // (restored on every way out, see terminal.rs; the guest's terminal edits, echoes and
    // signals), its size sent as it changes. Without -i our stdin is not read, so it keeps
    // its modes (^C still ends this command).
    let mut _raw = None;
    if args.tty && args.interactive {
        let resized = writer.clone();
        let watching = crate::terminal::watch_signals(move |rows, cols| {
            let _ = send(
                &resized,
                exec_wire::WINSIZE,
                &exec_wire::winsize_payload(rows, cols),
            );
        });
        if watching.is_ok() {
            _raw = crate::terminal::RawMode::enter()
                .map_err(|e| RunError::io("cannot put the terminal in raw mode", e))?;
        }
    }
    if args.interactive {
        // Not joined: it may sit in a read of our stdin after the process ended.
        thread::spawn(move || send_stdin(&writer));
    } else {
        let _ = send(&writer, exec_wire::STDIN_END, &[]);
    }
    let mut decoder = Decoder::new();
    let mut status = None;
    let mut buf = vec![0u8; 64 * 1024];
    while status.is_none() {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        decoder.feed(&buf[..n], |m| {
            match m.kind {
                exec_wire::STDOUT => {
                    let mut out = io::stdout().lock();
                    let _ = out.write_all(m.payload).and_then(|()| out.flush());
                }
                exec_wire::STDERR => {
                    let mut err = io::stderr().lock();
                    let _ = err.write_all(m.payload).and_then(|()| err.flush());
                }
                exec_wire::EXIT => status = m.payload.first().copied(),
                _ => {}
            }
            status.is_none()
        });
    }
    status.ok_or_else(|| {
        RunError::Usage(format!(
            "VM {} stopped before the process ended (its status is unknown)",
            args.vm
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        exec: ExecArgs,
    }

    #[test]
    fn options_become_the_start_message() {
        let cli = Cli::parse_from([
            "exec", "-i", "-e", "A=1", "-w", "/tmp", "-u", "nobody", "web", "sh", "-c", "exit 3",
        ]);
        let f = start_fields(&cli.exec, None);
        assert_eq!(f.args, [&b"sh"[..], b"-c", b"exit 3"]);
        assert_eq!(f.env, [b"A=1"]);
        assert_eq!(f.cwd.as_deref(), Some(&b"/tmp"[..]));
        assert_eq!(f.user.as_deref(), Some(&b"nobody"[..]));
        assert!(f.stdin);
        assert_eq!(f.tty, None);
        let tty = Cli::parse_from(["exec", "-t", "web", "ls", "-l"]);
        assert_eq!(start_fields(&tty.exec, Some((24, 80))).tty, Some((24, 80)));
        assert_eq!(tty.exec.command, ["ls", "-l"]);
    }
}
