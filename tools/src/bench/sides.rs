//! Running the program once on either side with given settings: Coracle through `coracle run
//! --timing` (this very binary, as a child), Linux through QEMU with the prepared kernel and
//! initramfs; each gives a [`RunResult`].

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::report::{Ended, RunResult};
use super::{accel_name, exec, linux, storage, Plan};
use crate::icount;

/// What may change from one run to the next of the same plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    pub cpus: u32,
    pub memory_mib: u64,
    pub timeout: Duration,
    /// Deterministic mode (`crate::icount`).
    pub icount: bool,
}

/// `coracle run --timing` with the same settings, as a child.
pub fn run_coracle(plan: &Plan, knobs: Knobs) -> RunResult {
    let Some(exe) = &plan.coracle else {
        unreachable!("run_coracle without a coracle side");
    };
    let mut cmd = Command::new(exe);
    cmd.arg("run")
        .args(["--accel", accel_name(plan.accel), "--machine", "microvm"])
        .args(["--cpus", &knobs.cpus.to_string()])
        .args(["-m", &knobs.memory_mib.to_string()])
        .arg("--timing")
        .args(knobs.icount.then_some("--icount"))
        .args(
            plan.root_device
                .map(|d| ["--root-device", storage::device_arg(d)])
                .into_iter()
                .flatten(),
        )
        .arg("--qemu")
        .arg(&plan.qemu);
    match (&plan.image, &plan.rootfs, &plan.program) {
        // The image's own command: no Entrypoint in front, as on the Linux side.
        (Some(image), _, _) => cmd
            .args(["--entrypoint", "", "--"])
            .arg(&image.name)
            .arg(&plan.typed),
        (None, Some(staged), _) => cmd.arg("--").arg(&staged.root).arg(&staged.guest_path),
        (None, None, Some(program)) => cmd.arg("--").arg(&program.path),
        (None, None, None) => unreachable!("a plan without a program"),
    };
    cmd.args(&plan.args);
    match exec::run(cmd, knobs.timeout) {
        Err(e) => spawn_failed(exe, &e),
        Ok(c) => {
            let stderr = String::from_utf8_lossy(&c.stderr);
            RunResult {
                ended: ended(&c, knobs.timeout),
                stdout: String::from_utf8_lossy(&c.stdout).into_owned(),
                to_start: coracle_to_start(&stderr),
                boot: coracle_boot(&stderr, knobs.icount),
                stderr: without_timing(&stderr),
                wall: c.wall,
            }
        }
    }
}

pub fn run_linux(plan: &Plan, knobs: Knobs) -> RunResult {
    let Some(vm) = &plan.linux else {
        unreachable!("run_linux without a linux side");
    };
    let mut cmd = Command::new(&plan.qemu);
    if knobs.icount {
        cmd.args(icount::QEMU_ARGS);
    }
    cmd.args(linux::qemu_args(
        plan.accel,
        knobs.memory_mib,
        knobs.cpus,
        &vm.vmlinux,
        &vm.initramfs,
        &vm.cmdline(knobs.icount),
    ));
    let c = match exec::run(cmd, knobs.timeout) {
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
            // The printk clock (s) starts at the TSC's set-up in early setup_arch.
            boot: g
                .started_at
                .map(|s| if knobs.icount { s * 1e9 } else { s * 1e3 }),
        },
        (status, parsed) => {
            let why = match (status, parsed) {
                (None, _) => format!("timed out after {} s", knobs.timeout.as_secs()),
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
                boot: None,
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

pub fn spawn_failed(what: &Path, e: &io::Error) -> RunResult {
    RunResult {
        ended: Ended::Failed(format!("cannot start {}: {e}", what.display())),
        stdout: String::new(),
        stderr: String::new(),
        wall: Duration::ZERO,
        to_start: None,
        boot: None,
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

/// From `coracle run --timing`: kernel entry until the program's first instruction, in
/// instructions under `--icount`, else guest ms.
fn coracle_boot(stderr: &str, icount: bool) -> Option<f64> {
    let rest = stderr.lines().find_map(|l| {
        l.strip_prefix(TIMING_PREFIX)?
            .strip_prefix("kernel entry -> first user instruction: ")
    })?;
    let mut words = rest.split_whitespace();
    let value: f64 = words.next()?.parse().ok()?;
    match (words.next()?, icount) {
        ("instructions", true) | ("ms", false) => Some(value),
        _ => None,
    }
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
        assert_eq!(coracle_boot(stderr, false), Some(1.5));
        assert_eq!(coracle_boot(stderr, true), None);
        let icount = "coracle: timing: kernel entry -> first user instruction: 299569 \
            instructions (icount)\n";
        assert_eq!(coracle_boot(icount, true), Some(299_569.0));
        assert_eq!(coracle_boot(never, true), None);
    }
}
