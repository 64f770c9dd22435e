//! `coracle ps`, `logs`, `stop`, `kill`, `rm` and `wait`, on the records of `lifecycle`.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::{dir_of, find, list, now_secs, root, save, Liveness, Record, Status};
use crate::error::RunError;

/// How often the waiting commands look again.
const POLL: Duration = Duration::from_millis(50);
/// After `stop`'s timeout and the guest's SIGKILL, how long before the process is killed.
const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show every VM (by default only running ones).
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow the output until the VM ends.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The VM: a name, an id, or an id prefix.
    pub vm: String,
}

#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// Seconds to wait for the program after its stop signal, before killing it.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
    #[arg(required = true)]
    pub vms: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct KillArgs {
    /// The signal (a name such as TERM or SIGHUP, or a number).
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub vms: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// Kill a running VM first.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub vms: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub vms: Vec<String>,
}

fn lookup(what: &str) -> Result<Record, RunError> {
    find(&root(), what).map_err(RunError::Usage)
}

fn ago(secs: u64) -> String {
    let d = now_secs().saturating_sub(secs);
    match d {
        0..=59 => format!("{d} seconds"),
        60..=3599 => format!("{} minutes", d / 60),
        3600..=172_799 => format!("{} hours", d / 3600),
        _ => format!("{} days", d / 86400),
    }
}

fn status_text(r: &Record) -> String {
    match r.liveness() {
        Liveness::Created => "Created".into(),
        Liveness::Running => format!("Up {}", ago(r.created)),
        Liveness::Exited(code) => format!(
            "Exited ({code}) {} ago",
            ago(r.finished.unwrap_or(r.created))
        ),
        Liveness::Dead => "Dead (its coracle process died)".into(),
    }
}

pub fn ps(args: PsArgs) -> Result<u8, RunError> {
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<12}  {:<20}  {:<30}  {:<14}  STATUS",
        "VM ID", "NAME", "COMMAND", "CREATED"
    );
    for r in list(&root()) {
        if !args.all && r.liveness() != Liveness::Running {
            continue;
        }
        let mut command = r.command.join(" ");
        if command.chars().count() > 30 {
            command = command.chars().take(27).collect::<String>() + "...";
        }
        let _ = writeln!(
            out,
            "{:<12}  {:<20}  {:<30}  {:<14}  {}",
            r.id,
            r.name,
            command,
            format!("{} ago", ago(r.created)),
            status_text(&r)
        );
    }
    Ok(0)
}

/// Copies what `file` has from `at` on to `out`; returns the new position.
fn copy_from(path: &Path, at: u64, out: &mut dyn Write) -> u64 {
    let Ok(mut f) = fs::File::open(path) else {
        return at;
    };
    if f.seek(SeekFrom::Start(at)).is_err() {
        return at;
    }
    let mut buf = Vec::new();
    let n = f.read_to_end(&mut buf).unwrap_or(0);
    let _ = out.write_all(&buf[..n]);
    let _ = out.flush();
    at + n as u64
}

pub fn logs(args: LogsArgs) -> Result<u8, RunError> {
    let r = lookup(&args.vm)?;
    let dir = dir_of(&root(), &r.id);
    let (mut o, mut e) = (0, 0);
    loop {
        // Read the state first: output written before the VM ended is all there after.
        let running = args.follow
            && find(&root(), &r.id)
                .is_ok_and(|r| matches!(r.liveness(), Liveness::Running | Liveness::Created));
        o = copy_from(&dir.join("stdout"), o, &mut io::stdout().lock());
        e = copy_from(&dir.join("stderr"), e, &mut io::stderr().lock());
        if !running {
            return Ok(0);
        }
        thread::sleep(POLL);
    }
}

/// Sends a control record to a running VM's supervisor.
fn send(r: &Record, payload: &str) -> io::Result<()> {
    let mut s = UnixStream::connect(dir_of(&root(), &r.id).join("control.sock"))?;
    s.write_all(format!("{payload}\n").as_bytes())
}

fn running(id: &str) -> bool {
    find(&root(), id).is_ok_and(|r| r.liveness() == Liveness::Running)
}

/// Waits up to `limit` for the VM to stop running; returns whether it did.
fn wait_until_stopped(id: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while running(id) {
        if start.elapsed() >= limit {
            return false;
        }
        thread::sleep(POLL);
    }
    true
}

/// Ends the supervising process with SIGKILL (its QEMU follows), recorded as 137.
fn kill_process(r: &Record) {
    let _ = Command::new("kill")
        .args(["-KILL", &r.pid.to_string()])
        .status();
    let mut r = r.clone();
    r.status = Status::Exited(137);
    r.finished = Some(now_secs());
    let _ = save(&root(), &r);
    // Its supervisor cannot tell the VM's network peers any more: this command does.
    crate::network_peers::withdraw(&r);
}

/// SIGKILL for PID 1: the guest ends it at once (status 137); the process if that fails.
fn kill_now(r: &Record) {
    if send(r, "stop").is_err() || !wait_until_stopped(&r.id, KILL_GRACE) {
        kill_process(r);
    }
}

pub fn stop(args: StopArgs) -> Result<u8, RunError> {
    for what in &args.vms {
        let r = lookup(what)?;
        if r.liveness() == Liveness::Running {
            let sent = send(&r, &format!("signal n={}", r.stop_signal)).is_ok();
            if !sent || !wait_until_stopped(&r.id, Duration::from_secs(args.time)) {
                kill_now(&r);
            }
        }
        println!("{what}");
    }
    Ok(0)
}

/// A signal by name (`TERM`, `SIGTERM`, any case) or number.
pub fn parse_signal(text: &str) -> Option<i32> {
    use signal_hook::consts::signal::*;
    if let Ok(n) = text.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let table = [
        ("HUP", SIGHUP),
        ("INT", SIGINT),
        ("QUIT", SIGQUIT),
        ("ILL", SIGILL),
        ("TRAP", SIGTRAP),
        ("ABRT", SIGABRT),
        ("BUS", SIGBUS),
        ("FPE", SIGFPE),
        ("KILL", SIGKILL),
        ("USR1", SIGUSR1),
        ("SEGV", SIGSEGV),
        ("USR2", SIGUSR2),
        ("PIPE", SIGPIPE),
        ("ALRM", SIGALRM),
        ("TERM", SIGTERM),
        ("CHLD", SIGCHLD),
        ("CONT", SIGCONT),
        ("STOP", SIGSTOP),
        ("TSTP", SIGTSTP),
        ("TTIN", SIGTTIN),
        ("TTOU", SIGTTOU),
        ("URG", SIGURG),
        ("XCPU", SIGXCPU),
        ("XFSZ", SIGXFSZ),
        ("VTALRM", SIGVTALRM),
        ("PROF", SIGPROF),
        ("WINCH", SIGWINCH),
        ("IO", SIGIO),
        ("SYS", SIGSYS),
    ];
    table.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

pub fn kill(args: KillArgs) -> Result<u8, RunError> {
    let sig = parse_signal(&args.signal)
        .ok_or_else(|| RunError::Usage(format!("invalid signal: {}", args.signal)))?;
    for what in &args.vms {
        let r = lookup(what)?;
        if r.liveness() != Liveness::Running {
            return Err(RunError::Usage(format!("{what} is not running")));
        }
        if sig == signal_hook::consts::signal::SIGKILL {
            kill_now(&r);
        } else {
            send(&r, &format!("signal n={sig}"))
                .map_err(|e| RunError::io(format!("cannot signal {what}"), e))?;
        }
        println!("{what}");
    }
    Ok(0)
}

pub fn rm(args: RmArgs) -> Result<u8, RunError> {
    for what in &args.vms {
        let r = lookup(what)?;
        if matches!(r.liveness(), Liveness::Running | Liveness::Created) {
            if !args.force {
                return Err(RunError::Usage(format!(
                    "{what} is running: stop it first or use rm -f"
                )));
            }
            kill_now(&r);
        } else if r.liveness() == Liveness::Dead {
            // Its supervisor died without telling the VM's network peers.
            crate::network_peers::withdraw(&r);
        }
        match fs::remove_dir_all(dir_of(&root(), &r.id)) {
            // A `--rm` VM removed itself when it ended.
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(RunError::io(format!("cannot remove {what}"), e))
            }
            _ => {}
        }
        println!("{what}");
    }
    Ok(0)
}

pub fn wait(args: WaitArgs) -> Result<u8, RunError> {
    for what in &args.vms {
        let r = lookup(what)?;
        while matches!(
            find(&root(), &r.id).map(|r| r.liveness()),
            Ok(Liveness::Running | Liveness::Created)
        ) {
            thread::sleep(POLL);
        }
        match find(&root(), &r.id).map(|r| r.liveness()) {
            Ok(Liveness::Exited(code)) => println!("{code}"),
            _ => {
                eprintln!("coracle: {what}: its coracle process died; the status is unknown");
                println!("255");
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("sigkill"), Some(9));
        assert_eq!(parse_signal("SIGUSR1"), Some(10));
        assert_eq!(parse_signal("2"), Some(2));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("65"), None);
        assert_eq!(parse_signal("BOGUS"), None);
    }
}
