//! Builds the kernel for `x86_64-unknown-none` and hands it to `src/kernel_image.rs`.
//!
//! A nested `cargo build -p coracle-kernel` runs from the workspace root (so the root
//! `.cargo/config.toml` target flags apply) into its own target dir under OUT_DIR; the outer
//! build's variables that would leak into it (rustflags, target, wrappers, package metadata)
//! are removed. `CORACLE_KERNEL=<elf>` skips the nested build and embeds that file instead.
//! Before it, a toolchain without the kernel's target stops the build with the command that adds
//! it, instead of the nested build's "can't find crate for `core`".

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "x86_64-unknown-none";
const KERNEL_BIN: &str = "coracle-kernel";
/// The Cargo profile the kernel is built with (see the workspace Cargo.toml).
const PROFILE: &str = "kernel";

fn main() {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir
        .parent()
        .expect("tools/ lives inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    for dir in [
        "kernel",
        "syscalls",
        "loader",
        "vfs",
        "net",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CORACLE_KERNEL");

    let kernel = match env::var_os("CORACLE_KERNEL").filter(|v| !v.is_empty()) {
        Some(prebuilt) => PathBuf::from(prebuilt),
        None => build_kernel(&workspace, &out_dir),
    };
    let bytes = fs::read(&kernel).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read the kernel ELF {}: {e}",
            kernel.display()
        ))
    });
    if !bytes.starts_with(b"\x7fELF") {
        fail(&format!("{} is not an ELF file", kernel.display()));
    }
    fs::write(out_dir.join("kernel.elf"), &bytes)
        .unwrap_or_else(|e| fail(&format!("cannot write kernel.elf into OUT_DIR: {e}")));
    println!(
        "cargo:rustc-env=CORACLE_KERNEL_HASH={:016x}",
        fnv1a64(&bytes)
    );
}

/// Runs the nested cargo build and returns the kernel ELF's path.
fn build_kernel(workspace: &Path, out_dir: &Path) -> PathBuf {
    require_target(workspace);
    let target_dir = out_dir.join("kernel-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace).args([
        "build",
        "-p",
        "coracle-kernel",
        "--profile",
        PROFILE,
        "--target",
        TARGET,
        "--target-dir",
    ]);
    cmd.arg(&target_dir);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if leaks_from_outer_build(key) {
            cmd.env_remove(key);
        }
    }
    let status = cmd.status().unwrap_or_else(|e| {
        fail(&format!(
            "cannot run `{}` to build the kernel: {e}",
            cargo.to_string_lossy()
        ))
    });
    if !status.success() {
        fail(&format!(
            "building the kernel failed ({status}): `cargo build -p coracle-kernel --profile \
             {PROFILE} --target {TARGET}` in {}. Fix the kernel build (its errors are above), or set \
             CORACLE_KERNEL=/path/to/coracle-kernel to embed a prebuilt kernel ELF.",
            workspace.display()
        ));
    }
    target_dir.join(TARGET).join(PROFILE).join(KERNEL_BIN)
}

/// Stops the build, naming the command to run, when the toolchain has no standard library for
/// the kernel's target. `rust-toolchain.toml` names the target, but rustup adds it to an
/// installed toolchain only when it may install on its own: not with auto-install off
/// (`rustup set auto-install disable`, `RUSTUP_AUTO_INSTALL=0`), nor when `RUSTUP_TOOLCHAIN` or
/// `cargo +stable` picks the toolchain. When rustc cannot be asked, the nested build reports it.
fn require_target(workspace: &Path) {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(&rustc)
        .current_dir(workspace)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
    else {
        return;
    };
    if !output.status.success() {
        return;
    }
    let libdir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let has_core = fs::read_dir(&libdir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("libcore-"))
    });
    if !has_core {
        fail(&format!(
            "the Rust target {TARGET}, which the kernel is built for, is not installed in this \
             toolchain (no libcore in {}). rust-toolchain.toml names it, but rustup does not add \
             it with auto-install off or when RUSTUP_TOOLCHAIN or `+toolchain` picks the \
             toolchain. Add the targets with: \
             rustup target add x86_64-unknown-none x86_64-unknown-linux-musl",
            libdir.display()
        ));
    }
}

/// Variables set by the outer cargo (or a wrapper around it) that must not reach the nested
/// kernel build: they would retarget it, change its flags, or describe the wrong package.
fn leaks_from_outer_build(key: &str) -> bool {
    const EXACT: &[&str] = &[
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_ENCODED_RUSTDOCFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_BIN_NAME",
        "CARGO_CRATE_NAME",
        "OUT_DIR",
        "TARGET",
        "HOST",
        "NUM_JOBS",
        "OPT_LEVEL",
        "PROFILE",
        "DEBUG",
        "RUSTC_LINKER",
    ];
    const PREFIXES: &[&str] = &[
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_CFG_",
        "CARGO_FEATURE_",
        "CARGO_BIN_EXE_",
        "DEP_",
        "__CARGO",
    ];
    EXACT.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Stops the build with `message` (cargo shows a failing build script's stderr).
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
