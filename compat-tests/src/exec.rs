//! Running one process to completion: stdin fed from bytes, stdout and stderr captured, a
//! deadline enforced.
//!
//! The child gets its own process group so that a timeout kills it together with anything it
//! started (`coracle run` starts QEMU), and the output pipes then close.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::diff::Observed;
use crate::status;

/// How a run ended when it did not produce a status.
#[derive(Debug)]
pub(crate) enum RunError {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// It ran past its deadline and was killed; what it printed until then.
    Timeout { after: Duration, partial: Observed },
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Spawn(err) => write!(f, "cannot start it: {err}"),
            Self::Timeout { after, partial } => write!(
                f,
                "timed out after {} s (killed; it had written {} bytes to stdout, {} to stderr{})",
                after.as_secs(),
                partial.stdout.len(),
                partial.stderr.len(),
                last_line(&partial.stderr)
                    .map(|l| format!(", last stderr line {l:?}"))
                    .unwrap_or_default()
            ),
        }
    }
}

/// The last non-empty line of `bytes`, shortened, for messages.
pub(crate) fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut short: String = line.chars().take(160).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    Some(short)
}

/// Runs `command` with `stdin` as its standard input (`/dev/null` when `None`).
pub(crate) fn run(
    mut command: Command,
    stdin: Option<&[u8]>,
    timeout: Duration,
) -> Result<Observed, RunError> {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn().map_err(RunError::Spawn)?;
    let started = Instant::now();

    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let bytes = bytes.to_vec();
        // A program that exits without reading everything makes this fail with EPIPE (SIGPIPE
        // is ignored in Rust programs): that is the program's business, not an error here.
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());

    let deadline = started + timeout;
    let exit = loop {
        match child.try_wait() {
            Ok(Some(exit)) => break Some(exit),
            Ok(None) if Instant::now() >= deadline => break None,
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(err) => {
                kill_group(&mut child);
                return Err(RunError::Spawn(err));
            }
        }
    };
    if exit.is_none() {
        kill_group(&mut child);
    }
    // Grandchildren that outlive the child could keep the pipes open: wait a bounded time.
    let grace = Instant::now() + Duration::from_secs(10);
    let observed = Observed {
        stdout: collect(&stdout, grace),
        stderr: collect(&stderr, grace),
        status: exit.map_or(-1, status::docker_status),
    };
    match exit {
        Some(_) => Ok(observed),
        None => Err(RunError::Timeout {
            after: timeout,
            partial: observed,
        }),
    }
}

/// Output kept per stream: more than any case compares. A runaway program (a signal handler
/// that faults again and again, printing each time) must not take the suite's memory with it.
const KEEP: usize = 64 << 20;

fn reader(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (send, receive) = mpsc::channel();
    if let Some(pipe) = pipe {
        thread::spawn(move || {
            let _ = send.send(read_capped(pipe, KEEP));
        });
    }
    receive
}

/// Reads `pipe` to its end, keeping the first `keep` bytes and saying how many more there were.
fn read_capped(mut pipe: impl Read, keep: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut dropped = 0usize;
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = keep.saturating_sub(bytes.len()).min(n);
                bytes.extend_from_slice(&chunk[..room]);
                dropped += n - room;
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if dropped > 0 {
        bytes.extend_from_slice(format!("\n[{dropped} more bytes not kept]\n").as_bytes());
    }
    bytes
}

fn collect(receiver: &mpsc::Receiver<Vec<u8>>, until: Instant) -> Vec<u8> {
    let left = until.saturating_duration_since(Instant::now());
    receiver.recv_timeout(left).unwrap_or_default()
}

/// Kills the child's whole process group (it leads it: `process_group(0)`), then reaps it.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let killed = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !killed {
        let _ = child.kill();
    }
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_everything() {
        let mut command = Command::new("sh");
        command.args(["-c", "cat; echo err >&2; exit 3"]);
        let observed = run(command, Some(b"in\xff\x00"), Duration::from_secs(30)).unwrap();
        assert_eq!(observed.stdout, b"in\xff\x00");
        assert_eq!(observed.stderr, b"err\n");
        assert_eq!(observed.status, 3);
    }

    #[test]
    fn stdin_defaults_to_dev_null() {
        let mut command = Command::new("sh");
        command.args(["-c", "wc -c"]);
        let observed = run(command, None, Duration::from_secs(30)).unwrap();
        assert_eq!(String::from_utf8_lossy(&observed.stdout).trim(), "0");
    }

    #[test]
    fn timeouts_kill_the_group() {
        let mut command = Command::new("sh");
        // The background sleep holds stdout open: only killing the group ends the run.
        command.args(["-c", "echo started; sleep 60 & sleep 60"]);
        let started = Instant::now();
        match run(command, None, Duration::from_millis(300)) {
            Err(RunError::Timeout { partial, .. }) => assert_eq!(partial.stdout, b"started\n"),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_past_the_limit_is_counted_not_kept() {
        let input: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        assert_eq!(read_capped(&input[..], 1 << 20), input);
        let kept = read_capped(&input[..], 1000);
        assert_eq!(&kept[..1000], &input[..1000]);
        assert_eq!(&kept[1000..], b"\n[199000 more bytes not kept]\n");
    }

    #[test]
    fn last_lines() {
        assert_eq!(last_line(b"a\nb\n\n"), Some("b".to_string()));
        assert_eq!(last_line(b""), None);
    }
}
