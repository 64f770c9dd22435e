//! The Linux side of `coracle bench`: a stock Debian kernel booted under QEMU with Coracle's
//! flags, running the same static program from a busybox initramfs.
//!
//! The kernel is the one `baseline` prepares and caches (this module never goes to the
//! network). `/init` runs the program with its output in files, then
//! prints them hex-encoded between marker lines on the serial console, so that console noise
//! from the kernel can neither end up in nor garble what the program wrote.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::cpio::CpioWriter;
use crate::qemu::{self, Accel};

/// Where the Linux VM's kernel is cached: `$CORACLE_BENCH_DIR`, else
/// `$HOME/.cache/coracle-bench`.
pub fn cache_dir(host: impl Fn(&OsStr) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| host(name.as_ref()).filter(|v| !v.is_empty());
    set("CORACLE_BENCH_DIR")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| Path::new(&home).join(".cache/coracle-bench")))
}

/// How to get the kernel, for every "not found" message.
const HOW_TO_GET: &str = "on Debian `coracle bench` downloads the kernel package itself (apt-get \
    download, never installed) and extracts vmlinux into that directory; elsewhere pass \
    --linux-kernel PATH";

/// The cached PVH `vmlinux`: `<cache>/<kernel-pkg>/vmlinux`, the package name being the
/// contents of `<cache>/kernel-pkg`.
pub fn find_kernel(cache: Option<&Path>) -> Result<PathBuf, String> {
    let Some(cache) = cache else {
        return Err(format!(
            "no Linux kernel cache: neither CORACLE_BENCH_DIR nor HOME is set; {HOW_TO_GET}"
        ));
    };
    let pkg_file = cache.join("kernel-pkg");
    let pkg = std::fs::read_to_string(&pkg_file).unwrap_or_default();
    let pkg = pkg.trim();
    if pkg.is_empty() || pkg.contains('/') || pkg.starts_with('.') {
        return Err(format!(
            "no cached Linux kernel ({} is missing or empty); {HOW_TO_GET}",
            pkg_file.display()
        ));
    }
    let vmlinux = cache.join(pkg).join("vmlinux");
    match std::fs::metadata(&vmlinux) {
        Ok(m) if m.is_file() && m.len() > 0 => Ok(vmlinux),
        _ => Err(format!(
            "no cached Linux kernel at {}; {HOW_TO_GET}",
            vmlinux.display()
        )),
    }
}

/// The host's TSC frequency for `tsc_early_khz` (TCG's guest TSC runs at the host's rate, and
/// microvm Linux hangs without it): from the kernel log, else /proc/cpuinfo, else 2.5 GHz.
pub fn host_tsc_khz() -> (u64, &'static str) {
    let dmesg = std::process::Command::new("dmesg")
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if let Some(khz) = tsc_khz_from_dmesg(&dmesg) {
        return (khz, "host kernel log");
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(khz) = khz_from_cpuinfo(&cpuinfo) {
        return (khz, "/proc/cpuinfo cpu MHz");
    }
    (2_500_000, "a guess")
}

/// The last `tsc: Refined TSC clocksource calibration: X MHz`, else `tsc: Detected X MHz`.
pub fn tsc_khz_from_dmesg(log: &str) -> Option<u64> {
    let find = |key: &str| {
        log.lines()
            .filter_map(|l| l.split_once(key).map(|(_, rest)| rest))
            .filter_map(|rest| {
                let mut words = rest.split_whitespace();
                let number = words.next()?;
                (words.next()? == "MHz").then(|| mhz_to_khz(number))?
            })
            .next_back()
    };
    find("tsc: Refined TSC clocksource calibration:").or_else(|| find("tsc: Detected"))
}

fn khz_from_cpuinfo(cpuinfo: &str) -> Option<u64> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "cpu MHz").then(|| mhz_to_khz(value.trim()))?
    })
}

fn mhz_to_khz(text: &str) -> Option<u64> {
    let mhz: f64 = text.split_whitespace().next()?.parse().ok()?;
    (mhz.is_finite() && mhz > 1.0 && mhz < 100_000.0).then(|| (mhz * 1000.0).round() as u64)
}

/// The guest's kernel command line. `loglevel=1` keeps all but emergencies off the console.
pub fn kernel_cmdline(tsc_khz: u64) -> String {
    format!("console=ttyS0 tsc_early_khz={tsc_khz} quiet loglevel=1 panic=-1")
}

/// QEMU's arguments: Coracle's machine, accelerator, memory, CPUs and no-defaults flags (from
/// `qemu`), with the serial console on stdout in place of Coracle's debug ports.
pub fn qemu_args(
    accel: Accel,
    memory_mib: u64,
    cpus: u32,
    vmlinux: &Path,
    initramfs: &Path,
    cmdline: &str,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&["-M", qemu::MICROVM]);
    push(&qemu::accel_args(accel));
    push(&["-m", &format!("{memory_mib}M"), "-smp", &cpus.to_string()]);
    push(&qemu::NO_DEFAULTS);
    push(&["-serial", "stdio"]);
    args.extend([
        "-kernel".into(),
        vmlinux.into(),
        "-initrd".into(),
        initramfs.into(),
        "-append".into(),
        cmdline.into(),
    ]);
    args
}

const MARK: &str = "@@coracle-bench";
/// What `/init` writes to /dev/kmsg just before the program.
const START: &str = "coracle-bench-start";

/// `/init`: mounts /proc and /dev, runs `argv` (argv[0] is the program's path in the
/// initramfs) with stdin from /dev/null, then reports its status and output and powers off.
pub fn init_script(argv: &[OsString]) -> Vec<u8> {
    init_script_with("/bin/busybox", argv)
}

/// [`init_script`] with busybox at `bb` (an absolute path in the initramfs).
pub fn init_script_with(bb: &str, argv: &[OsString]) -> Vec<u8> {
    let mut s = Vec::new();
    let _ = writeln!(s, "#!{bb} sh");
    let _ = writeln!(s, "{bb} mount -t proc proc /proc");
    let _ = writeln!(s, "{bb} mount -t devtmpfs devtmpfs /dev");
    let _ = writeln!(s, "{bb} echo '{MARK} begin@@'");
    // A line in the kernel log right before the program: its printk time is the boot figure.
    let _ = writeln!(s, "{bb} echo '{START}' >/dev/kmsg");
    for arg in argv {
        shell_quote(arg.as_bytes(), &mut s);
        s.push(b' ');
    }
    let _ = writeln!(s, "</dev/null >/bench.out 2>/bench.err");
    let _ = writeln!(s, "status=$?");
    let _ = writeln!(s, "{bb} echo \"{MARK} status $status@@\"");
    let _ = writeln!(s, "{bb} echo '{MARK} stdout@@'");
    let _ = writeln!(s, "{bb} od -An -v -tx1 /bench.out");
    let _ = writeln!(s, "{bb} echo '{MARK} stderr@@'");
    let _ = writeln!(s, "{bb} od -An -v -tx1 /bench.err");
    let _ = writeln!(s, "{bb} echo '{MARK} dmesg@@'");
    let _ = writeln!(s, "{bb} dmesg | {bb} grep -m1 '{START}'");
    let _ = writeln!(s, "{bb} echo '{MARK} end@@'");
    let _ = writeln!(s, "{bb} poweroff -f");
    s
}

/// Appends `'...'` with each `'` as `'\''`; other bytes, UTF-8 or not, go in as they are.
fn shell_quote(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'\'');
    for &b in arg {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
}

/// Writes the initramfs: busybox at /bin/busybox, the program at `program_path` (absolute;
/// its directories are created), `/init` from [`init_script`], and empty /proc and /dev.
/// /dev/console comes from the kernel's built-in initramfs, which Debian's kernel has.
pub fn write_initramfs<W: Write>(
    out: W,
    busybox: &[u8],
    program_path: &Path,
    program: &[u8],
    init: &[u8],
) -> io::Result<W> {
    let bytes = program_path.as_os_str().as_bytes();
    let relative = bytes
        .strip_prefix(b"/")
        .filter(|r| !r.is_empty() && !r.ends_with(b"/"))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "program path not absolute"))?;
    let mut cpio = CpioWriter::new(out);
    let mut dirs: Vec<&[u8]> = vec![b"bin", b"proc", b"dev"];
    for (i, &b) in relative.iter().enumerate() {
        if b == b'/' && !dirs.contains(&&relative[..i]) {
            dirs.push(&relative[..i]);
        }
    }
    for dir in dirs {
        cpio.add_dir(dir, 0o755, 0, 2)?;
    }
    cpio.add_file(b"bin/busybox", 0o755, 0, busybox)?;
    if relative != b"bin/busybox" && relative != b"init" {
        cpio.add_file(relative, 0o755, 0, program)?;
    }
    cpio.add_file(b"init", 0o755, 0, init)?;
    cpio.finish()
}

/// Where a root filesystem's initramfs holds busybox, out of the way of the tree's own files.
pub const ROOTFS_BUSYBOX: &str = "/.coracle-bench/busybox";

/// Writes the initramfs of a root filesystem run: the whole `tree` (which must hold the
/// `/.coracle-bench` directory), busybox at [`ROOTFS_BUSYBOX`], the `extra` entries (paths
/// relative to the root: a directory when it ends with `/`, else a file) and `/init`.
pub fn write_rootfs_initramfs<W: Write>(
    out: W,
    tree: crate::root_image::Source<'_>,
    busybox: &[u8],
    extra: &[(String, Vec<u8>)],
    init: &[u8],
) -> io::Result<W> {
    let mut cpio = CpioWriter::new(out);
    tree.write(&mut cpio)?;
    // The extra directories may be busybox's.
    for (path, bytes) in extra {
        match path.strip_suffix('/') {
            Some(dir) => cpio.add_dir(dir.as_bytes(), 0o755, 0, 2)?,
            None => cpio.add_file(path.as_bytes(), 0o644, 0, bytes)?,
        }
    }
    cpio.add_file(&ROOTFS_BUSYBOX.as_bytes()[1..], 0o755, 0, busybox)?;
    cpio.add_file(b"init", 0o755, 0, init)?;
    cpio.finish()
}

/// What `/init` reported.
#[derive(Debug, PartialEq)]
pub struct GuestRun {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Offsets in the console output of the `begin` marker and of the status line.
    pub begin_offset: usize,
    pub status_offset: usize,
    /// The kernel's printk clock, in seconds, right before the program started.
    pub started_at: Option<f64>,
}

/// Finds `/init`'s report in the console output; an error says which part is missing.
pub fn parse_console(console: &[u8]) -> Result<GuestRun, String> {
    let mut begin = None;
    let mut status = None;
    let mut section: Option<&mut Vec<u8>> = None;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut seen_stdout = false;
    let mut seen_stderr = false;
    let mut end = false;
    let mut in_dmesg = false;
    let mut started_at = None;
    let mut offset = 0;
    for raw in console.split_inclusive(|&b| b == b'\n') {
        let at = offset;
        offset += raw.len();
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(marker) = line
            .strip_prefix(MARK)
            .and_then(|rest| rest.strip_suffix("@@"))
            .map(str::trim)
        else {
            if in_dmesg && started_at.is_none() {
                started_at = printk_time(line, START);
            }
            if let Some(bytes) = section.as_deref_mut() {
                // Kernel noise is not a line of hex pairs: skip it.
                if let Some(decoded) = decode_od_line(line) {
                    bytes.extend(decoded);
                }
            }
            continue;
        };
        section = None;
        in_dmesg = marker == "dmesg";
        match marker.split_once(' ') {
            _ if marker == "begin" => begin = Some(at),
            Some(("status", code)) => {
                let code = code
                    .parse()
                    .map_err(|_| format!("a bad status line on the console: {line:?}"))?;
                status = Some((code, at));
            }
            _ if marker == "stdout" => {
                seen_stdout = true;
                section = Some(&mut stdout);
            }
            _ if marker == "stderr" => {
                seen_stderr = true;
                section = Some(&mut stderr);
            }
            _ if marker == "end" => end = true,
            _ => {}
        }
    }
    let begin_offset = begin.ok_or("the program never started (no begin marker)")?;
    let (status, status_offset) = status.ok_or("the program did not finish (no status line)")?;
    if !(seen_stdout && seen_stderr && end) {
        return Err("the output report was cut short".into());
    }
    Ok(GuestRun {
        status,
        stdout,
        stderr,
        begin_offset,
        status_offset,
        started_at,
    })
}

/// The time of a kernel log line `[   3.348840] TEXT` that ends with `text`.
fn printk_time(line: &str, text: &str) -> Option<f64> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (time, tail) = rest.split_once(']')?;
    (tail.trim() == text).then(|| time.trim().parse().ok())?
}

/// One line of `od -An -v -tx1`: up to 16 two-digit hex bytes separated by spaces.
fn decode_od_line(line: &str) -> Option<Vec<u8>> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words.len() > 16 {
        return None;
    }
    words
        .iter()
        .map(|w| {
            (w.len() == 2)
                .then(|| u8::from_str_radix(w, 16).ok())
                .flatten()
        })
        .collect()
}

/// The last lines of the console, for a failure report.
pub fn console_tail(console: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(console).replace('\r', "");
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
#[path = "linux_tests.rs"]
mod tests;
