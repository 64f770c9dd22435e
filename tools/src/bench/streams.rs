//! `coracle bench --streams [MIB]`: how fast a program's stdout reaches a pipe on the host,
//! and a host pipe reaches its stdin, in Coracle and in the Linux VM.
//!
//! Both sides run the same busybox `dd` (the host's static busybox, at its canonical path in
//! both guests) on the same virtio-serial device with the same ports as `coracle run`'s
//! (`qemu::virtio_serial_args`: stdout on port 1, a `file` chardev on a host pipe; stdin on
//! port 3, a `pipe` chardev). Coracle is `coracle run [-i]` itself, its stdout and stdin
//! piped to this process, as a user's shell would; the Linux VM loads virtio_console from its
//! kernel package (`baseline::modules`) and its `/init` points the program at
//! `/dev/vport0p1` and `/dev/vport0p3`. The serial console is not used for the Linux VM: a
//! 16550 UART behind a tty is a different device, not the one compared.
//!
//! The guest prints `ready` first; the clock runs from its arrival on the host until the last
//! byte arrived (stdout) or until dd reported reading every block (stdin), so neither boot
//! counts. stdout must be exactly the bytes asked for, all zero; stdin is read with
//! `iflag=fullblock` in 64 KiB blocks, so `K+0 records in` proves every byte reached the
//! program. A run gives `name value unit` lines for `report`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use command_fds::{CommandFdExt, FdMapping};

use super::output::Report;
use super::report::{self, Ended, RunResult};
use super::{
    accel_name, baseline, coracle_exe, exec, finish, linux, print_header, qemu_path, round_robin,
    sides::Knobs, BenchArgs, Side,
};
use crate::cli::from_env_or;
use crate::cpio::CpioWriter;
use crate::env;
use crate::error::RunError;
use crate::qemu::{self, Accel, Machine, PORTS};
use crate::tempdir::TempDir;

/// The block size of both `dd`s; the size must be a multiple of it.
const BLOCK: u64 = 64 * 1024;

/// What the guest prints before the timed part.
const READY: &[u8] = b"ready\n";

/// The Linux VM's virtio console modules, in dependency order.
const MODULES: [&str; 4] = ["virtio_ring", "virtio", "virtio_mmio", "virtio_console"];

/// Where the modules go in the Linux VM's initramfs.
const MODULE_DIR: &str = "modules";

/// The two directions measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// The program writes to its stdout, the host reads a pipe.
    Out,
    /// The host writes to a pipe, the program reads its stdin.
    In,
}

impl Direction {
    /// The metric's name.
    fn name(self) -> &'static str {
        match self {
            Direction::Out => "stdout_to_host_pipe",
            Direction::In => "stdin_from_host_pipe",
        }
    }

    /// The value of the Linux VM's kernel argument that picks the direction.
    fn word(self) -> &'static str {
        match self {
            Direction::Out => "out",
            Direction::In => "in",
        }
    }
}

/// The program: `sh -c SCRIPT BUSYBOX` (busybox's applets found through `$0`, as no guest
/// has them on PATH), printing [`READY`] and then moving `bytes`.
fn guest_script(direction: Direction, bytes: u64) -> String {
    let blocks = bytes / BLOCK;
    match direction {
        Direction::Out => {
            format!("echo ready; exec \"$0\" dd if=/dev/zero bs={BLOCK} count={blocks} 2>/dev/null")
        }
        Direction::In => format!(
            "echo ready; exec \"$0\" dd iflag=fullblock bs={BLOCK} count={blocks} \
             of=/dev/null 2>&1"
        ),
    }
}

/// A run's plan, the same for every run.
pub struct StreamPlan<'a> {
    pub bytes: u64,
    pub accel: Accel,
    pub qemu: &'a Path,
    pub coracle: Option<&'a Path>,
    /// The static busybox, at its canonical host path (also its path in both guests).
    pub busybox: &'a Path,
    pub linux: Option<&'a LinuxStreams>,
}

/// The Linux VM of the stream benchmark: its kernel and initramfs.
pub struct LinuxStreams {
    pub vmlinux: PathBuf,
    initramfs: PathBuf,
    _dir: TempDir,
}

impl LinuxStreams {
    /// The kernel command line for `direction` (`/init` gets the unknown `key=value` as its
    /// environment, as Linux passes it).
    fn cmdline(&self, direction: Direction) -> String {
        format!(
            "{} coracle_bench_stream={}",
            linux::kernel_cmdline(linux::host_tsc_khz().0),
            direction.word()
        )
    }

    /// The command line as the report shows it.
    pub fn shown_cmdline(&self) -> String {
        self.cmdline(Direction::Out)
            .replace("coracle_bench_stream=out", "coracle_bench_stream=out|in")
    }
}

/// The Linux VM's `/init`: mounts, the virtio console modules, then the direction's program
/// on the ports (port N of device 0 is /dev/vport0pN) and power-off.
fn linux_init(busybox: &str, bytes: u64) -> Vec<u8> {
    let bb = busybox;
    let quote = |s: String| format!("'{}'", s.replace('\'', "'\\''"));
    let mut s = format!("#!{bb} sh\n");
    s.push_str(&format!(
        "{bb} mount -t proc proc /proc; {bb} mount -t devtmpfs dev /dev\n"
    ));
    for m in MODULES {
        s.push_str(&format!("{bb} insmod /{MODULE_DIR}/{m}.ko\n"));
    }
    // virtio_console makes a port's node before the port takes opens (add_port: ENXIO until
    // it is listed), so wait until both open.
    s.push_str(&format!(
        "until {bb} true 2>/dev/null </dev/vport0p3 && {bb} true 2>/dev/null >/dev/vport0p1; \
         do {bb} usleep 10000; done\n"
    ));
    s.push_str(&format!(
        "case \"$coracle_bench_stream\" in\n\
         out) {bb} sh -c {} {bb} >/dev/vport0p1 ;;\n\
         in) {bb} sh -c {} {bb} >/dev/vport0p1 </dev/vport0p3 ;;\n\
         esac\n{bb} poweroff -f\n",
        quote(guest_script(Direction::Out, bytes)),
        quote(guest_script(Direction::In, bytes)),
    ));
    s.into_bytes()
}

/// Writes the Linux VM's initramfs: busybox at its host path, the modules, `/init`.
pub fn prepare_linux(
    vmlinux: PathBuf,
    busybox: &Path,
    bytes: u64,
) -> Result<LinuxStreams, RunError> {
    let modules = baseline::modules(&vmlinux, &MODULES).map_err(RunError::Usage)?;
    let program = std::fs::read(busybox)
        .map_err(|e| RunError::io(format!("cannot read {}", busybox.display()), e))?;
    let guest = busybox
        .to_str()
        .and_then(|p| p.strip_prefix('/'))
        .ok_or_else(|| {
            RunError::Usage(format!(
                "{} is not an absolute UTF-8 path",
                busybox.display()
            ))
        })?;
    let dir = TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    let initramfs = dir.path().join("linux-streams-initramfs.cpio");
    let write = || -> io::Result<()> {
        let mut cpio = CpioWriter::new(BufWriter::new(File::create(&initramfs)?));
        let mut dirs = vec!["proc", "dev", MODULE_DIR];
        dirs.extend(
            guest
                .match_indices('/')
                .map(|(i, _)| &guest[..i])
                .filter(|d| !d.is_empty()),
        );
        for d in dirs {
            cpio.add_dir(d.as_bytes(), 0o755, 0, 2)?;
        }
        cpio.add_file(guest.as_bytes(), 0o755, 0, &program)?;
        for (name, ko) in &modules {
            cpio.add_file(format!("{MODULE_DIR}/{name}.ko").as_bytes(), 0o644, 0, ko)?;
        }
        cpio.add_file(b"init", 0o755, 0, &linux_init(&format!("/{guest}"), bytes))?;
        cpio.finish()?.flush()
    };
    write().map_err(|e| RunError::io("cannot write the Linux initramfs", e))?;
    Ok(LinuxStreams {
        vmlinux,
        initramfs,
        _dir: dir,
    })
}

/// A started VM: the process (leading its own group), the host ends of the stdout and stdin
/// streams, and the file its console or log goes to.
struct Started {
    child: Child,
    out: File,
    input: Option<File>,
    log: PathBuf,
    _dir: TempDir,
}

fn start(
    plan: &StreamPlan<'_>,
    coracle: bool,
    knobs: Knobs,
    direction: Direction,
) -> Result<Started, String> {
    let dir = TempDir::new().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let log = dir.path().join("console.log");
    let log_file =
        File::create(&log).map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let script = guest_script(direction, plan.bytes);
    let mut cmd;
    let (mut out, mut input) = (None, None);
    if coracle {
        cmd = Command::new(plan.coracle.ok_or("no coracle side")?);
        cmd.arg("run")
            .args(["--accel", accel_name(plan.accel), "--machine", "microvm"])
            .args(["--cpus", &knobs.cpus.to_string()])
            .args(["-m", &knobs.memory_mib.to_string()])
            .args((direction == Direction::In).then_some("-i"))
            .arg("--qemu")
            .arg(plan.qemu)
            .arg("--")
            .arg(plan.busybox)
            .args(["sh", "-c", &script])
            .arg(plan.busybox);
        cmd.stdout(Stdio::piped())
            .stderr(log_file)
            .stdin(if direction == Direction::In {
                Stdio::piped()
            } else {
                Stdio::null()
            });
    } else {
        let vm = plan.linux.ok_or("no linux side")?;
        cmd = Command::new(plan.qemu);
        cmd.args(linux::qemu_args(
            plan.accel,
            knobs.memory_mib,
            knobs.cpus,
            &vm.vmlinux,
            &vm.initramfs,
            &vm.cmdline(direction),
        ));
        let ports: Vec<_> = PORTS
            .into_iter()
            .filter(|p| p.nr == 1 || p.nr == 3)
            .collect();
        cmd.args(qemu::virtio_serial_args(Machine::Microvm, &ports));
        let mut mappings = Vec::new();
        for p in ports {
            let (reader, writer) = io::pipe().map_err(|e| format!("cannot create a pipe: {e}"))?;
            let child_end = if p.input {
                input = Some(File::from(OwnedFd::from(writer)));
                OwnedFd::from(reader)
            } else {
                out = Some(File::from(OwnedFd::from(reader)));
                OwnedFd::from(writer)
            };
            mappings.push(FdMapping {
                parent_fd: child_end,
                child_fd: p.fd,
            });
        }
        cmd.fd_mappings(mappings)
            .map_err(|_| "cannot map the port fds: fd collision")?;
        let err = log_file.try_clone().map_err(|e| e.to_string())?;
        cmd.stdout(log_file).stderr(err).stdin(Stdio::null());
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let spawned = cmd.spawn();
    // The Command holds the child's ends of the pipes: close them, or no end of file comes.
    drop(cmd);
    let mut child = spawned.map_err(|e| format!("cannot start the VM: {e}"))?;
    if coracle {
        out = child.stdout.take().map(|o| File::from(OwnedFd::from(o)));
        input = child.stdin.take().map(|i| File::from(OwnedFd::from(i)));
    }
    Ok(Started {
        child,
        out: out.ok_or("no stdout stream")?,
        input,
        log,
        _dir: dir,
    })
}

/// What the host read from the guest's stdout.
#[derive(Debug, Default)]
struct Received {
    /// When [`READY`] had arrived.
    ready: Option<Instant>,
    /// Bytes after it.
    bytes: u64,
    /// Out: whether every byte after it was zero. In: the text after it (dd's report).
    all_zero: bool,
    text: Vec<u8>,
    /// When the last byte (Out) or the `records in` line (In) arrived.
    done: Option<Instant>,
    /// The first bytes before [`READY`] was seen, for a failure report.
    before: Vec<u8>,
}

/// Reads `out` to its end, telling `ready` when [`READY`] arrived.
fn receive(mut out: File, direction: Direction, want: u64, ready: mpsc::Sender<()>) -> Received {
    let mut r = Received {
        all_zero: true,
        ..Received::default()
    };
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let now = Instant::now();
        let mut chunk = &buf[..n];
        if r.ready.is_none() {
            r.before.extend_from_slice(chunk);
            let Some(at) = r.before.windows(READY.len()).position(|w| w == READY) else {
                continue;
            };
            r.ready = Some(now);
            let _ = ready.send(());
            let rest = r.before.split_off(at + READY.len());
            r.before.truncate(at);
            r.bytes += rest.len() as u64;
            r.all_zero &= rest.iter().all(|&b| b == 0);
            if direction == Direction::In {
                r.text = rest;
            }
            chunk = &[];
        }
        r.bytes += chunk.len() as u64;
        match direction {
            Direction::Out => r.all_zero &= chunk.iter().all(|&b| b == 0),
            Direction::In => r.text.extend_from_slice(chunk),
        }
        let done = match direction {
            Direction::Out => r.bytes >= want,
            Direction::In => records_in(&r.text).is_some(),
        };
        if done && r.done.is_none() {
            r.done = Some(now);
        }
    }
    r
}

/// busybox dd's `F+P records in`: (full, partial) blocks.
fn records_in(text: &[u8]) -> Option<(u64, u64)> {
    String::from_utf8_lossy(text).lines().find_map(|l| {
        let (full, partial) = l.trim().strip_suffix(" records in")?.split_once('+')?;
        Some((full.parse().ok()?, partial.parse().ok()?))
    })
}

/// Writes `bytes` zero bytes once the guest is ready, then closes the stream (end of input).
fn send(mut input: File, bytes: u64, ready: mpsc::Receiver<()>) {
    if ready.recv().is_err() {
        return;
    }
    let block = vec![0u8; BLOCK as usize];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOCK) as usize;
        if input.write_all(&block[..n]).is_err() {
            return;
        }
        left -= n as u64;
    }
}

/// One direction on one side: the MB/s and the bytes that reached the other end, or why not.
fn measure(
    plan: &StreamPlan<'_>,
    coracle: bool,
    knobs: Knobs,
    direction: Direction,
    deadline: Instant,
) -> Result<(f64, u64), String> {
    let mut vm = start(plan, coracle, knobs, direction)?;
    let (tell, heard) = mpsc::channel();
    let want = plan.bytes;
    let out = vm.out;
    let reader = thread::spawn(move || receive(out, direction, want, tell));
    let writer = vm
        .input
        .take()
        .filter(|_| direction == Direction::In)
        .map(|input| thread::spawn(move || send(input, want, heard)));
    let status = exec::wait_until(&mut vm.child, deadline).map_err(|e| e.to_string())?;
    let got = reader.join().map_err(|_| "the stream reader failed")?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let console = || linux::console_tail(&std::fs::read(&vm.log).unwrap_or_default(), 20);
    let fail = |why: String| Err(format!("{why}\n{}", console()));
    let Some(status) = status else {
        return fail(format!("timed out ({} bytes after ready)", got.bytes));
    };
    if !status.success() {
        return fail(format!("the VM ended with {}", exec::describe(status)));
    }
    let Some(ready) = got.ready else {
        return fail(format!(
            "the program never said ready; its stdout began {:?}",
            String::from_utf8_lossy(&got.before[..got.before.len().min(200)])
        ));
    };
    let moved = match direction {
        Direction::Out if got.bytes != want || !got.all_zero => {
            return fail(format!(
                "stdout: {} bytes{} arrived, {want} zero bytes were written",
                got.bytes,
                if got.all_zero { "" } else { " (not all zero)" }
            ))
        }
        Direction::Out => got.bytes,
        Direction::In => match records_in(&got.text) {
            Some((full, 0)) if full * BLOCK == want => full * BLOCK,
            _ => {
                return fail(format!(
                    "stdin: dd reported {:?}, {want} bytes were sent",
                    String::from_utf8_lossy(&got.text)
                ))
            }
        },
    };
    let secs = got
        .done
        .map_or(0.0, |d| d.duration_since(ready).as_secs_f64())
        .max(1e-6);
    Ok((moved as f64 / 1e6 / secs, moved))
}

/// One run: both directions, as `name value unit` lines (rates in MB/s, 10^6 bytes, and the
/// exact counts that arrived).
pub fn run(plan: &StreamPlan<'_>, coracle: bool, knobs: Knobs) -> RunResult {
    let began = Instant::now();
    let deadline = began + knobs.timeout;
    let mut stdout = String::new();
    for direction in [Direction::Out, Direction::In] {
        match measure(plan, coracle, knobs, direction, deadline) {
            Ok((rate, moved)) => stdout.push_str(&format!(
                "{0} {rate:.1} MB/s\n{0}_bytes {moved} bytes\n",
                direction.name()
            )),
            Err(why) => {
                return RunResult {
                    ended: Ended::Failed(format!("{}: failed", direction.name())),
                    stdout,
                    stderr: why,
                    wall: began.elapsed(),
                    to_start: None,
                    boot: None,
                }
            }
        }
    }
    RunResult {
        ended: Ended::Exited(0),
        stdout,
        stderr: String::new(),
        wall: began.elapsed(),
        to_start: None,
        boot: None,
    }
}

/// `coracle bench --streams MIB`: both directions on each side, round-robin, in the program
/// benchmarks' tables.
pub fn bench(args: &BenchArgs, mib: u32) -> Result<u8, RunError> {
    if !args.command.is_empty() {
        return Err(RunError::Usage(
            "--streams runs busybox's dd on both sides: give no program".into(),
        ));
    }
    if args.icount {
        return Err(RunError::Usage(
            "--streams measures wall-clock rates of host pipes: no --icount".into(),
        ));
    }
    // Whole MiB are whole 64 KiB blocks.
    let bytes = u64::from(mib) << 20;
    let requested = from_env_or(args.accel, "CORACLE_ACCEL", Accel::Auto, env::host_lookup)?;
    let accel = qemu::host_accel(requested);
    let qemu = qemu_path(args);
    let busybox = crate::program::find_program("/bin/busybox".as_ref(), None, Path::new("/"), None)
        .map_err(|e| {
            RunError::Usage(format!(
                "--streams runs a static busybox at /bin/busybox in both VMs ({e}); install \
                 it with `apt-get install busybox-static`"
            ))
        })?;
    let want = |side| args.only.is_none_or(|only| only == side);
    let linux = if want(Side::Linux) {
        let cache = linux::cache_dir(env::host_lookup);
        let vmlinux = baseline::kernel(cache.as_deref(), args.linux_kernel.as_deref())
            .map_err(RunError::Usage)?;
        Some(prepare_linux(vmlinux, &busybox.path, bytes)?)
    } else {
        None
    };
    let coracle = coracle_exe(want(Side::Coracle))?;
    let command = format!("--streams {mib}");
    print_header(
        args.format,
        &format!(
            "coracle bench {command} -- {} run(s) per VM and CPU count, --accel {}, -m {}M, \
             {mib} MiB each way through virtio-serial ports, wall clock",
            args.runs,
            accel_name(accel),
            args.memory,
        ),
    );
    let plan = StreamPlan {
        bytes,
        accel,
        qemu: &qemu,
        coracle: coracle.as_deref(),
        busybox: &busybox.path,
        linux: linux.as_ref(),
    };
    let results = round_robin(
        args,
        [coracle.is_some(), linux.is_some()],
        false,
        |side, cpus| run(&plan, side == Side::Coracle, super::wall_knobs(args, cpus)),
    );
    let linux = linux
        .as_ref()
        .map(|vm| (vm.vmlinux.display().to_string(), vm.shown_cmdline()));
    let (wall, accel) = (report::Mode::Wall, accel_name(accel));
    let report = Report::new(command, wall, accel, args.memory, args.runs, linux);
    finish(args, &results, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_reports() {
        let out = guest_script(Direction::Out, 2 << 20);
        assert!(
            out.contains("dd if=/dev/zero bs=65536 count=32 2>/dev/null"),
            "{out}"
        );
        let input = guest_script(Direction::In, 2 << 20);
        assert!(
            input.contains("iflag=fullblock bs=65536 count=32 of=/dev/null"),
            "{input}"
        );
        assert_eq!(
            records_in(b"32+0 records in\n32+0 records out\n"),
            Some((32, 0))
        );
        assert_eq!(records_in(b"31+1 records in\n"), Some((31, 1)));
        assert_eq!(records_in(b"dd: can't open\n"), None);
        let init = String::from_utf8(linux_init("/usr/bin/busybox", 2 << 20)).unwrap();
        assert!(init.contains("insmod /modules/virtio_console.ko"), "{init}");
        assert!(init.contains(">/dev/vport0p1 </dev/vport0p3"), "{init}");
        assert!(init.ends_with("/usr/bin/busybox poweroff -f\n"), "{init}");
    }

    #[test]
    fn the_reader_counts_after_ready_and_times_the_end() {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("out");
        let mut bytes = b"noise\nready\n".to_vec();
        bytes.extend(vec![0u8; 1000]);
        std::fs::write(&path, &bytes).unwrap();
        let (tell, heard) = mpsc::channel();
        let got = receive(File::open(&path).unwrap(), Direction::Out, 1000, tell);
        assert!(heard.try_recv().is_ok());
        assert_eq!((got.bytes, got.all_zero), (1000, true));
        assert_eq!(got.before, b"noise\n");
        assert!(got.done.is_some() && got.ready.is_some());
        std::fs::write(&path, b"ready\n16+0 records in\n").unwrap();
        let (tell, _heard) = mpsc::channel();
        let got = receive(File::open(&path).unwrap(), Direction::In, 1 << 20, tell);
        assert_eq!(records_in(&got.text), Some((16, 0)));
        assert!(got.done.is_some());
    }
}
