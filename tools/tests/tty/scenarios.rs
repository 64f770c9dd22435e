//! Interactive programs typed at through a pty, once on the host and once in `coracle run -it`,
//! and what each showed compared piece by piece: bash and busybox sh (prompt, history, line
//! editing, ^C, ^Z and fg, SIGWINCH), the python3 and mruby REPLs, stty, busybox vi, less and
//! script (a pty made inside the guest).
//!
//! The Debian programs run from the compat suite's Debian root: on the host in a chroot of it
//! (in a mount namespace of their own, with tmpfs on /tmp and /root so the cached tree is
//! never written), in the guest as its root filesystem. busybox runs as the host's static
//! program on both sides. Both sides get the same environment, window size and working
//! directory, so every byte a program shows is expected to be the same.

use std::path::{Path, PathBuf};

use portable_pty::CommandBuilder;

use crate::session::Session;

const ROWS: u16 = 24;
const COLS: u16 = 80;
/// A prompt with nothing host-specific in it.
const PROMPT: &str = "PROMPT$ ";
/// Guest memory for the Debian root (packed into the initrd, unpacked into RAM).
const DEBIAN_MEMORY: &str = "1536";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment both sides' programs get (`coracle run` adds PATH, TERM and HOME itself).
const ENV: &[(&str, &str)] = &[
    ("HOSTNAME", "coracle-tty"),
    ("PS1", PROMPT),
    // No history file: bash and python would write it at exit.
    ("HISTFILE", ""),
    ("LANG", "C"),
];

/// Where a program runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    Host,
    Guest,
}

/// The root a program runs in.
#[derive(Debug, Clone, Copy)]
enum Root {
    /// The compat suite's Debian root.
    Debian,
    /// The host's static busybox on its own, in working directory `cwd`.
    Busybox,
}

fn debian() -> PathBuf {
    coracle_compat_tests::debian_root()
        .unwrap_or_else(|why| panic!("the Debian root filesystem cannot be had: {why}"))
}

/// Enters `$1` in a private mount namespace with /dev (and /dev/pts), /proc, and tmpfs on
/// /tmp and /root, then runs the rest of the arguments there.
const CHROOT: &str = r#"set -e
r=$1
shift
mount --rbind /dev "$r/dev"
mount -t proc proc "$r/proc"
mount -t tmpfs tmpfs "$r/tmp"
mount -t tmpfs tmpfs "$r/root"
exec chroot "$r" "$@""#;

/// The command running `argv` on `side` in `root`, with working directory `cwd`.
fn command(side: Side, root: Root, cwd: &Path, argv: &[&str]) -> CommandBuilder {
    let mut c = match (side, root) {
        (Side::Host, Root::Debian) => {
            let mut c = CommandBuilder::new("unshare");
            c.args(["--mount", "--propagation", "private", "--"]);
            c.args(["/bin/sh", "-c", CHROOT, "sh"]);
            c.arg(debian());
            c
        }
        (Side::Host, Root::Busybox) => CommandBuilder::new(argv[0]),
        (Side::Guest, _) => {
            let mut c = CommandBuilder::new(env!("CARGO_BIN_EXE_coracle"));
            c.args(["run", "-it", "--network", "none"]);
            for (k, v) in ENV {
                c.arg("-e");
                c.arg(format!("{k}={v}"));
            }
            c.arg("-w");
            c.arg(cwd);
            if let Root::Debian = root {
                c.args(["-m", DEBIAN_MEMORY]);
            }
            c.arg("--");
            if let Root::Debian = root {
                c.arg(debian());
            }
            c
        }
    };
    if side == Side::Host {
        c.env_clear();
        c.env("PATH", PATH);
        c.env("TERM", "xterm");
        c.env("HOME", "/root");
        for (k, v) in ENV {
            c.env(k, v);
        }
    }
    c.cwd(cwd);
    match (side, root) {
        (Side::Host, Root::Busybox) => c.args(&argv[1..]),
        _ => c.args(argv),
    }
    c
}

/// Runs `script` on both sides and compares the pieces of output it collected.
fn compare(name: &str, root: Root, argv: &[&str], script: fn(&mut Session, Side) -> Vec<String>) {
    let cwd = match root {
        Root::Debian => PathBuf::from("/"),
        Root::Busybox => {
            let dir =
                std::env::temp_dir().join(format!("coracle-tty-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }
    };
    let run = |side: Side| {
        let label = format!("{name} ({side:?})");
        let mut s = Session::spawn(&label, command(side, root, &cwd, argv), ROWS, COLS);
        let mut pieces = script(&mut s, side);
        // Python ends by killing itself with SIGINT after an unhandled ^C (bpo-1054041): a
        // container's PID 1 survives that (pid_namespaces(7)) and exits 130 instead, which
        // is what docker reports for the host's death by SIGINT too.
        pieces.push(format!("exit status {}", s.wait()));
        pieces
    };
    let host = run(Side::Host);
    if let Root::Busybox = root {
        // The guest starts from the same empty directory.
        for e in std::fs::read_dir(&cwd).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
    }
    let guest = run(Side::Guest);
    if let Root::Busybox = root {
        let _ = std::fs::remove_dir_all(&cwd);
    }
    for (i, (h, g)) in host.iter().zip(&guest).enumerate() {
        assert_eq!(
            h, g,
            "{name}: piece {i} differs (left: host, right: Coracle); host: {host:#?} Coracle: {guest:#?}"
        );
    }
    assert_eq!(host.len(), guest.len(), "{name}");
}

/// The shell steps bash and busybox sh share: commands, history recall and editing, ^C
/// interrupting a foreground job, ^Z then fg, SIGWINCH from a resize, the exit status.
fn shell(s: &mut Session, _side: Side) -> Vec<String> {
    let mut out = vec![s.expect(PROMPT)];
    s.send("echo one\r");
    out.push(s.expect(PROMPT));
    // Up arrow recalls the line; three backspaces and new text edit it.
    s.send("\x1b[A");
    out.push(s.expect("echo one"));
    s.send("\x7f\x7f\x7ftwo\r");
    out.push(s.expect(PROMPT));
    // ^C ends the foreground job. It says it runs from `sh -c`, whose SIGINT kills it
    // (dash and ash die of a ^C as soon as it comes) or the sleep it execs: a bash subshell
    // would catch a ^C that comes before its exec with its own handler and go on to exec
    // the sleep, which then runs its 100 s (on Linux too, were the path search as slow as
    // a cold disk under TCG makes it).
    s.send("sh -c 'echo ready; exec sleep 100'\r");
    out.push(s.expect("ready\r\n"));
    s.send("\x03");
    out.push(s.expect(PROMPT));
    s.send("echo status $?\r");
    out.push(s.expect(PROMPT));
    // ^Z stops it, fg brings it back to the terminal.
    s.send("(echo ready; exec cat)\r");
    out.push(s.expect("ready\r\n"));
    s.send("\x1a");
    out.push(s.expect(PROMPT));
    s.send("fg\r");
    // bash shows the job as "( echo ready; exec cat )", busybox without the inner spaces.
    out.push(s.expect("exec cat"));
    out.push(s.expect(")\r\n"));
    s.send("back\r");
    out.push(s.expect("back\r\nback\r\n"));
    s.send("\x04");
    out.push(s.expect(PROMPT));
    // A resize reaches the foreground job as SIGWINCH, and the new size is the terminal's.
    s.send("(trap 'echo WINCH' WINCH; echo ready; while :; do sleep 0.1; done)\r");
    out.push(s.expect("ready\r\n"));
    s.resize(30, 100);
    out.push(s.expect("WINCH\r\n"));
    s.send("\x03");
    out.push(s.expect(PROMPT));
    s.send("stty size\r");
    out.push(s.expect(PROMPT));
    s.send("exit 3\r");
    out.push(s.rest());
    out
}

#[test]
fn bash_interactive() {
    compare(
        "bash",
        Root::Debian,
        &["/bin/bash", "--norc", "--noprofile"],
        shell,
    );
}

#[test]
fn busybox_sh_interactive() {
    compare("busybox-sh", Root::Busybox, &["/bin/busybox", "sh"], shell);
}

#[test]
fn python3_repl() {
    compare(
        "python3",
        Root::Debian,
        &["/usr/bin/python3", "-q"],
        |s, _| {
            let mut out = vec![s.expect(">>> ")];
            s.send("1 + 2\r");
            out.push(s.expect(">>> "));
            s.send("import os; os.get_terminal_size()\r");
            out.push(s.expect(">>> "));
            s.send("\x1b[A\x1b[A\r");
            out.push(s.expect(">>> "));
            // ^C during a sleep, in short sleeps: CPython's handler only sets a flag, which
            // it looks at between bytecodes and after a sleep that EINTR ended, so a ^C that
            // lands after the look and before the sleep's system call waits for the sleep's
            // end (on Linux too). With one 100 s sleep this test lost that race in most
            // runs: the first time.sleep(int) faults its code in from the cold disk under
            // TCG, and the ^C came during those reads. The loop looks again after each
            // 50 ms, so both sides show the same traceback wherever the ^C lands.
            s.send("import time\r");
            out.push(s.expect(">>> "));
            s.send("for i in range(4000): i or print('ready'); time.sleep(0.05)\r");
            out.push(s.expect("... "));
            s.send("\r");
            out.push(s.expect("ready\r\n"));
            s.send("\x03");
            out.push(s.expect(">>> "));
            s.send("\x04");
            out.push(s.rest());
            out
        },
    );
}

#[test]
fn mirb_repl() {
    compare("mirb", Root::Debian, &["/usr/bin/mirb"], |s, _| {
        let mut out = vec![s.expect("> ")];
        // Each answer, then the next prompt (the answer's " => " holds "> " too).
        for (line, answer) in [
            ("1 + 2", " => 3\r\n> "),
            ("[1, 2].map { |x| x * 2 }", " => [2, 4]\r\n> "),
            ("def sq(x)", "\r\n* "),
            ("x * x", "\r\n* "),
            ("end", " => :sq\r\n> "),
            ("sq(7)", " => 49\r\n> "),
        ] {
            s.send(line);
            s.send("\r");
            out.push(s.expect(answer));
        }
        s.send("quit\r");
        out.push(s.rest());
        out
    });
}

#[test]
fn stty_settings_and_size() {
    compare(
        "stty",
        Root::Debian,
        &["/bin/sh", "-c", "stty -a; stty size"],
        |s, _| vec![s.rest()],
    );
}

#[test]
fn busybox_vi_writes_a_file() {
    let argv = ["/bin/busybox", "sh", "-c", "vi f.txt && cat f.txt"];
    compare("vi", Root::Busybox, &argv, |s, _| {
        let mut out = vec![s.expect("f.txt")];
        // ESC apart from what follows: vi takes ESC and a quick key for one escape sequence.
        s.send("ihello from vi");
        out.push(s.expect("hello from vi"));
        s.send("\x1b");
        out.push(s.expect("- f.txt"));
        s.send(":wq\r");
        out.push(s.rest());
        out
    });
}

#[test]
fn less_pages() {
    let argv = ["/bin/sh", "-c", "seq 1 100 >/tmp/n; less /tmp/n; echo done"];
    compare("less", Root::Debian, &argv, |s, _| {
        let mut out = vec![s.expect("/tmp/n")];
        s.send(" ");
        out.push(s.expect("46"));
        s.send("q");
        out.push(s.rest());
        out
    });
}

#[test]
fn script_opens_a_pty_in_the_guest() {
    let argv = [
        "/usr/bin/script",
        "-q",
        "-c",
        "stty size; tty >/dev/null && echo on a tty",
        "/dev/null",
    ];
    compare("script", Root::Debian, &argv, |s, _| vec![s.rest()]);
}
