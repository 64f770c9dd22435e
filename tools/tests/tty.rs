//! `coracle run -t`: the program gets a terminal on fds 0-2, and the terminal ioctls write
//! exactly the kernel ABI's structs; interactive programs (shells, REPLs, vi, less, script)
//! driven through a host pseudo-terminal show what they show on a host pty. A real VM under
//! TCG unless CORACLE_ACCEL says otherwise.

mod common;
#[path = "tty/scenarios.rs"]
mod scenarios;
#[path = "tty/session.rs"]
mod session;

use common::{build_c, coracle};

/// TCGETS fills the kernel's `struct termios` (36 bytes), not a libc's larger one (glibc's and
/// musl's are 60): the bytes after it stay as they were, and tcgetattr succeeds.
#[test]
fn tcgets_writes_the_36_byte_kernel_termios() {
    let exe = build_c(
        "tcgets",
        r#"#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
int main(void) {
    unsigned char buf[64];
    memset(buf, 0xa5, sizeof buf);
    long r = syscall(SYS_ioctl, 0, TCGETS, buf);
    int last = -1;
    for (int i = 0; i < 64; i++) if (buf[i] != 0xa5) last = i;
    struct termios t;
    int ok = tcgetattr(1, &t) == 0 && (t.c_lflag & ICANON);
    printf("ioctl=%ld last_written<36=%d tcgetattr=%d isatty=%d\n", r, last < 36, ok, isatty(2));
    return 0;
}
"#,
    );
    let out = coracle(&["run", "-t", exe.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ioctl=0 last_written<36=1 tcgetattr=1 isatty=1"),
        "{stdout}"
    );
}

/// The newcomer's `-t` command: glibc's tcgetattr under Debian's static busybox used to smash
/// its stack canary ("stack smashing detected", 134).
#[test]
fn busybox_tty_runs_with_a_terminal() {
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "/bin/busybox is missing: install busybox-static"
    );
    let out = coracle(&["run", "-t", "/bin/busybox", "tty"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("stack smashing"), "{err}");
    assert_ne!(out.status.code(), Some(134), "{err}");
    // busybox tty prints the terminal's name, or "not a tty" with status 1 when it has no
    // name to give; either way isatty(0) held (status 0 or 1, never 2).
    assert!(matches!(out.status.code(), Some(0 | 1)), "{err}");
}
