//! `coracle bench`: runs one static program in Coracle and in a stock Linux VM under the same
//! QEMU flags, and prints the two side by side with the metrics it reported.
//!
//! The Coracle side is `coracle run` itself (this binary, as a child), so it measures exactly
//! what users run; the Linux side (`linux`) boots the Debian kernel that
//! `bench/linux-baseline.sh` caches. `exec` runs either with a deadline; `report` parses the
//! `name value unit` lines the programs in `bench/programs/` print and makes the tables.

mod exec;
mod linux;
mod report;

use std::ffi::{OsStr, OsString};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::{from_env_or, parse_memory};
use crate::env;
use crate::error::RunError;
use crate::program::{self, Program};
use crate::qemu::{self, Accel};
use crate::tempdir::TempDir;
use report::{Comparison, Ended, RunResult, Series};

/// Which VM to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Side {
    Coracle,
    Linux,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Virtual CPUs for both VMs; a comma-separated list (1,2) runs each count and prints the
    /// speedup of every time metric.
    #[arg(
        long,
        value_name = "N[,N...]",
        value_delimiter = ',',
        default_value = "1",
        value_parser = clap::value_parser!(u32).range(1..=255)
    )]
    pub cpus: Vec<u32>,
    /// Accelerator for both VMs [default: $CORACLE_ACCEL, else auto = kvm when the CPU has
    /// VT-x/AMD-V].
    #[arg(long, value_enum)]
    pub accel: Option<Accel>,
    /// Runs per VM and CPU count; the tables show medians.
    #[arg(
        short = 'n',
        long = "runs",
        value_name = "RUNS",
        default_value_t = 3,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub runs: u32,
    /// Guest memory for both VMs: MiB, or a number with a b/k/m/g suffix (Linux needs ~84 MiB).
    #[arg(short = 'm', long, value_name = "SIZE", default_value = "128", value_parser = parse_memory)]
    pub memory: u64,
    /// Seconds before a run is killed.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
    /// Run in one VM only.
    #[arg(long, value_enum)]
    pub only: Option<Side>,
    /// Add a token to the Linux kernel's command line (e.g. mitigations=off); repeatable.
    #[arg(long = "linux-arg", value_name = "ARG", value_parser = parse_linux_arg)]
    pub linux_args: Vec<String>,
    /// QEMU binary [default: $CORACLE_QEMU, else qemu-system-x86_64].
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    /// [ROOTFS_DIR] PROGRAM [ARGS...]: PROGRAM is a static ELF (a host path, or a name looked up
    /// in PATH). With ROOTFS_DIR (a directory) first, both VMs run PROGRAM inside that root
    /// filesystem (the same files, with PROGRAM added at /.coracle-bench/NAME), e.g.
    /// `coracle bench ROOT -- target/bench/bench_spawn 100 exec_true /bin/true`.
    #[arg(
        value_name = "PROGRAM",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// Everything a run of either side needs.
#[derive(Debug)]
struct Plan {
    program: Program,
    rootfs: Option<Staged>,
    args: Vec<OsString>,
    accel: Accel,
    memory_mib: u64,
    timeout: Duration,
    qemu: PathBuf,
    coracle: Option<PathBuf>,
    linux: Option<LinuxVm>,
}

/// A root filesystem with the program added, shared by both VMs.
#[derive(Debug)]
struct Staged {
    root: PathBuf,
    /// The program's path inside `root`.
    guest_path: PathBuf,
    /// Holds `root`.
    _dir: TempDir,
}

#[derive(Debug)]
struct LinuxVm {
    vmlinux: PathBuf,
    initramfs: PathBuf,
    cmdline: String,
    /// Holds the initramfs.
    _dir: TempDir,
}

/// Runs the benchmark; the status is 0 when every run of every side exited with 0.
pub fn run(args: BenchArgs) -> Result<u8, RunError> {
    let cwd = std::env::current_dir()
        .map_err(|e| RunError::io("cannot read the current directory", e))?;
    let (mut name, mut rest) = args
        .command
        .split_first()
        .ok_or_else(|| RunError::Usage("no program given".into()))?;
    let rootfs_dir = Path::new(name).is_dir().then(|| PathBuf::from(name));
    if rootfs_dir.is_some() {
        (name, rest) = rest.split_first().ok_or_else(|| {
            RunError::Usage("no program given after the root filesystem directory".into())
        })?;
    }
    let program = program::find_program(name, program::host_path_var().as_deref(), &cwd, None)?;
    let rootfs = rootfs_dir
        .map(|dir| stage_rootfs(&dir, &program))
        .transpose()?;
    let accel = qemu::host_accel(from_env_or(
        args.accel,
        "CORACLE_ACCEL",
        Accel::Auto,
        env::host_lookup,
    )?);
    let qemu = args
        .qemu
        .or_else(|| {
            std::env::var_os("CORACLE_QEMU")
                .filter(|v| !v.is_empty())
                .map(Into::into)
        })
        .unwrap_or_else(|| "qemu-system-x86_64".into());
    let want = |side| args.only.is_none_or(|only| only == side);
    let linux = if want(Side::Linux) {
        Some(prepare_linux(
            &program,
            rootfs.as_ref(),
            rest,
            &args.linux_args,
        )?)
    } else {
        None
    };
    let coracle = if want(Side::Coracle) {
        Some(
            std::env::current_exe()
                .map_err(|e| RunError::io("cannot find the coracle executable", e))?,
        )
    } else {
        None
    };
    let plan = Plan {
        program,
        rootfs,
        args: rest.to_vec(),
        accel,
        memory_mib: args.memory,
        timeout: Duration::from_secs(args.timeout),
        qemu,
        coracle,
        linux,
    };
    println!(
        "coracle bench: {} -- {} run(s) per VM and CPU count, --accel {}, -m {}M",
        shown_command(&plan),
        args.runs,
        accel_name(plan.accel),
        plan.memory_mib
    );
    if let Some(vm) = &plan.linux {
        println!(
            "linux: {}, -append \"{}\"",
            vm.vmlinux.display(),
            vm.cmdline
        );
    }

    let mut results: Vec<(u32, Option<Series>, Option<Series>)> = args
        .cpus
        .iter()
        .map(|&cpus| {
            (
                cpus,
                plan.coracle.as_ref().map(|_| Series::default()),
                plan.linux.as_ref().map(|_| Series::default()),
            )
        })
        .collect();
    // Round-robin, so that a change in host load hits every configuration alike; a side that
    // failed at a CPU count is not run again there.
    for i in 1..=args.runs {
        for (cpus, coracle, linux) in &mut results {
            for (side, series) in [(Side::Coracle, coracle), (Side::Linux, linux)] {
                let Some(series) = series else { continue };
                if series.failure().is_some() {
                    continue;
                }
                let result = match side {
                    Side::Coracle => run_coracle(&plan, *cpus),
                    Side::Linux => run_linux(&plan, *cpus),
                };
                eprintln!(
                    "bench: run {i}/{} --cpus {cpus} {}: {:.0} ms{}",
                    args.runs,
                    side_name(side),
                    result.wall.as_secs_f64() * 1e3,
                    result
                        .failure()
                        .map(|f| format!(", {f}"))
                        .unwrap_or_default()
                );
                series.runs.push(result);
            }
        }
    }

    let comparisons: Vec<Comparison<'_>> = results
        .iter()
        .map(|(cpus, coracle, linux)| Comparison {
            cpus: *cpus,
            coracle: coracle.as_ref(),
            linux: linux.as_ref(),
        })
        .collect();
    let mut all_ok = true;
    for c in &comparisons {
        println!();
        print!("{}", report::format_table(c));
        all_ok &= [c.coracle, c.linux]
            .into_iter()
            .flatten()
            .all(|s| s.failure().is_none());
    }
    let scaling = report::format_scaling(&comparisons);
    if !scaling.is_empty() {
        println!();
        print!("{scaling}");
    }
    println!("\n(coracle/linux below 1 for a time: Coracle is faster)");
    for c in &comparisons {
        println!();
        print!(
            "{}",
            report::side_by_side(
                (&format!("coracle --cpus {}", c.cpus), last_run(c.coracle)),
                (&format!("linux --cpus {}", c.cpus), last_run(c.linux)),
            )
        );
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// One command-line token: printable ASCII, no spaces or quotes.
fn parse_linux_arg(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid kernel argument {text:?}: expected printable ASCII without spaces or quotes"
        ))
    }
}

fn last_run(series: Option<&Series>) -> Option<&RunResult> {
    series.and_then(|s| s.runs.last())
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Coracle => "coracle",
        Side::Linux => "linux",
    }
}

fn accel_name(accel: Accel) -> &'static str {
    match accel {
        Accel::Kvm => "kvm",
        Accel::Tcg | Accel::Auto => "tcg",
    }
}

fn shown_command(plan: &Plan) -> String {
    let root = plan.rootfs.as_ref().map(|_| OsStr::new("ROOTFS"));
    root.into_iter()
        .chain(std::iter::once(plan.program.path.as_os_str()))
        .chain(plan.args.iter().map(OsString::as_os_str))
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Copies `dir` into a temporary directory (hard links where the file system allows, else a
/// copy; the original is never changed) and adds the program at `/.coracle-bench/NAME`.
fn stage_rootfs(dir: &Path, program: &Program) -> Result<Staged, RunError> {
    let tmp = TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    let root = tmp.path().join("root");
    let copy = |flags: &str| {
        Command::new("cp")
            .arg(flags)
            .arg(dir.join("."))
            .arg(&root)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !copy("-al") {
        let _ = std::fs::remove_dir_all(&root);
        if !copy("-a") {
            return Err(RunError::Usage(format!(
                "cannot copy the root filesystem {} to {}",
                dir.display(),
                root.display()
            )));
        }
    }
    let file_name = program
        .path
        .file_name()
        .ok_or_else(|| RunError::Usage("the program has no file name".into()))?;
    let guest_path = Path::new("/.coracle-bench").join(file_name);
    let host_path = root.join(guest_path.strip_prefix("/").unwrap_or(&guest_path));
    let write = || -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(root.join(".coracle-bench"))?;
        std::fs::write(&host_path, &program.bytes)?;
        std::fs::set_permissions(&host_path, std::fs::Permissions::from_mode(0o755))
    };
    write().map_err(|e| RunError::io(format!("cannot write {}", host_path.display()), e))?;
    Ok(Staged {
        root,
        guest_path,
        _dir: tmp,
    })
}

/// Finds the cached kernel and busybox and writes the initramfs, once for all runs.
fn prepare_linux(
    program: &Program,
    rootfs: Option<&Staged>,
    args: &[OsString],
    kernel_args: &[String],
) -> Result<LinuxVm, RunError> {
    let cache = linux::cache_dir(env::host_lookup);
    let vmlinux = linux::find_kernel(cache.as_deref()).map_err(RunError::Usage)?;
    let busybox = program::find_program("/bin/busybox".as_ref(), None, Path::new("/"), None)
        .map_err(|e| {
            RunError::Usage(format!(
                "the Linux VM needs a static busybox at /bin/busybox ({e}); \
                 install it with `apt-get install busybox-static`"
            ))
        })?;
    let guest_path = rootfs.map_or(&program.path, |r| &r.guest_path);
    let mut argv = vec![guest_path.clone().into_os_string()];
    argv.extend_from_slice(args);
    let dir = TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    let initramfs = dir.path().join("linux-initramfs.cpio");
    let file = std::fs::File::create(&initramfs)
        .map_err(|e| RunError::io(format!("cannot write {}", initramfs.display()), e))?;
    let written = match rootfs {
        None => linux::write_initramfs(
            BufWriter::new(file),
            &busybox.bytes,
            &program.path,
            &program.bytes,
            &linux::init_script(&argv),
        ),
        Some(staged) => crate::rootfs::Tree::scan(&staged.root).and_then(|tree| {
            linux::write_rootfs_initramfs(
                BufWriter::new(file),
                &tree,
                &busybox.bytes,
                &linux::init_script_with(linux::ROOTFS_BUSYBOX, &argv),
            )
        }),
    };
    written.map_err(|e| RunError::io("cannot write the Linux initramfs", e))?;
    let (tsc_khz, _) = linux::host_tsc_khz();
    let mut cmdline = linux::kernel_cmdline(tsc_khz);
    for arg in kernel_args {
        cmdline.push(' ');
        cmdline.push_str(arg);
    }
    Ok(LinuxVm {
        vmlinux,
        initramfs,
        cmdline,
        _dir: dir,
    })
}

/// `coracle run --timing` with the same settings, as a child.
fn run_coracle(plan: &Plan, cpus: u32) -> RunResult {
    let Some(exe) = &plan.coracle else {
        unreachable!("run_coracle without a coracle side");
    };
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(["--accel", accel_name(plan.accel), "--machine", "microvm"])
        .args(["--cpus", &cpus.to_string()])
        .args(["-m", &plan.memory_mib.to_string()])
        .arg("--timing")
        .arg("--qemu")
        .arg(&plan.qemu)
        .arg("--");
    match &plan.rootfs {
        None => cmd.arg(&plan.program.path),
        Some(staged) => cmd.arg(&staged.root).arg(&staged.guest_path),
    };
    cmd.args(&plan.args);
    match exec::run(cmd, plan.timeout) {
        Err(e) => spawn_failed(exe, &e),
        Ok(c) => {
            let stderr = String::from_utf8_lossy(&c.stderr);
            RunResult {
                ended: ended(&c, plan.timeout),
                stdout: String::from_utf8_lossy(&c.stdout).into_owned(),
                to_start: coracle_to_start(&stderr),
                stderr: without_timing(&stderr),
                wall: c.wall,
            }
        }
    }
}

fn run_linux(plan: &Plan, cpus: u32) -> RunResult {
    let Some(vm) = &plan.linux else {
        unreachable!("run_linux without a linux side");
    };
    let mut cmd = Command::new(&plan.qemu);
    cmd.args(linux::qemu_args(
        plan.accel,
        plan.memory_mib,
        cpus,
        &vm.vmlinux,
        &vm.initramfs,
        &vm.cmdline,
    ));
    let c = match exec::run(cmd, plan.timeout) {
        Err(e) => return spawn_failed(&plan.qemu, &e),
        Ok(c) => c,
    };
    match (c.status, linux::parse_console(&c.stdout)) {
        (Some(_), Ok(g)) => RunResult {
            ended: Ended::Exited(g.status),
            stdout: String::from_utf8_lossy(&g.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&g.stderr).into_owned(),
            wall: c.wall,
            to_start: c.arrival_of(g.begin_offset),
        },
        (status, parsed) => {
            let why = match (status, parsed) {
                (None, _) => format!("timed out after {} s", plan.timeout.as_secs()),
                (Some(s), Err(why)) => format!("{why}; QEMU {}", exec::describe(s)),
                (Some(_), Ok(_)) => unreachable!("handled above"),
            };
            let mut stderr = linux::console_tail(&c.stdout, 20);
            stderr.push('\n');
            stderr.push_str(&String::from_utf8_lossy(&c.stderr));
            RunResult {
                ended: Ended::Failed(why),
                stdout: String::new(),
                stderr,
                wall: c.wall,
                to_start: None,
            }
        }
    }
}

fn ended(c: &exec::Captured, timeout: Duration) -> Ended {
    match c.status {
        None => Ended::Failed(format!("timed out after {} s", timeout.as_secs())),
        Some(s) => match s.code() {
            Some(code) => Ended::Exited(code),
            None => Ended::Failed(exec::describe(s)),
        },
    }
}

fn spawn_failed(what: &Path, e: &io::Error) -> RunResult {
    RunResult {
        ended: Ended::Failed(format!("cannot start {}: {e}", what.display())),
        stdout: String::new(),
        stderr: String::new(),
        wall: Duration::ZERO,
        to_start: None,
    }
}

const TIMING_PREFIX: &str = "coracle: timing: ";

/// From `coracle run --timing`: the run's start until the program's first instruction, as
/// (whole run - QEMU's run) + (QEMU spawn -> entry record).
fn coracle_to_start(stderr: &str) -> Option<Duration> {
    let ms_after = |key: &str| -> Option<f64> {
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix(TIMING_PREFIX)?.strip_prefix(key))?;
        line.split_whitespace().next()?.parse().ok()
    };
    let entry = ms_after("QEMU spawn -> entry record: ")?;
    let whole = ms_after("whole run: ")?;
    let qemu_ran = stderr.lines().find_map(|l| {
        l.strip_prefix(TIMING_PREFIX)?
            .split_once("(QEMU ran ")?
            .1
            .split_whitespace()
            .next()?
            .parse::<f64>()
            .ok()
    })?;
    let ms = (whole - qemu_ran).max(0.0) + entry;
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1e3))
}

fn without_timing(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !l.starts_with(TIMING_PREFIX))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coracle_timing_lines() {
        let stderr = "oops\n\
            coracle: timing: kernel entry -> first user instruction: 1.500 ms guest (3 TSC ticks at 2 kHz)\n\
            coracle: timing: QEMU spawn -> entry record: 40.000 ms host\n\
            coracle: timing: whole run: 112.000 ms host (QEMU ran 100.000 ms)\n";
        assert_eq!(coracle_to_start(stderr), Some(Duration::from_millis(52)));
        assert_eq!(without_timing(stderr), "oops\n");
        // The program never started: no entry record line.
        let never = "coracle: timing: the program never started\n\
            coracle: timing: whole run: 112.000 ms host (QEMU ran 100.000 ms)\n";
        assert_eq!(coracle_to_start(never), None);
        assert_eq!(without_timing(never), "");
    }

    #[test]
    fn bench_arguments() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            let mut full = vec!["coracle", "bench"];
            full.extend_from_slice(args);
            match crate::cli::Cli::try_parse_from(full).map(|c| c.command) {
                Ok(crate::cli::Command::Bench(b)) => Ok(b),
                Ok(other) => panic!("not bench: {other:?}"),
                Err(e) => Err(e),
            }
        };
        let b = parse(&["--cpus", "1,2", "-n", "5", "prog", "-n", "3"]).unwrap();
        assert_eq!(b.cpus, [1, 2]);
        assert_eq!(b.runs, 5);
        assert_eq!(b.command, ["prog", "-n", "3"]);
        let b = parse(&["prog"]).unwrap();
        assert_eq!((b.cpus.as_slice(), b.runs, b.memory), (&[1][..], 3, 128));
        assert!(parse(&["--cpus", "0", "prog"]).is_err());
        assert!(parse(&["-n", "0", "prog"]).is_err());
        assert!(parse(&[]).is_err());
        let b = parse(&["--only", "linux", "--accel", "tcg", "prog"]).unwrap();
        assert_eq!((b.only, b.accel), (Some(Side::Linux), Some(Accel::Tcg)));
        let b = parse(&[
            "--linux-arg",
            "mitigations=off",
            "--linux-arg",
            "nosmt",
            "p",
        ])
        .unwrap();
        assert_eq!(b.linux_args, ["mitigations=off", "nosmt"]);
        assert!(parse(&["--linux-arg", "a b", "p"]).is_err());
        assert!(parse(&["--linux-arg", "", "p"]).is_err());
        assert!(parse(&["--linux-arg", "x=\"y\"", "p"]).is_err());
    }
}
