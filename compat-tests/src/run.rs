//! Running one case on both sides: the host directly, then `coracle run`, and comparing.
//!
//! Both sides see the same argv (argv[0] is the program's absolute path) and the same
//! environment: docker's defaults with a fixed `HOSTNAME`, then the case's variables. The host
//! side goes through `env -i` because `std::process::Command` would sort the variables.
//!
//! Where the case says so (`Place`), argv[1] is a scratch directory (a fresh tmpfs one on the
//! host, `/tmp` in the guest), or the program runs inside a fresh test root filesystem:
//! `chroot ROOT` on the host, `coracle run ROOT` in the guest, both in `/`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cases::{Case, Place, GUEST_SCRATCH};
use crate::diff;
use crate::exec::{self, RunError};
use crate::report::Outcome;
use crate::rootfs;
use crate::scratch::{Scratch, ScratchDir};

/// `HOSTNAME` on both sides (coracle's default is random, like docker's).
pub(crate) const HOSTNAME: &str = "coracle-compat";
/// The `PATH` docker and coracle give a program.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Generous: a run under TCG takes about a second; a timeout is a failure, never a pass.
/// `CORACLE_COMPAT_TIMEOUT` (seconds) overrides it.
const CORACLE_TIMEOUT: Duration = Duration::from_secs(120);
const HOST_TIMEOUT: Duration = Duration::from_secs(60);

/// What every case shares.
#[derive(Debug)]
pub(crate) struct Setup {
    pub(crate) coracle: PathBuf,
    pub(crate) accel: String,
    pub(crate) host_is_root: bool,
    /// How long one `coracle run` may take.
    pub(crate) timeout: Duration,
    /// Where scratch directories and test root filesystems are made.
    pub(crate) scratch: Scratch,
}

impl Setup {
    pub(crate) fn new(coracle: &Path, accel: String) -> Self {
        let timeout = std::env::var("CORACLE_COMPAT_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or(CORACLE_TIMEOUT, Duration::from_secs);
        Self {
            coracle: coracle.to_path_buf(),
            accel,
            host_is_root: host_is_root(),
            timeout,
            scratch: Scratch::new(),
        }
    }
}

/// The environment the program sees, in order: what `coracle run -e HOSTNAME=... -e ...`
/// gives it (docker's order: PATH, HOSTNAME, HOME, then `-e` variables, overrides in place).
pub(crate) fn guest_env(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATH", DEFAULT_PATH),
        ("HOSTNAME", HOSTNAME),
        ("HOME", "/root"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (key, value) in extra {
        match env.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1.clone_from(value),
            None => env.push((key.clone(), value.clone())),
        }
    }
    env
}

fn os_args(args: &[Vec<u8>]) -> impl Iterator<Item = OsString> + '_ {
    args.iter().map(|a| OsString::from_vec(a.clone()))
}

/// The host side. `dir` is what the case's place needs: the scratch directory
/// (`Place::Scratch`) or the root (`Place::Rootfs`); `Place::Direct` ignores it.
pub(crate) fn host_command(case: &Case, program: &Path, dir: &Path) -> Command {
    let mut command = Command::new("env");
    command.arg("-i");
    for (key, value) in guest_env(&case.env) {
        command.arg(format!("{key}={value}"));
    }
    match &case.place {
        Place::Direct => command.arg(program),
        Place::Scratch => command.arg(program).arg(dir),
        // chroot(8) also makes `/` the working directory.
        Place::Rootfs { command: name } => command.arg("chroot").arg(dir).arg(name),
    };
    command.args(os_args(&case.args));
    command
}

/// The guest side; `root` is the test root filesystem of a `Place::Rootfs` case.
pub(crate) fn coracle_command(setup: &Setup, case: &Case, program: &Path, root: &Path) -> Command {
    let mut command = Command::new(&setup.coracle);
    command
        .arg("run")
        .args(["--machine", case.machine, "--accel", &setup.accel])
        .args(["-e", &format!("HOSTNAME={HOSTNAME}")]);
    for (key, value) in &case.env {
        command.arg("-e").arg(format!("{key}={value}"));
    }
    if case.stdin.is_some() {
        command.arg("-i");
    }
    match &case.place {
        Place::Direct => command.arg("--").arg(program),
        Place::Scratch => command.arg("--").arg(program).arg(GUEST_SCRATCH),
        Place::Rootfs { command: name } => command.args(["-w", "/", "--"]).arg(root).arg(name),
    };
    command.args(os_args(&case.args));
    command
}

/// What a case's place needs on the host, alive until the case is done: the host's directory
/// and, for `Place::Rootfs`, the guest's root (the host side may change its own).
struct Prepared {
    host_dir: Option<ScratchDir>,
    guest_root: Option<ScratchDir>,
}

fn prepare(setup: &Setup, case: &Case, program: &Path) -> Result<Prepared, String> {
    match case.place {
        Place::Direct => Ok(Prepared {
            host_dir: None,
            guest_root: None,
        }),
        Place::Scratch => Ok(Prepared {
            host_dir: Some(setup.scratch.dir(&case.name, "host")?),
            guest_root: None,
        }),
        Place::Rootfs { .. } => {
            let host = setup.scratch.dir(&case.name, "host-root")?;
            let guest = setup.scratch.dir(&case.name, "guest-root")?;
            rootfs::build(host.path(), program)?;
            rootfs::build(guest.path(), program)?;
            Ok(Prepared {
                host_dir: Some(host),
                guest_root: Some(guest),
            })
        }
    }
}

/// A failed `chroot` (exit 125, "chroot: ..." on stderr) means the host side could not run:
/// the case fails saying so rather than comparing chroot's complaint.
fn chroot_failure(case: &Case, host: &diff::Observed) -> Option<String> {
    let failed = matches!(case.place, Place::Rootfs { .. })
        && host.status == 125
        && host.stderr.starts_with(b"chroot:");
    failed.then(|| {
        format!(
            "host side: {} (the rootfs cases need root for chroot)",
            exec::last_line(&host.stderr).unwrap_or_default()
        )
    })
}

/// Runs `case` (whose program was built at `program`, or not, and why) and compares.
pub(crate) fn run_case(setup: &Setup, case: &Case, program: &Result<PathBuf, String>) -> Outcome {
    let program = match program {
        Ok(path) => path,
        Err(why) => return Outcome::Fail(format!("not built: {why}")),
    };
    if case.needs_root && !setup.host_is_root {
        return Outcome::Skip("compares uids, so the host side must run as root".into());
    }
    let prepared = match prepare(setup, case, program) {
        Ok(prepared) => prepared,
        Err(why) => return Outcome::Fail(format!("setup: {why}")),
    };
    let no_dir = Path::new("");
    let host_dir = prepared.host_dir.as_ref().map_or(no_dir, ScratchDir::path);
    let guest_root = prepared
        .guest_root
        .as_ref()
        .map_or(no_dir, ScratchDir::path);
    let stdin = case.stdin.as_deref();
    let expected = match exec::run(host_command(case, program, host_dir), stdin, HOST_TIMEOUT) {
        Ok(observed) => observed,
        Err(err) => return Outcome::Fail(format!("host run: {err}")),
    };
    if let Some(message) = chroot_failure(case, &expected) {
        return Outcome::Fail(message);
    }
    let guest = coracle_command(setup, case, program, guest_root);
    let got = match exec::run(guest, stdin, setup.timeout) {
        Ok(observed) => observed,
        Err(err @ RunError::Spawn(_)) => {
            return Outcome::Fail(format!("coracle {}: {err}", setup.coracle.display()))
        }
        Err(err) => return Outcome::Fail(format!("coracle run: {err}")),
    };
    // 125-127 are the tool's own failures: its last word on stderr says more than a diff.
    let tool_failed = (125..=127).contains(&got.status) && expected.status != got.status;
    let with_stderr = case.compare_stderr && !tool_failed;
    match diff::compare(&expected, &got, with_stderr) {
        None => Outcome::Pass,
        Some(mut message) => {
            if tool_failed {
                let said = exec::last_line(&got.stderr).unwrap_or_else(|| "nothing".into());
                message.push_str(&format!("; coracle said: {said}"));
            }
            Outcome::Fail(message)
        }
    }
}

/// Whether this process runs as root (uid 0), from `/proc/self/status`.
pub(crate) fn host_is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        == Some("0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::MICROVM;
    use crate::programs::Source;

    fn case(env: &[(&str, &str)], stdin: Option<&[u8]>) -> Case {
        Case {
            name: "c/x/musl/microvm".into(),
            program: "c/x".into(),
            source: Source::Busybox,
            args: vec![b"a b".to_vec(), b"".to_vec()],
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdin: stdin.map(<[u8]>::to_vec),
            machine: MICROVM,
            compare_stderr: true,
            needs_root: false,
            place: Place::Direct,
        }
    }

    fn argv(command: &Command) -> Vec<String> {
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn environment_in_docker_order() {
        let env = guest_env(&[
            ("Z".into(), "1".into()),
            ("HOME".into(), "/tmp".into()),
            ("A".into(), "x=y".into()),
        ]);
        let keys: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            keys,
            [
                format!("PATH={DEFAULT_PATH}"),
                format!("HOSTNAME={HOSTNAME}"),
                "HOME=/tmp".into(),
                "Z=1".into(),
                "A=x=y".into(),
            ]
        );
    }

    #[test]
    fn both_sides_get_the_same_argv() {
        let case = case(&[("K", "v")], Some(b"in"));
        let host = argv(&host_command(&case, Path::new("/w/prog"), Path::new("")));
        assert_eq!(
            host,
            [
                "env".to_string(),
                "-i".into(),
                format!("PATH={DEFAULT_PATH}"),
                format!("HOSTNAME={HOSTNAME}"),
                "HOME=/root".into(),
                "K=v".into(),
                "/w/prog".into(),
                "a b".into(),
                "".into(),
            ]
        );
        let setup = Setup {
            coracle: "/t/coracle".into(),
            accel: "tcg".into(),
            host_is_root: true,
            timeout: CORACLE_TIMEOUT,
            scratch: Scratch::new(),
        };
        let guest = argv(&coracle_command(
            &setup,
            &case,
            Path::new("/w/prog"),
            Path::new(""),
        ));
        assert_eq!(
            guest,
            [
                "/t/coracle",
                "run",
                "--machine",
                "microvm",
                "--accel",
                "tcg",
                "-e",
                "HOSTNAME=coracle-compat",
                "-e",
                "K=v",
                "-i",
                "--",
                "/w/prog",
                "a b",
                "",
            ]
        );
    }

    #[test]
    fn places_change_the_command_lines() {
        let setup = Setup {
            coracle: "/t/coracle".into(),
            accel: "tcg".into(),
            host_is_root: true,
            timeout: CORACLE_TIMEOUT,
            scratch: Scratch::new(),
        };
        let mut case = case(&[], None);
        let tail = |argv: Vec<String>, n: usize| argv[argv.len() - n..].join(" ");
        case.place = Place::Scratch;
        let host = argv(&host_command(
            &case,
            Path::new("/w/prog"),
            Path::new("/dev/shm/x"),
        ));
        assert_eq!(tail(host, 4), "/w/prog /dev/shm/x a b ");
        let guest = argv(&coracle_command(
            &setup,
            &case,
            Path::new("/w/prog"),
            Path::new(""),
        ));
        assert_eq!(tail(guest, 5), "-- /w/prog /tmp a b ");

        case.place = Place::Rootfs {
            command: "/bin/cat".into(),
        };
        let host = argv(&host_command(
            &case,
            Path::new("/bin/busybox"),
            Path::new("/r"),
        ));
        assert_eq!(tail(host, 5), "chroot /r /bin/cat a b ");
        let guest = argv(&coracle_command(
            &setup,
            &case,
            Path::new("/bin/busybox"),
            Path::new("/g"),
        ));
        assert_eq!(tail(guest, 7), "-w / -- /g /bin/cat a b ");
    }

    #[test]
    fn chroot_failures_are_reported_as_such() {
        let mut case = case(&[], None);
        let host = diff::Observed {
            stdout: Vec::new(),
            stderr: b"chroot: cannot change root directory to '/r': Operation not permitted\n"
                .to_vec(),
            status: 125,
        };
        assert_eq!(
            chroot_failure(&case, &host),
            None,
            "only rootfs cases chroot"
        );
        case.place = Place::Rootfs {
            command: "cat".into(),
        };
        let message = chroot_failure(&case, &host).unwrap();
        assert!(message.contains("Operation not permitted"), "{message}");
        let ok = diff::Observed { status: 1, ..host };
        assert_eq!(chroot_failure(&case, &ok), None);
    }

    #[test]
    fn unbuilt_programs_fail_with_the_reason() {
        let setup = Setup {
            coracle: "/nonexistent".into(),
            accel: "tcg".into(),
            host_is_root: true,
            timeout: CORACLE_TIMEOUT,
            scratch: Scratch::new(),
        };
        let outcome = run_case(&setup, &case(&[], None), &Err("musl-gcc not found".into()));
        assert_eq!(
            outcome,
            Outcome::Fail("not built: musl-gcc not found".into())
        );
    }

    #[test]
    fn a_missing_coracle_fails_the_case() {
        let setup = Setup {
            coracle: "/nonexistent/coracle".into(),
            accel: "tcg".into(),
            host_is_root: true,
            timeout: CORACLE_TIMEOUT,
            scratch: Scratch::new(),
        };
        let outcome = run_case(&setup, &case(&[], None), &Ok("/bin/true".into()));
        match outcome {
            Outcome::Fail(message) => {
                assert!(message.starts_with("coracle /nonexistent"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }
}
