//! Tests of `resolve`: confinement to the root, symlink limits and runc's command lookup.

use std::os::unix::fs::symlink;

use super::*;
use crate::tempdir::TempDir;

/// A scratch root filesystem, plus a directory next to it that must stay out of reach.
struct Fixture {
    _tmp: TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn file(path: &Path, mode: u32) {
    fs::write(path, b"\x7fELF").unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn fixture() -> Fixture {
    let tmp = TempDir::new().unwrap();
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    for dir in ["bin", "usr/bin", "usr/local/bin", "home/u", "bin/dir"] {
        fs::create_dir_all(root.join(dir)).unwrap();
    }
    fs::create_dir_all(&outside).unwrap();
    file(&outside.join("secret"), 0o755);
    file(&root.join("bin/busybox"), 0o755);
    file(&root.join("bin/plain"), 0o644);
    symlink("busybox", root.join("bin/ls")).unwrap();
    symlink("/bin/busybox", root.join("usr/bin/abs")).unwrap();
    symlink("bin", root.join("sbin")).unwrap();
    // Absolute targets naming the host: inside the root they mean ROOT/...
    symlink(outside.join("secret"), root.join("bin/evil")).unwrap();
    symlink("/", root.join("hostroot")).unwrap();
    // `..` chains stop at the root.
    symlink(
        "../../../../../../bin/busybox",
        root.join("usr/local/bin/up"),
    )
    .unwrap();
    symlink("../../../../outside/secret", root.join("usr/bin/escape")).unwrap();
    symlink("loop2", root.join("bin/loop1")).unwrap();
    symlink("loop1", root.join("bin/loop2")).unwrap();
    let root = fs::canonicalize(root).unwrap();
    Fixture {
        _tmp: tmp,
        root,
        outside,
    }
}

#[test]
fn resolve_follows_symlinks_inside_the_root() {
    let f = fixture();
    let busybox = f.root.join("bin/busybox");
    for path in [
        "/bin/busybox",
        "/bin/ls",
        "/usr/bin/abs",
        "/sbin/ls",
        "//sbin/./ls",
        "/usr/local/bin/up",
        "/../../bin/busybox",
        "/usr/../../bin/ls",
        "/hostroot/hostroot/bin/ls",
        "/sbin/../usr/bin/../../bin/ls",
    ] {
        assert_eq!(
            resolve(&f.root, path.as_bytes()).unwrap(),
            busybox,
            "{path}"
        );
    }
    assert_eq!(resolve(&f.root, b"/").unwrap(), f.root);
    assert_eq!(resolve(&f.root, b"/..").unwrap(), f.root);
    // A symlink to a directory, then `..`: the parent of the target, as in Linux (read
    // lexically it would be /bin/abs, which does not exist).
    symlink("usr/local/bin", f.root.join("lb")).unwrap();
    assert_eq!(resolve(&f.root, b"/lb/../../bin/abs").unwrap(), busybox);
}

#[test]
fn resolve_never_leaves_the_root() {
    let f = fixture();
    let outside = f.outside.to_str().unwrap().as_bytes().to_vec();
    assert!(matches!(
        resolve(&f.root, b"/bin/evil"),
        Err(ResolveError::NotFound)
    ));
    assert!(matches!(
        resolve(&f.root, b"/usr/bin/escape"),
        Err(ResolveError::NotFound)
    ));
    assert!(matches!(
        resolve(&f.root, &[b"/hostroot", &outside[..], b"/secret"].concat()),
        Err(ResolveError::NotFound)
    ));
    assert!(matches!(
        resolve(&f.root, b"/../outside/secret"),
        Err(ResolveError::NotFound)
    ));
    // Once the same host path exists inside the root, that one is found.
    fs::create_dir_all(f.root.join("outside")).unwrap();
    file(&f.root.join("outside/secret"), 0o755);
    assert_eq!(
        resolve(&f.root, b"/usr/bin/escape").unwrap(),
        f.root.join("outside/secret")
    );
}

#[test]
fn resolve_errors() {
    let f = fixture();
    assert!(matches!(
        resolve(&f.root, b"/bin/loop1"),
        Err(ResolveError::Loop)
    ));
    assert!(matches!(
        resolve(&f.root, b"/bin/busybox/x"),
        Err(ResolveError::NotADirectory)
    ));
    assert!(matches!(
        resolve(&f.root, b"/nope/x"),
        Err(ResolveError::NotFound)
    ));
}

#[test]
fn at_most_40_symlinks() {
    let f = fixture();
    // chain/0 -> busybox; chain/n -> n-1: resolving chain/n follows n + 1 links.
    let chain = f.root.join("chain");
    fs::create_dir(&chain).unwrap();
    symlink("/bin/busybox", chain.join("0")).unwrap();
    for n in 1..=40 {
        symlink((n - 1).to_string(), chain.join(n.to_string())).unwrap();
    }
    assert_eq!(
        resolve(&f.root, b"/chain/39").unwrap(),
        f.root.join("bin/busybox")
    );
    assert!(matches!(
        resolve(&f.root, b"/chain/40"),
        Err(ResolveError::Loop)
    ));
}

#[test]
fn absolute_is_lexical() {
    assert_eq!(absolute(b"/", b"bin/ls"), b"/bin/ls");
    assert_eq!(absolute(b"/usr", b"./../bin//ls"), b"/usr/../bin/ls");
    assert_eq!(absolute(b"/w", b"/abs/./x/"), b"/abs/x");
    assert_eq!(absolute(b"/", b"."), b"/");
}

fn find(f: &Fixture, workdir: &str, command: &str, path: &str) -> Result<Command, RunError> {
    find_command(
        &f.root,
        workdir.as_bytes(),
        command.as_ref(),
        path.as_bytes(),
    )
}

#[test]
fn command_lookup_in_path() {
    let f = fixture();
    let busybox = f.root.join("bin/busybox");
    let search = "/usr/local/bin:/usr/bin:/sbin:/bin";
    let found = find(&f, "/", "ls", search).unwrap();
    // Looked up through /sbin -> bin: exec keeps the name as found, symlinks unresolved.
    assert_eq!(found.exec, b"/sbin/ls");
    assert_eq!(found.host, busybox);
    assert_eq!(find(&f, "/", "abs", search).unwrap().exec, b"/usr/bin/abs");
    assert_eq!(find(&f, "/", "up", search).unwrap().host, busybox);
    // A non-executable match alone: 126, like a shell; with an executable one later: found.
    let err = find(&f, "/", "plain", search).unwrap_err();
    assert_eq!(err.exit_status(), 126, "{err}");
    assert!(err.to_string().contains("permission denied"), "{err}");
    file(&f.root.join("usr/bin/plain"), 0o755);
    assert_eq!(
        find(&f, "/", "plain", search).unwrap().exec,
        b"/usr/bin/plain"
    );
    // Directories, dangling links, loops and escapes are skipped: not found, 127.
    for name in ["dir", "evil", "escape", "loop1", "nothing", ""] {
        let err = find(&f, "/", name, search).unwrap_err();
        assert_eq!(err.exit_status(), 127, "{name}: {err}");
        assert!(
            err.to_string()
                .contains("executable file not found in $PATH"),
            "{err}"
        );
    }
    // Empty and relative PATH entries are relative to the working directory.
    assert_eq!(find(&f, "/bin", "ls", ":/x").unwrap().exec, b"/bin/ls");
    assert_eq!(
        find(&f, "/usr", "ls", "../bin").unwrap().exec,
        b"/usr/../bin/ls"
    );
}

#[test]
fn command_paths() {
    let f = fixture();
    let found = find(&f, "/", "/bin/ls", "").unwrap();
    assert_eq!(
        (found.exec.as_slice(), found.host),
        (&b"/bin/ls"[..], f.root.join("bin/busybox"))
    );
    assert_eq!(find(&f, "/bin", "./ls", "").unwrap().exec, b"/bin/ls");
    assert_eq!(
        find(&f, "/usr", "../sbin/ls", "").unwrap().exec,
        b"/usr/../sbin/ls"
    );
    assert_eq!(
        find(&f, "/home/u", "../../../bin/ls", "").unwrap().host,
        f.root.join("bin/busybox")
    );
    let status = |workdir: &str, command: &str| {
        let err = find(&f, workdir, command, "/bin").unwrap_err();
        (err.exit_status(), err.to_string())
    };
    let (code, msg) = status("/", "/bin/missing");
    assert_eq!(code, 127, "{msg}");
    assert!(msg.contains("no such file or directory"), "{msg}");
    assert_eq!(status("/", "/bin/evil").0, 127);
    assert_eq!(status("/", "/usr/bin/escape").0, 127);
    let (code, msg) = status("/", "/bin/dir");
    assert_eq!(code, 126);
    assert!(msg.contains("is a directory"), "{msg}");
    let (code, msg) = status("/", "./bin");
    assert_eq!(code, 126);
    assert!(msg.contains("is a directory"), "{msg}");
    let (code, msg) = status("/", "bin/plain");
    assert_eq!(code, 126);
    assert!(msg.contains("permission denied"), "{msg}");
    let (code, msg) = status("/", "/bin/loop1");
    assert_eq!(code, 126);
    assert!(msg.contains("too many levels of symbolic links"), "{msg}");
    let (code, msg) = status("/", "/bin/busybox/x");
    assert_eq!(code, 126);
    assert!(msg.contains("not a directory"), "{msg}");
    std::os::unix::net::UnixListener::bind(f.root.join("sock")).unwrap();
    let (code, msg) = status("/", "/sock");
    assert_eq!(code, 126);
    assert!(msg.contains("not a regular file"), "{msg}");
}

#[test]
fn a_missing_workdir_is_made_by_the_kernel() {
    let f = fixture();
    let busybox = f.root.join("bin/busybox");
    let found = find(&f, "/srv/app", "../../bin/ls", "").unwrap();
    assert_eq!(
        (found.exec.as_slice(), found.host),
        (&b"/srv/app/../../bin/ls"[..], busybox)
    );
    assert_eq!(
        find(&f, "/srv", "ls", "../bin").unwrap().exec,
        b"/srv/../bin/ls"
    );
    // Nothing is inside the new directories.
    assert_eq!(
        find(&f, "/srv/app", "./ls", "").unwrap_err().exit_status(),
        127
    );
    assert_eq!(
        find(&f, "/srv/app", "ls", ":.").unwrap_err().exit_status(),
        127
    );
    for ok in [
        "/",
        "/bin",
        "/sbin",
        "/new/dir",
        "/hostroot/new",
        "/bin/../x",
    ] {
        check_workdir(&f.root, ok.as_bytes()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, why) in [
        ("/bin/busybox", "not a directory"),
        ("/bin/ls", "not a directory"),
        ("/bin/busybox/x", "not a directory"),
        ("/bin/loop1", "too many levels of symbolic links"),
    ] {
        let err = check_workdir(&f.root, bad.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), why, "{bad}");
    }
}
