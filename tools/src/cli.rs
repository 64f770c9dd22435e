//! The `coracle` command line (clap derive), modelled on `docker run`.
//!
//! Options come before ROOTFS_DIR or PROGRAM; everything after it belongs to the program,
//! verbatim. Turns the raw options into a [`RunOptions`] for `launch` and `vm`, resolving
//! defaults from the environment; which mode the positional arguments mean is `launch`'s call.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::env::{self, EnvError, Environment};
use crate::error::RunError;
use crate::network::NetworkArgs;
use crate::qemu::{Accel, Machine, RootDevice};

#[derive(Debug, Parser)]
#[command(
    name = "coracle",
    version,
    about = "Run Linux x86_64 programs, root filesystems and container images as tiny VMs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in an image or a root filesystem directory, or a Linux x86_64 ELF program
    /// (static, or dynamic with its libraries), in a fresh Coracle VM.
    #[command(
        override_usage = "coracle run [OPTIONS] ROOTFS_DIR COMMAND [ARGS...]\n       \
                                coracle run [OPTIONS] PROGRAM [ARGS...]"
    )]
    Run(Box<RunArgs>),
    /// Run a static program in Coracle and in a stock Linux VM under the same QEMU flags, and
    /// compare their outputs, the `name value unit` results they print, and the wall times.
    #[command(
        override_usage = "coracle bench [OPTIONS] [ROOTFS_DIR] PROGRAM [ARGS...]\n       \
                          coracle bench [OPTIONS] IMAGE CMD [ARGS...]"
    )]
    Bench(crate::bench::BenchArgs),
    /// Pack an image into one file (kernel, launch configuration, EROFS root filesystem) that
    /// `coracle run FILE` runs and QEMU boots alone.
    #[command(override_usage = "coracle pack [OPTIONS] IMAGE -o FILE [ARGS...]")]
    Pack(crate::pack::PackArgs),
    /// Pull an image from a registry, or import one (oci:DIR[:TAG], oci-archive:FILE,
    /// docker-archive:FILE, containers-storage:NAME), into Coracle's image store.
    Pull(crate::image::commands::PullArgs),
    /// List the images in Coracle's store.
    Images,
    /// Remove images from Coracle's store.
    Rmi(crate::image::commands::RmiArgs),
    /// Give an image in Coracle's store another name.
    Tag(crate::image::commands::TagArgs),
    /// Show an image's config (Entrypoint, Cmd, Env, User, ExposedPorts, Labels...) as JSON.
    Inspect(crate::image::commands::InspectArgs),
    /// Build an image from a Dockerfile with buildah, into Coracle's store.
    Build(crate::image::build::BuildArgs),
    /// List the VMs started with -d or --name (running ones; -a for all).
    Ps(crate::lifecycle::commands::PsArgs),
    /// Show a VM's output (stdout and stderr).
    Logs(crate::lifecycle::commands::LogsArgs),
    /// Stop VMs: their stop signal, then SIGKILL after the timeout.
    Stop(crate::lifecycle::commands::StopArgs),
    /// Send a signal to VMs' programs (SIGKILL by default).
    Kill(crate::lifecycle::commands::KillArgs),
    /// Remove stopped VMs' records and logs.
    Rm(crate::lifecycle::commands::RmArgs),
    /// Run a command in a running VM (started with -d or --name), as `docker exec`.
    Exec(crate::lifecycle::exec::ExecArgs),
    /// Manage named volumes (`-v NAME:PATH`): ls, rm.
    Volume {
        #[command(subcommand)]
        command: crate::volume::VolumeCommand,
    },
    /// Wait for VMs to end and print their exit statuses.
    Wait(crate::lifecycle::commands::WaitArgs),
    /// Manage Coracle networks, private segments VMs share (`run --network NAME`).
    Network(crate::networks::NetworkCommand),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Set an environment variable (KEY=VALUE, or KEY to copy the host's value).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<OsString>,
    /// Read environment variables from a file (docker's format: KEY=VALUE lines).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Guest memory: MiB, or a number with a b/k/m/g suffix.
    #[arg(short = 'm', long, value_name = "SIZE", default_value = "128", value_parser = parse_memory)]
    pub memory: u64,
    /// Number of virtual CPUs.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=255))]
    pub cpus: u32,
    /// Give the program a terminal (fds 0-2 are ttys, TERM=xterm).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Keep stdin open: the program reads this process's stdin.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Run in the background and print the VM's id (see coracle ps, logs, stop).
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Name the VM (coracle ps, logs, stop... take it instead of the id).
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub name: Option<String>,
    /// Remove the VM's record and logs when it ends.
    #[arg(long)]
    pub rm: bool,
    /// Accelerator [default: $CORACLE_ACCEL, else auto = kvm when the CPU has VT-x/AMD-V].
    #[arg(long, value_enum)]
    pub accel: Option<Accel>,
    /// Machine type [default: $CORACLE_MACHINE, else microvm].
    #[arg(long, value_enum)]
    pub machine: Option<Machine>,
    /// Where a ROOTFS_DIR's or image's root filesystem travels: `blk` (an EROFS image on a
    /// read-only virtio-blk drive, read on demand, under an in-memory writable overlay) or
    /// `initrd` (unpacked into memory at boot) [default: $CORACLE_ROOT_DEVICE, else blk; a
    /// lone program always travels in the initrd].
    #[arg(long = "root-device", value_enum)]
    pub root_device: Option<RootDevice>,
    /// Copy the kernel log to stderr.
    #[arg(long)]
    pub verbose: bool,
    /// Print boot and run times to stderr at the end.
    #[arg(long)]
    pub timing: bool,
    /// Mount the container's root filesystem read-only (writes fail with EROFS).
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Mount a tmpfs: PATH[:OPTIONS] with size=N[k|m|g|%], mode=OCTAL, ro/rw, [no]exec,
    /// [no]suid, [no]dev (default rw,nosuid,nodev,noexec, mode 1777, half the memory).
    #[arg(long = "tmpfs", value_name = "PATH[:OPTIONS]", value_parser = parse_tmpfs)]
    pub tmpfs: Vec<String>,
    /// Mount a volume: HOST_DIR:PATH or NAME:PATH (a named volume), then :ro or :rw.
    #[arg(short = 'v', long = "volume", value_name = "SOURCE:PATH[:ro]", value_parser = crate::volume::parse_volume)]
    pub volumes: Vec<crate::volume::VolumeSpec>,
    /// Deterministic: QEMU counts instructions (-icount shift=0,sleep=off, TCG only, vCPUs run
    /// one at a time), fixed random seed, no ASLR, a fixed wall clock; guest time and --timing
    /// then read instructions.
    #[arg(long)]
    pub icount: bool,
    /// Extra kernel command-line token (for tests).
    #[arg(long = "kernel-arg", value_name = "KEY=VALUE", hide = true, value_parser = parse_kernel_arg)]
    pub kernel_args: Vec<String>,
    /// Initial working directory, an absolute path [default: / with ROOTFS_DIR, else the
    /// current directory].
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Replace the image's Entrypoint ("" clears it; the image's Cmd is dropped too).
    #[arg(long, value_name = "COMMAND")]
    pub entrypoint: Option<String>,
    /// Run as USER (name|uid[:group|gid]), looked up in the image's /etc/passwd.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// QEMU binary [default: $CORACLE_QEMU, else qemu-system-x86_64].
    #[arg(long, value_name = "PATH")]
    pub qemu: Option<PathBuf>,
    #[command(flatten)]
    pub network: NetworkArgs,
    /// ROOTFS_DIR (a directory: the root filesystem) then COMMAND (a path in it, or a name
    /// looked up in the container's PATH) and its arguments; or PROGRAM (a static ELF: a host
    /// path, or a name looked up in the host's PATH) and its arguments.
    #[arg(
        value_name = "ROOTFS_DIR|PROGRAM",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub command: Vec<OsString>,
}

/// Checks `--name` as Docker does (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`, here at most 64 bytes): the
/// name goes into the /etc/hosts of the VM's network peers.
fn parse_name(text: &str) -> Result<String, String> {
    coracle_abi::peer_hosts::valid_name(text.as_bytes())
        .then(|| text.to_owned())
        .ok_or_else(|| {
            format!(
                "invalid VM name {text:?}: letters, digits, '_', '.' and '-', starting with a \
                 letter or digit, at most 64"
            )
        })
}

/// `docker run -m` sizes: a plain number is MiB here (docker would read bytes, which no one
/// means); `b`, `k`, `m`, `g` suffixes (any case, optional trailing `b`/`ib`) scale it. The
/// result is rounded up to whole MiB.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, suffix) = lower.split_at(digits_end);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("invalid memory size {text:?}: expected e.g. 256, 256m or 1g"))?;
    let unit: u64 = match suffix {
        "" | "m" | "mb" | "mib" => 1 << 20,
        "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "invalid memory size {text:?}: unknown unit {suffix:?}"
            ))
        }
    };
    let bytes = number
        .checked_mul(unit)
        .ok_or_else(|| format!("memory size {text:?} is too large"))?;
    let mib = bytes.div_ceil(1 << 20);
    if mib == 0 {
        return Err("the memory size must be at least 1 MiB".into());
    }
    Ok(mib)
}

/// Checks a `--tmpfs` value as `docker run` takes it; the kernel reads it (coracle.tmpfs=).
fn parse_tmpfs(text: &str) -> Result<String, String> {
    let (path, opts) = text.split_once(':').unwrap_or((text, ""));
    if !path.starts_with('/') {
        return Err(format!("invalid mount path {path:?}: it must be absolute"));
    }
    if text.chars().any(char::is_whitespace) {
        return Err("a --tmpfs value cannot hold white space".into());
    }
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        let ok = match opt.split_once('=') {
            Some(("size", v)) => {
                let digits = v.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G', '%']);
                !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
            }
            Some(("mode", v)) => u32::from_str_radix(v, 8).is_ok_and(|m| m <= 0o7777),
            Some(_) => false,
            None => matches!(
                opt,
                "rw" | "ro" | "exec" | "noexec" | "suid" | "nosuid" | "dev" | "nodev"
            ),
        };
        if !ok {
            return Err(format!("invalid tmpfs option {opt:?}"));
        }
    }
    Ok(text.to_string())
}

fn parse_kernel_arg(text: &str) -> Result<String, String> {
    let ok =
        text.contains('=') && !text.starts_with('=') && text.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "invalid kernel argument {text:?}: expected KEY=VALUE in printable ASCII without spaces"
        ))
    }
}

/// `coracle run` with every default resolved.
#[derive(Debug)]
pub struct RunOptions {
    /// The positional arguments as typed: ROOTFS_DIR COMMAND [ARGS...] or PROGRAM [ARGS...].
    pub command: Vec<OsString>,
    /// `-w`: absolute (checked); `None` for the mode's default.
    pub workdir: Option<PathBuf>,
    pub env: Environment,
    pub memory_mib: u64,
    pub cpus: u32,
    pub tty: bool,
    pub interactive: bool,
    pub accel: Accel,
    pub machine: Machine,
    pub root_device: RootDevice,
    pub verbose: bool,
    pub timing: bool,
    /// `--icount`: the deterministic mode of `crate::icount`.
    pub icount: bool,
    pub kernel_args: Vec<String>,
    /// `-v`, in order.
    pub volumes: Vec<crate::volume::VolumeSpec>,
    pub qemu: PathBuf,
    /// `--entrypoint`, `-u`, and the `--env-file`/`-e` variables alone (an image's Env goes
    /// between Docker's defaults and these).
    pub entrypoint: Option<String>,
    pub user: Option<String>,
    pub user_env: Vec<(OsString, OsString)>,
    pub network: NetworkArgs,
    /// The container's host name (`--hostname`, else the random one).
    pub hostname: String,
    /// `-d`, `--name`, `--rm` (`lifecycle`).
    pub detach: bool,
    pub name: Option<String>,
    pub remove: bool,
}

impl RunArgs {
    /// Resolves the environment (defaults, env files, `-e`) with `host` as the host's variables.
    pub fn into_options(
        self,
        hostname: &str,
        host: impl Fn(&std::ffi::OsStr) -> Option<OsString> + Copy,
    ) -> Result<RunOptions, RunError> {
        self.network.check().map_err(RunError::Usage)?;
        let hostname = self
            .network
            .hostname
            .clone()
            .unwrap_or_else(|| hostname.to_owned());
        let mut environment = Environment::docker_defaults(&hostname, self.tty);
        let mut user_env = Vec::new();
        for file in &self.env_file {
            let contents = std::fs::read(file)
                .map_err(|e| RunError::io(format!("cannot read env file {}", file.display()), e))?;
            let vars = env::parse_env_file(&contents, host).map_err(|e: EnvError| {
                RunError::Usage(format!("env file {}: {e}", file.display()))
            })?;
            user_env.extend(vars.iter().cloned());
            environment.extend(vars);
        }
        for arg in &self.env {
            let var = env::parse_env_arg(arg, host).map_err(|e| RunError::Usage(e.to_string()))?;
            user_env.extend(var.iter().cloned());
            environment.extend(var);
        }
        if let Some(dir) = &self.workdir {
            if !dir.is_absolute() {
                return Err(RunError::Usage(format!(
                    "the working directory '{}' is invalid, it needs to be an absolute path",
                    dir.display()
                )));
            }
        }
        Ok(RunOptions {
            command: self.command,
            workdir: self.workdir,
            env: environment,
            memory_mib: self.memory,
            cpus: self.cpus,
            tty: self.tty,
            interactive: self.interactive,
            accel: from_env_or(self.accel, "CORACLE_ACCEL", Accel::Auto, host)?,
            machine: from_env_or(self.machine, "CORACLE_MACHINE", Machine::Microvm, host)?,
            root_device: from_env_or(
                self.root_device,
                "CORACLE_ROOT_DEVICE",
                RootDevice::Blk,
                host,
            )?,
            verbose: self.verbose,
            timing: self.timing,
            icount: self.icount,
            kernel_args: {
                let mut args = self.kernel_args;
                if self.read_only {
                    args.push("coracle.readonly=1".into());
                }
                args.extend(self.tmpfs.iter().map(|t| format!("coracle.tmpfs={t}")));
                args
            },
            volumes: self.volumes,
            qemu: self
                .qemu
                .or_else(|| {
                    host("CORACLE_QEMU".as_ref())
                        .filter(|v| !v.is_empty())
                        .map(Into::into)
                })
                .unwrap_or_else(|| "qemu-system-x86_64".into()),
            entrypoint: self.entrypoint,
            user: self.user,
            user_env,
            network: self.network,
            hostname,
            detach: self.detach,
            name: self.name,
            remove: self.rm,
        })
    }
}

/// The option's value if given, else the variable `var` if set and non-empty, else `default`.
pub(crate) fn from_env_or<T: ValueEnum>(
    given: Option<T>,
    var: &str,
    default: T,
    host: impl Fn(&std::ffi::OsStr) -> Option<OsString>,
) -> Result<T, RunError> {
    if let Some(value) = given {
        return Ok(value);
    }
    let Some(text) = host(var.as_ref()).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let text = text.to_string_lossy();
    T::from_str(&text, true).map_err(|_| {
        let choices: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        RunError::Usage(format!(
            "{var}={text} is not valid: expected one of {}",
            choices.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut full = vec!["coracle", "run"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Run(r) => *r,
            other => panic!("not run: {other:?}"),
        }
    }

    fn no_host(_: &std::ffi::OsStr) -> Option<OsString> {
        None
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("128"), Ok(128));
        assert_eq!(parse_memory("256m"), Ok(256));
        assert_eq!(parse_memory("256M"), Ok(256));
        assert_eq!(parse_memory("1g"), Ok(1024));
        assert_eq!(parse_memory("2GB"), Ok(2048));
        assert_eq!(parse_memory("1536k"), Ok(2));
        assert_eq!(parse_memory("1048576b"), Ok(1));
        assert!(parse_memory("0").is_err());
        assert!(parse_memory("12x").is_err());
        assert!(parse_memory("m").is_err());
        assert!(parse_memory("").is_err());
        assert!(parse_memory("99999999999999g").is_err());
    }

    /// `--name` is checked as Docker checks it: it goes into the network peers' /etc/hosts.
    #[test]
    fn vm_names() {
        assert_eq!(parse_name("db"), Ok("db".into()));
        assert_eq!(parse_name("my_db.v-2"), Ok("my_db.v-2".into()));
        for bad in ["", "-db", "d b", "db#x", "d\tb", &"a".repeat(65)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        let mut full = vec!["coracle", "run", "--name", "a b", "/bin/true"];
        assert!(Cli::try_parse_from(&full).is_err());
        full[3] = "ab";
        assert!(Cli::try_parse_from(&full).is_ok());
    }

    #[test]
    fn program_arguments_are_verbatim() {
        let r = run_args(&[
            "-e",
            "A=1",
            "--verbose",
            "prog",
            "-x",
            "--y",
            "--verbose",
            "-e",
        ]);
        assert_eq!(r.command, ["prog", "-x", "--y", "--verbose", "-e"]);
        assert!(r.verbose);
        assert_eq!(r.env, ["A=1"]);
        let r = run_args(&["prog", "--", "x"]);
        assert_eq!(r.command, ["prog", "--", "x"]);
        let r = run_args(&["--", "prog", "x"]);
        assert_eq!(r.command, ["prog", "x"]);
    }

    #[test]
    fn defaults() {
        let r = run_args(&["prog"]);
        assert_eq!(r.memory, 128);
        assert_eq!(r.cpus, 1);
        assert!(!r.tty && !r.interactive && !r.verbose && !r.timing);
        let r = run_args(&["-it", "-m", "1g", "--cpus", "2", "prog"]);
        assert!(r.tty && r.interactive);
        assert_eq!((r.memory, r.cpus), (1024, 2));
    }

    #[test]
    fn unknown_options_before_program_are_errors() {
        assert!(Cli::try_parse_from(["coracle", "run", "--bogus", "prog"]).is_err());
        assert!(Cli::try_parse_from(["coracle", "run", "-x", "prog"]).is_err());
        let r = run_args(&["--", "-weird", "-x"]);
        assert_eq!(r.command, ["-weird", "-x"]);
    }

    #[test]
    fn missing_program_is_a_usage_error() {
        assert!(Cli::try_parse_from(["coracle", "run"]).is_err());
        assert!(Cli::try_parse_from(["coracle", "run", "-e", "A=1"]).is_err());
    }

    #[test]
    fn read_only_and_tmpfs() {
        let o = run_args(&[
            "--read-only",
            "--tmpfs",
            "/run:size=64m,mode=755",
            "--tmpfs",
            "/tmp",
            "p",
        ])
        .into_options("h", |_| None)
        .unwrap();
        assert_eq!(
            o.kernel_args,
            [
                "coracle.readonly=1",
                "coracle.tmpfs=/run:size=64m,mode=755",
                "coracle.tmpfs=/tmp"
            ]
        );
        for bad in ["run", "/run:size=big", "/run:mode=9", "/run:uid=1", "/a b"] {
            assert!(
                Cli::try_parse_from(["coracle", "run", "--tmpfs", bad, "p"]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn kernel_args() {
        let r = run_args(&["--kernel-arg", "coracle.selftest=fault", "prog"]);
        assert_eq!(r.kernel_args, ["coracle.selftest=fault"]);
        assert!(Cli::try_parse_from(["coracle", "run", "--kernel-arg", "a b=c", "p"]).is_err());
        assert!(Cli::try_parse_from(["coracle", "run", "--kernel-arg", "novalue", "p"]).is_err());
    }

    #[test]
    fn environment_resolution() {
        let host = |name: &std::ffi::OsStr| (name == "FROM_HOST").then(|| OsString::from("h"));
        let r = run_args(&[
            "-t",
            "-e",
            "PATH=/x",
            "-e",
            "FROM_HOST",
            "-e",
            "UNSET",
            "prog",
        ]);
        let opts = r.into_options("abcdef012345", host).unwrap();
        let entries: Vec<String> = opts
            .env
            .entries()
            .map(|e| String::from_utf8(e).unwrap())
            .collect();
        assert_eq!(
            entries,
            [
                "PATH=/x",
                "HOSTNAME=abcdef012345",
                "TERM=xterm",
                "HOME=/root",
                "FROM_HOST=h"
            ]
        );
        assert_eq!(opts.accel, Accel::Auto);
        assert_eq!(opts.machine, Machine::Microvm);
        assert_eq!(opts.qemu, PathBuf::from("qemu-system-x86_64"));
        let r = run_args(&["-e", "=bad", "prog"]);
        assert!(r.into_options("h", no_host).is_err());
    }

    #[test]
    fn accel_machine_qemu_from_environment() {
        let host = |name: &std::ffi::OsStr| match name.to_str() {
            Some("CORACLE_ACCEL") => Some(OsString::from("tcg")),
            Some("CORACLE_MACHINE") => Some(OsString::from("q35")),
            Some("CORACLE_QEMU") => Some(OsString::from("/opt/qemu")),
            _ => None,
        };
        let opts = run_args(&["prog"]).into_options("h", host).unwrap();
        assert_eq!(
            (opts.accel, opts.machine, opts.qemu),
            (Accel::Tcg, Machine::Q35, PathBuf::from("/opt/qemu"))
        );
        let opts = run_args(&[
            "--accel",
            "kvm",
            "--machine",
            "microvm",
            "--qemu",
            "q",
            "prog",
        ])
        .into_options("h", host)
        .unwrap();
        assert_eq!(
            (opts.accel, opts.machine, opts.qemu),
            (Accel::Kvm, Machine::Microvm, PathBuf::from("q"))
        );
        let bad = |name: &std::ffi::OsStr| (name == "CORACLE_ACCEL").then(|| OsString::from("xen"));
        let err = run_args(&["prog"]).into_options("h", bad).unwrap_err();
        assert!(err.to_string().contains("CORACLE_ACCEL=xen"), "{err}");
    }

    #[test]
    fn env_file_then_e_flags() {
        let tmp = crate::tempdir::TempDir::new().unwrap();
        let file = tmp.path().join("env");
        std::fs::write(&file, "# c\nA=file\nB=file\n").unwrap();
        let file_arg = file.to_str().unwrap();
        let r = run_args(&["-e", "B=flag", "--env-file", file_arg, "prog"]);
        let opts = r.into_options("h", no_host).unwrap();
        assert_eq!(opts.env.get("A"), Some("file".as_ref()));
        assert_eq!(opts.env.get("B"), Some("flag".as_ref()));
    }
}
