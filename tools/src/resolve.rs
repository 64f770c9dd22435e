//! Paths and commands looked up inside a root filesystem on the host, never outside it.
//!
//! [`resolve`] follows a guest path component by component the way the guest kernel will
//! (like `openat2(RESOLVE_IN_ROOT)`): an absolute symlink target starts again at the root, `..`
//! stops at the root, at most [`MAX_SYMLINKS`] symlinks. [`find_command`] is runc's lookup of
//! COMMAND on top of it. `launch` calls both before anything is packed.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::RunError;

/// Linux's limit on symlinks followed in one lookup (`MAXSYMLINKS`, path_resolution(7)).
pub const MAX_SYMLINKS: u32 = 40;

/// Why a guest path does not lead anywhere, with the `errno` name the guest would see.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no such file or directory")]
    NotFound,
    #[error("not a directory")]
    NotADirectory,
    #[error("too many levels of symbolic links")]
    Loop,
    #[error("{0}")]
    Io(io::Error),
}

/// The host path of what the absolute guest `path` names in the tree at `root` (a canonical
/// directory), every symlink followed inside the tree. The result contains no symlink below
/// `root`, so opening it on the host cannot leave the tree.
pub fn resolve(root: &Path, path: &[u8]) -> Result<PathBuf, ResolveError> {
    let mut walk = Walk::new(root);
    walk.follow(path, false)?;
    walk.host()
}

/// The host path of what `path` names relative to the working directory `workdir`, which the
/// kernel creates (`mkdir -p`) when it is missing: `..` may climb out of those new directories,
/// nothing else is in them.
pub(crate) fn resolve_from(
    root: &Path,
    workdir: &[u8],
    path: &[u8],
) -> Result<PathBuf, ResolveError> {
    let mut walk = Walk::new(root);
    if !path.starts_with(b"/") {
        walk.follow(workdir, true)?;
    }
    walk.follow(path, false)?;
    walk.host()
}

/// A lookup in progress, as in the kernel's path walk.
struct Walk<'a> {
    root: &'a Path,
    /// Components reached so far, symlinks resolved: real directories, then `missing` ones.
    done: Vec<Vec<u8>>,
    /// How many of the last components of `done` do not exist (yet).
    missing: usize,
    links: u32,
}

impl<'a> Walk<'a> {
    fn new(root: &'a Path) -> Self {
        Self {
            root,
            done: Vec::new(),
            missing: 0,
            links: 0,
        }
    }

    /// Walks `path` from where the lookup is (from the root if it is absolute). With
    /// `create`, missing components are taken as directories about to be made.
    fn follow(&mut self, path: &[u8], create: bool) -> Result<(), ResolveError> {
        if path.starts_with(b"/") {
            self.done.clear();
            self.missing = 0;
        }
        let mut todo: VecDeque<Vec<u8>> = components(path).collect();
        while let Some(part) = todo.pop_front() {
            if part == b".." {
                self.done.pop();
                self.missing = self.missing.saturating_sub(1);
                continue;
            }
            self.done.push(part);
            if self.missing > 0 {
                if !create {
                    return Err(ResolveError::NotFound);
                }
                self.missing += 1;
                continue;
            }
            let host = host_path(self.root, &self.done);
            let meta = match fs::symlink_metadata(&host) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                    self.missing = 1;
                    continue;
                }
                Err(e) => {
                    return Err(match e.kind() {
                        io::ErrorKind::NotFound => ResolveError::NotFound,
                        io::ErrorKind::NotADirectory => ResolveError::NotADirectory,
                        _ => ResolveError::Io(e),
                    })
                }
            };
            if meta.file_type().is_symlink() {
                self.links += 1;
                if self.links > MAX_SYMLINKS {
                    return Err(ResolveError::Loop);
                }
                self.done.pop();
                let target = fs::read_link(&host)
                    .map_err(ResolveError::Io)?
                    .into_os_string()
                    .into_vec();
                if target.starts_with(b"/") {
                    self.done.clear();
                }
                for part in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    todo.push_front(part);
                }
            } else if !meta.is_dir() && (create || !todo.is_empty()) {
                return Err(ResolveError::NotADirectory);
            }
        }
        Ok(())
    }

    /// The host path reached; an error if it does not exist.
    fn host(&self) -> Result<PathBuf, ResolveError> {
        match self.missing {
            0 => Ok(host_path(self.root, &self.done)),
            _ => Err(ResolveError::NotFound),
        }
    }
}

/// Checks that `workdir` can be the working directory: a directory, or missing (the kernel
/// creates it, as docker does), but not a file or a symlink loop.
pub fn check_workdir(root: &Path, workdir: &[u8]) -> Result<(), ResolveError> {
    Walk::new(root).follow(workdir, true)
}

/// The components of a path, without empty ones and `.` (`..` is kept: its meaning depends
/// on the symlinks before it).
fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

fn host_path(root: &Path, parts: &[Vec<u8>]) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(OsStr::from_bytes(part));
    }
    path
}

/// `path` made absolute against `dir` and tidied lexically: no empty or `.` components. `..`
/// stays, since only the guest kernel may decide what it means after a symlink.
pub fn absolute(dir: &[u8], path: &[u8]) -> Vec<u8> {
    let joined: Vec<u8> = if path.starts_with(b"/") {
        path.to_vec()
    } else {
        [dir, b"/", path].concat()
    };
    let mut out = Vec::with_capacity(joined.len() + 1);
    for part in components(&joined) {
        out.push(b'/');
        out.extend_from_slice(&part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// A command found in the root filesystem.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// The absolute guest path as looked up, symlinks not resolved (the kernel resolves them,
    /// so `/proc/self/exe` shows the target as on Linux): `.coracle/exec`.
    pub exec: Vec<u8>,
    /// The host file it resolves to inside the tree.
    pub host: PathBuf,
}

/// Finds COMMAND as runc does: a name with a `/` is a path (relative to `workdir`), anything
/// else is searched in the `:`-separated `search` (the container's `PATH`; an empty or
/// relative entry is relative to `workdir`). Statuses follow docker: 127 when nothing is
/// there, 126 when it is not an executable regular file. The ELF checks come later.
pub fn find_command(
    root: &Path,
    workdir: &[u8],
    command: &OsStr,
    search: &[u8],
) -> Result<Command, RunError> {
    let shown = command.to_string_lossy().into_owned();
    let cannot = |why: String| RunError::CannotRun {
        program: shown.clone(),
        why,
    };
    let name = command.as_bytes();
    if name.contains(&b'/') {
        let exec = absolute(workdir, name);
        let host = match resolve_from(root, workdir, name) {
            Ok(host) => host,
            Err(ResolveError::NotFound) => {
                return Err(RunError::NotFound {
                    program: shown,
                    why: "no such file or directory".into(),
                })
            }
            Err(e) => return Err(cannot(e.to_string())),
        };
        let meta = fs::metadata(&host).map_err(|e| cannot(e.to_string()))?;
        if meta.is_dir() {
            return Err(cannot("is a directory".into()));
        }
        if !meta.is_file() {
            return Err(cannot("not a regular file".into()));
        }
        if meta.permissions().mode() & 0o111 == 0 {
            return Err(cannot("permission denied (not executable)".into()));
        }
        return Ok(Command { exec, host });
    }
    let mut not_executable = false;
    if !name.is_empty() {
        for dir in search.split(|&b| b == b':') {
            let candidate = match dir {
                b"" => name.to_vec(),
                _ => [dir, b"/", name].concat(),
            };
            let exec = absolute(workdir, &candidate);
            let Ok(host) = resolve_from(root, workdir, &candidate) else {
                continue;
            };
            match fs::metadata(&host) {
                Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {
                    return Ok(Command { exec, host })
                }
                // Like a shell: only a non-executable match means "permission denied".
                Ok(meta) if meta.is_file() => not_executable = true,
                _ => {}
            }
        }
    }
    if not_executable {
        return Err(cannot(
            "permission denied (found in $PATH but not executable)".into(),
        ));
    }
    Err(RunError::NotFound {
        program: shown,
        why: "executable file not found in $PATH".into(),
    })
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
