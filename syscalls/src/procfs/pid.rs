//! The small files of /proc/<pid>: limits, cmdline, environ, comm, oom_score_adj, and what
//! writing comm and oom_score_adj does, in Linux 6.1's formats (fs/proc/base.c). The task
//! and memory files are in [`super::task`], the mount tables and fdinfo in
//! [`super::mounts`].

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::types::Caller;
use coracle_vfs::{Errno, Result};

use super::node::{Fs, Who};
use super::Out;
use crate::process::{Process, System};

/// What a per-process generator sees.
pub(in crate::procfs) struct View<'a> {
    pub sys: &'a System,
    pub cx: &'a Caller,
    pub proc: &'a Arc<Process>,
    pub who: Who,
    pub fs: &'a Fs,
}

/// /proc/<pid>/limits (proc_pid_limits), with the values `prlimit64` reports.
pub(super) fn limits(v: &View<'_>) -> Result<Vec<u8>> {
    const NAMES: [(&str, &str); 16] = [
        ("Max cpu time", "seconds"),
        ("Max file size", "bytes"),
        ("Max data size", "bytes"),
        ("Max stack size", "bytes"),
        ("Max core file size", "bytes"),
        ("Max resident set", "bytes"),
        ("Max processes", "processes"),
        ("Max open files", "files"),
        ("Max locked memory", "bytes"),
        ("Max address space", "bytes"),
        ("Max file locks", "locks"),
        ("Max pending signals", "signals"),
        ("Max msgqueue size", "bytes"),
        ("Max nice priority", ""),
        ("Max realtime priority", ""),
        ("Max realtime timeout", "us"),
    ];
    let mut o = Out::default();
    put!(
        o,
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit",
        "Soft Limit",
        "Hard Limit",
        "Units"
    );
    let limits = *v.proc.limits.lock();
    for (i, (name, unit)) in NAMES.iter().enumerate() {
        let (soft, hard) = limits[i];
        put!(o, "{name:<25} ");
        for value in [soft, hard] {
            if value == u64::MAX {
                put!(o, "{:<20} ", "unlimited");
            } else {
                put!(o, "{value:<20} ");
            }
        }
        if unit.is_empty() {
            o.bytes(b"\n");
        } else {
            put!(o, "{unit:<10}\n");
        }
    }
    Ok(o.0)
}

pub(super) fn cmdline(v: &View<'_>) -> Result<Vec<u8>> {
    Ok(v.proc.cmdline.lock().clone())
}

/// /proc/<pid>/auxv: the auxiliary vector's (key, value) words, AT_NULL included.
pub(super) fn auxv(v: &View<'_>) -> Result<Vec<u8>> {
    Ok(v.proc.auxv.lock().clone())
}

pub(super) fn environ(v: &View<'_>) -> Result<Vec<u8>> {
    Ok(v.proc.environ.lock().clone())
}

pub(super) fn comm(v: &View<'_>) -> Result<Vec<u8>> {
    let mut c = v.proc.comm.lock().clone();
    c.push(b'\n');
    Ok(c)
}

pub(super) fn oom_score_adj(v: &View<'_>) -> Result<Vec<u8>> {
    let adj = v.fs.oom_adj.lock().get(&v.proc.pid).copied().unwrap_or(0);
    Ok(alloc::format!("{adj}\n").into_bytes())
}

/// comm_write: the first 15 bytes (up to a NUL) become the name; only the writer's own
/// process may be renamed.
pub(super) fn write_comm(p: &Process, writer: u32, data: &[u8]) -> Result<usize> {
    if writer != p.pid {
        return Err(Errno::EINVAL);
    }
    let name: Vec<u8> = data
        .iter()
        .take(15)
        .take_while(|&&b| b != 0)
        .copied()
        .collect();
    *p.comm.lock() = name;
    Ok(data.len())
}

/// oom_score_adj_write's parsing: at most 12 bytes, blanks stripped, an integer as
/// `kstrtoint(s, 0)` reads it, within -1000..=1000.
pub(super) fn parse_oom_score_adj(data: &[u8]) -> Result<i32> {
    let text = &data[..data.len().min(12)];
    let s = core::str::from_utf8(text)
        .map_err(|_| Errno::EINVAL)?
        .trim();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(Errno::EINVAL);
    }
    let value = i64::from_str_radix(digits, radix).map_err(|_| Errno::EINVAL)?;
    let value = if neg { -value } else { value };
    if !(-1000..=1000).contains(&value) {
        return Err(Errno::EINVAL);
    }
    Ok(value as i32)
}
