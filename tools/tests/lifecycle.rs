//! `coracle run -d`, `ps`, `logs`, `stop`, `kill`, `rm` and `wait` end to end, each test with
//! a runtime directory of its own. Real VMs under TCG unless CORACLE_ACCEL says otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BUSYBOX: &str = "/bin/busybox";

/// Where busybox is inside the VM: a host program is packed at its canonical path.
fn guest_busybox() -> String {
    std::fs::canonicalize(BUSYBOX)
        .expect("/bin/busybox is missing: install busybox-static")
        .to_string_lossy()
        .into_owned()
}

struct Runtime(PathBuf);

impl Runtime {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("coracle-lc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Runtime(dir)
    }

    fn coracle(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.0)
            .stdin(Stdio::null())
            .output()
            .expect("run coracle")
    }

    /// Runs `args`, expects success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.coracle(args);
        assert!(
            out.status.success(),
            "coracle {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn vms(&self) -> &Path {
        &self.0
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_coracle"))
            .env("XDG_RUNTIME_DIR", &self.0)
            .args(["ps", "-a"])
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server started with -d is listed, logged, stopped with its stop signal (its handler
/// runs and it exits 0), waited for, and removed.
#[test]
fn detached_server_is_listed_logged_stopped_and_removed() {
    let rt = Runtime::new("server");
    let script = format!(
        "trap 'echo bye; exit 0' TERM; echo serving; while :; do {} sleep 0.1; done",
        guest_busybox()
    );
    let id = rt.ok(&["run", "-d", "--name", "web", BUSYBOX, "sh", "-c", &script]);
    let id = id.trim();
    assert_eq!(id.len(), 12, "{id:?}");
    let ps = rt.ok(&["ps"]);
    assert!(
        ps.contains(id) && ps.contains("web") && ps.contains("Up "),
        "{ps}"
    );
    let start = Instant::now();
    while !rt.ok(&["logs", "web"]).contains("serving") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no output logged"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(rt.ok(&["stop", "web"]), "web\n");
    assert_eq!(rt.ok(&["logs", &id[..5]]), "serving\nbye\n");
    assert_eq!(rt.ok(&["wait", "web"]), "0\n");
    assert!(!rt.ok(&["ps"]).contains("web"));
    assert!(rt.ok(&["ps", "-a"]).contains("Exited (0)"));
    // The name is taken until the VM is removed.
    let again = rt.coracle(&["run", "-d", "--name", "web", BUSYBOX, "true"]);
    assert_eq!(again.status.code(), Some(125));
    assert_eq!(rt.ok(&["rm", "web"]), "web\n");
    assert!(!rt.ok(&["ps", "-a"]).contains("web"));
}

/// A PID 1 without a SIGTERM handler does not take SIGTERM (as in a container): `stop`
/// kills it after the timeout, with status 137.
#[test]
fn stop_kills_a_program_that_ignores_sigterm_after_the_timeout() {
    let rt = Runtime::new("ignore");
    let id = rt.ok(&["run", "-d", BUSYBOX, "sleep", "1000"]);
    let id = id.trim();
    let start = Instant::now();
    rt.ok(&["stop", "-t", "2", id]);
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(rt.ok(&["wait", id]), "137\n");
    assert!(rt.ok(&["ps", "-a"]).contains("Exited (137)"));
    rt.ok(&["rm", id]);
}

/// `kill -s` forwards a signal; `--rm` removes the VM when it ends.
#[test]
fn kill_sends_a_signal_and_rm_flag_cleans_up() {
    let rt = Runtime::new("kill");
    let script = format!(
        "trap 'exit 7' USR2; echo armed; while :; do {} sleep 0.1; done",
        guest_busybox()
    );
    let id = rt.ok(&["run", "-d", "--rm", BUSYBOX, "sh", "-c", &script]);
    let id = id.trim();
    // A signal that arrives before the trap is set is one PID 1 does not take.
    let start = Instant::now();
    while !rt.ok(&["logs", id]).contains("armed") {
        assert!(start.elapsed() < Duration::from_secs(30), "never armed");
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.ok(&["kill", "-s", "USR2", id]);
    let start = Instant::now();
    while rt.vms().join("coracle/vms").join(id).exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "--rm left {id}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A VM whose coracle process was killed is reported dead, not running.
#[test]
fn a_vm_whose_coracle_died_is_reported_dead() {
    let rt = Runtime::new("dead");
    let id = rt.ok(&["run", "-d", BUSYBOX, "sleep", "1000"]);
    let id = id.trim();
    let state =
        std::fs::read_to_string(rt.vms().join("coracle/vms").join(id).join("state.json")).unwrap();
    let pid: serde_json::Value = serde_json::from_str(&state).unwrap();
    let pid = pid["pid"].as_u64().unwrap();
    assert!(Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let start = Instant::now();
    loop {
        let ps = rt.ok(&["ps", "-a"]);
        if ps.contains("Dead") {
            assert!(!rt.ok(&["ps"]).contains(id));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{ps}");
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.ok(&["rm", id]);
}
