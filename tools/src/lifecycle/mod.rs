//! VMs that outlive a command: `coracle run -d` and `--name`, and the commands that find
//! them again (`ps`, `logs`, `stop`, `kill`, `rm`, `wait`), without a daemon.
//!
//! Each such VM has a directory under the user's runtime directory
//! (`$XDG_RUNTIME_DIR/coracle/vms/ID`, else `/tmp/coracle-UID/vms/ID`) holding `state.json`
//! (a [`Record`]), the program's `stdout` and `stderr` for `coracle logs`, and `control.sock`,
//! the socket on which its `coracle` process takes control records for the guest. That
//! process (the supervisor: the `coracle run` itself, or with `-d` its detached copy)
//! writes the record when the VM starts and when it ends; a record that says running while
//! its supervisor is gone (compared by pid and process start time) is reported as dead.
//! The `name` field is the `--name` as given, for other tools to read.

pub mod commands;
pub mod exec;
pub mod supervise;

/// `coracle run`: detached with `-d` (in the command that was typed), else the VM runs here,
/// tracked when named or when this is the detached copy.
pub fn run(
    mut opts: crate::cli::RunOptions,
    started: std::time::Instant,
) -> Result<u8, crate::error::RunError> {
    if opts.detach && std::env::var_os(supervise::SUPERVISE_ENV).is_none() {
        return supervise::detach(&opts);
    }
    let Some(mut tracked) = supervise::Tracked::start(&opts)? else {
        return crate::vm::run(opts, started, &mut |_, _, _| {});
    };
    // A VM on a Coracle network is always tracked: its record holds its address.
    opts.network.attachment = tracked.attachment()?;
    let result = crate::vm::run(opts, started, &mut |control, stop_signal, exec| {
        tracked.running(control, stop_signal, exec)
    });
    let code = match &result {
        Ok(code) => *code,
        Err(e) => e.exit_status(),
    };
    tracked.finished(code);
    result
}

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What became of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being prepared (the image packed, QEMU starting).
    Created,
    Running,
    /// Ended with this status (as `coracle run` exits).
    Exited(u8),
}

/// `state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// 12 hex digits.
    pub id: String,
    /// `--name`, or one made from the id.
    pub name: String,
    /// The positional arguments, for `ps`.
    pub command: Vec<String>,
    /// Seconds since 1970.
    pub created: u64,
    pub finished: Option<u64>,
    pub status: Status,
    /// The supervising `coracle` process and its start time (field 22 of /proc/PID/stat),
    /// which a reused pid would not match.
    pub pid: u32,
    pub pid_start: u64,
    /// `--rm`: the directory goes when the VM ends.
    pub remove: bool,
    /// What `coracle stop` sends first (the image's StopSignal, else SIGTERM).
    pub stop_signal: i32,
    /// `--network NAME`: the Coracle network (`crate::networks`) and the VM's address on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<std::net::Ipv4Addr>,
}

/// How a VM is doing, as `ps` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Created,
    Running,
    Exited(u8),
    /// The record says running, but its `coracle` process is gone.
    Dead,
}

impl Record {
    pub fn liveness(&self) -> Liveness {
        match self.status {
            Status::Exited(code) => Liveness::Exited(code),
            _ if !process_alive(self.pid, self.pid_start) => Liveness::Dead,
            Status::Created => Liveness::Created,
            Status::Running => Liveness::Running,
        }
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The directory of all VMs: `$XDG_RUNTIME_DIR/coracle/vms`, else `/tmp/coracle-UID/vms`
/// (the uid read from /proc/self/status).
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("coracle/vms");
    }
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_owned))
        })
        .unwrap_or_else(|| "0".into());
    std::env::temp_dir().join(format!("coracle-{uid}/vms"))
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` is the process that started at `start` and has not ended (a zombie, not
/// yet reaped by whoever adopted it, has ended).
fn process_alive(pid: u32, start: u64) -> bool {
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(s[s.rfind(')')? + 1..].trim_start().starts_with('Z')))
        .unwrap_or(true);
    pid != 0 && !zombie && process_start(pid) == Some(start)
}

/// A fresh id: 12 hex digits from /dev/urandom.
pub fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 6];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn dir_of(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Writes `record` to its directory atomically (a reader never sees half a file).
pub fn save(root: &Path, record: &Record) -> io::Result<()> {
    let dir = dir_of(root, &record.id);
    let tmp = dir.join("state.json.tmp");
    fs::write(
        &tmp,
        serde_json::to_vec_pretty(record).map_err(io::Error::other)?,
    )?;
    fs::rename(tmp, dir.join("state.json"))
}

pub fn load(root: &Path, id: &str) -> Option<Record> {
    let bytes = fs::read(dir_of(root, id).join("state.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every VM with a readable record, oldest first.
pub fn list(root: &Path) -> Vec<Record> {
    let mut all: Vec<Record> = fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| load(root, e.file_name().to_str()?))
        .collect();
    all.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    all
}

/// The VM named by `what`: a name, an id, or an unambiguous id prefix (as docker takes).
pub fn find(root: &Path, what: &str) -> Result<Record, String> {
    let all = list(root);
    if let Some(r) = all.iter().find(|r| r.name == what || r.id == what) {
        return Ok(r.clone());
    }
    let mut matches = all.iter().filter(|r| r.id.starts_with(what));
    match (matches.next(), matches.next()) {
        (Some(r), None) if !what.is_empty() => Ok(r.clone()),
        (Some(_), Some(_)) => Err(format!("{what}: more than one VM id starts so")),
        _ => Err(format!("no such VM: {what}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, created: u64) -> Record {
        Record {
            id: id.into(),
            name: name.into(),
            command: vec!["sleep".into(), "1".into()],
            created,
            finished: None,
            status: Status::Exited(0),
            pid: 0,
            pid_start: 0,
            remove: false,
            stop_signal: 15,
            network: None,
            address: None,
        }
    }

    #[test]
    fn records_are_found_by_name_id_and_prefix() {
        let root = crate::tempdir::TempDir::new().unwrap();
        for r in [record("abc123", "web", 2), record("abd456", "db", 1)] {
            fs::create_dir_all(dir_of(root.path(), &r.id)).unwrap();
            save(root.path(), &r).unwrap();
        }
        let names: Vec<_> = list(root.path()).into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["db", "web"]);
        assert_eq!(find(root.path(), "web").unwrap().id, "abc123");
        assert_eq!(find(root.path(), "abd456").unwrap().name, "db");
        assert_eq!(find(root.path(), "abc").unwrap().name, "web");
        assert!(find(root.path(), "ab")
            .unwrap_err()
            .contains("more than one"));
        assert!(find(root.path(), "zz").unwrap_err().contains("no such VM"));
    }

    #[test]
    fn a_running_record_without_its_process_is_dead() {
        let mut r = record("a", "a", 0);
        r.status = Status::Running;
        r.pid = std::process::id();
        r.pid_start = process_start(r.pid).unwrap();
        assert_eq!(r.liveness(), Liveness::Running);
        r.pid_start += 1;
        assert_eq!(r.liveness(), Liveness::Dead);
        r.status = Status::Exited(3);
        assert_eq!(r.liveness(), Liveness::Exited(3));
    }
}
