//! Finding and checking the program to run, before any VM is started.
//!
//! The single-binary mode: a name without `/` is looked up in the host `PATH` the way a shell
//! does; anything else is a path relative to the current directory. In both modes the bytes
//! are checked by `coracle_loader` ([`read_executable`]) so that scripts, foreign or broken
//! ELF files and friends are reported here, with docker's 126/127 statuses. A dynamically
//! linked program brings its interpreter and libraries (`libraries`, packed by `packlist`).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::RunError;
use crate::libraries::{self, Closure, Flavour, HostFiles, SearchConfig};
use crate::packlist::PackList;

/// What `execvp` searches when `PATH` is unset (glibc's `confstr(_CS_PATH)`).
const DEFAULT_SEARCH_PATH: &str = "/bin:/usr/bin";

/// A program ready to be packed: its canonical host path, its bytes and its permission bits,
/// and for a dynamic program the files its dynamic linker loads.
#[derive(Debug)]
pub struct Program {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
    pub mtime: u32,
    /// The interpreter, libraries and their configuration files; empty for a static program.
    pub packed: PackList,
    /// What to tell the user before it runs (a runtime whose library tree is not packed).
    pub note: Option<String>,
}

/// Resolves `name` like `execvp` and checks it is an x86_64 ELF executable; for a dynamic one,
/// finds its libraries on the host, with `library_path` as the program's `LD_LIBRARY_PATH`.
pub fn find_program(
    name: &OsStr,
    host_path: Option<&OsStr>,
    cwd: &Path,
    library_path: Option<&OsStr>,
) -> Result<Program, RunError> {
    let shown = name.to_string_lossy().into_owned();
    let candidate = if name.as_bytes().contains(&b'/') {
        let path = cwd.join(name);
        if fs::symlink_metadata(&path).is_err() {
            return Err(RunError::NotFound {
                program: shown,
                why: "no such file or directory".into(),
            });
        }
        path
    } else {
        search_path(name, host_path.unwrap_or(DEFAULT_SEARCH_PATH.as_ref()), cwd).ok_or_else(
            || RunError::NotFound {
                program: shown.clone(),
                why: "command not found in PATH".into(),
            },
        )?
    };
    let cannot = |why: String| RunError::CannotRun {
        program: shown.clone(),
        why,
    };
    let path = fs::canonicalize(&candidate).map_err(|e| cannot(e.to_string()))?;
    let meta = fs::metadata(&path).map_err(|e| cannot(e.to_string()))?;
    if meta.is_dir() {
        return Err(cannot("is a directory".into()));
    }
    if !meta.is_file() {
        return Err(cannot("not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o111 == 0 {
        return Err(cannot("permission denied (not executable)".into()));
    }
    let bytes = read_executable(&shown, &path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    let (packed, note) = match interpreter(&bytes) {
        None => (PackList::default(), None),
        Some(interp) => {
            let flavour = Flavour::of_interpreter(&interp);
            let config = SearchConfig::host(flavour, library_path.map(OsStrExt::as_bytes));
            let closure = libraries::resolve(
                path.as_os_str().as_bytes(),
                &bytes,
                &config,
                &HostFiles { cwd },
            )
            .map_err(|e| match e {
                libraries::LibraryError::NotFound { .. } => RunError::NotFound {
                    program: shown.clone(),
                    why: e.to_string(),
                },
                e => cannot(e.to_string()),
            })?;
            let packed = pack_closure(&closure).map_err(|e| cannot(e.to_string()))?;
            (packed, runtime_note(&shown, &path, &closure))
        }
    };
    Ok(Program {
        path,
        bytes,
        mode: mode & 0o7777,
        mtime,
        packed,
        note,
    })
}

/// `PT_INTERP` of an ELF file, when it has one (read with goblin; a file goblin cannot read
/// has been judged by `coracle_loader` already).
pub(crate) fn interpreter(bytes: &[u8]) -> Option<Vec<u8>> {
    use goblin::elf::{program_header::PT_INTERP, Elf, ProgramHeader};
    let header = Elf::parse_header(bytes).ok()?;
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let headers =
        ProgramHeader::parse(bytes, header.e_phoff as usize, header.e_phnum as usize, ctx).ok()?;
    let interp = headers.iter().find(|ph| ph.p_type == PT_INTERP)?;
    let start = usize::try_from(interp.p_offset).ok()?;
    let len = usize::try_from(interp.p_filesz).ok()?;
    let raw = bytes.get(start..start.checked_add(len)?)?;
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    Some(raw[..end].to_vec())
}

/// The files of `closure` at the paths its dynamic linker opens, with its configuration file.
fn pack_closure(closure: &Closure) -> std::io::Result<PackList> {
    let mut list = PackList::default();
    list.add_host_file(&closure.interpreter)?;
    for library in &closure.libraries {
        let path = if library.path.starts_with(b"/") {
            library.path.clone()
        } else {
            // A relative DT_NEEDED path is opened from the working directory.
            let cwd = std::env::current_dir()?;
            cwd.join(OsStr::from_bytes(&library.path))
                .into_os_string()
                .into_vec()
        };
        list.add_host_file(&path)?;
    }
    let config = match closure.flavour {
        Flavour::Glibc => libraries::LD_SO_CACHE,
        Flavour::Musl => libraries::MUSL_PATH_FILE,
    };
    if Path::new(config).is_file() {
        list.add_host_file(config.as_bytes())?;
    }
    Ok(list)
}

/// Runtimes that load most of their code from a library tree (a standard library, modules)
/// that no ELF header names, and so cannot be packed from the host by following `DT_NEEDED`.
const TREE_RUNTIMES: &[&str] = &[
    "python", "perl", "ruby", "node", "nodejs", "php", "tclsh", "wish", "guile", "java", "R",
];

/// A note for a program that is one of [`TREE_RUNTIMES`] (by name or by a library it links).
fn runtime_note(shown: &str, path: &Path, closure: &Closure) -> Option<String> {
    let base = path.file_name()?.to_string_lossy().into_owned();
    let runtime_name = |name: &str| {
        TREE_RUNTIMES.iter().any(|r| {
            name.strip_prefix(r)
                .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
        })
    };
    let by_library = closure.libraries.iter().any(|l| {
        let name = String::from_utf8_lossy(&l.needed);
        ["libpython", "libperl", "libruby", "libnode", "libphp"]
            .iter()
            .any(|p| name.starts_with(p))
    });
    (runtime_name(&base) || by_library).then(|| {
        format!(
            "{shown} is a runtime whose standard library and modules live in the host's tree, \
             which is not packed (only the program, its dynamic linker and the libraries it \
             links are): give it a root filesystem, `coracle run ROOTFS_DIR {shown} ...`"
        )
    })
}

/// Reads the file at `path` and checks it is a static x86_64 ELF executable the kernel can
/// load; `shown` is the name in the error (126, like docker's "cannot run").
pub(crate) fn read_executable(shown: &str, path: &Path) -> Result<Vec<u8>, RunError> {
    let cannot = |why: String| RunError::CannotRun {
        program: shown.to_owned(),
        why,
    };
    let bytes = fs::read(path).map_err(|e| cannot(e.to_string()))?;
    if bytes.starts_with(b"#!") {
        return Err(cannot(
            "it is a script (#!): scripts are not supported yet; run its interpreter with the \
             script as an argument"
                .into(),
        ));
    }
    match coracle_loader::Executable::parse(&bytes) {
        // The interpreter and libraries are the caller's to find.
        Ok(_) | Err(coracle_loader::ElfError::Dynamic { .. }) => Ok(bytes),
        Err(e) => Err(cannot(e.to_string())),
    }
}

/// How many `#!` interpreters may be stacked (Linux's binfmt recursion limit).
const MAX_SCRIPT_NESTING: usize = 4;

/// Checks the command found in the root filesystem `root`: a static x86_64 ELF as for
/// [`read_executable`], or a `#!` script whose interpreter (after at most four levels of
/// scripts) is one, looked up inside the image as the kernel's execve will.
pub(crate) fn check_command(root: &Path, shown: &str, path: &Path) -> Result<(), RunError> {
    let cannot = |why: String| RunError::CannotRun {
        program: shown.to_owned(),
        why,
    };
    let mut path = path.to_path_buf();
    for _ in 0..=MAX_SCRIPT_NESTING {
        let mut head = Vec::new();
        fs::File::open(&path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 256), &mut head))
            .map_err(|e| cannot(e.to_string()))?;
        let Some(line) = head.strip_prefix(b"#!") else {
            let bytes = read_executable(shown, &path)?;
            return match interpreter(&bytes) {
                Some(interp) => check_interpreter(root, shown, &interp),
                None => Ok(()),
            };
        };
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let interp = line
            .split(|&b| b == b' ' || b == b'\t')
            .find(|w| !w.is_empty())
            .ok_or_else(|| cannot("its #! line names no interpreter".into()))?;
        let shown_interp = String::from_utf8_lossy(interp);
        path = crate::resolve::resolve_from(root, b"/", interp).map_err(|e| match e {
            crate::resolve::ResolveError::NotFound => RunError::NotFound {
                program: shown.to_owned(),
                why: format!("its interpreter {shown_interp}: no such file or directory"),
            },
            e => cannot(format!("its interpreter {shown_interp}: {e}")),
        })?;
        let meta = fs::metadata(&path).map_err(|e| cannot(e.to_string()))?;
        if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
            return Err(cannot(format!(
                "its interpreter {shown_interp}: permission denied"
            )));
        }
    }
    Err(cannot("too many levels of #! interpreters".into()))
}

/// A dynamic program's `PT_INTERP` must be in the image, as the kernel's execve will look for
/// it there (ENOENT: 127, like docker's "no such file or directory").
fn check_interpreter(root: &Path, shown: &str, interp: &[u8]) -> Result<(), RunError> {
    let shown_interp = String::from_utf8_lossy(interp);
    let host = crate::resolve::resolve(root, interp).map_err(|e| match e {
        crate::resolve::ResolveError::NotFound => RunError::NotFound {
            program: shown.to_owned(),
            why: format!("its dynamic linker {shown_interp} is not in the root filesystem"),
        },
        e => RunError::CannotRun {
            program: shown.to_owned(),
            why: format!("its dynamic linker {shown_interp}: {e}"),
        },
    })?;
    if !fs::metadata(&host).is_ok_and(|m| m.is_file()) {
        return Err(RunError::CannotRun {
            program: shown.to_owned(),
            why: format!("its dynamic linker {shown_interp} is not a regular file"),
        });
    }
    Ok(())
}

/// The first executable regular file named `name` in the `:`-separated `path` (an empty entry
/// means the current directory, as in POSIX `execvp`). If only non-executable matches exist,
/// the first of them is returned so the caller reports "permission denied", like a shell.
fn search_path(name: &OsStr, path: &OsStr, cwd: &Path) -> Option<PathBuf> {
    let mut not_executable = None;
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() {
            cwd.to_path_buf()
        } else {
            cwd.join(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        let Ok(meta) = fs::metadata(&candidate) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if meta.permissions().mode() & 0o111 != 0 {
            return Some(candidate);
        }
        not_executable.get_or_insert(candidate);
    }
    not_executable
}

/// The host `PATH`, for [`find_program`].
pub fn host_path_var() -> Option<OsString> {
    std::env::var_os("PATH")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempdir::TempDir;

    fn exe(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, b"#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn path_search_like_a_shell() {
        let tmp = TempDir::new().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        exe(&a, "tool", 0o644);
        let good = exe(&b, "tool", 0o755);
        fs::create_dir(a.join("dir")).unwrap();
        let path = OsString::from(format!("{}:{}", a.display(), b.display()));
        assert_eq!(search_path("tool".as_ref(), &path, tmp.path()), Some(good));
        assert_eq!(search_path("dir".as_ref(), &path, tmp.path()), None);
        assert_eq!(search_path("none".as_ref(), &path, tmp.path()), None);
        // Only a non-executable match: returned so the error says "permission denied".
        let only_a = a.clone().into_os_string();
        assert_eq!(
            search_path("tool".as_ref(), &only_a, tmp.path()),
            Some(a.join("tool"))
        );
        // An empty entry is the current directory.
        let here = exe(tmp.path(), "here", 0o755);
        assert_eq!(
            search_path("here".as_ref(), ":".as_ref(), tmp.path()),
            Some(here)
        );
    }

    #[test]
    fn a_root_filesystem_command_may_be_a_script() {
        let root = TempDir::new().unwrap();
        fs::create_dir(root.path().join("bin")).unwrap();
        let script = root.path().join("entry.sh");
        fs::write(&script, b"#! /bin/busybox sh -e\necho hi\n").unwrap();
        // The interpreter is looked up in the image: missing there is 127.
        let err = check_command(root.path(), "entry.sh", &script).unwrap_err();
        assert_eq!(err.exit_status(), 127);
        assert!(err.to_string().contains("/bin/busybox"), "{err}");
        fs::copy("/bin/busybox", root.path().join("bin/busybox")).unwrap();
        assert!(check_command(root.path(), "entry.sh", &script).is_ok());
        // A script that is its own interpreter loops.
        let selfish = exe(root.path(), "bin/sh", 0o755);
        let err = check_command(root.path(), "sh", &selfish).unwrap_err();
        assert_eq!(err.exit_status(), 126);
        assert!(err.to_string().contains("too many levels"), "{err}");
        let junk = root.path().join("junk");
        fs::write(&junk, b"not a program\n").unwrap();
        let err = check_command(root.path(), "junk", &junk).unwrap_err();
        assert_eq!(err.exit_status(), 126);
    }

    #[test]
    fn errors_have_docker_statuses() {
        let tmp = TempDir::new().unwrap();
        let err = find_program("./missing".as_ref(), None, tmp.path(), None).unwrap_err();
        assert_eq!(err.exit_status(), 127);
        let err = find_program(
            "missing".as_ref(),
            Some("/nonexistent".as_ref()),
            tmp.path(),
            None,
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), 127);
        exe(tmp.path(), "script", 0o755);
        let err = find_program("./script".as_ref(), None, tmp.path(), None).unwrap_err();
        assert_eq!(err.exit_status(), 126);
        assert!(
            err.to_string().contains("scripts are not supported yet"),
            "{err}"
        );
        fs::write(tmp.path().join("text"), b"hello").unwrap();
        fs::set_permissions(tmp.path().join("text"), fs::Permissions::from_mode(0o755)).unwrap();
        let err = find_program("./text".as_ref(), None, tmp.path(), None).unwrap_err();
        assert_eq!(err.exit_status(), 126);
        assert!(err.to_string().contains("not an ELF file"), "{err}");
        exe(tmp.path(), "plain", 0o644);
        let err = find_program("./plain".as_ref(), None, tmp.path(), None).unwrap_err();
        assert_eq!(err.exit_status(), 126);
        assert!(err.to_string().contains("permission denied"), "{err}");
        let err = find_program("./".as_ref(), None, tmp.path(), None).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }
}
