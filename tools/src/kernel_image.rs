//! The kernel ELF embedded at build time (see build.rs), and its on-disk cache.
//!
//! QEMU needs a file, so the embedded bytes are written once to
//! `$XDG_CACHE_HOME/coracle/kernel-<hash>.elf` (or `~/.cache/...`, or the temp dir), named by
//! a hash of the bytes so that different builds never share a file; the write goes through a
//! temporary name and `rename`, so concurrent runs never see a partial kernel. Each build adds
//! a file, so writing one removes the kernels no run has used for [`STALE`] (a run refreshes
//! the date of the file it uses, at most daily), and the cache stays a few files however many
//! builds pass through it (a CI cache, a developer's machine).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long an unused kernel file stays in the cache.
const STALE: Duration = Duration::from_secs(3 * 24 * 3600);
/// How old a used file's date may get before a run refreshes it.
const REFRESH: Duration = Duration::from_secs(24 * 3600);

/// The kernel built by build.rs.
pub(crate) static KERNEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.elf"));
/// FNV-1a 64 of [`KERNEL`], computed by build.rs.
const KERNEL_HASH: &str = env!("CORACLE_KERNEL_HASH");

/// The path of the kernel file, written on first use.
pub fn kernel_path() -> io::Result<PathBuf> {
    let name = format!("kernel-{KERNEL_HASH}.elf");
    let mut last_err = None;
    for dir in cache_dirs() {
        match ensure_file(&dir, &name, KERNEL) {
            Ok(path) => return Ok(path),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no cache directory")))
}

pub(crate) fn cache_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(xdg).join("coracle"));
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(home).join(".cache").join("coracle"));
    }
    dirs.push(std::env::temp_dir().join(format!("coracle-cache-{}", uid_hint())));
    dirs
}

/// Something user-specific for the shared temp dir, so users do not trip over each other's
/// directory permissions.
fn uid_hint() -> String {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "user".into())
}

/// Makes `dir/name` hold `bytes`, reusing an existing file of the right size.
fn ensure_file(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(name);
    if let Ok(m) = fs::metadata(&path) {
        if m.is_file() && m.len() == bytes.len() as u64 {
            if age(&m) > REFRESH {
                // Best effort: a read-only cache still serves the file.
                let _ = fs::File::options()
                    .append(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
            }
            return Ok(path);
        }
    }
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, &path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    remove_stale(dir, name);
    Ok(path)
}

fn age(m: &fs::Metadata) -> Duration {
    m.modified()
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

/// Removes the other kernels in `dir` unused for [`STALE`] (best effort).
fn remove_stale(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kernel = name.starts_with("kernel-") && name.ends_with(".elf");
        if kernel && name != keep && entry.metadata().is_ok_and(|m| age(&m) > STALE) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    #[test]
    fn writes_once_and_reuses() {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path().join("a/b");
        let path = ensure_file(&dir, "k.elf", b"kernel").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"kernel");
        assert_eq!(ensure_file(&dir, "k.elf", b"kernel").unwrap(), path);
        // A truncated leftover is replaced.
        fs::write(&path, b"ker").unwrap();
        ensure_file(&dir, "k.elf", b"kernel").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"kernel");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_new_kernel_removes_the_ones_unused_for_days() {
        let tmp = TempDir::new().unwrap();
        let dir = tmp.path();
        let old = SystemTime::now() - STALE - Duration::from_secs(60);
        for name in ["kernel-old.elf", "kernel-recent.elf", "other-old.bin"] {
            fs::write(dir.join(name), b"x").unwrap();
        }
        for name in ["kernel-old.elf", "other-old.bin"] {
            let f = fs::File::options()
                .append(true)
                .open(dir.join(name))
                .unwrap();
            f.set_modified(old).unwrap();
        }
        ensure_file(dir, "kernel-new.elf", b"kernel").unwrap();
        let mut left: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["kernel-new.elf", "kernel-recent.elf", "other-old.bin"]
        );
    }

    #[test]
    fn embedded_kernel_is_an_elf() {
        assert!(KERNEL.starts_with(b"\x7fELF") || KERNEL.is_empty());
    }
}
