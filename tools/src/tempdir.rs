//! A private temporary directory removed when dropped (holds the per-run initrd).
//!
//! A run killed by a signal never drops it, so names carry the owner's pid and each new
//! directory first sweeps away those whose owner is gone.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh `coracle-run-<pid>-*` directory under the system temp dir, mode 0700.
    pub fn new() -> io::Result<Self> {
        Self::new_in(&std::env::temp_dir())
    }

    /// [`TempDir::new`] under `base` (the image store keeps its temporary files on its own
    /// filesystem, so finished blobs are renamed into place).
    pub fn new_in(base: &Path) -> io::Result<Self> {
        use std::hash::{BuildHasher, Hasher};
        use std::os::unix::fs::DirBuilderExt;
        sweep_stale(base);
        let pid = std::process::id();
        let mut last_err = None;
        for _ in 0..16 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(pid);
            let path = base.join(format!("{PREFIX}{pid}-{:016x}", h.finish()));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(Self { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no unique temporary directory name")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

const PREFIX: &str = "coracle-run-";

/// Removes the directories of runs whose process no longer exists (best effort).
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory in /tmp is harmless.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_on_drop_and_stale_ones_swept() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir());
        drop(dir);
        assert!(!path.exists());

        // pid 0 never names a live process in /proc.
        let stale = std::env::temp_dir().join(format!("{PREFIX}0-test"));
        std::fs::create_dir_all(stale.join("sub")).unwrap();
        let live = TempDir::new().unwrap();
        assert!(!stale.exists());
        assert!(live.path().is_dir());
    }
}
