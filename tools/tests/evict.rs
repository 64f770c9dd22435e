//! The page cache under memory pressure in a real VM: a root on the block device
//! (`--root-device blk`) holding a file twice the size of guest memory, read whole twice and
//! mapped whole twice (private, then shared), gives the host's checksums: clean pages are
//! given back and read again instead of the program meeting ENOMEM or the OOM kill.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{build_c, stderr};

/// Guest memory (MiB) and the big file's size: twice as much.
const MEMORY_MIB: u64 = 32;
const BIG: usize = 64 << 20;

/// The root: busybox, `mapsum` and `/big`. Kept in cargo's scratch directory between runs,
/// so its files keep their inode numbers and mtimes and the EROFS image `coracle` writes of
/// it is reused from its cache instead of written again each run.
fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("evict-root");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    let busybox = root.join("bin/busybox");
    if !busybox.exists() {
        std::fs::copy("/bin/busybox", &busybox)
            .expect("/bin/busybox is missing: install busybox-static");
    }
    let big = root.join("big");
    if std::fs::metadata(&big).map(|m| m.len()).ok() != Some(BIG as u64) {
        std::fs::write(&big, noise(BIG)).unwrap();
    }
    let mapsum = build_c("mapsum", include_str!("evict/mapsum.c"));
    let dest = root.join("mapsum");
    if std::fs::read(&dest).ok() != std::fs::read(&mapsum).ok() {
        std::fs::copy(&mapsum, &dest).unwrap();
    }
    let _ = std::fs::remove_dir_all(mapsum.parent().unwrap());
    root
}

/// `len` bytes of xorshift noise (incompressible, the same every run).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// FNV-1a of `data`, as mapsum.c computes it.
fn fnv1a(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The host's `md5sum` of `file`, as busybox prints it for `/big`.
fn host_md5(file: &Path) -> String {
    let out = Command::new("md5sum").arg(file).output().expect("md5sum");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("{}  /big", text.split_whitespace().next().unwrap())
}

/// Runs `coracle args`, killed (and failing the test) if it has not ended after `secs`.
fn coracle_within(args: &[&str], secs: u64) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coracle");
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "coracle {args:?} still ran after {secs} s: {}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Reads and maps a file twice the size of guest memory, twice each, on two CPUs at once
/// (one process reads while another maps): the old page cache never gave a page back and
/// the first read ended in the OOM kill (status 137).
#[test]
fn a_file_larger_than_memory_reads_and_maps_twice() {
    let root = root();
    let big = std::fs::read(root.join("big")).unwrap();
    let mem = MEMORY_MIB.to_string();
    let script = "/mapsum /big > /tmp/map & busybox md5sum /big; busybox md5sum /big; wait $!; \
                  echo map $?; busybox cat /tmp/map";
    let out = coracle_within(
        &[
            "run",
            "--root-device",
            "blk",
            "-m",
            &mem,
            "--cpus",
            "2",
            "--network",
            "none",
            root.to_str().unwrap(),
            "busybox",
            "sh",
            "-c",
            script,
        ],
        300,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md5 = host_md5(&root.join("big"));
    let sum = fnv1a(&big);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{md5}\n{md5}\nmap 0\n{sum}\n{sum}\n")
    );
}
