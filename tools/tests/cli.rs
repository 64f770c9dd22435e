//! `coracle run` failures that happen before any VM starts: statuses and messages.

use std::path::PathBuf;
use std::process::{Command, Output};

fn coracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coracle"))
        .args(args)
        // The checks below must fail before QEMU would be started; make sure it never is.
        .env("CORACLE_QEMU", "/nonexistent/qemu-must-not-run")
        .output()
        .expect("run coracle")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coracle-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn missing_program_path_is_127() {
    let out = coracle(&["run", "/nonexistent/program", "arg"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with("coracle: /nonexistent/program: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn name_not_in_path_is_127() {
    let out = coracle(&["run", "coracle-no-such-command-anywhere"]);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn text_file_is_126() {
    let path = scratch("script.sh");
    std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = coracle(&["run", path.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("coracle: "), "{}", stderr(&out));
}

#[test]
fn a_dynamically_linked_binary_gets_as_far_as_qemu() {
    // Debian's coreutils are dynamically linked; `true` found through PATH like a shell would.
    // Its libraries are found and packed, so only the missing QEMU stops it.
    let out = coracle(&["run", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot start QEMU"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_missing_library_is_127() {
    // A program linked against a library that is gone, as ld.so would say it (status 127).
    // A directory of its own: other tests remove the shared scratch directory when done.
    let dir = std::env::temp_dir().join(format!("coracle-cli-gone-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("gone.c"), "int gone(void) { return 0; }\n").unwrap();
    std::fs::write(
        dir.join("main.c"),
        "int gone(void);\nint main(void) { return gone(); }\n",
    )
    .unwrap();
    let cc = |args: &[&str]| {
        let out = Command::new("gcc")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("gcc");
        assert!(out.status.success(), "{}", stderr(&out));
    };
    cc(&["-shared", "-fPIC", "-o", "libgone.so", "gone.c"]);
    cc(&["-o", "main", "main.c", "-L.", "-lgone"]);
    std::fs::remove_file(dir.join("libgone.so")).unwrap();
    let out = coracle(&["run", dir.join("main").to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(127), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot find libgone.so"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn no_program_is_a_usage_error() {
    let out = coracle(&["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("PROGRAM"), "{}", stderr(&out));
}

#[test]
fn bad_memory_is_a_usage_error() {
    let out = coracle(&["run", "-m", "lots", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn relative_workdir_is_125() {
    for args in [
        &["run", "-w", "rel/dir", "/bin/true"][..],
        &["run", "--workdir=.", "/", "sh"],
    ] {
        let out = coracle(args);
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("it needs to be an absolute path"),
            "{}",
            stderr(&out)
        );
    }
}

/// A root filesystem for one test, removed at the end: `bin/` with a few kinds of
/// "executables", none of which may be run (every case must fail before QEMU).
struct Rootfs(PathBuf);

impl Rootfs {
    fn new(test: &str) -> Self {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir =
            std::env::temp_dir().join(format!("coracle-cli-rootfs-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin/subdir")).unwrap();
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        let exe = |name: &str, data: &[u8], mode: u32| {
            let path = dir.join(name);
            std::fs::write(&path, data).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        exe("bin/script", b"#!/bin/sh\necho hi\n", 0o755);
        exe("bin/plain", b"\x7fELF", 0o644);
        exe("etc/file", b"x", 0o644);
        // Debian's coreutils are dynamically linked.
        exe(
            "bin/dynamic",
            &std::fs::read("/usr/bin/true").unwrap(),
            0o755,
        );
        // Absolute targets are inside the root: this one dangles there.
        symlink("/usr/bin/true", dir.join("bin/hosttrue")).unwrap();
        symlink("script", dir.join("bin/sh")).unwrap();
        Rootfs(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn rootfs_without_command_is_125() {
    let root = Rootfs::new("nocommand");
    let out = coracle(&["run", "-e", "A=1", root.path()]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no command specified"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("ROOTFS_DIR COMMAND"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rootfs_workdir_that_is_a_file_is_125() {
    let root = Rootfs::new("workdir");
    let out = coracle(&["run", "-w", "/etc/file", root.path(), "/bin/script"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a directory"), "{}", stderr(&out));
}

#[test]
fn rootfs_command_statuses() {
    let root = Rootfs::new("statuses");
    // (options, COMMAND, status, part of the message)
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (
            &[],
            "nothing",
            127,
            "nothing: executable file not found in $PATH",
        ),
        (&[], "/bin/nothing", 127, "no such file or directory"),
        // The host's /usr/bin/true is not reachable through an absolute symlink.
        (&[], "/bin/hosttrue", 127, "no such file or directory"),
        (&[], "hosttrue", 127, "executable file not found in $PATH"),
        (&[], "/bin/subdir", 126, "is a directory"),
        (&[], "bin/plain", 126, "permission denied"),
        (&[], "plain", 126, "permission denied"),
        // /bin/script runs /bin/sh, which is itself: the #! chain never ends.
        (&[], "sh", 126, "too many levels of #! interpreters"),
        (
            &["-w", "/bin"],
            "./script",
            126,
            "too many levels of #! interpreters",
        ),
        // Its dynamic linker is not in this image: ENOENT from execve, 127.
        (&[], "dynamic", 127, "is not in the root filesystem"),
        // The container's PATH comes from -e.
        (
            &["-e", "PATH=/etc"],
            "sh",
            127,
            "executable file not found in $PATH",
        ),
        (
            &["-e", "PATH=/etc:/bin"],
            "sh",
            126,
            "too many levels of #! interpreters",
        ),
    ];
    for (options, command, status, message) in cases {
        let mut args = vec!["run"];
        args.extend_from_slice(options);
        args.extend([root.path(), command, "arg"]);
        let out = coracle(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*status), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}
