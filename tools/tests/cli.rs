//! `coracle run` failures that happen before any VM starts: statuses and messages.

use std::path::PathBuf;
use std::process::{Command, Output};

fn coracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        // The checks below must fail before QEMU would be started; make sure it never is.
        .env("CORACLE_QEMU", "/nonexistent/qemu-must-not-run")
        .output()
        .expect("run coracle")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn missing_program_path_is_127() {
    let out = coracle(&["run", "/nonexistent/program", "arg"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("coracle: /nonexistent/program: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn name_not_in_path_is_127() {
    let out = coracle(&["run", "coracle-no-such-command-anywhere"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn text_file_is_126() {
    let path = scratch("script.sh");
    std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = coracle(&["run", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("coracle: "), "{}", stderr(&out));
}

#[test]
fn directory_is_126() {
    let out = coracle(&["run", "/"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
}

#[test]
fn dynamically_linked_binary_is_126() {
    // Debian's coreutils are dynamically linked; `true` found through PATH like a shell would.
    let out = coracle(&["run", "true"]);
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dynamically linked"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_program_is_a_usage_error() {
    let out = coracle(&["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("PROGRAM"), "{}", stderr(&out));
}

#[test]
fn bad_memory_is_a_usage_error() {
    let out = coracle(&["run", "-m", "lots", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
