//! The program's streams on virtio-console and the host's signals, end to end: stdout and
//! stderr byte-exact and separate behind a slow reader, stdin with every byte value, signals
//! forwarded to PID 1, and QEMU going down with a killed `coracle`. Real VMs under TCG unless
//! CORACLE_ACCEL says otherwise.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const BUSYBOX: &str = "/bin/busybox";

/// Where busybox is inside the VM: a host program is packed at its canonical path.
fn guest_busybox() -> String {
    std::fs::canonicalize(BUSYBOX)
        .expect("/bin/busybox is missing: install busybox-static")
        .to_string_lossy()
        .into_owned()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coracle")
}

fn seq(n: u32) -> String {
    (1..=n).map(|i| format!("{i}\n")).collect()
}

/// 2 MB on stdout while the host reads nothing for a while (the pipes fill and the guest's
/// writes wait), 1000 lines on stderr: both arrive whole, in order, and apart.
fn streams_survive_a_slow_reader(machine: &str) {
    let bb = guest_busybox();
    let script = format!("{bb} seq 1 300000; {bb} seq 1 1000 >&2");
    let mut child = spawn(&["run", "--machine", machine, BUSYBOX, "sh", "-c", &script]);
    thread::sleep(Duration::from_secs(3));
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{err}");
    assert!(out == seq(300000), "stdout differs ({} bytes)", out.len());
    assert_eq!(err, seq(1000));
}

#[test]
fn stdout_and_stderr_are_exact_behind_a_slow_reader_microvm() {
    streams_survive_a_slow_reader("microvm");
}

#[test]
fn stdout_and_stderr_are_exact_behind_a_slow_reader_q35() {
    streams_survive_a_slow_reader("q35");
}

/// Host `md5sum` of `data`.
fn host_md5sum(data: &[u8]) -> String {
    let mut c = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let data = data.to_vec();
    let w = thread::spawn(move || stdin.write_all(&data));
    let out = c.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// 4 MB of every byte value (0xff included, which the framing escapes) reach the program
/// exactly, then the end of input.
fn stdin_is_exact(machine: &str) {
    let mut x: u32 = 12345;
    let data: Vec<u8> = (0..4 << 20)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if i % 7 == 0 {
                0xff
            } else {
                (x >> 16) as u8
            }
        })
        .collect();
    let mut child = spawn(&["run", "-i", "--machine", machine, BUSYBOX, "md5sum"]);
    let mut stdin = child.stdin.take().unwrap();
    let sent = data.clone();
    let w = thread::spawn(move || stdin.write_all(&sent));
    let out = child.wait_with_output().unwrap();
    w.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), host_md5sum(&data));
}

#[test]
fn stdin_bytes_arrive_exactly_microvm() {
    stdin_is_exact("microvm");
}

#[test]
fn stdin_bytes_arrive_exactly_q35() {
    stdin_is_exact("q35");
}

/// Reads `child`'s stdout until a line equal to `want`; returns the reader.
fn wait_for_line(child: &mut Child, want: &str) -> BufReader<std::process::ChildStdout> {
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no {want:?} line");
        if line.trim_end() == want {
            return reader;
        }
    }
}

fn kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// SIGTERM to `coracle run` reaches the program's PID 1, whose handler runs (docker run's
/// signal proxy); SIGUSR1 too.
#[test]
fn signals_reach_pid_1() {
    let script = format!(
        "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 3' TERM; echo ready; \
         while :; do {} sleep 0.1; done",
        guest_busybox()
    );
    let mut child = spawn(&["run", BUSYBOX, "sh", "-c", &script]);
    let mut reader = wait_for_line(&mut child, "ready");
    kill(child.id(), "-USR1");
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "got USR1\n");
    kill(child.id(), "-TERM");
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(child.wait().unwrap().code(), Some(3));
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let mut all = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        all.extend(
            list.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    all
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// `kill -9` of a foreground `coracle run` takes its QEMU down too.
#[test]
fn qemu_dies_with_a_killed_coracle() {
    let script = format!("echo ready; {} sleep 100", guest_busybox());
    let mut child = spawn(&["run", BUSYBOX, "sh", "-c", &script]);
    let _reader = wait_for_line(&mut child, "ready");
    let qemu = children(child.id());
    assert_eq!(qemu.len(), 1, "one QEMU child: {qemu:?}");
    assert!(alive(qemu[0]));
    child.kill().unwrap();
    child.wait().unwrap();
    let start = Instant::now();
    while alive(qemu[0]) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "QEMU {} outlived its coracle",
            qemu[0]
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// poll(2) on stdout says what a write would do: not writable while the host reads nothing
/// and the write got EAGAIN, writable again once the host reads (it used to say "always
/// writable", so a poll loop around non-blocking writes spun).
#[test]
fn poll_on_stdout_follows_the_host_reader() {
    let exe = common::build_c(
        "pollout",
        r#"#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    fcntl(1, F_SETFL, O_NONBLOCK);
    long total = 0;
    int eagain = 0;
    while (total < (1L << 30)) {
        ssize_t n = write(1, buf, sizeof buf);
        if (n < 0) { eagain = errno == EAGAIN; break; }
        total += n;
    }
    struct pollfd p = {1, POLLOUT, 0};
    int full = poll(&p, 1, 0);
    dprintf(2, "eagain=%d ready_when_full=%d\n", eagain, full);
    p.revents = 0;
    int later = poll(&p, 1, 60000);
    dprintf(2, "ready_later=%d pollout=%d\n", later, !!(p.revents & POLLOUT));
    return 0;
}
"#,
    );
    let mut child = spawn(&["run", exe.to_str().unwrap()]);
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    // Only now does the host read stdout.
    let mut out = child.stdout.take().unwrap();
    let drain = thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()).unwrap());
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{first}{rest}");
    assert!(drain.join().unwrap() > 0);
    assert_eq!(first, "eagain=1 ready_when_full=0\n", "{rest}");
    assert_eq!(rest, "ready_later=1 pollout=1\n");
}

/// Under `-t`, typed input the program does not read yet is held back from the host (its
/// writes wait) instead of piling up in the guest: 48 MiB sent to a 32 MiB VM whose program
/// reads only after a pause all arrive (the terminal's backlog used to grow without bound and
/// run the VM out of memory).
#[test]
fn terminal_input_is_flow_controlled() {
    let bb = guest_busybox();
    let script = format!("{bb} stty raw -echo; echo ready; {bb} sleep 3; {bb} wc -c");
    let mut child = spawn(&["run", "-i", "-t", "-m", "32", BUSYBOX, "sh", "-c", &script]);
    let mut stdin = child.stdin.take().unwrap();
    let mut reader = wait_for_line(&mut child, "ready");
    const SIZE: usize = 48 << 20;
    let w = thread::spawn(move || {
        let chunk = vec![b'z'; 1 << 20];
        for _ in 0..SIZE >> 20 {
            stdin.write_all(&chunk)?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{out}{err}");
    w.join().unwrap().unwrap();
    assert_eq!(out.trim(), SIZE.to_string(), "{err}");
}

/// More input than the guest's queue holds, sent while the VM boots under `-t`: the terminal
/// takes the queued input when PID 1 gets it, and the driver, stalled on the full queue,
/// goes on once it is read (it used to wait for a read that never came: a hang).
#[test]
fn early_terminal_input_beyond_the_queue_arrives() {
    let line = format!("{}\n", "a".repeat(99));
    let data = line.repeat(10 << 10);
    let mut child = spawn(&["run", "-i", "-t", BUSYBOX, "wc", "-c"]);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let w = thread::spawn(move || stdin.write_all(data.as_bytes()));
    // A hang must fail the test, not stop the suite.
    let watchdog = thread::spawn(move || {
        let start = Instant::now();
        while alive(pid) {
            if start.elapsed() > Duration::from_secs(300) {
                kill(pid, "KILL");
                return true;
            }
            thread::sleep(Duration::from_millis(200));
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.join().unwrap(), "the VM hung");
    w.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The terminal echoes every line, then wc's count.
    assert_eq!(
        stdout.lines().last(),
        Some((100 * (10 << 10)).to_string().as_str()),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
