//! One `coracle run`: pack the initrd, start QEMU, pump the channels, turn the end into a status.
//!
//! The channels are pipes handed to QEMU as fds 3-10 (docs/guest-protocol.md) through
//! `command-fds`: a thread drains each guest → host one into our stdout, stderr, the log tail
//! and the control state (when our own stdout has gone away it keeps draining, so the guest
//! is never stuck); the program's stdin is framed into its pipe by another, and the control
//! records for the guest go on the last.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use command_fds::{CommandFdExt, FdMapping};

use crate::cli::RunOptions;
use crate::error::RunError;
use crate::launch::Launch;
use crate::protocol::{self, Control};
use crate::qemu::{self, VmConfig, CHANNELS, PORTS};
use crate::signals::{self, ControlPipe};
use crate::tempdir::TempDir;
use crate::{icount, kernel_image, program};

/// Write buffer of the initrd file: large writes, few system calls.
const INITRD_BUFFER: usize = 1 << 20;

/// Kernel log lines kept for a failure report when the log is not shown live.
const LOG_TAIL_LINES: usize = 60;

/// Runs the program in a VM and returns its exit status; `on_start` is told once QEMU runs,
/// with the pipe that takes control records for the guest, the image's StopSignal, and the
/// exec ports' pipes (dropped by an untracked run: nothing can ask it for an exec).
pub fn run(
    opts: RunOptions,
    started: Instant,
    on_start: &mut dyn FnMut(&ControlPipe, Option<&str>, crate::lifecycle::exec::Pipes),
) -> Result<u8, RunError> {
    let cwd = std::env::current_dir()
        .map_err(|e| RunError::io("cannot read the current directory", e))?;
    let launch = Launch::prepare(&opts, &cwd, program::host_path_var().as_deref())?;
    if let Some(warning) = launch.warning() {
        eprintln!("coracle: warning: {warning}");
    }
    let workdir =
        TempDir::new().map_err(|e| RunError::io("cannot create a temporary directory", e))?;
    // `--root-device blk` (the default): the root filesystem goes on a read-only drive (a
    // cached EROFS image) and the initrd carries the launch records alone.
    // A packed image is its own kernel and root drive (its root window).
    let packed = launch.packed().cloned();
    let root_drive = match opts.root_device {
        _ if packed.is_some() => packed.as_ref().map(|p| p.path.clone()),
        qemu::RootDevice::Blk => launch
            .root_image()
            .transpose()
            .map_err(|e| RunError::io("cannot write the root filesystem image", e))?,
        qemu::RootDevice::Initrd => None,
    };
    let initrd_path = workdir.path().join("initrd.cpio");
    let file = std::fs::File::create(&initrd_path)
        .map_err(|e| RunError::io(format!("cannot write {}", initrd_path.display()), e))?;
    // An image's initrd takes a while: a bar on a terminal.
    let bar = match launch.image_bytes() {
        Some(len) if root_drive.is_none() => crate::progress::bar(len, "writing the initrd"),
        _ => indicatif::ProgressBar::hidden(),
    };
    let out = crate::progress::Counted::new(io::BufWriter::with_capacity(INITRD_BUFFER, file), bar);
    launch
        .write_initrd(out, root_drive.is_some())
        .map_err(|e| RunError::io("cannot build the initrd", e))?
        .into_inner()
        .into_inner()
        .map_err(|e| RunError::io("cannot build the initrd", e.into_error()))?;
    let initrd_bytes = std::fs::metadata(&initrd_path).map_or(0, |m| m.len());
    let stop_signal = launch.stop_signal().map(str::to_owned);
    drop(launch);
    let kernel = match &packed {
        Some(p) => p.path.clone(),
        None => kernel_image::kernel_path()
            .map_err(|e| RunError::io("cannot write the kernel image to a cache directory", e))?,
    };

    // Read in this order: stdout, stderr, exec-out, then the log and control channels.
    let mut readers = Vec::new();
    // Written: the program's stdin, the control records, then exec-in.
    let mut writers = Vec::new();
    let mut mappings = Vec::new();
    let pipe = || io::pipe().map_err(|e| RunError::io("cannot create a pipe", e));
    for c in PORTS {
        let (reader, writer) = pipe()?;
        let parent_fd = if c.input {
            writers.push(writer);
            OwnedFd::from(reader)
        } else {
            readers.push(reader);
            OwnedFd::from(writer)
        };
        mappings.push(FdMapping {
            parent_fd,
            child_fd: c.fd,
        });
    }
    for (_, _, child_fd) in CHANNELS {
        let (reader, writer) = pipe()?;
        readers.push(reader);
        mappings.push(FdMapping {
            parent_fd: OwnedFd::from(writer),
            child_fd,
        });
    }

    // `-t`: the guest's terminal starts at the host terminal's size.
    let winsize = if opts.tty {
        crate::terminal::window_size()
    } else {
        None
    };
    let epoch_ns = if opts.icount {
        icount::EPOCH_NS
    } else {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    };
    let (accel, icount_args) = if opts.icount {
        let accel = icount::accel(opts.accel).map_err(RunError::Usage)?;
        (accel, icount::coracle_kernel_args())
    } else {
        (qemu::host_accel(opts.accel), Vec::new())
    };
    // The drive is the read-only lower layer of an overlay whose writes stay in memory.
    let root_arg: Vec<String> = root_drive
        .iter()
        .flat_map(|_| ["coracle.root=blk", "coracle.root=overlay"])
        .map(str::to_owned)
        .collect();
    let volumes = crate::volume::resolve(&opts.volumes)?;
    let config = VmConfig {
        machine: opts.machine,
        accel,
        memory_mib: opts.memory_mib,
        cpus: opts.cpus,
        kernel,
        initrd: initrd_path,
        root_drive,
        root_window: packed.as_ref().map(|p| p.window()),
        cmdline: protocol::kernel_cmdline(
            protocol::KernelFlags {
                tty: opts.tty,
                stdin: opts.interactive,
                verbose: opts.verbose,
                timing: opts.timing,
                cpus: opts.cpus,
                winsize,
            },
            epoch_ns,
            &[
                opts.network.kernel_args(),
                icount_args,
                root_arg,
                opts.kernel_args.clone(),
                crate::volume::kernel_args(&volumes),
            ]
            .concat(),
        ),
        network: opts.network.qemu_args(opts.machine),
        icount: opts.icount,
        volumes,
    };
    let mut cmd = signals::qemu_command(&opts.qemu);
    cmd.args(qemu::qemu_args(&config))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.fd_mappings(mappings).map_err(|_| {
        RunError::io(
            "cannot map the channel fds",
            io::Error::other("fd collision"),
        )
    })?;

    let spawned_at = Instant::now();
    let spawn = cmd.spawn();
    // The Command owns our copies of the pipes' write ends: close them now, or the readers
    // would never see end-of-file.
    drop(cmd);
    let mut child = spawn.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => RunError::QemuMissing {
            qemu: opts.qemu.display().to_string(),
        },
        _ => RunError::io(format!("cannot start {}", opts.qemu.display()), e),
    })?;
    crate::hostfwd::widen_backlogs(
        child.id(),
        crate::hostfwd::tcp_ports(&opts.network.publish),
        opts.verbose,
    );

    let mut writers = writers.into_iter();
    let stdin = writers.next().expect("a stdin pipe");
    let control: ControlPipe = Arc::new(Mutex::new(writers.next().expect("a control pipe")));
    if !opts.tty {
        signals::forward(control.clone())
            .map_err(|e| RunError::io("cannot catch signals to forward", e))?;
    }
    let exec = crate::lifecycle::exec::Pipes {
        input: writers.next().expect("an exec-in pipe"),
        output: readers.remove(2),
    };
    on_start(&control, stop_signal.as_deref(), exec);
    // `-it` on a terminal: raw mode until this function returns (restored on every way out,
    // see terminal.rs), window sizes sent on the control port as they change.
    let mut _raw = None;
    if opts.interactive && opts.tty {
        let resized = control.clone();
        let watching = crate::terminal::watch_signals(move |rows, cols| {
            signals::send_record(&resized, &protocol::winsize_payload(rows, cols));
        });
        if watching.is_ok() {
            _raw = crate::terminal::RawMode::enter()
                .map_err(|e| RunError::io("cannot put the terminal in raw mode", e))?;
        }
    }
    if opts.interactive {
        // Not joined: it may sit in a read of our stdin long after the guest is gone.
        thread::spawn(move || protocol::copy_stdin_framed(io::stdin().lock(), stdin));
    } else {
        let mut stdin = stdin;
        let _ = stdin.write_all(&protocol::STDIN_EOF);
    }
    let qemu_out = child.stdout.take().map(capture);
    let qemu_err = child.stderr.take().map(capture);
    let mut readers = readers.into_iter();
    let mut next = || readers.next().expect("one reader per channel");
    let out = copy_to(next(), io::stdout);
    let err = copy_to(next(), io::stderr);
    let log = keep_log(next(), opts.verbose);
    let ctl = read_control(next());

    let status = child
        .wait()
        .map_err(|e| RunError::io("cannot wait for QEMU", e))?;
    // The pipes reach end-of-file once QEMU is gone, so these joins finish.
    let _ = out.join();
    let _ = err.join();
    let log_tail = join_text(Some(log)).unwrap_or_default();
    let control = ctl.join().unwrap_or_default();
    let mut qemu_output = join_text(qemu_out).unwrap_or_default();
    qemu_output.push_str(&join_text(qemu_err).unwrap_or_default());
    drop(workdir);

    if opts.timing {
        print_timing(&control, spawned_at, started, opts.icount);
    }
    outcome(&control, status, qemu_output, log_tail)
        .map_err(|e| explain_memory(e, initrd_bytes, opts.memory_mib))
}

/// What QEMU and the kernel say when the initrd's root filesystem needs more memory than the
/// VM has: QEMU's own refusal and the kernel's boot check (docs/guest-protocol.md).
const TOO_LARGE: [&str; 2] = [
    "initrd is too large",
    "the initrd does not fit above the kernel image",
];

/// Whether `line` says the root filesystem did not fit: one of [`TOO_LARGE`], an unpacking
/// that ran out of room, or, when the initrd takes half the memory or more, any kernel
/// allocation failure during boot.
fn says_too_large(line: &str, initrd_bytes: u64, memory_mib: u64) -> bool {
    let unpacking = line.contains("cannot unpack the root filesystem")
        && (line.contains("ENOSPC") || line.contains("ENOMEM"));
    let crowded = initrd_bytes >= (memory_mib << 20) / 2
        && line.starts_with("KERNEL FAILURE")
        && (line.contains("no memory") || line.contains("out of memory"));
    unpacking || crowded || TOO_LARGE.iter().any(|sign| line.contains(sign))
}

/// Turns those failures into an error that says what to do (more `-m`, or the root on a
/// drive); any other error is returned as it is.
fn explain_memory(err: RunError, initrd_bytes: u64, memory_mib: u64) -> RunError {
    let text = match &err {
        RunError::VmStopped {
            qemu_stderr,
            log_tail,
            ..
        } => format!("{qemu_stderr}{log_tail}"),
        RunError::KernelFailed { log_tail } => log_tail.clone(),
        _ => return err,
    };
    let Some(line) = text
        .lines()
        .find(|l| says_too_large(l, initrd_bytes, memory_mib))
    else {
        return err;
    };
    let initrd_mib = initrd_bytes.div_ceil(1 << 20);
    // Unpacking gives the initrd's pages back as it goes, so the files and some room for the
    // program are what it takes.
    let suggested_mib = (initrd_mib + initrd_mib / 2 + 64).next_multiple_of(64);
    RunError::RootfsTooLarge {
        initrd_mib,
        memory_mib,
        suggested_mib,
        detail: line.trim().to_owned(),
    }
}

/// Maps what the guest reported and how QEMU ended to `coracle run`'s result.
fn outcome(
    control: &ControlState,
    status: ExitStatus,
    qemu_output: String,
    log_tail: String,
) -> Result<u8, RunError> {
    match (control.exit, status.code()) {
        (Some((code, _)), Some(1)) if !control.panic => Ok(code),
        _ if control.panic || status.code() == Some(3) => Err(RunError::KernelFailed { log_tail }),
        _ => Err(RunError::VmStopped {
            status: describe(status),
            qemu_stderr: qemu_output,
            log_tail,
        }),
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("qemu exit status {code}"),
        (None, Some(signal)) => format!("qemu was killed by signal {signal}"),
        _ => format!("qemu {status}"),
    }
}

/// Copies a channel to our stdout or stderr chunk by chunk. If that write fails (a closed
/// pipe, as in `coracle run ... | head`) it keeps draining so that QEMU never blocks.
fn copy_to<W: Write, F: Fn() -> W + Send + 'static>(
    mut from: io::PipeReader,
    to: F,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut broken = false;
        loop {
            match from.read(&mut buf) {
                Ok(0) => return,
                Ok(n) if !broken => {
                    let mut out = to();
                    broken = out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err();
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    })
}

/// Reads the kernel log: shown live with `--verbose`; the last lines are kept either way.
fn keep_log(from: io::PipeReader, verbose: bool) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut tail = VecDeque::with_capacity(LOG_TAIL_LINES);
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if verbose {
                let mut err = io::stderr().lock();
                let _ = err.write_all(&line);
                if !line.ends_with(b"\n") {
                    let _ = err.write_all(b"\n");
                }
            }
            if tail.len() == LOG_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        tail.into_iter().fold(String::new(), |mut acc, l| {
            acc.push_str(&l);
            acc.push('\n');
            acc
        })
    })
}

/// What arrived on the control channel.
#[derive(Debug, Default)]
struct ControlState {
    /// Ticks, and when the record arrived.
    entry: Option<(u64, Instant)>,
    /// Status and TSC kHz.
    exit: Option<(u8, u64)>,
    panic: bool,
}

fn read_control(from: io::PipeReader) -> JoinHandle<ControlState> {
    thread::spawn(move || {
        let mut state = ControlState::default();
        for line in BufReader::new(from).split(b'\n') {
            let Ok(line) = line else { break };
            match Control::parse(String::from_utf8_lossy(&line).trim()) {
                Some(Control::Entry { ticks }) => state.entry = Some((ticks, Instant::now())),
                Some(Control::Exit { status, tsc_khz }) => state.exit = Some((status, tsc_khz)),
                Some(Control::Panic) => state.panic = true,
                // A record from a newer kernel: not ours to interpret.
                None => {}
            }
        }
        state
    })
}

fn capture(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = from.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn join_text(handle: Option<JoinHandle<String>>) -> Option<String> {
    handle.and_then(|h| h.join().ok())
}

fn print_timing(control: &ControlState, spawned_at: Instant, started: Instant, icount: bool) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut err = io::stderr().lock();
    match (control.entry, control.exit) {
        // The TSC counts virtual ns, one per instruction (idle time skipped).
        (Some((ticks, _)), _) if icount => {
            let _ = writeln!(
                err,
                "coracle: timing: kernel entry -> first user instruction: {ticks} instructions \
                 (icount)"
            );
        }
        (Some((ticks, _)), Some((_, khz))) if khz > 0 => {
            let guest_ms = ticks as f64 / khz as f64;
            let _ = writeln!(
                err,
                "coracle: timing: kernel entry -> first user instruction: {guest_ms:.3} ms guest \
                 ({ticks} TSC ticks at {khz} kHz)"
            );
        }
        (Some((ticks, _)), _) => {
            let _ = writeln!(
                err,
                "coracle: timing: kernel entry -> first user instruction: {ticks} TSC ticks \
                 (TSC frequency unknown)"
            );
        }
        (None, _) => {
            let _ = writeln!(err, "coracle: timing: the program never started");
        }
    }
    if let Some((_, at)) = control.entry {
        let _ = writeln!(
            err,
            "coracle: timing: QEMU spawn -> entry record: {:.3} ms host",
            ms(at.duration_since(spawned_at))
        );
    }
    let _ = writeln!(
        err,
        "coracle: timing: whole run: {:.3} ms host (QEMU ran {:.3} ms)",
        ms(started.elapsed()),
        ms(spawned_at.elapsed())
    );
}

#[cfg(test)]
fn status_of(code: i32) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(code << 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(exit: Option<u8>, panic: bool) -> ControlState {
        ControlState {
            entry: None,
            exit: exit.map(|s| (s, 0)),
            panic,
        }
    }

    #[test]
    fn exit_status_mapping() {
        let run =
            |s: &ControlState, code| outcome(s, status_of(code), String::new(), String::new());
        assert_eq!(run(&state(Some(42), false), 1).unwrap(), 42);
        assert_eq!(run(&state(Some(0), false), 1).unwrap(), 0);
        assert!(matches!(
            run(&state(None, true), 3),
            Err(RunError::KernelFailed { .. })
        ));
        assert!(matches!(
            run(&state(None, false), 3),
            Err(RunError::KernelFailed { .. })
        ));
        assert!(matches!(
            run(&state(Some(0), true), 1),
            Err(RunError::KernelFailed { .. })
        ));
        // An exit record but QEMU did not leave through isa-debug-exit(0).
        assert!(matches!(
            run(&state(Some(0), false), 0),
            Err(RunError::VmStopped { .. })
        ));
        let err = run(&state(None, false), 1).unwrap_err();
        assert_eq!(err.exit_status(), 125);
        assert!(err.to_string().contains("qemu exit status 1"), "{err}");
    }

    #[test]
    fn a_root_too_large_for_memory_says_what_to_do() {
        let qemu = RunError::VmStopped {
            status: "qemu exit status 1".into(),
            qemu_stderr: "qemu: initrd is too large, cannot support.(max: 16777215, need \
                          43926956)\n"
                .into(),
            log_tail: String::new(),
        };
        let err = explain_memory(qemu, 43_926_956, 16);
        assert_eq!(err.exit_status(), 125);
        let text = err.to_string();
        for part in ["42 MiB", "has 16 MiB", "-m 128", "--root-device blk"] {
            assert!(text.contains(part), "{part} in {text}");
        }
        assert!(
            err.details().contains("initrd is too large"),
            "{}",
            err.details()
        );
        let kernel = RunError::KernelFailed {
            log_tail: "KERNEL FAILURE: cannot unpack the root filesystem: cannot unpack \"x\": \
                       ENOSPC\n"
                .into(),
        };
        assert!(matches!(
            explain_memory(kernel, 1 << 20, 8),
            RunError::RootfsTooLarge { .. }
        ));
        let crowded = || RunError::KernelFailed {
            log_tail: "KERNEL FAILURE: no memory for page tables\n".into(),
        };
        assert!(matches!(
            explain_memory(crowded(), 40 << 20, 45),
            RunError::RootfsTooLarge { .. }
        ));
        assert!(matches!(
            explain_memory(crowded(), 1 << 20, 45),
            RunError::KernelFailed { .. }
        ));
        // Other failures are left alone.
        let other = RunError::KernelFailed {
            log_tail: "page fault".into(),
        };
        assert!(matches!(
            explain_memory(other, 1, 8),
            RunError::KernelFailed { .. }
        ));
    }

    #[test]
    fn signal_is_described() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "qemu was killed by signal 9"
        );
        assert_eq!(describe(status_of(2)), "qemu exit status 2");
    }
}
