//! `coracle run -d`, `ps`, `logs`, `stop`, `kill`, `rm`, `wait` and `exec` end to end, each
//! test with a runtime directory of its own. Real VMs under TCG unless CORACLE_ACCEL says otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

// Only part of the pty driver is used here.
#[allow(dead_code)]
#[path = "tty/session.rs"]
mod session;

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

    /// Runs `args` with `input` on its stdin.
    fn coracle_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_coracle"))
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run coracle");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for coracle");
        feeder.join().unwrap();
        out
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

/// A root filesystem with busybox and a few of its applets, in the runtime's directory.
fn busybox_root(rt: &Runtime) -> String {
    let root = rt.vms().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    for applet in ["sh", "cat", "echo", "sleep", "pwd", "id", "wc"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nwww:x:33:\nweb:x:50:www\n",
    )
    .unwrap();
    root.to_string_lossy().into_owned()
}

/// Waits for PID 1 of VM `name` to log "ready".
fn wait_for_ready(rt: &Runtime, name: &str) {
    let start = Instant::now();
    while !rt.ok(&["logs", name]).contains("ready") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "PID 1 never ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(out: &Output) -> (Option<i32>, String, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `exec` runs new processes beside PID 1 (which keeps running, its output its own): their
/// output and status come back, they see PID 1's files, take stdin with -i, and -e, -w, -u
/// change their environment, directory and user; a missing program is 127, a missing
/// directory or user 126.
#[test]
fn exec_runs_processes_in_a_running_vm() {
    let rt = Runtime::new("exec");
    let root = busybox_root(&rt);
    let id = rt.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        &root,
        "/bin/sh",
        "-c",
        "echo data > /tmp/f; echo ready; while :; do sleep 1; done",
    ]);
    let id = id.trim();
    wait_for_ready(&rt, "box");
    let exec = |args: &[&str]| text(&rt.coracle(&[&["exec"], args].concat()));
    assert_eq!(
        exec(&[id, "/bin/busybox", "echo", "hi"]),
        (Some(0), "hi\n".into(), String::new())
    );
    assert_eq!(exec(&["box", "sh", "-c", "exit 3"]).0, Some(3));
    assert_eq!(exec(&["box", "cat", "/tmp/f"]).1, "data\n");
    assert_eq!(
        exec(&["box", "sh", "-c", "echo out; echo err >&2; kill -9 $$"]),
        (Some(137), "out\n".into(), "err\n".into())
    );
    assert_eq!(
        exec(&[
            "-w",
            "/tmp",
            "-e",
            "FOO=bar",
            "box",
            "sh",
            "-c",
            "pwd; echo $FOO"
        ])
        .1,
        "/tmp\nbar\n"
    );
    assert_eq!(exec(&["-u", "www", "box", "id", "-u"]).1, "33\n");
    let mut groups: Vec<String> = exec(&["-u", "www", "box", "id", "-G"])
        .1
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    groups.sort();
    assert_eq!(groups, ["33", "50"]);
    assert_eq!(exec(&["-u", "1000:7", "box", "id", "-u"]).1, "1000\n");
    let (status, _, err) = exec(&["box", "nosuch"]);
    assert_eq!(status, Some(127), "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    assert_eq!(exec(&["-w", "/nowhere", "box", "pwd"]).0, Some(126));
    assert_eq!(exec(&["-u", "nobody", "box", "id"]).0, Some(126));
    // Stdin with -i, larger than any buffer on the way; without -i it is at its end.
    let input: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let out = rt.coracle_with_input(&["exec", "-i", "box", "cat"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout == input,
        "stdin came back changed ({} bytes)",
        out.stdout.len()
    );
    assert_eq!(exec(&["box", "wc", "-c"]).1.trim(), "0");
    // A program writing through sendfile (busybox cat) is copied whole.
    let out = rt.coracle(&["exec", "box", "cat", "/bin/busybox"]);
    assert_eq!(out.stdout, std::fs::read(BUSYBOX).unwrap());
    // PID 1 runs on, and its log holds its own output only.
    assert_eq!(rt.ok(&["logs", "box"]), "ready\n");
    assert!(rt.ok(&["ps"]).contains("box"));
    rt.ok(&["rm", "-f", "box"]);
}

/// Starting a process sets the CPU up for its image (FS base, FPU): a PID 1 busy in user
/// mode when an exec comes keeps its own, and runs on.
#[test]
fn exec_leaves_a_busy_pid_1_running() {
    let rt = Runtime::new("busy");
    let root = busybox_root(&rt);
    let id = rt.ok(&["run", "-d", &root, "/bin/sh", "-c", "while :; do :; done"]);
    let id = id.trim();
    for _ in 0..8 {
        let (status, out, err) = text(&rt.coracle(&["exec", id, "echo", "hi"]));
        assert_eq!((status, out.as_str()), (Some(0), "hi\n"), "{err}");
    }
    assert!(rt.ok(&["ps"]).contains(id), "{}", rt.ok(&["ps", "-a"]));
    rt.ok(&["rm", "-f", id]);
}

/// `exec` into a VM that does not exist is 125, into one that is not running 126 (as
/// podman's exec and docker's daemon errors report them).
#[test]
fn exec_into_an_unknown_or_stopped_vm_fails_clearly() {
    let rt = Runtime::new("noexec");
    let (status, _, err) = text(&rt.coracle(&["exec", "nosuch", "true"]));
    assert_eq!(status, Some(125));
    assert!(err.contains("no such VM: nosuch"), "{err}");
    let id = rt.ok(&["run", "-d", BUSYBOX, "true"]);
    let id = id.trim();
    assert_eq!(rt.ok(&["wait", id]), "0\n");
    let (status, _, err) = text(&rt.coracle(&["exec", id, "true"]));
    assert_eq!(status, Some(126));
    assert!(err.contains("not running"), "{err}");
    rt.ok(&["rm", id]);
}

/// `exec -it` through a host pty, as `docker exec -it`: the process gets a fresh /dev/pts/N of
/// the host terminal's size as fds 0-2 and controlling terminal (^C interrupts its foreground
/// job, not the shell), the host terminal is raw (the guest's terminal echoes and edits), and
/// its exit status comes back.
#[test]
fn exec_tty_gives_the_process_a_terminal_of_its_own() {
    let rt = Runtime::new("exectty");
    let root = busybox_root(&rt);
    rt.ok(&[
        "run",
        "-d",
        "--name",
        "ttybox",
        &root,
        "/bin/sh",
        "-c",
        "echo ready; while :; do sleep 1; done",
    ]);
    wait_for_ready(&rt, "ttybox");
    let mut cmd = portable_pty::CommandBuilder::new(env!("CARGO_BIN_EXE_coracle"));
    cmd.args(["exec", "-it", "ttybox", "/bin/busybox", "sh"]);
    cmd.env("XDG_RUNTIME_DIR", rt.vms());
    let mut term = session::Session::spawn("exec -it", cmd, 33, 101);
    term.send("/bin/busybox tty; /bin/busybox stty size\r");
    let shown = term.expect(" 101");
    assert!(shown.contains("/dev/pts/"), "{shown:?}");
    assert!(shown.contains("33 101"), "{shown:?}");
    // ^C typed while a foreground job runs goes to the job, not the shell.
    term.send("/bin/sh -c 'echo sle\"\"eping; exec /bin/busybox sleep 60'\r");
    term.expect("sleeping");
    term.send("\x03");
    term.send("echo status=$?\r");
    term.expect("status=130");
    term.send("exit 5\r");
    assert_eq!(term.wait(), 5);
    rt.ok(&["rm", "-f", "ttybox"]);
}
