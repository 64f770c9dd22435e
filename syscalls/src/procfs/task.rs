//! /proc/<pid>/{stat,statm,status,maps}: the task and its memory, in Linux 6.1's formats
//! (fs/proc/array.c, task_mmu.c), computed from the VMAs of [`crate::mm`].
//!
//! What Coracle does not track is reported as a quiet process would show it: no page
//! faults, no CPU time, no signals pending or caught, the capabilities of docker's root.

use alloc::vec::Vec;

use coracle_vfs::inode::same_inode;
use coracle_vfs::types::{major, minor};
use coracle_vfs::Result;

use super::pid::View;
use super::system::cpu_range;
use super::Out;
use crate::mm::VmaName;
use crate::platform::Perms;
use crate::process::Process;

/// USER_HZ: the unit of clock ticks in stat files.
pub(super) const TICKS_PER_SEC: u64 = 100;
use crate::mm::PAGE;
/// PF_RANDOMIZE: the `flags` field of a normal user process.
const PF_RANDOMIZE: u32 = 0x0040_0000;
/// The stack is reserved whole but filled on touch; this much is counted as resident, about
/// what a fresh Linux process has (its stack VMA starts at 132 KiB).
const STACK_RESIDENT_PAGES: u64 = 33;
/// The NUMA node bitmap width of Mems_allowed (MAX_NUMNODES of distribution kernels).
const MAX_NUMNODES: u32 = 1024;

/// One VMA as /proc shows it.
struct Region {
    start: u64,
    end: u64,
    perms: Perms,
    shared: bool,
    name: VmaName,
}

impl Region {
    fn pages(&self) -> u64 {
        (self.end - self.start) / PAGE
    }
}

/// The VMAs and the program break (`start_brk`, `brk`).
fn regions(p: &Process) -> (Vec<Region>, u64, u64) {
    let shared = p.mm.get();
    let mm = shared.lock();
    let list = mm
        .maps()
        .map(|m| Region {
            start: m.start,
            end: m.end,
            perms: m.perms,
            shared: m.shared,
            name: m.name,
        })
        .collect();
    let (start_brk, brk) = mm.brk_area();
    (list, start_brk, brk)
}

/// The counters of an mm_struct, from the VMAs. Sizes in pages.
#[derive(Default)]
struct Mem {
    total: u64,
    rss: u64,
    /// Resident pages of file mappings (MM_FILEPAGES).
    file_rss: u64,
    data: u64,
    stack: u64,
    /// Executable pages of the program itself, and of everything else.
    text: u64,
    lib: u64,
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_stack: u64,
    start_brk: u64,
}

/// The resident set of `p` in pages, as /proc/<pid>/status counts it (for getrusage's
/// ru_maxrss).
pub(crate) fn resident_pages(p: &Process) -> u64 {
    mem(p).rss
}

fn mem(p: &Process) -> Mem {
    let (list, start_brk, _) = regions(p);
    let exe_inode = p.exe.lock().as_ref().map(|(inode, _)| inode.clone());
    let mut m = Mem {
        start_brk,
        ..Mem::default()
    };
    let mut code: Option<(u64, u64)> = None;
    let mut data: Option<(u64, u64)> = None;
    for r in &list {
        let pages = r.pages();
        let file = match &r.name {
            VmaName::File { inode, .. } => Some(inode),
            _ => None,
        };
        let exe = file
            .zip(exe_inode.as_ref())
            .is_some_and(|(a, b)| same_inode(a, b));
        let stack = r.name == VmaName::Stack;
        m.total += pages;
        if r.perms.read || r.perms.write || r.perms.exec {
            m.rss += if stack {
                pages.min(STACK_RESIDENT_PAGES)
            } else {
                pages
            };
            if file.is_some() {
                m.file_rss += pages;
            }
        }
        // Linux's data_vm, stack_vm and exec_vm (mm/internal.h vm_stat_account).
        if stack {
            m.stack += pages;
            m.start_stack = r.end - PAGE;
        } else if r.perms.write {
            m.data += pages;
        } else if r.perms.exec {
            if exe {
                m.text += pages;
            } else {
                m.lib += pages;
            }
        }
        let span = |s: Option<(u64, u64)>| {
            Some(s.map_or((r.start, r.end), |(a, b)| (a.min(r.start), b.max(r.end))))
        };
        if exe && r.perms.exec {
            code = span(code);
        } else if exe && r.perms.write {
            data = span(data);
        }
    }
    (m.start_code, m.end_code) = code.unwrap_or_default();
    (m.start_data, m.end_data) = data.unwrap_or_default();
    m
}

/// The state /proc shows: a zombie, stopped, sleeping (the thread, for /proc/<pid> the
/// leader, is parked in a wait: LTP's tst_process_state_wait polls for this 'S' before it
/// wakes a waiter), or running.
fn state(v: &View<'_>) -> (char, &'static str) {
    let life = v.proc.life.lock();
    if life.ended.is_some() {
        ('Z', "zombie")
    } else if life.stopped {
        ('T', "stopped")
    } else if v
        .sys
        .sched
        .thread(v.who.tid())
        .is_some_and(|t| t.is_parked())
    {
        ('S', "sleeping")
    } else {
        ('R', "running")
    }
}

/// The process group and session.
fn pgrp_sid(p: &Process) -> (u32, u32) {
    (p.pgid(), p.sid())
}

fn threads(v: &View<'_>) -> u64 {
    1 + u64::from(v.cx.pid == v.proc.pid && v.cx.tid != v.proc.pid)
}

/// /proc/<pid>/stat (do_task_stat): 52 space-separated fields.
pub(super) fn stat(v: &View<'_>) -> Result<Vec<u8>> {
    let p = v.proc;
    let m = mem(p);
    let (pgrp, sid) = pgrp_sid(p);
    let start = p.start_ns / (1_000_000_000 / TICKS_PER_SEC);
    let mut o = Out::default();
    put!(o, "{} (", v.who.tid());
    o.bytes(&p.comm.lock());
    put!(
        o,
        ") {} {} {pgrp} {sid} 0 -1 {PF_RANDOMIZE}",
        state(v).0,
        p.ppid()
    );
    // minflt cminflt majflt cmajflt utime stime cutime cstime priority nice
    o.bytes(b" 0 0 0 0 0 0 0 0 20 0");
    put!(o, " {} 0 {start}", threads(v));
    put!(o, " {} {} {}", m.total * PAGE, m.rss, u64::MAX);
    put!(o, " {} {} {}", m.start_code, m.end_code, m.start_stack);
    // kstkesp kstkeip signal blocked sigignore sigcatch wchan nswap cnswap
    o.bytes(b" 0 0 0 0 0 0 0 0 0");
    // exit_signal (SIGCHLD) processor rt_priority policy blkio_ticks gtime cgtime
    o.bytes(b" 17 0 0 0 0 0 0");
    put!(o, " {} {} {}", m.start_data, m.end_data, m.start_brk);
    // arg_start arg_end env_start env_end (not recorded) exit_code
    o.bytes(b" 0 0 0 0 0\n");
    Ok(o.0)
}

/// /proc/<pid>/statm (proc_pid_statm): size resident shared text lib data dt, in pages.
pub(super) fn statm(v: &View<'_>) -> Result<Vec<u8>> {
    let m = mem(v.proc);
    let text = (m.end_code - m.start_code) / PAGE;
    let mut o = Out::default();
    put!(
        o,
        "{} {} {} {text} 0 {} 0\n",
        m.total,
        m.rss,
        m.file_rss,
        m.data + m.stack
    );
    Ok(o.0)
}

/// A bitmap as `%*pb` prints it: hex in 32-bit chunks, high first, separated by commas; the
/// first `set` of `nbits` bits are set.
pub(super) fn bitmap(set: u32, nbits: u32) -> Out {
    let mut o = Out::default();
    let chunks = nbits.div_ceil(32);
    for c in (0..chunks).rev() {
        let lo = c * 32;
        let width = if c == chunks - 1 && !nbits.is_multiple_of(32) {
            nbits % 32
        } else {
            32
        };
        let ones = set.saturating_sub(lo).min(width);
        let val = if ones == 32 {
            u32::MAX
        } else {
            (1u32 << ones) - 1
        };
        if c != chunks - 1 {
            o.bytes(b",");
        }
        put!(o, "{val:0w$x}", w = width.div_ceil(4) as usize);
    }
    o
}

/// /proc/<pid>/status (proc_pid_status).
pub(super) fn status(v: &View<'_>) -> Result<Vec<u8>> {
    let p = v.proc;
    let m = mem(p);
    let (pgrp, sid) = pgrp_sid(p);
    let umask = p.fs.lock().umask;
    let fd_size = {
        // expand_fdtable: 64 slots, then 128 times a power of two.
        let len = p.files.lock().len() as u64;
        if len <= 64 {
            64
        } else {
            128 * (len.div_ceil(128)).next_power_of_two()
        }
    };
    let mut o = Out::default();
    o.bytes(b"Name:\t");
    for &b in p.comm.lock().iter() {
        // proc_task_name(escape): only '\n' and '\\' are escaped.
        match b {
            b'\n' => o.bytes(b"\\n"),
            b'\\' => o.bytes(b"\\\\"),
            _ => o.bytes(&[b]),
        }
    }
    let (letter, word) = state(v);
    put!(o, "\nUmask:\t{umask:04o}\nState:\t{letter} ({word})\n");
    put!(o, "Tgid:\t{}\nNgid:\t0\nPid:\t{}\n", p.pid, v.who.tid());
    put!(o, "PPid:\t{}\nTracerPid:\t0\n", p.ppid());
    let c = p.creds();
    put!(o, "Uid:\t{}\t{}\t{}\t{}\n", c.uid, c.euid, c.suid, c.fsuid);
    put!(o, "Gid:\t{}\t{}\t{}\t{}\n", c.gid, c.egid, c.sgid, c.fsgid);
    put!(o, "FDSize:\t{fd_size}\nGroups:\t");
    for (i, g) in c.groups.iter().enumerate() {
        put!(o, "{}{g}", if i == 0 { "" } else { " " });
    }
    // Linux ends the list with a space, even an empty one.
    o.bytes(b" \n");
    put!(o, "NStgid:\t{}\nNSpid:\t{}\n", p.pid, v.who.tid());
    put!(o, "NSpgid:\t{pgrp}\nNSsid:\t{sid}\n");
    let kb = |pages: u64| pages * (PAGE / 1024);
    let pte_kb = (m.total.div_ceil(512) + 3) * 4; // one page-table page per 2 MiB, plus the top
    for (name, value) in [
        ("VmPeak", kb(m.total)),
        ("VmSize", kb(m.total)),
        ("VmLck", 0),
        ("VmPin", 0),
        ("VmHWM", kb(m.rss)),
        ("VmRSS", kb(m.rss)),
        ("RssAnon", kb(m.rss - m.file_rss)),
        ("RssFile", kb(m.file_rss)),
        ("RssShmem", 0),
        ("VmData", kb(m.data)),
        ("VmStk", kb(m.stack)),
        ("VmExe", kb(m.text)),
        ("VmLib", kb(m.lib)),
        ("VmPTE", pte_kb),
        ("VmSwap", 0),
        ("HugetlbPages", 0),
    ] {
        put!(o, "{name}:\t{value:8} kB\n");
    }
    o.bytes(b"CoreDumping:\t0\nTHP_enabled:\t1\n");
    let (_, sigpending) = crate::sys::info::rlimit(11)?;
    put!(o, "Threads:\t{}\nSigQ:\t0/{sigpending}\n", threads(v));
    for name in ["SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt"] {
        put!(o, "{name}:\t{:016x}\n", 0);
    }
    for (name, caps) in [
        ("CapInh", c.inheritable),
        ("CapPrm", c.permitted),
        ("CapEff", c.effective),
        ("CapBnd", c.bounding),
        ("CapAmb", c.ambient),
    ] {
        put!(o, "{name}:\t{caps:016x}\n");
    }
    let nnp = u8::from(p.life.lock().prctl.no_new_privs);
    put!(o, "NoNewPrivs:\t{nnp}\n");
    o.bytes(b"Seccomp:\t0\nSeccomp_filters:\t0\n");
    o.bytes(b"Speculation_Store_Bypass:\tthread vulnerable\n");
    o.bytes(b"SpeculationIndirectBranch:\tconditional enabled\n");
    let cpus = v.sys.cpus;
    o.bytes(b"Cpus_allowed:\t");
    o.bytes(&bitmap(cpus, cpus).0);
    o.bytes(b"\nCpus_allowed_list:\t");
    o.bytes(&cpu_range(cpus));
    o.bytes(b"Mems_allowed:\t");
    o.bytes(&bitmap(1, MAX_NUMNODES).0);
    o.bytes(b"\nMems_allowed_list:\t0\n");
    o.bytes(b"voluntary_ctxt_switches:\t0\nnonvoluntary_ctxt_switches:\t0\n");
    Ok(o.0)
}

/// /proc/<pid>/maps (show_map_vma). A named line pads to column 73 before the name.
pub(super) fn maps(v: &View<'_>) -> Result<Vec<u8>> {
    let (list, start_brk, brk) = regions(v.proc);
    let mut o = Out::default();
    for r in &list {
        let (dev, ino, offset, name): (u64, u64, u64, Option<Vec<u8>>) = match r.name {
            VmaName::File {
                ref inode,
                ref path,
                offset,
            } => {
                let st = inode.stat();
                let mut name = escape_newlines(path);
                // d_path: a file whose last name is gone is shown " (deleted)", as its
                // /proc/<pid>/fd link is.
                const DELETED: &[u8] = b" (deleted)";
                if st.nlink == 0 && path.starts_with(b"/") && !path.ends_with(DELETED) {
                    name.extend_from_slice(DELETED);
                }
                (st.dev, st.ino, offset, Some(name))
            }
            VmaName::Stack => (0, 0, 0, Some(b"[stack]".to_vec())),
            VmaName::Special(name) => (0, 0, 0, Some(name.as_bytes().to_vec())),
            VmaName::Anon if r.start <= brk && r.end >= start_brk => {
                (0, 0, 0, Some(b"[heap]".to_vec()))
            }
            VmaName::Anon => (0, 0, 0, None),
        };
        let dev = (major(dev), minor(dev), ino);
        map_line(
            &mut o,
            r.start,
            r.end,
            (r.perms, r.shared),
            offset,
            dev,
            name.as_deref(),
        );
    }
    Ok(o.0)
}

/// One line of maps (show_vma_header_prefix, then the name padded to column 73);
/// `dev` is (major, minor, inode).
pub(super) fn map_line(
    o: &mut Out,
    start: u64,
    end: u64,
    (perms, shared): (Perms, bool),
    offset: u64,
    dev: (u32, u32, u64),
    name: Option<&[u8]>,
) {
    let line_start = o.0.len();
    let flag = |on: bool, c: u8| if on { c } else { b'-' };
    put!(o, "{start:08x}-{end:08x} ");
    o.bytes(&[
        flag(perms.read, b'r'),
        flag(perms.write, b'w'),
        flag(perms.exec, b'x'),
        if shared { b's' } else { b'p' },
    ]);
    put!(o, " {offset:08x} {:02x}:{:02x} {} ", dev.0, dev.1, dev.2);
    if let Some(name) = name {
        // seq_setwidth(25 + 6 * sizeof(void *) - 1), then seq_pad(' ').
        let pad_until = line_start + 72;
        while o.0.len() < pad_until {
            o.0.push(b' ');
        }
        o.bytes(b" ");
        o.bytes(name);
    }
    o.bytes(b"\n");
}

/// seq_file_path's escaping of a mapped file's path.
fn escape_newlines(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if b == b'\n' {
            out.extend_from_slice(b"\\012");
        } else {
            out.push(b);
        }
    }
    out
}
