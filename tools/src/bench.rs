//! `coracle bench`: runs one static program in Coracle and in a stock Linux VM under the same
//! QEMU flags, and compares their outputs, the metrics the program reported and the boot.
//!
//! The Coracle side is `coracle run` itself (this binary, as a child), so it measures exactly
//! what users run; the Linux side (`linux`) boots the Debian kernel that `baseline` fetches
//! and caches. `sides` runs either once, `exec` with a deadline; `report` parses the
//! `name value unit` lines the program prints and makes the rows, which `output` turns into
//! JSON or Markdown and `chart` into an SVG; `floor` bisects the memory floor (`--min-memory`);
//! `crate::icount` is the deterministic mode. A new kind of workload needs only a program
//! that prints `name value unit` lines (see bench/programs/bench.h). `--servers` (`net`)
//! measures network servers of a root filesystem under host load generators instead.

mod baseline;
mod chart;
mod exec;
mod floor;
mod linux;
mod net;
mod output;
mod report;
mod sides;
mod soak;
mod storage;
mod streams;
mod tap;

use std::ffi::{OsStr, OsString};
use std::io::{self, BufWriter};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::{from_env_or, parse_memory};
use crate::env;
use crate::error::RunError;
use crate::icount;
use crate::program::{self, Program};
use crate::qemu::{self, Accel};
use crate::tempdir::TempDir;
use output::{ComparisonReport, Format, Report};
use report::{Comparison, RunResult, Series};
use sides::Knobs;

pub use net::Server;

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
    /// The Linux VM's kernel: a PVH vmlinux, or a bzImage to extract it from [default: on
    /// Debian, the distribution's kernel package, downloaded with apt-get and cached in
    /// $CORACLE_BENCH_DIR, else ~/.cache/coracle-bench].
    #[arg(long, value_name = "PATH")]
    pub linux_kernel: Option<PathBuf>,
    /// Deterministic: count instructions (QEMU -icount shift=0,sleep=off, TCG), both kernels
    /// without randomisation; the program's times and the boot are then reported in
    /// instructions, the same on every run. icount runs vCPUs one at a time, so it takes one
    /// CPU count of 1: multi-CPU speedups are a wall-clock measure.
    #[arg(long)]
    pub icount: bool,
    /// Where Coracle's side gets a ROOTFS_DIR's or an image's root filesystem (as `coracle
    /// run --root-device`): `blk` reads it on demand from a drive (an absolute PROGRAM that
    /// ROOTFS_DIR holds then runs in place, e.g. `/usr/bin/python3`, and a first, unmeasured
    /// run writes the root's image) [default: $CORACLE_ROOT_DEVICE, else `coracle run`'s].
    #[arg(long = "root-device", value_enum)]
    pub root_device: Option<crate::qemu::RootDevice>,
    /// How to print the results: aligned tables with both outputs side by side, one JSON
    /// document, or Markdown tables.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also find each side's memory floor: the smallest -m (whole MiB, by bisection below -m)
    /// at which the program still gives the same status and output, besides its metrics.
    #[arg(long)]
    pub min_memory: bool,
    /// Write the report to DIR: report.json (as --format json) and chart.svg (Coracle vs
    /// Linux per metric: medians, min-max whiskers, ratios).
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Network servers instead of a program: the command is then a ROOTFS_DIR holding them
    /// (Debian's nginx-light, redis-server, iperf3; e.g. the compat suite's root), run in
    /// both VMs on QEMU's user network and driven from the host by wrk, redis-benchmark and
    /// iperf3; the host CPU each VM used is reported with each load.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "SERVER[,SERVER...]"
    )]
    pub servers: Vec<Server>,
    /// With --servers: seconds of wrk, and of iperf3 each way.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub load_seconds: u32,
    /// With --servers: requests per redis-benchmark test (SET, GET).
    #[arg(long, value_name = "N", default_value_t = 10000, value_parser = clap::value_parser!(u32).range(1..))]
    pub redis_requests: u32,
    /// With --servers: a soak instead of the loads: each server (nginx, redis) under its load
    /// for SECONDS, the guest's memory use (/proc/meminfo) sampled all along; reports its
    /// start, end and largest value with the requests/s.
    #[arg(long, value_name = "SECONDS", requires = "servers", value_parser = clap::value_parser!(u32).range(1..=86400))]
    pub soak: Option<u32>,
    /// With --servers: over a tap device in a network namespace the bench makes (and removes)
    /// instead of QEMU's user network; VMs and load generators run in it (needs root).
    #[arg(long, requires = "servers")]
    pub tap: bool,
    /// Stream throughput instead of a program: MIB MiB (a whole number; default 100) of a
    /// program's stdout to a pipe on the host, and from a pipe on the host to its stdin, in
    /// both VMs (busybox's dd on the same virtio-serial ports), in MB/s; no PROGRAM.
    #[arg(
        long,
        value_name = "MIB",
        num_args = 0..=1,
        default_missing_value = "100",
        conflicts_with = "servers",
        value_parser = clap::value_parser!(u32).range(1..=4096)
    )]
    pub streams: Option<u32>,
    /// [ROOTFS_DIR] PROGRAM [ARGS...]: PROGRAM is a static ELF (a host path, or a name looked up
    /// in PATH). With ROOTFS_DIR (a directory) first, both VMs run PROGRAM inside that root
    /// filesystem (the same files, with PROGRAM added at /.coracle-bench/NAME), e.g.
    /// `coracle bench ROOT -- target/bench/bench_spawn 100 exec_true /bin/true`. Or IMAGE
    /// CMD [ARGS...]: both VMs run CMD, a command of the image (found in its PATH, with its
    /// Env and WorkingDir, no Entrypoint), in the image's files.
    #[arg(
        value_name = "PROGRAM",
        required_unless_present = "streams",
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// Everything a run of either side needs.
#[derive(Debug)]
struct Plan {
    /// The host program run (None for an image's own command).
    program: Option<Program>,
    /// The program as given on the command line, for the reports.
    typed: OsString,
    rootfs: Option<Staged>,
    /// `coracle bench IMAGE CMD...`: the image, and CMD's run in it.
    image: Option<BenchImage>,
    args: Vec<OsString>,
    accel: Accel,
    memory_mib: u64,
    timeout: Duration,
    qemu: PathBuf,
    coracle: Option<PathBuf>,
    linux: Option<LinuxVm>,
    icount: bool,
    /// `--root-device` for Coracle's side (`None`: `coracle run`'s choice).
    root_device: Option<crate::qemu::RootDevice>,
}

/// An image whose own command is benchmarked: Coracle runs `coracle run --entrypoint ""
/// IMAGE CMD...`; the Linux VM gets the image's files (in memory from its layers, never
/// unpacked on the host) with busybox, and runs the command as `coracle run` resolved it
/// (the program found in the image's PATH, its environment and working directory).
#[derive(Debug)]
struct BenchImage {
    /// The image as typed.
    name: OsString,
    tree: crate::image::tree::FsTree,
    /// The Linux VM's `/init` command line for CMD.
    linux_argv: Vec<OsString>,
}

/// A root filesystem with the program added, shared by both VMs.
#[derive(Debug)]
struct Staged {
    root: PathBuf,
    /// The program's path inside `root`.
    guest_path: PathBuf,
    /// Holds `root` (`None`: the root given, run in place; see `storage`).
    _dir: Option<TempDir>,
}

#[derive(Debug)]
struct LinuxVm {
    vmlinux: PathBuf,
    initramfs: PathBuf,
    /// `--linux-arg`s, added to every command line.
    extra_args: Vec<String>,
    /// Holds the initramfs.
    _dir: TempDir,
}

/// Runs the benchmark; the status is 0 when every run of every side exited with 0.
pub fn run(args: BenchArgs) -> Result<u8, RunError> {
    if !args.servers.is_empty() {
        return run_servers(&args);
    }
    if let Some(mib) = args.streams {
        return streams::bench(&args, mib);
    }
    let cwd = std::env::current_dir()
        .map_err(|e| RunError::io("cannot read the current directory", e))?;
    let (mut name, mut rest) = args
        .command
        .split_first()
        .ok_or_else(|| RunError::Usage("no program given".into()))?;
    let store = crate::image::store::Store::existing_default();
    let host_path = program::host_path_var();
    let image = crate::image::run::image_source(name, &cwd, host_path.as_deref(), store.as_ref())?
        .map(|source| bench_image(name, rest, &source))
        .transpose()?;
    if image.is_some() {
        (name, rest) = rest
            .split_first()
            .ok_or_else(|| RunError::Usage("no command given after the image".into()))?;
    }
    let rootfs_dir = Path::new(name)
        .is_dir()
        .then(|| PathBuf::from(name))
        .filter(|_| image.is_none());
    if rootfs_dir.is_some() {
        (name, rest) = rest.split_first().ok_or_else(|| {
            RunError::Usage("no program given after the root filesystem directory".into())
        })?;
    }
    let in_root = rootfs_dir
        .as_deref()
        .and_then(|dir| storage::in_root(dir, name));
    let program = match (&image, &in_root) {
        (Some(_), _) | (_, Some(_)) => None,
        (None, None) => Some(program::find_program(
            name,
            host_path.as_deref(),
            &cwd,
            None,
        )?),
    };
    let rootfs = match (rootfs_dir, &program) {
        (Some(_), None) => in_root,
        (Some(dir), Some(program)) => Some(stage_rootfs(&dir, program)?),
        _ => None,
    };
    let requested = from_env_or(args.accel, "CORACLE_ACCEL", Accel::Auto, env::host_lookup)?;
    let accel = if args.icount {
        if args.cpus.iter().any(|&n| n != 1) {
            return Err(RunError::Usage(
                "--icount runs every vCPU on one host thread, one after the other: compare \
                 --cpus counts above 1 in wall-clock mode (without --icount)"
                    .into(),
            ));
        }
        icount::accel(requested).map_err(RunError::Usage)?
    } else {
        qemu::host_accel(requested)
    };
    let qemu = qemu_path(&args);
    let want = |side| args.only.is_none_or(|only| only == side);
    let linux = if want(Side::Linux) {
        Some(prepare_linux(
            program.as_ref(),
            rootfs.as_ref(),
            image.as_ref(),
            rest,
            &args.linux_args,
            args.linux_kernel.as_deref(),
        )?)
    } else {
        None
    };
    let coracle = coracle_exe(want(Side::Coracle))?;
    let plan = Plan {
        program,
        typed: name.to_owned(),
        rootfs,
        image,
        args: rest.to_vec(),
        accel,
        memory_mib: args.memory,
        timeout: Duration::from_secs(args.timeout),
        qemu,
        coracle,
        linux,
        icount: args.icount,
        // Without the flag, `coracle run` reads $CORACLE_ROOT_DEVICE itself.
        root_device: args.root_device,
    };
    let mode = if plan.icount {
        report::Mode::Icount
    } else {
        report::Mode::Wall
    };
    // Progress and the plan go to stderr unless the tables are wanted, so that JSON and
    // Markdown on stdout are the document alone.
    let table = args.format == Format::Table;
    let header = format!(
        "coracle bench: {} -- {} run(s) per VM and CPU count, --accel {}, -m {}M, {}",
        shown_command(&plan),
        args.runs,
        accel_name(plan.accel),
        plan.memory_mib,
        if plan.icount {
            "icount (instructions; idle time skipped)"
        } else {
            "wall clock"
        }
    );
    let linux_line = plan.linux.as_ref().map(|vm| {
        format!(
            "linux: {}, -append \"{}\"",
            vm.vmlinux.display(),
            vm.cmdline(plan.icount)
        )
    });
    for line in std::iter::once(&header).chain(&linux_line) {
        if table {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }

    let knobs = |cpus| Knobs {
        cpus,
        memory_mib: plan.memory_mib,
        timeout: plan.timeout,
        icount: plan.icount,
    };
    storage::warm_up(&plan, knobs(args.cpus[0]));
    let results = round_robin(
        &args,
        [plan.coracle.is_some(), plan.linux.is_some()],
        plan.icount,
        |side, cpus| match side {
            Side::Coracle => sides::run_coracle(&plan, knobs(cpus)),
            Side::Linux => sides::run_linux(&plan, knobs(cpus)),
        },
    );
    let linux = plan
        .linux
        .as_ref()
        .map(|vm| (vm.vmlinux.display().to_string(), vm.cmdline(plan.icount)));
    let (accel, memory) = (accel_name(plan.accel), plan.memory_mib);
    let mut report = Report::new(shown_command(&plan), mode, accel, memory, args.runs, linux);
    report.memory_floor = args.min_memory.then(|| memory_floor(&plan, args.cpus[0]));
    finish(&args, &results, report)
}

/// Runs every side at every CPU count `args.runs` times, round-robin, so that a change in
/// host load hits every configuration alike; a side that failed at a CPU count is not run
/// again there. `sides`: whether Coracle and Linux run.
fn round_robin(
    args: &BenchArgs,
    sides: [bool; 2],
    icount: bool,
    mut one: impl FnMut(Side, u32) -> RunResult,
) -> Vec<(u32, Option<Series>, Option<Series>)> {
    let mut results: Vec<(u32, Option<Series>, Option<Series>)> = args
        .cpus
        .iter()
        .map(|&cpus| {
            (
                cpus,
                sides[0].then(|| series(icount)),
                sides[1].then(|| series(icount)),
            )
        })
        .collect();
    for i in 1..=args.runs {
        for (cpus, coracle, linux) in &mut results {
            for (side, series) in [(Side::Coracle, coracle), (Side::Linux, linux)] {
                let Some(series) = series else { continue };
                if series.failure().is_some() {
                    continue;
                }
                let result = one(side, *cpus);
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
    results
}

/// Tabulates the runs into `report` (which has no comparisons yet), prints it as asked and
/// writes `--output`; the status: 0 when every run succeeded and the outputs matched.
fn finish(
    args: &BenchArgs,
    results: &[(u32, Option<Series>, Option<Series>)],
    mut report: Report,
) -> Result<u8, RunError> {
    let comparisons: Vec<Comparison<'_>> = results
        .iter()
        .map(|(cpus, coracle, linux)| Comparison {
            cpus: *cpus,
            coracle: coracle.as_ref(),
            linux: linux.as_ref(),
        })
        .collect();
    let all_ok = comparisons.iter().all(|c| {
        let ran_ok = [c.coracle, c.linux]
            .into_iter()
            .flatten()
            .all(|s| s.failure().is_none());
        ran_ok && report::outputs_match(c) != Some(false)
    });
    report.comparisons = comparisons.iter().map(ComparisonReport::new).collect();
    match args.format {
        Format::Table => {
            print_tables(&comparisons);
            if let Some(floor) = &report.memory_floor {
                println!("\n{}", floor.describe());
            }
        }
        Format::Json => print!("{}", report.to_json()),
        Format::Markdown => print!("{}", report.to_markdown()),
    }
    if let Some(dir) = &args.output {
        write_output(dir, &report)?;
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// `--qemu`, else $CORACLE_QEMU, else qemu-system-x86_64.
fn qemu_path(args: &BenchArgs) -> PathBuf {
    args.qemu
        .clone()
        .or_else(|| {
            std::env::var_os("CORACLE_QEMU")
                .filter(|v| !v.is_empty())
                .map(Into::into)
        })
        .unwrap_or_else(|| "qemu-system-x86_64".into())
}

/// `--servers`: the network benchmark (`net`) of the servers in the root filesystem given.
fn run_servers(args: &BenchArgs) -> Result<u8, RunError> {
    let [root] = args.command.as_slice() else {
        return Err(RunError::Usage(
            "with --servers the command is one ROOTFS_DIR holding the servers".into(),
        ));
    };
    let root = PathBuf::from(root);
    if !root.is_dir() {
        return Err(RunError::Usage(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    if args.icount {
        return Err(RunError::Usage(
            "--servers measures wall-clock rates under a host load generator: no --icount".into(),
        ));
    }
    let requested = from_env_or(args.accel, "CORACLE_ACCEL", Accel::Auto, env::host_lookup)?;
    let accel = qemu::host_accel(requested);
    let qemu = qemu_path(args);
    let want = |side| args.only.is_none_or(|only| only == side);
    let linux = if want(Side::Linux) {
        let cache = linux::cache_dir(env::host_lookup);
        let vmlinux = baseline::kernel(cache.as_deref(), args.linux_kernel.as_deref())
            .map_err(RunError::Usage)?;
        let mut vm = net::prepare_linux(&root, vmlinux, &args.servers, args.soak)?;
        vm.extra_args = args.linux_args.clone();
        Some(vm)
    } else {
        None
    };
    let coracle = coracle_exe(want(Side::Coracle))?;
    if args.soak.is_some() && args.servers.contains(&Server::Iperf3) {
        return Err(RunError::Usage(
            "--soak drives nginx and redis: leave iperf3 out of --servers".into(),
        ));
    }
    let tap = args.tap.then(tap::Netns::new).transpose()?;
    let servers: Vec<&str> = args.servers.iter().map(|s| s.name()).collect();
    let mut command = format!("--servers {}", servers.join(","));
    if let Some(soak) = args.soak {
        command.push_str(&format!(" --soak {soak}"));
    }
    if args.tap {
        command.push_str(" --tap");
    }
    command.push_str(" ROOTFS");
    let load = match args.soak {
        Some(soak) => format!("{soak} s soak of each server"),
        None => format!("{} s loads", args.load_seconds),
    };
    let network = if args.tap {
        "a tap device in a network namespace"
    } else {
        "QEMU's user network"
    };
    let header = format!(
        "coracle bench {command} -- {} run(s) per VM and CPU count, --accel {}, -m {}M, \
         {load}, {} redis requests per test, {network}, wall clock",
        args.runs,
        accel_name(accel),
        args.memory,
        args.redis_requests
    );
    print_header(args.format, &header);
    let plan = net::NetPlan {
        root: &root,
        servers: &args.servers,
        accel,
        qemu: &qemu,
        coracle: coracle.as_deref(),
        linux: linux.as_ref(),
        load: net::Load {
            seconds: args.load_seconds,
            redis_requests: args.redis_requests,
            soak: args.soak,
        },
        tap: tap.as_ref(),
    };
    let results = round_robin(
        args,
        [coracle.is_some(), linux.is_some()],
        false,
        |side, cpus| net::run(&plan, side == Side::Coracle, wall_knobs(args, cpus)),
    );
    let linux = linux
        .as_ref()
        .map(|vm| (vm.vmlinux.display().to_string(), vm.cmdline(false)));
    let (wall, accel) = (report::Mode::Wall, accel_name(accel));
    let report = Report::new(command, wall, accel, args.memory, args.runs, linux);
    finish(args, &results, report)
}

/// The plan's header: on stdout above the tables, else on stderr (so that JSON and Markdown
/// on stdout are the document alone).
fn print_header(format: Format, header: &str) {
    if format == Format::Table {
        println!("{header}");
    } else {
        eprintln!("{header}");
    }
}

/// `--output DIR`: report.json and chart.svg.
fn write_output(dir: &Path, report: &Report) -> Result<(), RunError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| RunError::io(format!("cannot create {}", dir.display()), e))?;
    for (name, text) in [
        ("report.json", report.to_json()),
        ("chart.svg", chart::svg(report)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| RunError::io(format!("cannot write {}", path.display()), e))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

/// The wall-clock settings of one run at `cpus` CPUs from the command line (the servers and
/// streams benches, which count bytes and requests, not instructions).
pub(crate) fn wall_knobs(args: &BenchArgs, cpus: u32) -> Knobs {
    Knobs {
        cpus,
        memory_mib: args.memory,
        timeout: Duration::from_secs(args.timeout),
        icount: false,
    }
}

/// `--min-memory` on every side that runs, at the first CPU count.
fn memory_floor(plan: &Plan, cpus: u32) -> output::MemoryFloor {
    let knobs = Knobs {
        cpus,
        memory_mib: plan.memory_mib,
        timeout: plan.timeout,
        icount: false,
    };
    let side = |name: &str, on: bool, run: fn(&Plan, Knobs) -> RunResult| {
        if !on {
            return (None, None);
        }
        match floor::find(name, knobs, |k| run(plan, k)) {
            Ok(mib) => (Some(mib), None),
            Err(why) => (None, Some(why)),
        }
    };
    let (coracle_mib, coracle_note) = side("coracle", plan.coracle.is_some(), sides::run_coracle);
    let (linux_mib, linux_note) = side("linux", plan.linux.is_some(), sides::run_linux);
    output::MemoryFloor {
        coracle_mib,
        linux_mib,
        coracle_note,
        linux_note,
    }
}

/// The text report: a table per CPU count with whether the outputs matched, the scaling
/// between CPU counts, then both outputs side by side.
fn print_tables(comparisons: &[Comparison<'_>]) {
    for c in comparisons {
        println!();
        print!("{}", report::format_table(c));
        match report::outputs_match(c) {
            Some(true) => println!("outputs: identical (status and output besides metrics)"),
            Some(false) => {
                println!("outputs: DIFFER (status or output besides metrics; see below)")
            }
            None => {}
        }
    }
    let scaling = report::format_scaling(comparisons);
    if !scaling.is_empty() {
        println!();
        print!("{scaling}");
    }
    println!(
        "\n(coracle/linux: below 1 for a time, an instruction count or a size, and above 1 for a rate, Coracle is better)"
    );
    for c in comparisons {
        println!();
        print!(
            "{}",
            report::side_by_side(
                (&format!("coracle --cpus {}", c.cpus), last_run(c.coracle)),
                (&format!("linux --cpus {}", c.cpus), last_run(c.linux)),
            )
        );
    }
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

fn series(icount: bool) -> Series {
    Series {
        runs: Vec::new(),
        icount,
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
    let root = match (&plan.image, &plan.rootfs) {
        (Some(image), _) => Some(image.name.as_os_str()),
        (None, Some(_)) => Some(OsStr::new("ROOTFS")),
        (None, None) => None,
    };
    root.into_iter()
        .chain(std::iter::once(plan.typed.as_os_str()))
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
        _dir: Some(tmp),
    })
}

impl LinuxVm {
    /// The kernel's command line in either mode: under icount the TSC counts virtual ns and
    /// the layout is not randomised; otherwise the host's TSC rate (TCG runs the guest's TSC
    /// at it).
    fn cmdline(&self, icount: bool) -> String {
        let mut line = if icount {
            let mut line = linux::kernel_cmdline(icount::TSC_KHZ);
            for arg in icount::linux_kernel_args() {
                if !arg.starts_with("tsc_early_khz=") {
                    line.push(' ');
                    line.push_str(&arg);
                }
            }
            line
        } else {
            linux::kernel_cmdline(linux::host_tsc_khz().0)
        };
        for arg in &self.extra_args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }
}

/// Reads the image `name` and resolves `cmd` in it as `coracle run --entrypoint "" IMAGE
/// CMD...` does, for the Linux VM's side.
fn bench_image(
    name: &OsStr,
    cmd: &[OsString],
    source: &crate::image::reference::Source,
) -> Result<BenchImage, RunError> {
    if cmd.is_empty() {
        return Err(RunError::Usage("no command given after the image".into()));
    }
    let mut line: Vec<OsString> = vec!["--entrypoint".into(), "".into(), name.into()];
    line.extend(cmd.iter().cloned());
    let opts = crate::pack::run_options_for(&line)?;
    let store = crate::image::store::Store::open_default()?;
    let prepared = crate::image::run::prepared(&opts, source, &store)?;
    let mut tree = prepared.tree;
    tree.insert(
        b".coracle-bench".to_vec(),
        crate::image::tree::Node::Dir(crate::image::tree::Meta::IMPLIED_DIR),
    );
    // /init runs: busybox sh -c 'cd "$0" && exec "$@"' CWD busybox env -i VARS... EXEC ARGS...
    let bb = OsString::from(linux::ROOTFS_BUSYBOX);
    let mut linux_argv: Vec<OsString> = vec![
        bb.clone(),
        "sh".into(),
        "-c".into(),
        r#"cd "$0" && exec "$@""#.into(),
        OsString::from_vec(prepared.process.cwd.clone()),
        bb,
        "env".into(),
        "-i".into(),
    ];
    linux_argv.extend(prepared.process.env.entries().map(OsString::from_vec));
    linux_argv.push(OsString::from_vec(prepared.exec.clone()));
    linux_argv.extend(prepared.process.argv.iter().skip(1).cloned());
    Ok(BenchImage {
        name: name.to_owned(),
        tree,
        linux_argv,
    })
}

/// Finds the cached kernel and busybox and writes the initramfs, once for all runs.
fn prepare_linux(
    program: Option<&Program>,
    rootfs: Option<&Staged>,
    image: Option<&BenchImage>,
    args: &[OsString],
    kernel_args: &[String],
    given_kernel: Option<&Path>,
) -> Result<LinuxVm, RunError> {
    let cache = linux::cache_dir(env::host_lookup);
    let vmlinux = baseline::kernel(cache.as_deref(), given_kernel).map_err(RunError::Usage)?;
    let busybox = program::find_program("/bin/busybox".as_ref(), None, Path::new("/"), None)
        .map_err(|e| {
            RunError::Usage(format!(
                "the Linux VM needs a static busybox at /bin/busybox ({e}); \
                 install it with `apt-get install busybox-static`"
            ))
        })?;
    let dir = TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    let initramfs = dir.path().join("linux-initramfs.cpio");
    let file = std::fs::File::create(&initramfs)
        .map_err(|e| RunError::io(format!("cannot write {}", initramfs.display()), e))?;
    let argv = |path: &Path| {
        let mut argv = vec![path.as_os_str().to_owned()];
        argv.extend_from_slice(args);
        argv
    };
    let written = match (image, rootfs, program) {
        (Some(image), _, _) => linux::write_rootfs_initramfs(
            BufWriter::new(file),
            crate::root_image::Source::Image(&image.tree),
            &busybox.bytes,
            &[],
            &linux::init_script_with(linux::ROOTFS_BUSYBOX, &image.linux_argv),
        ),
        (None, None, Some(program)) => linux::write_initramfs(
            BufWriter::new(file),
            &busybox.bytes,
            &program.path,
            &program.bytes,
            &linux::init_script(&argv(&program.path)),
        ),
        (None, Some(staged), _) => crate::rootfs::Tree::scan(&staged.root).and_then(|tree| {
            linux::write_rootfs_initramfs(
                BufWriter::new(file),
                crate::root_image::Source::Tree(&tree),
                &busybox.bytes,
                &[],
                &linux::init_script_with(linux::ROOTFS_BUSYBOX, &argv(&staged.guest_path)),
            )
        }),
        (None, None, None) => return Err(RunError::Usage("no program given".into())),
    };
    written.map_err(|e| RunError::io("cannot write the Linux initramfs", e))?;

    Ok(LinuxVm {
        vmlinux,
        initramfs,
        extra_args: kernel_args.to_vec(),
        _dir: dir,
    })
}

/// This executable, which runs the Coracle side, when that side is wanted.
fn coracle_exe(wanted: bool) -> Result<Option<std::path::PathBuf>, RunError> {
    if !wanted {
        return Ok(None);
    }
    std::env::current_exe()
        .map(Some)
        .map_err(|e| RunError::io("cannot find the coracle executable", e))
}

#[cfg(test)]
mod tests {
    use super::*;

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
