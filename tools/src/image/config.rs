//! Docker's semantics for an image's config: what `docker run IMAGE [ARGS...]` executes.
//!
//! argv is Entrypoint + Cmd, where trailing arguments replace Cmd and `--entrypoint` replaces
//! Entrypoint and drops the image's Cmd (an empty `--entrypoint` clears it); the environment
//! is Docker's defaults, then the image's Env, then `--env-file` and `-e`, with HOME taken
//! from the user's passwd entry when nothing set it; the working directory is `-w`, else
//! WorkingDir, else `/`; the user is `-u`, else User, resolved as runc does in the image's
//! `/etc/passwd` and `/etc/group` (`name`, `uid`, with `:group`/`:gid`; a name must exist, a
//! number need not; supplementary groups are the groups listing the user's name when no group
//! is given).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use oci_spec::image::ImageConfiguration;

use super::tree::{FsTree, Node};
use crate::env::{Environment, DEFAULT_PATH};
use crate::error::RunError;
use crate::resolve::absolute;

/// The `docker run` options that meet the image's config.
#[derive(Debug, Default)]
pub struct RunSpec {
    /// Arguments after IMAGE (replace Cmd when not empty).
    pub args: Vec<OsString>,
    /// `--entrypoint`.
    pub entrypoint: Option<String>,
    /// `-u/--user`.
    pub user: Option<String>,
    /// `-w`, absolute.
    pub workdir: Option<Vec<u8>>,
    /// Docker's default variables (PATH, HOSTNAME, TERM), before the image's.
    pub defaults: Environment,
    /// `--env-file` then `-e`, in order.
    pub user_env: Vec<(OsString, OsString)>,
}

/// The user a program runs as, resolved in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
    /// From the passwd entry; `/` when there is none (runc's default).
    pub home: Vec<u8>,
}

/// What the kernel is to run.
#[derive(Debug)]
pub struct Process {
    pub argv: Vec<OsString>,
    pub env: Environment,
    pub cwd: Vec<u8>,
    pub user: User,
}

/// Combines the image's config with the options (no lookup of the command yet).
pub fn process(
    config: &ImageConfiguration,
    tree: &FsTree,
    spec: &RunSpec,
) -> Result<Process, RunError> {
    let image = config.config().clone().unwrap_or_default();
    let (entrypoint, cmd): (Vec<String>, Vec<String>) = match &spec.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (
            image.entrypoint().clone().unwrap_or_default(),
            image.cmd().clone().unwrap_or_default(),
        ),
    };
    let mut argv: Vec<OsString> = entrypoint.into_iter().map(OsString::from).collect();
    if spec.args.is_empty() {
        argv.extend(cmd.into_iter().map(OsString::from));
    } else {
        argv.extend(spec.args.iter().cloned());
    }
    if argv.is_empty() || argv[0].is_empty() {
        return Err(RunError::Usage(
            "no command specified: the image has no Entrypoint or Cmd; give one after the image"
                .into(),
        ));
    }

    let user_spec = spec
        .user
        .clone()
        .or_else(|| image.user().clone())
        .unwrap_or_default();
    let user = resolve_user(tree, &user_spec)?;

    let mut env = spec.defaults.clone();
    for var in image.env().iter().flatten() {
        let (k, v) = var.split_once('=').unwrap_or((var.as_str(), ""));
        if !k.is_empty() {
            env.set(k.into(), v.into());
        }
    }
    env.extend(spec.user_env.iter().cloned());
    if env.get("PATH").is_none() {
        env.set("PATH".into(), DEFAULT_PATH.into());
    }
    if env.get("HOME").is_none() {
        env.set("HOME".into(), OsString::from_vec(user.home.clone()));
    }

    let cwd = match (&spec.workdir, image.working_dir()) {
        (Some(dir), _) => absolute(b"/", dir),
        (None, Some(dir)) if !dir.is_empty() => absolute(b"/", dir.as_bytes()),
        _ => b"/".to_vec(),
    };
    Ok(Process {
        argv,
        env,
        cwd,
        user,
    })
}

/// runc's `GetExecUser` over the image's files.
pub fn resolve_user(tree: &FsTree, spec: &str) -> Result<User, RunError> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_file(tree, b"/etc/passwd");
    let group_file = read_file(tree, b"/etc/group");
    // name:password:uid:gid:gecos:home:shell
    let entries: Vec<Vec<&[u8]>> = passwd
        .split(|&b| b == b'\n')
        .map(|l| l.split(|&b| b == b':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let numeric = |s: &str| s.parse::<u32>().ok();
    let entry = match numeric(user_part) {
        _ if user_part.is_empty() => entries.iter().find(|f| f[2] == b"0"),
        Some(uid) => entries.iter().find(|f| parse_u32(f[2]) == Some(uid)),
        None => Some(
            entries
                .iter()
                .find(|f| f[0] == user_part.as_bytes())
                .ok_or_else(|| {
                    RunError::Usage(format!(
                        "unable to find user {user_part}: no matching entries in passwd file"
                    ))
                })?,
        ),
    };
    let uid = match numeric(user_part) {
        Some(uid) => uid,
        None => entry.and_then(|f| parse_u32(f[2])).unwrap_or(0),
    };
    let mut gid = entry.and_then(|f| parse_u32(f[3])).unwrap_or(0);
    let home = entry
        .map(|f| f[5].to_vec())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| b"/".to_vec());
    // name:password:gid:member,member
    let groups: Vec<Vec<&[u8]>> = group_file
        .split(|&b| b == b'\n')
        .map(|l| l.split(|&b| b == b':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    let mut supplementary = Vec::new();
    match group_part {
        Some("") => {}
        Some(g) => {
            gid = match numeric(g) {
                Some(gid) => gid,
                None => groups
                    .iter()
                    .find(|f| f[0] == g.as_bytes())
                    .and_then(|f| parse_u32(f[2]))
                    .ok_or_else(|| {
                        RunError::Usage(format!(
                            "unable to find group {g}: no matching entries in group file"
                        ))
                    })?,
            }
        }
        None => {
            if let Some(name) = entry.map(|f| f[0]) {
                for f in &groups {
                    let member = f[3].split(|&b| b == b',').any(|m| m == name);
                    if let (true, Some(g)) = (member, parse_u32(f[2])) {
                        if !supplementary.contains(&g) {
                            supplementary.push(g);
                        }
                    }
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        groups: supplementary,
        home,
    })
}

fn parse_u32(field: &[u8]) -> Option<u32> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn read_file(tree: &FsTree, path: &[u8]) -> Vec<u8> {
    match tree.resolve(path) {
        Ok(Some(Node::File(f))) => f.data.clone(),
        _ => Vec::new(),
    }
}

/// How `#!` interpreters may be stacked (Linux's binfmt recursion limit).
const MAX_SCRIPT_NESTING: usize = 4;

/// Finds the command as runc does (a name with `/` is a path relative to `cwd`, anything else
/// is searched in PATH) and checks it can run, with docker's statuses: 127 when nothing is
/// there, 126 when it is not an executable file or not a program the kernel can load.
/// Returns `.coracle/exec`: the absolute guest path, symlinks left for the kernel.
pub fn find_command(
    tree: &FsTree,
    cwd: &[u8],
    command: &OsString,
    path_var: &[u8],
) -> Result<Vec<u8>, RunError> {
    let shown = command.to_string_lossy().into_owned();
    let cannot = |why: String| RunError::CannotRun {
        program: shown.clone(),
        why,
    };
    let name = command.as_bytes();
    let candidates: Vec<Vec<u8>> = if name.contains(&b'/') {
        vec![absolute(cwd, name)]
    } else {
        path_var
            .split(|&b| b == b':')
            .map(|dir| absolute(cwd, &[dir, b"/", name].concat()))
            .collect()
    };
    let mut not_executable = None;
    for exec in candidates {
        match tree.resolve(&exec) {
            Ok(Some(Node::File(f))) if f.meta.perm & 0o111 != 0 => {
                check_program(tree, &shown, &f.data)?;
                return Ok(exec);
            }
            Ok(Some(Node::File(_))) => {
                not_executable.get_or_insert("permission denied (not executable)");
            }
            Ok(None) | Ok(Some(Node::Dir(_))) if name.contains(&b'/') => {
                return Err(cannot("is a directory".into()));
            }
            Ok(Some(_)) if name.contains(&b'/') => return Err(cannot("not a regular file".into())),
            _ => {}
        }
    }
    if let Some(why) = not_executable {
        return Err(cannot(why.into()));
    }
    Err(RunError::NotFound {
        program: shown,
        why: if name.contains(&b'/') {
            "no such file or directory".into()
        } else {
            "executable file not found in $PATH".into()
        },
    })
}

/// A loadable ELF, or a `#!` script whose interpreter (at most four levels deep) is one.
fn check_program(tree: &FsTree, shown: &str, data: &[u8]) -> Result<(), RunError> {
    let cannot = |why: String| RunError::CannotRun {
        program: shown.to_owned(),
        why,
    };
    let mut data = data.to_vec();
    for _ in 0..=MAX_SCRIPT_NESTING {
        let Some(line) = data.strip_prefix(b"#!") else {
            return check_elf(tree, shown, &data);
        };
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let interp = line
            .split(|&b| b == b' ' || b == b'\t')
            .find(|w| !w.is_empty())
            .ok_or_else(|| cannot("its #! line names no interpreter".into()))?
            .to_vec();
        let shown_interp = String::from_utf8_lossy(&interp).into_owned();
        data = match tree.resolve(&absolute(b"/", &interp)) {
            Ok(Some(Node::File(f))) if f.meta.perm & 0o111 != 0 => f.data.clone(),
            Ok(Some(_)) => {
                return Err(cannot(format!(
                    "its interpreter {shown_interp}: permission denied"
                )))
            }
            _ => {
                return Err(RunError::NotFound {
                    program: shown.to_owned(),
                    why: format!("its interpreter {shown_interp}: no such file or directory"),
                })
            }
        };
    }
    Err(cannot("too many levels of #! interpreters".into()))
}

/// A loadable ELF; a dynamic one needs its PT_INTERP interpreter in the image, itself a
/// loadable ELF without one (Linux's `load_elf_binary`: a missing interpreter is ENOENT).
fn check_elf(tree: &FsTree, shown: &str, data: &[u8]) -> Result<(), RunError> {
    let cannot = |why: String| RunError::CannotRun {
        program: shown.to_owned(),
        why,
    };
    let elf = coracle_loader::ElfFile::parse(data).map_err(|e| cannot(e.to_string()))?;
    let Some(r) = elf.interp() else {
        return Ok(());
    };
    let bytes = usize::try_from(r.offset)
        .ok()
        .zip(usize::try_from(r.offset.saturating_add(r.len)).ok())
        .and_then(|(start, end)| data.get(start..end))
        .unwrap_or_default();
    let interp = coracle_loader::interp_path(&r, bytes).map_err(|e| cannot(e.to_string()))?;
    let shown_interp = String::from_utf8_lossy(&interp).into_owned();
    match tree.resolve(&absolute(b"/", &interp)) {
        Ok(Some(Node::File(f))) if f.meta.perm & 0o111 != 0 => {
            let ld = coracle_loader::ElfFile::parse(&f.data)
                .map_err(|e| cannot(format!("its interpreter {shown_interp}: {e}")))?;
            match ld.interp() {
                None => Ok(()),
                Some(_) => Err(cannot(format!(
                    "its interpreter {shown_interp} has an interpreter itself"
                ))),
            }
        }
        Ok(Some(_)) => Err(cannot(format!(
            "its interpreter {shown_interp}: permission denied"
        ))),
        _ => Err(RunError::NotFound {
            program: shown.to_owned(),
            why: format!("its interpreter {shown_interp}: no such file or directory"),
        }),
    }
}

/// The working directory may be missing (the kernel creates it) but must not be a file.
pub fn check_workdir(tree: &FsTree, cwd: &[u8]) -> Result<(), RunError> {
    let bad = |why: &str| {
        RunError::Usage(format!(
            "the working directory {} is invalid in the image: {why}",
            String::from_utf8_lossy(cwd)
        ))
    };
    match tree.lookup(cwd, true, true) {
        Ok(key) => match tree.get(&key) {
            None | Some(Node::Dir(_)) => Ok(()),
            Some(_) => Err(bad("not a directory")),
        },
        // A missing parent is created along with it.
        Err(super::tree::LookupError::NotFound) => Ok(()),
        Err(e) => Err(bad(&e.to_string())),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
