//! Dynamically linked programs in a VM: gcc (glibc) and musl-gcc builds run through their
//! dynamic linker from a root filesystem directory made here from the host's own ld.so and
//! libc, compared with the same program run on the host; address-space randomisation checked
//! against Linux's (tests/dynamic/aslr_check.c, run on both); `norandmaps`; interpreters that
//! are missing or not ELF. The first program is a static launcher (tests/dynamic/launch.c)
//! that execs the dynamic one. Runs under TCG unless CORACLE_ACCEL says otherwise.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{coracle, stderr};

/// glibc's and musl's dynamic linkers and the libraries the test programs link, at the paths
/// their programs name (Debian's x86_64 layout).
const GLIBC: [&str; 2] = [
    "/lib64/ld-linux-x86-64.so.2",
    "/lib/x86_64-linux-gnu/libc.so.6",
];
const MUSL: [&str; 1] = ["/lib/ld-musl-x86_64.so.1"];

/// A scratch directory for one test: the programs built, and `root/`, the guest's root
/// filesystem. Removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("coracle-dynamic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("root")).unwrap();
        Scratch(dir)
    }

    fn root(&self) -> PathBuf {
        self.0.join("root")
    }

    /// Builds `tests/dynamic/NAME.c` with `cc` and `flags` as `OUT`, and copies it to the root.
    fn build(&self, name: &str, out: &str, cc: &str, flags: &[&str]) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/dynamic/{name}.c"));
        let exe = self.0.join(out);
        let status = Command::new(cc)
            .args(flags)
            .args(["-O2", "-Wall", "-o"])
            .arg(&exe)
            .arg(&src)
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "{cc} could not build {name}.c (apt-get install gcc musl-tools)"
        );
        fs::copy(&exe, self.root().join(out)).unwrap();
        exe
    }

    /// Copies host files into the root at the same paths (their targets, if symlinks).
    fn copy_host(&self, paths: &[&str]) {
        for p in paths {
            let to = self.root().join(p.trim_start_matches('/'));
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(p, &to).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    /// The static launcher, PID 1 of every run.
    fn launcher(&self) {
        self.build("launch", "launch", "musl-gcc", &["-static"]);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run_in(root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["run", root.to_str().unwrap()];
    all.extend_from_slice(args);
    coracle(&all)
}

fn host(exe: &Path, args: &[&str]) -> Output {
    Command::new(exe).args(args).output().unwrap()
}

/// stdout and exit status of `out`, for comparison.
fn result(out: &Output) -> (String, Option<i32>) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

/// `hello` built by `cc` prints the same in Coracle as on the host, through the dynamic
/// linker and libraries `libs`.
fn same_as_host(cc: &str, libs: &[&str], objects: &[&str]) {
    let s = Scratch::new(cc);
    s.launcher();
    s.copy_host(libs);
    let exe = s.build("hello", "hello", cc, &[]);
    let want = host(&exe, &["one", "two words"]);
    let (text, code) = result(&want);
    assert_eq!(code, Some(3), "host: {}", stderr(&want));
    // The same program gives the same lines on Linux: not a test that passes on empty output.
    for line in objects {
        assert!(text.contains(line), "host output lacks {line:?}:\n{text}");
    }
    let got = run_in(&s.root(), &["/launch", "/hello", "one", "two words"]);
    assert_eq!(result(&got), result(&want), "{cc}: {}", stderr(&got));
}

#[test]
fn glibc_dynamic_program_runs_as_on_the_host() {
    same_as_host(
        "gcc",
        &GLIBC,
        &[
            "object linux-vdso.so.1",
            "object libc.so.6",
            "object ld-linux-x86-64.so.2",
            "AT_BASE set 1",
        ],
    );
}

#[test]
fn musl_dynamic_program_runs_as_on_the_host() {
    same_as_host(
        "musl-gcc",
        &MUSL,
        &["object ld-musl-x86_64.so.1", "AT_SYSINFO_EHDR set 1"],
    );
}

/// aslr_check runs a PIE twice, with and without personality(ADDR_NO_RANDOMIZE), and says
/// which parts moved: Coracle must answer as Linux does.
#[test]
fn address_space_randomisation_as_on_the_host() {
    let s = Scratch::new("aslr");
    s.copy_host(&GLIBC);
    let aslr = s.build("aslr", "aslr", "gcc", &[]);
    let check = s.build("aslr_check", "aslr_check", "musl-gcc", &["-static"]);
    let want = host(&check, &[aslr.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&want.stdout);
    assert!(text.contains("default: program moves"), "host: {text}");
    assert!(text.contains("setarch -R: vdso stays"), "host: {text}");
    let got = run_in(&s.root(), &["/aslr_check", "/aslr"]);
    assert_eq!(result(&got), result(&want), "{}", stderr(&got));
}

/// `--kernel-arg norandmaps=1` lays out every run of the VM the same, and without it two
/// runs differ.
#[test]
fn norandmaps_repeats_every_layout() {
    let s = Scratch::new("norandmaps");
    s.launcher();
    s.copy_host(&GLIBC);
    s.build("aslr", "aslr", "gcc", &[]);
    let run = |fixed: bool| {
        let mut args = vec!["run"];
        if fixed {
            args.extend(["--kernel-arg", "norandmaps=1"]);
        }
        let root = s.root();
        args.extend([root.to_str().unwrap(), "/launch", "/aslr"]);
        let out = coracle(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let fixed = run(true);
    assert_eq!(fixed, run(true));
    // Linux's addresses without randomisation.
    assert!(fixed.contains("program 0x55555555"), "{fixed}");
    assert!(fixed.contains("ld.so 0x7ffff7f"), "{fixed}");
    assert_ne!(run(false), run(false));
}

/// An interpreter that is missing is ENOENT, one shorter than an ELF header EIO, one that is
/// not an ELF file ELIBBAD, before the launcher's image is given up (it reports the error
/// itself), as on the host.
#[test]
fn broken_interpreters_fail_as_on_the_host() {
    let s = Scratch::new("broken");
    let launch = s.build("launch", "launch", "musl-gcc", &["-static"]);
    // The interpreters' directory exists on the host and, at the same path, in the root.
    let dir = s.0.join("interp");
    fs::create_dir_all(&dir).unwrap();
    let in_root = s.root().join(dir.strip_prefix("/").unwrap());
    fs::create_dir_all(&in_root).unwrap();
    let script = format!("#!/bin/sh\n{}\n", "#".repeat(100));
    for (file, text) in [("short.so", "#!/bin/sh\n"), ("not-elf.so", &script)] {
        for path in [dir.join(file), in_root.join(file)] {
            fs::write(&path, text).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    for (interp, name, errno, code) in [
        ("missing.so", "missing", "ENOENT", 127),
        ("short.so", "short", "EIO", 126),
        ("not-elf.so", "notelf", "ELIBBAD", 126),
    ] {
        let linker = format!("-Wl,--dynamic-linker={}", dir.join(interp).display());
        let exe = s.build("hello", name, "gcc", &[&linker]);
        let want = host(&launch, &[exe.to_str().unwrap()]);
        assert_eq!(
            result(&want),
            (format!("execv: {errno}\n"), Some(code)),
            "host"
        );
        let got = run_in(&s.root(), &["/launch", &format!("/{name}")]);
        assert_eq!(result(&got), result(&want), "{name}: {}", stderr(&got));
    }
}

/// A `#!` script whose interpreter is a dynamic program runs it through its ld.so.
#[test]
fn script_with_a_dynamic_interpreter() {
    let s = Scratch::new("script");
    s.launcher();
    s.copy_host(&MUSL);
    s.build("hello", "hello", "musl-gcc", &[]);
    let script = s.root().join("script");
    fs::write(&script, "#!/hello -x\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let got = run_in(&s.root(), &["/launch", "/script", "arg"]);
    let text = String::from_utf8_lossy(&got.stdout);
    assert_eq!(got.status.code(), Some(3), "{text}{}", stderr(&got));
    assert!(
        text.starts_with("argv[1]=-x\nargv[2]=/script\nargv[3]=arg\nAT_EXECFN ends /script\n"),
        "{text}"
    );
}

/// glibc's and musl's dynamic linkers find __vdso_clock_gettime, gettimeofday, time and
/// getcpu through AT_SYSINFO_EHDR (DT_HASH/DT_GNU_HASH, LINUX_2.6 versions): clock reads of a
/// dynamic program make no system call (`--verbose` logs every one).
#[test]
fn dynamic_clock_reads_use_the_vdso() {
    const READS: &str = "500";
    for (cc, libs) in [("gcc", &GLIBC[..]), ("musl-gcc", &MUSL[..])] {
        let s = Scratch::new(&format!("vdso-{cc}"));
        s.launcher();
        s.copy_host(libs);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vdso/hot.c");
        let exe = s.root().join("hot");
        let built = Command::new(cc)
            .args(["-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .status();
        assert!(built.is_ok_and(|s| s.success()), "{cc} hot.c");
        let root = s.root();
        let out = coracle(&[
            "run",
            "--verbose",
            root.to_str().unwrap(),
            "/launch",
            "/hot",
            READS,
        ]);
        let log = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{cc}: {log}");
        let calls: Vec<&str> = log
            .lines()
            .filter_map(|l| l.strip_prefix('[')?.split_once("] ").map(|(_, r)| r))
            .collect();
        assert!(
            calls.iter().any(|l| l.starts_with("execve(")),
            "{cc}: the syscall log is not in the expected form:\n{log}"
        );
        for call in ["clock_gettime(", "gettimeofday(", "time(", "getcpu("] {
            let n = calls.iter().filter(|l| l.starts_with(call)).count();
            // The first read may measure the TSC frequency with a real system call.
            assert!(n <= 1, "{cc}: {n} {call} system calls:\n{log}");
        }
        assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    }
}
