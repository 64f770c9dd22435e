//! Running one case on both sides: the host directly, then `coracle run`, and comparing.
//!
//! Both sides see the same argv (argv[0] is the program's absolute path) and the same
//! environment: docker's defaults with a fixed `HOSTNAME`, then the case's variables. The host
//! side goes through `env -i` because `std::process::Command` would sort the variables.
//!
//! Where the case says so (`Place`), argv[1] is a scratch directory (a fresh tmpfs one on the
//! host, `/tmp` in the guest), or the program runs inside a fresh test root filesystem:
//! `chroot ROOT` on the host, `coracle run ROOT` in the guest, both in `/`.
//!
//! SMP cases (`Case::cpus`) also get `COMPAT_CPUS`: on the host the number of CPUs this process
//! may run on, in the guest the vCPU count given with `--cpus`; programs compare CPU counts with
//! it instead of printing them. Their host side runs once for all vCPU counts (`HostCache`),
//! `CORACLE_COMPAT_REPEAT` times, every run alike; the guest side runs that many times per
//! case, each compared with the host. Pending cases (`pending.txt`) stop after the host side.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::cases::{Case, Place, GUEST_SCRATCH};
use crate::diff::{self, Observed};
use crate::exec::{self, RunError};
use crate::programs::NotBuilt;
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
    /// The CPUs this process may run on (and so the host side of a case): `COMPAT_CPUS` there.
    pub(crate) host_cpus: usize,
    /// How many times each SMP case's host side and every case's guest side runs.
    pub(crate) repeat: usize,
    /// Run pending cases in Coracle too, counted like any other.
    pub(crate) run_pending: bool,
    pub(crate) host_cache: HostCache,
}

/// The host side of each SMP program run, shared by its cases for the different vCPU counts:
/// the first to ask runs it, the others wait for that result.
pub(crate) type HostCache = Mutex<HashMap<String, Arc<OnceLock<Result<Observed, String>>>>>;

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
            host_cpus: host_cpus(),
            repeat: 1,
            run_pending: false,
            host_cache: HostCache::default(),
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
/// (`Place::Scratch`), the root (`Place::Rootfs`) or the overlay's directories
/// (`Place::Debian`, whose `program` is the cached tree); `Place::Direct` ignores it. `host_cpus`
/// is `COMPAT_CPUS` for SMP cases.
pub(crate) fn host_command(case: &Case, program: &Path, dir: &Path, host_cpus: usize) -> Command {
    let mut command = Command::new("env");
    // A clean environment, and every signal at its default action: a test started from a
    // background job of a non-interactive shell would otherwise inherit SIGINT and SIGQUIT
    // ignored, which a program in a container (or in Coracle) never has.
    command.args(["-i", "--default-signal"]);
    for (key, value) in guest_env(&case.env) {
        command.arg(format!("{key}={value}"));
    }
    if case.cpus.is_some() {
        command.arg(format!("COMPAT_CPUS={host_cpus}"));
    }
    match &case.place {
        Place::Direct => command.arg(program),
        Place::Scratch => command.arg(program).arg(dir),
        // chroot(8) also makes `/` the working directory.
        Place::Rootfs { command: name } => command.arg("chroot").arg(dir).arg(name),
        Place::Debian { command: name } => command
            .args(["unshare", "--mount", "--propagation", "private", "--"])
            .args(["/bin/sh", "-c", DEBIAN_HOST_SCRIPT, "sh"])
            .arg(program)
            .arg(dir.join("upper"))
            .arg(dir.join("work"))
            .arg(dir.join("merged"))
            .arg(name),
    };
    command.args(os_args(&case.args));
    command
}

/// Mounts the overlay on the cached Debian tree and the kernel file systems a program expects,
/// then enters it: `$1` lower, `$2` upper, `$3` work, `$4` the mount point, then the command.
/// Run in a mount namespace of its own, so everything goes away with it.
const DEBIAN_HOST_SCRIPT: &str = r#"set -e
m=$4
mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$m"
mount --bind /dev "$m/dev"
mount -t tmpfs -o mode=1777 tmpfs "$m/dev/shm"
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
shift 4
exec chroot "$m" "$@""#;

/// The guest side; `root` is the test root filesystem of a `Place::Rootfs` case.
pub(crate) fn coracle_command(setup: &Setup, case: &Case, program: &Path, root: &Path) -> Command {
    let mut command = Command::new(&setup.coracle);
    command
        .arg("run")
        .args(["--machine", case.machine, "--accel", &setup.accel]);
    if let Some(cpus) = case.cpus {
        command.args(["--cpus", &cpus.to_string()]);
    }
    command.args(["-e", &format!("HOSTNAME={HOSTNAME}")]);
    for (key, value) in &case.env {
        command.arg("-e").arg(format!("{key}={value}"));
    }
    if let Some(cpus) = case.cpus {
        command.args(["-e", &format!("COMPAT_CPUS={cpus}")]);
    }
    if case.stdin.is_some() {
        command.arg("-i");
    }
    for arg in &case.kernel_args {
        command.args(["--kernel-arg", arg]);
    }
    if let Some(device) = case.root_device {
        command.args(["--root-device", device]);
    }
    match &case.place {
        Place::Direct => command.arg("--").arg(program),
        Place::Scratch => command.arg("--").arg(program).arg(GUEST_SCRATCH),
        Place::Rootfs { command: name } => command.args(["-w", "/", "--"]).arg(root).arg(name),
        Place::Debian { command: name } => command
            .args(["-m", crate::cases::DEBIAN_MEMORY, "-w", "/", "--"])
            .arg(program)
            .arg(name),
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
            rootfs::add_dev_null(host.path(), program)?;
            rootfs::build(guest.path(), program)?;
            Ok(Prepared {
                host_dir: Some(host),
                guest_root: Some(guest),
            })
        }
        Place::Debian { .. } => {
            let host = setup.scratch.dir(&case.name, "debian")?;
            for dir in ["upper", "work", "merged"] {
                std::fs::create_dir(host.path().join(dir)).map_err(|e| {
                    format!("cannot create {dir} in {}: {e}", host.path().display())
                })?;
            }
            Ok(Prepared {
                host_dir: Some(host),
                guest_root: None,
            })
        }
    }
}

/// Why `case`'s host side must run as root, if it must: the guest's program runs as root, so
/// a comparison of uids or of root's privileges, and a test root filesystem (made with root's
/// owners, entered with chroot), hold only for a host side that is root too.
fn needs_root(case: &Case) -> Option<&'static str> {
    if matches!(case.place, Place::Rootfs { .. } | Place::Debian { .. }) {
        Some("runs in a test root filesystem, with chroot on the host, which takes root")
    } else if case.needs_root {
        Some("compares uids or root's privileges, so the host side must run as root")
    } else {
        None
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
/// `pending` is the reason from `pending.txt` when the case is listed there.
pub(crate) fn run_case(
    setup: &Setup,
    case: &Case,
    program: &Result<PathBuf, NotBuilt>,
    pending: Option<&str>,
) -> Outcome {
    let program = match program {
        Ok(path) => path,
        Err(NotBuilt::Unavailable(why)) => return Outcome::Skip(why.clone()),
        Err(NotBuilt::Failed(why)) => return Outcome::Fail(format!("not built: {why}")),
    };
    if let Some(why) = needs_root(case).filter(|_| !setup.host_is_root) {
        return Outcome::Skip(why.into());
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
    let expected = match host_side(setup, case, program, host_dir) {
        Ok(observed) => observed,
        Err(message) => return Outcome::Fail(message),
    };
    if let Some(message) = chroot_failure(case, &expected) {
        return Outcome::Fail(message);
    }
    if let Some(message) = host_status_failure(case, &expected) {
        return Outcome::Fail(message);
    }
    if let Some(reason) = pending.filter(|_| !setup.run_pending) {
        return Outcome::Pending(reason.to_string());
    }
    if let Some(why) = case.needs_kvm.filter(|_| setup.accel != "kvm") {
        return Outcome::Skip(format!(
            "runs in Coracle with CORACLE_ACCEL=kvm only, not --accel {}: {why}",
            setup.accel
        ));
    }
    for run in 1..=setup.repeat {
        if let Err(message) = guest_side(setup, case, program, guest_root, &expected) {
            return Outcome::Fail(if setup.repeat > 1 {
                format!("run {run} of {}: {message}", setup.repeat)
            } else {
                message
            });
        }
    }
    Outcome::Pass
}

/// The host run, cut to what the case compares. SMP cases run `setup.repeat` times, every run
/// compared with the first, once for all their vCPU counts.
fn host_side(setup: &Setup, case: &Case, program: &Path, dir: &Path) -> Result<Observed, String> {
    let run = || -> Result<Observed, String> {
        let command = host_command(case, program, dir, setup.host_cpus);
        exec::run(command, case.stdin.as_deref(), HOST_TIMEOUT)
            .map(|observed| cut_stderr(case, observed))
            .map_err(|err| format!("host run: {err}"))
    };
    // The host is the reference, and the host kernel can be wrong: this machine's Linux 6.18
    // wakes futex waiters spuriously, and a spurious wakeup puts a requeued waiter back on its
    // first futex (Linux's futex_wait retries with the original address), so thr_futex loses a
    // waiter in about 2% of host runs. A host run that hangs or ends with another status than
    // the case expects is therefore tried again, up to HOST_TRIES times; Coracle never is.
    let once = || -> Result<Observed, String> {
        let mut last = run();
        for _ in 1..HOST_TRIES {
            match &last {
                Ok(observed) if case.host_status.is_none_or(|s| s == observed.status) => break,
                _ => last = run(),
            }
        }
        last
    };
    if case.cpus.is_none() {
        return once();
    }
    let repeated = || -> Result<Observed, String> {
        let first = once()?;
        for run in 2..=setup.repeat {
            let again = once()?;
            if let Some(difference) = diff::compare(&first, &again, case.compare_stderr) {
                return Err(format!(
                    "host runs 1 and {run} differ (the program is not deterministic): \
                     {difference}"
                ));
            }
        }
        Ok(first)
    };
    let cell = {
        let mut cache = setup.host_cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(case.host_key().to_string())
            .or_default()
            .clone()
    };
    cell.get_or_init(repeated).clone()
}

/// How many times a failing host run is tried (see `host_side`).
const HOST_TRIES: usize = 3;

/// One guest run compared with the host's: `Err` says how it differs.
fn guest_side(
    setup: &Setup,
    case: &Case,
    program: &Path,
    root: &Path,
    expected: &Observed,
) -> Result<(), String> {
    let guest = coracle_command(setup, case, program, root);
    let timeout = case.timeout.map_or(setup.timeout, |t| t.max(setup.timeout));
    let got = match exec::run(guest, case.stdin.as_deref(), timeout) {
        Ok(observed) => cut_stderr(case, observed),
        Err(err @ RunError::Spawn(_)) => {
            return Err(format!("coracle {}: {err}", setup.coracle.display()))
        }
        Err(err) => return Err(format!("coracle run: {err}")),
    };
    // 125-127 are the tool's own failures: its last word on stderr says more than a diff.
    let tool_failed = (125..=127).contains(&got.status) && expected.status != got.status;
    let with_stderr = case.compare_stderr && !tool_failed;
    match diff::compare(expected, &got, with_stderr) {
        None => Ok(()),
        Some(mut message) => {
            if tool_failed {
                let said = exec::last_line(&got.stderr).unwrap_or_else(|| "nothing".into());
                message.push_str(&format!("; coracle said: {said}"));
            }
            Err(message)
        }
    }
}

/// A host run whose exit status is not the one the case expects: the program's own checks
/// failed on Linux (or it died), so comparing with Coracle would prove nothing.
fn host_status_failure(case: &Case, host: &Observed) -> Option<String> {
    let want = case.host_status?;
    (host.status != want).then(|| {
        format!(
            "host side: status {}, expected {} (the program fails on Linux; its last line: {})",
            crate::status::describe(host.status),
            crate::status::describe(want),
            exec::last_line(&host.stdout).unwrap_or_else(|| "none".into())
        )
    })
}

/// Keeps only the first `case.stderr_lines` lines of stderr, when the case says so.
fn cut_stderr(case: &Case, mut observed: Observed) -> Observed {
    if let Some(lines) = case.stderr_lines {
        observed.stderr = first_lines(&observed.stderr, lines).to_vec();
    }
    observed
}

/// The first `n` lines of `bytes`, with their newlines.
pub(crate) fn first_lines(bytes: &[u8], n: usize) -> &[u8] {
    let end = bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(n.saturating_sub(1))
        .map_or(bytes.len(), |(at, _)| at + 1);
    if n == 0 {
        &bytes[..0]
    } else {
        &bytes[..end]
    }
}

/// How many CPUs this process may run on: its `Cpus_allowed_list`, else what std says.
pub(crate) fn host_cpus() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .and_then(|list| count_cpu_list(list.trim()))
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(1)
}

/// The number of CPUs in a list like `0-3,5,7-8`; `None` when it is malformed.
pub(crate) fn count_cpu_list(list: &str) -> Option<usize> {
    let mut count = 0;
    for part in list.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let one = part.parse::<usize>().ok()?;
                (one, one)
            }
        };
        count += last.checked_sub(first)? + 1;
    }
    (count > 0).then_some(count)
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
mod tests;
