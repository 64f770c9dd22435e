//! Scratch space on the host: the directories the fs programs work in and the test root
//! filesystems, one fresh directory per case, removed when the case is done.
//!
//! It lives under `/dev/shm` when there is one: Linux mounts a tmpfs there, and Coracle's root
//! and `/tmp` are tmpfs too, so directory sizes, block counts and listing order agree. Without
//! it the suite falls back to `compat-tests/work/` (the comparisons that depend on the file
//! system may then fail, never pass wrongly).

use std::path::{Path, PathBuf};

/// Where Linux keeps a tmpfs.
const SHM: &str = "/dev/shm";

/// The suite's scratch root: `/dev/shm/coracle-compat-<pid>`, made on first use.
#[derive(Debug)]
pub(crate) struct Scratch {
    root: PathBuf,
}

impl Scratch {
    pub(crate) fn new() -> Self {
        let name = format!("coracle-compat-{}", std::process::id());
        let shm = Path::new(SHM);
        let parent = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            crate::programs::work_dir()
        };
        Self {
            root: parent.join(name),
        }
    }

    /// A fresh, empty directory for `case` (its name made into one path component) and
    /// `what`; removed again when the returned value is dropped.
    pub(crate) fn dir(&self, case: &str, what: &str) -> Result<ScratchDir, String> {
        let component: String = case
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = self.root.join(format!("{component}.{what}"));
        if path.exists() {
            std::fs::remove_dir_all(&path)
                .map_err(|e| format!("cannot clear {}: {e}", path.display()))?;
        }
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(ScratchDir { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Every case removed its own directories; a leftover (say a tmpfs a crashed program
        // left mounted) keeps the root, which is better than failing the run over it.
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// One case's directory; removed with everything in it on drop.
#[derive(Debug)]
pub(crate) struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_are_fresh_and_removed() {
        let scratch = Scratch {
            root: std::env::temp_dir().join(format!("coracle-scratch-test-{}", std::process::id())),
        };
        let path;
        {
            let dir = scratch.dir("c/fs_files/musl/microvm", "host").unwrap();
            path = dir.path().to_path_buf();
            assert_eq!(
                path.file_name().unwrap(),
                "c_fs_files_musl_microvm.host",
                "one component per case"
            );
            std::fs::write(path.join("left-over"), b"x").unwrap();
            let again = scratch.dir("c/fs_files/musl/microvm", "host").unwrap();
            assert_eq!(std::fs::read_dir(again.path()).unwrap().count(), 0);
        }
        assert!(!path.exists());
        drop(scratch);
    }
}
