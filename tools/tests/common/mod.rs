//! What the VM test files share: running the built `coracle` and building small static C
//! programs with musl-gcc into a scratch directory.

#![allow(dead_code)] // each test file uses its own subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs the `coracle` binary this test run built.
pub fn coracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .output()
        .expect("run coracle")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Builds the C `source` as a static program with musl-gcc into a fresh scratch directory
/// named after the test file and `name`; returns the program's path.
pub fn build_c(name: &str, source: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let exe = dir.join(name);
    let cc = Command::new("musl-gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&exe)
        .arg(&src)
        .status();
    assert!(
        cc.is_ok_and(|s| s.success()),
        "musl-gcc could not build {name} (apt-get install musl-tools)"
    );
    exe
}
