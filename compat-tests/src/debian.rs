//! The Debian root filesystem the `debian/` cases run real programs in: Debian 12 (bookworm)
//! from `debootstrap --variant=minbase`, plus [`PACKAGES`] installed with apt-get in a chroot.
//!
//! Built once and cached between runs, keyed by everything that goes into it (suite, variant,
//! package list, [`RECIPE`]): `$CORACLE_DEBIAN_CACHE`, else `$XDG_CACHE_HOME/coracle`, else
//! `~/.cache/coracle`, holds `debian-bookworm-<key>/` (a new package list builds a new one; the
//! old ones are removed). Building takes root (debootstrap, chroot), the network to the Debian
//! mirror (`$CORACLE_DEBIAN_MIRROR`, else the first `URIs:` of
//! `/etc/apt/sources.list.d/debian.sources`, else `deb.debian.org`) and about a minute; a lock
//! file in the cache directory makes concurrent suites wait for one build. The cases never
//! change the cached tree: the host side runs in an overlay on top of it (`run`), the guest side
//! in the archive `coracle run ROOT` packs from it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::exec;

/// What the cases run, installed with `apt-get install --no-install-recommends`.
pub(crate) const PACKAGES: &[&str] = &[
    "python3",
    "perl",
    "ruby",
    "lua5.4",
    "gawk",
    "sqlite3",
    "bash",
    "coreutils",
    "findutils",
    "tar",
    "gzip",
    "git",
    "openssl",
    "jq",
    "file",
    "xz-utils",
    "bc",
    // The servers tools/tests/servers.rs runs and `coracle bench --net` measures (issue 13).
    "nginx-light",
    "redis-server",
    "iperf3",
    // The terminal tests drive these on a pty (issue 16) and the tracing cases these (issue 17).
    "mruby",
    "less",
    "strace",
    "gdb",
];
const SUITE: &str = "bookworm";
const VARIANT: &str = "minbase";
/// Bump when the steps below change what the tree holds.
const RECIPE: u32 = 1;
/// What is emptied after installing: apt's downloads and lists, documentation and the logs of
/// the build, none of which a case reads (less to pack for every guest run), and `/dev`, whose
/// device nodes the archive cannot hold (the guest mounts its own, the host side binds the
/// host's).
const PRUNE: &[&str] = &[
    "dev",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "var/cache/apt/pkgcache.bin",
    "var/cache/apt/srcpkgcache.bin",
    "var/log",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
];
/// debootstrap plus apt take about a minute on a good link; allow a slow one.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1200);

/// The cache directory, from the environment as the module header says.
pub(crate) fn cache_dir() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("CORACLE_DEBIAN_CACHE") {
        return dir.into();
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("coracle");
    }
    match var("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/coracle"),
        None => PathBuf::from("/var/cache/coracle"),
    }
}

/// The cache key: FNV-1a of the recipe, so any change to it names a new tree.
pub(crate) fn key() -> String {
    let recipe = format!("{SUITE} {VARIANT} {RECIPE} {}", PACKAGES.join(" "));
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in recipe.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The mirror debootstrap and apt use.
fn mirror() -> String {
    if let Some(m) = std::env::var("CORACLE_DEBIAN_MIRROR")
        .ok()
        .filter(|m| !m.is_empty())
    {
        return m;
    }
    let sources =
        std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    first_uri(&sources).unwrap_or_else(|| "http://deb.debian.org/debian".into())
}

/// The first URI of a deb822 sources file.
pub(crate) fn first_uri(sources: &str) -> Option<String> {
    sources
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .and_then(|uris| uris.split_whitespace().next())
        .map(String::from)
}

/// The cached tree, built first when it is missing; `Err` says why it cannot be had.
pub(crate) fn root() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let done = cache.join(format!("debian-{SUITE}-{}", key()));
    if done.is_dir() {
        return Ok(done);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    let lock_path = cache.join("debian.lock");
    let lock =
        std::fs::File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if done.is_dir() {
        return Ok(done);
    }
    let partial = cache.join(format!("debian-{SUITE}-{}.partial", key()));
    let log_path = cache.join(format!("debian-{SUITE}-{}.log", key()));
    let mut log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let result = build(&partial, &mut log);
    // A proc left mounted (a step that died) would make the tree impossible to remove.
    let _ = Command::new("umount").arg(partial.join("proc")).output();
    result.map_err(|e| format!("{e} (log: {})", log_path.display()))?;
    std::fs::rename(&partial, &done)
        .map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
    remove_stale(&cache, &done);
    Ok(done)
}

/// Runs the recipe into `dir` (emptied first), logging every command's output to `log`.
fn build(dir: &Path, log: &mut std::fs::File) -> Result<(), String> {
    if exec_find("debootstrap").is_none() {
        return Err("debootstrap not found: install it (apt-get install debootstrap)".into());
    }
    if dir.exists() {
        let _ = Command::new("umount").arg(dir.join("proc")).output();
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    let mirror = mirror();
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .arg(format!("--variant={VARIANT}"))
        .arg(SUITE)
        .arg(dir)
        .arg(&mirror);
    step(debootstrap, log)?;
    let mut mount = Command::new("mount");
    mount.args(["-t", "proc", "proc"]).arg(dir.join("proc"));
    step(mount, log)?;
    let in_root = |args: &[&str]| {
        let mut command = Command::new("chroot");
        command
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C");
        command
    };
    let installed = step(in_root(&["apt-get", "update"]), log).and_then(|()| {
        let mut install = vec!["apt-get", "install", "-y", "--no-install-recommends"];
        install.extend_from_slice(PACKAGES);
        step(in_root(&install), log)
    });
    let mut umount = Command::new("umount");
    umount.arg(dir.join("proc"));
    let unmounted = step(umount, log);
    installed?;
    unmounted?;
    for path in PRUNE {
        let path = dir.join(path);
        if path.is_dir() {
            std::fs::remove_dir_all(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            std::fs::create_dir(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        } else if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Runs one step of the build, appending its output to `log`.
fn step(command: Command, log: &mut std::fs::File) -> Result<(), String> {
    let what = format!("{command:?}");
    let _ = writeln!(log, "$ {what}");
    let run = exec::run(command, None, BUILD_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    let _ = log.write_all(&run.stdout);
    let _ = log.write_all(&run.stderr);
    if run.status == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what} failed with status {}: {}",
            run.status,
            exec::last_line(&run.stderr)
                .or_else(|| exec::last_line(&run.stdout))
                .unwrap_or_default()
        ))
    }
}

/// Removes the trees and logs of other keys (a changed package list leaves its old tree).
fn remove_stale(cache: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return;
    };
    let keep_name = keep
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&format!("debian-{SUITE}-"));
        if ours && !name.starts_with(&keep_name) {
            let path = entry.path();
            let _ = Command::new("umount").arg(path.join("proc")).output();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

fn exec_find(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .or_else(|| crate::programs::find_in_path(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_follows_the_recipe() {
        let k = key();
        assert_eq!(k.len(), 16);
        assert_eq!(k, key());
    }

    #[test]
    fn mirror_from_deb822() {
        let text = "Types: deb\n# c\nURIs: http://example.invalid/debian http://b\nSuites: x\n";
        assert_eq!(
            first_uri(text).as_deref(),
            Some("http://example.invalid/debian")
        );
        assert_eq!(first_uri("Types: deb\n"), None);
    }
}
