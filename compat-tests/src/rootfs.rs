//! The test root filesystem the `rootfs/` and `script/` cases run in: Debian's static busybox
//! with a symlink per applet the cases use, a small `/data` tree, the shell scripts of
//! `compat-tests/scripts/` in `/scripts`, `/etc/passwd` and the usual empty directories. The
//! host side runs in it with `chroot`, the guest side with `coracle run ROOT`. The guest's
//! `/dev` is Coracle's own; the host's gets `/dev/null` (`add_dev_null`), which the shell opens
//! for every background job.
//!
//! Built from scratch for every case (the host side may change it), the same way every time:
//! entries are created in path order (Linux tmpfs lists a directory newest first, and Coracle
//! unpacks its initrd in path order, so both list in the same order), modes are set
//! explicitly (no umask), and every entry, symlinks and directories included, gets a fixed
//! mtime and atime. `archive.tar` is written here; `fruits.txt.gz` and `sums.md5` come from
//! the host's busybox.

use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::exec;

/// The applets the cases call through a `/bin/<applet>` symlink or by name.
pub(crate) const APPLETS: &[&str] = &[
    "awk", "cat", "chmod", "cut", "echo", "expr", "false", "grep", "gunzip", "head", "ls",
    "md5sum", "mkfifo", "sed", "seq", "setsid", "sh", "sleep", "sort", "stat", "tail", "tr",
    "true", "wc", "yes",
];

/// 2021-03-04 05:06:07 UTC: entries get this mtime plus a minute per entry (so `ls -t` has
/// no ties).
const BASE_MTIME: i64 = 1_614_834_367;
/// 2000-01-02 03:04:05 UTC: the mtime of `/data/dated.txt`.
pub(crate) const DATED_MTIME: i64 = 946_782_245;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    /// Another name for the file at this (earlier) path.
    HardLink(&'static str),
    Symlink(&'static str),
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: Kind,
    mode: u32,
    owner: (u32, u32),
    mtime: Option<i64>,
}

fn entry(path: &str, kind: Kind, mode: u32) -> Entry {
    Entry {
        path: path.to_string(),
        kind,
        mode,
        owner: (0, 0),
        mtime: None,
    }
}

fn file(path: &str, mode: u32, bytes: &[u8]) -> Entry {
    entry(path, Kind::File(bytes.to_vec()), mode)
}

const FRUITS: &[u8] = b"pear\napple\napple\nfig\n\xc3\xa9clair\nbanana\ncherry\n";
const NOTES: &[u8] = b"Notes on the test tree.\n\
\tapple trees: 3\n\
line with  two  spaces\n\
\n\
last line without a newline";

/// The entries before the host busybox adds its outputs, sorted by path; `scripts` are the
/// files of `/scripts` (name, content).
fn entries(busybox: &[u8], scripts: &[(String, Vec<u8>)]) -> Vec<Entry> {
    let binary: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let mut list =
        vec![
        entry("bin", Kind::Dir, 0o755),
        file("bin/busybox", 0o755, busybox),
        entry("data", Kind::Dir, 0o755),
        file("data/archive.tar", 0o644, &archive()),
        file("data/binary.bin", 0o644, &binary),
        entry("data/dangling", Kind::Symlink("missing"), 0o777),
        Entry {
            mtime: Some(DATED_MTIME),
            ..file("data/dated.txt", 0o644, b"dated\n")
        },
        file("data/empty", 0o644, b""),
        file("data/fruits-v2.txt", 0o644, b"pear\napple\nfig\nbanana\ncherry\ndate\n"),
        file("data/fruits.txt", 0o644, FRUITS),
        entry("data/link", Kind::Symlink("fruits.txt"), 0o777),
        entry("data/nested", Kind::Dir, 0o755),
        entry("data/nested/deeper", Kind::Dir, 0o700),
        file("data/nested/deeper/leaf.txt", 0o600, b"leaf\n"),
        // The first name in path order holds the content; notes.txt is a second name for it.
        file("data/nested/notes-link", 0o644, NOTES),
        entry("data/notes.txt", Kind::HardLink("data/nested/notes-link"), 0o644),
        file(
            "data/numbers.csv",
            0o644,
            b"name,count,colour\nalpha,3,red\nbeta,10,green\ngamma,2,blue\ndelta,10,red\n",
        ),
        Entry {
            owner: (1000, 100),
            ..file("data/owned", 0o640, b"owned by 1000:100\n")
        },
        file("data/run.sh", 0o755, b"#!/bin/sh\necho run\n"),
        entry("dev", Kind::Dir, 0o755),
        entry("etc", Kind::Dir, 0o755),
        file("etc/group", 0o644, b"root:x:0:\nusers:x:100:\nnogroup:x:65534:\n"),
        // Where `coracle run` writes the container's network files, in place (as Docker
        // bind-mounts them), so listings of /etc match the host's.
        file("etc/hostname", 0o644, b""),
        file("etc/hosts", 0o644, b""),
        file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        file("etc/resolv.conf", 0o644, b""),
        entry("proc", Kind::Dir, 0o555),
        entry("root", Kind::Dir, 0o700),
        entry("scripts", Kind::Dir, 0o755),
        entry("sys", Kind::Dir, 0o555),
        entry("tmp", Kind::Dir, 0o1777),
    ];
    for applet in APPLETS {
        list.push(entry(
            &format!("bin/{applet}"),
            Kind::Symlink("busybox"),
            0o777,
        ));
    }
    for (name, bytes) in scripts {
        list.push(file(&format!("scripts/{name}"), 0o755, bytes));
    }
    list.sort_by(|a, b| a.path.cmp(&b.path));
    list
}

/// The shell scripts of `compat-tests/scripts/` (name, content), sorted by name.
pub(crate) fn scripts() -> Result<Vec<(String, Vec<u8>)>, String> {
    let dir = crate::programs::scripts_dir();
    let what = |e: std::io::Error| format!("{}: {e}", dir.display());
    let mut scripts = Vec::new();
    for item in std::fs::read_dir(&dir).map_err(what)? {
        let path = item.map_err(what)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".sh") {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            scripts.push((name.to_string(), bytes));
        }
    }
    scripts.sort();
    Ok(scripts)
}

/// Makes `ROOT/dev/null` on the host side (the guest has Coracle's `/dev`): ash opens it as
/// the stdin of every background job of a non-interactive shell.
pub(crate) fn add_dev_null(root: &Path, busybox: &Path) -> Result<(), String> {
    let mut command = Command::new(busybox);
    command
        .args(["mknod", "-m", "666"])
        .arg(root.join("dev/null"))
        .args(["c", "1", "3"]);
    run_busybox(command, None).map(drop)
}

/// Builds the tree in the empty directory `root`, with the busybox at `busybox`.
pub(crate) fn build(root: &Path, busybox: &Path) -> Result<(), String> {
    let bytes =
        std::fs::read(busybox).map_err(|e| format!("cannot read {}: {e}", busybox.display()))?;
    let mut list = entries(&bytes, &scripts()?);
    let gz = host_gzip(busybox, FRUITS)?;
    list.push(file("data/fruits.txt.gz", 0o644, &gz));
    list.sort_by(|a, b| a.path.cmp(&b.path));
    for item in &list {
        create(root, item)?;
    }
    let sums = host_md5sums(busybox, root, &["data/binary.bin", "data/fruits.txt"])?;
    let sums_entry = file("data/sums.md5", 0o644, &sums);
    create(root, &sums_entry)?;
    list.push(sums_entry);
    list.sort_by(|a, b| a.path.cmp(&b.path));

    // Owners, modes and times last: creating an entry changes its directory's mtime.
    for (index, item) in list.iter().enumerate() {
        let path = root.join(&item.path);
        let what = |e: std::io::Error| format!("{}: {e}", path.display());
        if matches!(item.kind, Kind::HardLink(_)) {
            continue;
        }
        lchown(&path, Some(item.owner.0), Some(item.owner.1)).map_err(what)?;
        let mtime = item.mtime.unwrap_or(BASE_MTIME + 60 * index as i64);
        if let Kind::Symlink(_) = item.kind {
            set_symlink_time(busybox, &path, mtime)?;
        } else {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(item.mode))
                .map_err(what)?;
            set_time(&path, mtime).map_err(what)?;
        }
    }
    set_time(root, BASE_MTIME).map_err(|e| format!("{}: {e}", root.display()))
}

fn create(root: &Path, item: &Entry) -> Result<(), String> {
    let path = root.join(&item.path);
    let result = match &item.kind {
        Kind::Dir => std::fs::create_dir(&path),
        Kind::File(bytes) => std::fs::write(&path, bytes),
        Kind::HardLink(to) => std::fs::hard_link(root.join(to), &path),
        Kind::Symlink(target) => symlink(target, &path),
    };
    result.map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn set_time(path: &Path, seconds: i64) -> std::io::Result<()> {
    let when = std::time::UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs());
    let times = std::fs::FileTimes::new()
        .set_accessed(when)
        .set_modified(when);
    std::fs::File::open(path)?.set_times(times)
}

/// std cannot set a symlink's own times; busybox `touch -h` can.
fn set_symlink_time(busybox: &Path, path: &Path, seconds: i64) -> Result<(), String> {
    let mut command = Command::new(busybox);
    command
        .args(["touch", "-h", "-d", &format!("@{seconds}")])
        .arg(path);
    run_busybox(command, None).map(drop)
}

fn host_gzip(busybox: &Path, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut command = Command::new(busybox);
    command.args(["gzip", "-9", "-c"]);
    run_busybox(command, Some(bytes))
}

/// `md5sum` lines for `paths` (relative to `root`), naming them as the guest sees them.
fn host_md5sums(busybox: &Path, root: &Path, paths: &[&str]) -> Result<Vec<u8>, String> {
    let mut command = Command::new(busybox);
    command.arg("md5sum").args(paths).current_dir(root);
    let out = run_busybox(command, None)?;
    let text = String::from_utf8(out).map_err(|_| "md5sum printed non-UTF-8".to_string())?;
    let lines: String = text
        .lines()
        .map(|line| line.replacen("  data/", "  /data/", 1) + "\n")
        .collect();
    Ok(lines.into_bytes())
}

fn run_busybox(command: Command, stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let what = format!("{command:?}");
    match exec::run(command, stdin, Duration::from_secs(60)) {
        Ok(run) if run.status == 0 => Ok(run.stdout),
        Ok(run) => Err(format!(
            "{what} failed with status {}: {}",
            run.status,
            exec::last_line(&run.stderr).unwrap_or_default()
        )),
        Err(err) => Err(format!("{what}: {err}")),
    }
}

/// A ustar archive: a directory, two files and a symlink, all owned by root with fixed times.
fn archive() -> Vec<u8> {
    let mut tar = Vec::new();
    let mtime = BASE_MTIME as u64;
    tar_entry(&mut tar, "tarred/", b'5', 0o755, mtime, b"", "");
    tar_entry(
        &mut tar,
        "tarred/a.txt",
        b'0',
        0o644,
        mtime,
        b"alpha apple\n",
        "",
    );
    tar_entry(&mut tar, "tarred/link", b'2', 0o777, mtime, b"", "a.txt");
    tar_entry(&mut tar, "tarred/sub/", b'5', 0o700, mtime + 60, b"", "");
    tar_entry(
        &mut tar,
        "tarred/sub/b.txt",
        b'0',
        0o600,
        mtime + 120,
        b"bravo\n",
        "",
    );
    // Two zero blocks end it; GNU tar pads to a 10 KiB record.
    tar.resize(tar.len() + 1024, 0);
    tar.resize(tar.len().div_ceil(10240) * 10240, 0);
    tar
}

fn tar_entry(
    tar: &mut Vec<u8>,
    name: &str,
    kind: u8,
    mode: u32,
    mtime: u64,
    data: &[u8],
    link: &str,
) {
    let mut header = [0u8; 512];
    let mut put = |at: usize, bytes: &[u8]| header[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, name.as_bytes());
    put(100, format!("{mode:07o}\0").as_bytes());
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{:011o}\0", data.len()).as_bytes());
    put(136, format!("{mtime:011o}\0").as_bytes());
    put(148, b"        ");
    put(156, &[kind]);
    put(157, link.as_bytes());
    put(257, b"ustar\x0000");
    put(265, b"root");
    put(297, b"root");
    put(329, b"0000000\0");
    put(337, b"0000000\0");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    tar.extend_from_slice(&header);
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_sorted_and_links_point_back() {
        let scripts = [("a.sh".to_string(), b"echo a\n".to_vec())];
        let list = entries(b"busybox", &scripts);
        assert!(list.iter().any(|e| e.path == "scripts/a.sh"));
        for pair in list.windows(2) {
            assert!(
                pair[0].path < pair[1].path,
                "{} {}",
                pair[0].path,
                pair[1].path
            );
        }
        for (index, item) in list.iter().enumerate() {
            if let Kind::HardLink(to) = item.kind {
                let at = list.iter().position(|e| e.path == to).expect(to);
                assert!(at < index, "{} links to a later entry", item.path);
            }
            if let Some((parent, _)) = item.path.rsplit_once('/') {
                assert!(list.iter().any(|e| e.path == parent && e.kind == Kind::Dir));
            }
        }
    }

    #[test]
    fn tar_headers_have_valid_checksums() {
        let tar = archive();
        assert_eq!(tar.len() % 10240, 0);
        let header = &tar[..512];
        assert_eq!(&header[257..263], b"ustar\0");
        let stored =
            u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap(), 8).unwrap();
        let sum: u32 = header
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        assert_eq!(stored, sum);
    }

    #[test]
    fn two_builds_are_identical() {
        let busybox = Path::new("/bin/busybox");
        if !busybox.is_file() {
            return; // The cases that need it fail with the reason; nothing to check here.
        }
        let base = std::env::temp_dir().join(format!("coracle-rootfs-test-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // chown needs root; without it the builds cannot be compared here.
        let built = build(&a, busybox).and_then(|()| build(&b, busybox));
        if built.is_ok() {
            let listing = |root: &Path| {
                let mut out = Command::new("find");
                out.arg(".")
                    .args(["-printf", "%p %M %U:%G %s %T@ %l\\n"])
                    .current_dir(root);
                let run = exec::run(out, None, Duration::from_secs(30)).unwrap();
                assert_eq!(run.status, 0);
                run.stdout
            };
            assert_eq!(listing(&a), listing(&b));
            assert_eq!(
                std::fs::read(a.join("data/fruits.txt.gz")).unwrap(),
                std::fs::read(b.join("data/fruits.txt.gz")).unwrap()
            );
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}
