//! Running one side of a benchmark: a child process with its output captured, a host-clock
//! time for the whole run and for each stdout chunk, and a deadline.
//!
//! The child leads a process group of its own, so that on timeout the whole group goes
//! (`coracle run` and the QEMU it started, or QEMU alone).

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a finished (or killed) child left.
#[derive(Debug, Default)]
pub struct Captured {
    /// `None` when the deadline passed and the child was killed.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    /// For each chunk of stdout as it arrived: its end offset in `stdout` and when.
    pub arrivals: Vec<(usize, Duration)>,
    pub stderr: Vec<u8>,
    /// Spawn to exit.
    pub wall: Duration,
}

impl Captured {
    /// When the stdout byte at `offset` arrived, counted from the spawn.
    pub fn arrival_of(&self, offset: usize) -> Option<Duration> {
        self.arrivals
            .iter()
            .find(|(end, _)| *end > offset)
            .map(|(_, at)| *at)
    }
}

/// How a status reads in a failure message.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => status.to_string(),
    }
}

/// Runs `cmd` with stdin from /dev/null, killing its process group after `timeout`.
pub fn run(mut cmd: Command, timeout: Duration) -> io::Result<Captured> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().map(|out| read_timed(out, started));
    let stderr = child.stderr.take().map(|err| read_timed(err, started));
    let status = wait_until(&mut child, started + timeout)?;
    let wall = started.elapsed();
    let (stdout, arrivals) = join(stdout);
    let (stderr, _) = join(stderr);
    Ok(Captured {
        status,
        stdout,
        arrivals,
        stderr,
        wall,
    })
}

pub(super) fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            kill_group(child);
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILL to the child's process group (its id, as `process_group(0)` made it), with
/// `kill(1)` because std has no killpg; the child itself is killed directly in any case.
pub(super) fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
}

type Timed = (Vec<u8>, Vec<(usize, Duration)>);

fn read_timed(mut from: impl Read + Send + 'static, started: Instant) -> JoinHandle<Timed> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut arrivals = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    bytes.extend_from_slice(&buf[..n]);
                    arrivals.push((bytes.len(), started.elapsed()));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        (bytes, arrivals)
    })
}

fn join(handle: Option<JoinHandle<Timed>>) -> Timed {
    handle.and_then(|h| h.join().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_is_the_chunk_holding_the_offset() {
        let c = Captured {
            arrivals: vec![
                (4, Duration::from_millis(10)),
                (9, Duration::from_millis(20)),
            ],
            ..Captured::default()
        };
        assert_eq!(c.arrival_of(0), Some(Duration::from_millis(10)));
        assert_eq!(c.arrival_of(3), Some(Duration::from_millis(10)));
        assert_eq!(c.arrival_of(4), Some(Duration::from_millis(20)));
        assert_eq!(c.arrival_of(9), None);
    }

    #[test]
    fn captures_output_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let c = run(cmd, Duration::from_secs(60)).unwrap();
        assert_eq!(c.status.and_then(|s| s.code()), Some(3));
        assert_eq!(c.stdout, b"out\n");
        assert_eq!(c.stderr, b"err\n");
        assert_eq!(describe(c.status.unwrap()), "exit status 3");
    }

    #[test]
    fn deadline_kills_the_whole_group() {
        // The grandchild holds stdout open: if only `sh` died, the reader would wait for it.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; echo never"]);
        let c = run(cmd, Duration::from_millis(200)).unwrap();
        assert!(c.status.is_none());
        assert!(c.stdout.is_empty());
        assert!(c.wall < Duration::from_secs(20), "{:?}", c.wall);
    }
}
