//! The supervising side: `coracle run -d` starting its detached copy, and the record and
//! control socket a tracked run (`-d` or `--name`) keeps while its VM runs.

use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::exec::{Pipes, Relay, HELLO};
use super::{dir_of, find, list, load, new_id, now_secs, process_start, root, save};
use super::{Liveness, Record, Status};
use crate::cli::RunOptions;
use crate::error::RunError;
use crate::signals::{self, ControlPipe};

/// Set in the detached copy's environment: the id it supervises.
pub const SUPERVISE_ENV: &str = "CORACLE_SUPERVISE";
/// How long `run -d` waits for its copy to start the VM.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// A tracked run's handle on its record.
#[derive(Debug)]
pub struct Tracked {
    root: PathBuf,
    record: Record,
}

fn used_name(root: &std::path::Path, name: &str) -> Result<(), RunError> {
    if list(root).iter().any(|r| r.name == name) {
        return Err(RunError::Usage(format!(
            "the name {name:?} is already in use (coracle rm it first)"
        )));
    }
    Ok(())
}

/// A new record in `Created` state for `opts`, with its directory.
fn create(opts: &RunOptions) -> Result<Tracked, RunError> {
    let root = root();
    fs::create_dir_all(&root)
        .map_err(|e| RunError::io(format!("cannot create {}", root.display()), e))?;
    let id = new_id().map_err(|e| RunError::io("cannot make an id", e))?;
    let name = match &opts.name {
        Some(name) => {
            used_name(&root, name)?;
            name.clone()
        }
        None => format!("coracle-{}", &id[..6]),
    };
    fs::create_dir(dir_of(&root, &id))
        .map_err(|e| RunError::io("cannot create the VM's directory", e))?;
    let pid = std::process::id();
    let mut record = Record {
        id,
        name,
        command: opts
            .command
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        created: now_secs(),
        finished: None,
        status: Status::Created,
        // This process until the detached copy takes over: a created record counts as live
        // (its network address taken) only while a process stands behind it.
        pid,
        pid_start: process_start(pid).unwrap_or(0),
        remove: opts.remove,
        stop_signal: signal_hook::consts::signal::SIGTERM,
        network: None,
        address: None,
    };
    let saved = |record: &Record| {
        save(&root, record).map_err(|e| RunError::io("cannot write the VM's state", e))
    };
    match opts.network.named() {
        Some(network) => crate::networks::join(network, |address| {
            record.network = Some(network.to_owned());
            record.address = Some(address);
            saved(&record)
        }),
        None => saved(&record),
    }
    .inspect_err(|_| {
        let _ = fs::remove_dir_all(dir_of(&root, &record.id));
    })?;
    Ok(Tracked { root, record })
}

impl Tracked {
    /// The record of this run, if it is tracked: made here for a foreground `--name` run,
    /// taken over for the detached copy of `run -d`.
    pub fn start(opts: &RunOptions) -> Result<Option<Tracked>, RunError> {
        let mut tracked = match std::env::var(SUPERVISE_ENV) {
            Ok(id) => {
                let root = root();
                let record = load(&root, &id)
                    .ok_or_else(|| RunError::Usage(format!("no record for VM {id}")))?;
                Tracked { root, record }
            }
            Err(_) if opts.name.is_some() || opts.network.named().is_some() => create(opts)?,
            Err(_) => return Ok(None),
        };
        tracked.record.pid = std::process::id();
        tracked.record.pid_start = process_start(tracked.record.pid).unwrap_or(0);
        tracked.save();
        Ok(Some(tracked))
    }

    fn save(&self) {
        let _ = save(&self.root, &self.record);
    }

    /// The VM's place on its Coracle network (`--network NAME`), with the peers live now.
    pub fn attachment(&self) -> Result<Option<crate::networks::Attachment>, RunError> {
        let r = &self.record;
        match (&r.network, r.address) {
            (Some(network), Some(address)) => {
                crate::networks::attachment(network, &r.id, &r.name, address).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The VM is up: records it (with the image's StopSignal), and serves its control
    /// socket: control records for the guest, one per line, or after an `exec` line the
    /// messages of one `coracle exec` (`super::exec`).
    pub fn running(&mut self, control: &ControlPipe, stop_signal: Option<&str>, exec: Pipes) {
        if let Some(sig) = stop_signal.and_then(super::commands::parse_signal) {
            self.record.stop_signal = sig;
        }
        let socket = dir_of(&self.root, &self.record.id).join("control.sock");
        let _ = fs::remove_file(&socket);
        if let Ok(listener) = UnixListener::bind(&socket) {
            let control = control.clone();
            let relay = Relay::start(exec);
            thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let Ok(reply) = stream.try_clone() else {
                        continue;
                    };
                    let mut reader = BufReader::new(stream);
                    let mut first = String::new();
                    if (&mut reader).take(4096).read_line(&mut first).is_err() {
                        continue;
                    }
                    if first.trim() == HELLO {
                        relay.serve(reader, reply);
                        continue;
                    }
                    signals::send_record(&control, first.trim());
                    for line in reader.take(4096).lines().map_while(Result::ok) {
                        signals::send_record(&control, line.trim());
                    }
                }
            });
        }
        self.record.status = Status::Running;
        self.save();
        crate::network_peers::announce(&self.record, control);
    }

    /// The VM ended with `code`: recorded, or with `--rm` removed.
    pub fn finished(mut self, code: u8) {
        let dir = dir_of(&self.root, &self.record.id);
        if self.record.remove {
            let _ = fs::remove_dir_all(dir);
        } else {
            let _ = fs::remove_file(dir.join("control.sock"));
            self.record.status = Status::Exited(code);
            self.record.finished = Some(now_secs());
            self.save();
        }
        crate::network_peers::withdraw(&self.record);
    }
}

/// `coracle run -d`: makes the record, starts a detached copy of this command that runs
/// the VM with its output in the record's directory, waits until the VM runs, and prints
/// its id. If the copy fails first, its messages are shown and its status returned.
pub fn detach(opts: &RunOptions) -> Result<u8, RunError> {
    let tracked = create(opts)?;
    let dir = dir_of(&tracked.root, &tracked.record.id);
    let open = |name: &str| {
        fs::File::create(dir.join(name))
            .map_err(|e| RunError::io(format!("cannot create the {name} log"), e))
    };
    let exe = std::env::current_exe()
        .map_err(|e| RunError::io("cannot find the coracle executable", e))?;
    let mut child = Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(SUPERVISE_ENV, &tracked.record.id)
        .stdin(Stdio::null())
        .stdout(open("stdout")?)
        .stderr(open("stderr")?)
        .process_group(0)
        .spawn()
        .map_err(|e| RunError::io("cannot start the detached coracle", e))?;
    let id = tracked.record.id.clone();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = fs::File::open(dir.join("stderr")).and_then(|mut f| f.read_to_string(&mut err));
            eprint!("{err}");
            return Ok(status.code().map_or(125, |c| c as u8));
        }
        if find(&tracked.root, &id).is_ok_and(|r| r.liveness() == Liveness::Running) {
            println!("{id}");
            return Ok(0);
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(RunError::io(
                "the detached VM did not start",
                io::Error::from(io::ErrorKind::TimedOut),
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
}
