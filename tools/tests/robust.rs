//! Hostile programs in a real VM (TCG unless CORACLE_ACCEL says otherwise): whatever a
//! program does to itself, the kernel survives it. A kernel that fails ends the VM with
//! status 125; one that hangs is stopped after a time limit and the test fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Builds `src` (a path under tools/tests) with musl-gcc into a fresh directory.
fn build(src: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-robust-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join(name);
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(src);
    let cc = Command::new("musl-gcc")
        .args(["-static", "-O2", "-pthread", "-o"])
        .arg(&exe)
        .arg(&src)
        .status();
    assert!(
        cc.is_ok_and(|s| s.success()),
        "musl-gcc could not build {} (apt-get install musl-tools)",
        src.display()
    );
    exe
}

/// What a VM run printed and how it ended.
struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `coracle run ARGS`, killing it after `limit` (a hung kernel fails the test).
fn run_with_limit(args: &[&str], limit: Duration) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coracle");
    // Drain both pipes on threads so a chatty VM cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for coracle") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
            let tail: String = err.lines().rev().take(40).collect::<Vec<_>>().join("\n");
            panic!("the VM did not end within {limit:?} (kernel log, newest first):\n{tail}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        status: status.code(),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    }
}

/// A program that sets the direction flag and then touches fresh pages: each page fault
/// enters the kernel with DF set (interrupt and exception gates keep it), and the kernel's
/// zeroing of the new page must still go forwards.
#[test]
fn direction_flag_from_user_mode_does_not_reach_the_kernel() {
    let exe = build("robust/dirflag.c", "dirflag");
    let run = run_with_limit(&["run", exe.to_str().unwrap()], Duration::from_secs(120));
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "first-touch pages with DF set: 0 bad bytes\nsignal handler with DF set: DF clear\n"
    );
}

/// Random system calls with random arguments in 40 forked children (see
/// tests/robust/sysfuzz.c): single-threaded children on 1 vCPU, then children of 4 threads
/// calling at once on 2 vCPUs. The kernel must not fail or hang, every child must be reaped
/// (SIGKILL ends a child blocked anywhere), and the children must really have made calls.
#[test]
fn random_system_calls_never_bring_the_kernel_down() {
    let exe = build("robust/sysfuzz.c", "sysfuzz");
    for (seed, cpus, threads) in [("1", "1", "1"), ("2", "2", "4")] {
        let run = run_with_limit(
            &[
                "run",
                "--cpus",
                cpus,
                exe.to_str().unwrap(),
                seed,
                "40",
                "1000",
                threads,
            ],
            Duration::from_secs(600),
        );
        assert_eq!(run.status, Some(0), "seed {seed}:\n{}", run.stderr);
        let line = run.stdout.trim_end();
        let prefix = format!("sysfuzz: seed {seed}: 40 children, ");
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("unexpected summary {line:?}"));
        let calls: u64 = rest
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no call count in {line:?}"));
        // Each child makes at least its setup calls and one random call before anything it
        // does can end it.
        assert!(calls >= 40, "only {calls} random calls: {line}");
        assert!(
            !run.stderr.contains("KERNEL FAULT"),
            "seed {seed}:\n{}",
            run.stderr
        );
    }
}

/// Random machine code in 30 forked children on 2 vCPUs (see tests/robust/codefuzz.c):
/// privileged and invalid instructions, bad segment loads, odd flags, system calls with
/// random registers. Each trap reaches the child as a signal it catches; the kernel must not
/// fail or hang, and the children must really have trapped.
#[test]
fn random_machine_code_never_brings_the_kernel_down() {
    let exe = build("robust/codefuzz.c", "codefuzz");
    let run = run_with_limit(
        &[
            "run",
            "--cpus",
            "2",
            exe.to_str().unwrap(),
            "1",
            "30",
            "300",
        ],
        Duration::from_secs(600),
    );
    assert_eq!(run.status, Some(0), "{}", run.stderr);
    let line = run.stdout.trim_end();
    assert!(
        line.starts_with("codefuzz: seed 1: 30 children, "),
        "unexpected summary {line:?}"
    );
    // Random code may scribble on the shared trap counter (through TLS, say), so the check
    // that the children really ran is that some ended by themselves: a child exits after
    // its 300 attempts, each of which ended in a caught trap.
    let exited: u64 = line
        .split("; ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exit count in {line:?}"));
    assert!(exited >= 1, "no child finished its attempts: {line}");
    assert!(!run.stderr.contains("KERNEL FAULT"), "{}", run.stderr);
}
