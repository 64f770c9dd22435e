//! Identity and limits: uname, the pid/uid family, rlimits, getrandom, getrusage.
//!
//! The process is root in its own PID namespace, as the entrypoint of a container is.

use core::sync::atomic::Ordering;

use coracle_abi::resource::{Rlimit, Rusage, Sysinfo, Tms};
use coracle_abi::time::Timeval;

use crate::uaccess::{read_struct, write_struct};
use crate::user_ptr::UserSliceMut;
use crate::{Current, Errno, Platform, SysResult};

/// What `uname -r` says. Programs (glibc among them) parse it as a Linux version: the
/// release of the newest call Coracle serves (fchmodat2 came with 6.6), so probes by
/// version do not skip what is here. What is not here says so in /proc/config.gz.
pub const RELEASE: &[u8] = b"6.6.0-coracle";

/// personality(2)'s 32-bit Linux persona.
const PER_LINUX32: u32 = 0x0008;

pub(crate) fn uname(p: &mut Current, k: &mut dyn Platform, buf: u64) -> SysResult {
    const FIELD: usize = 65;
    let mut u = [0u8; FIELD * 6];
    let fields: [&[u8]; 6] = [
        b"Linux",
        &p.info.hostname,
        RELEASE,
        b"#1 SMP Coracle",
        // PER_LINUX32 reports the 32-bit machine (override_architecture).
        if p.process.personality.load(Ordering::Relaxed) & 0xff == PER_LINUX32 {
            b"i686".as_slice()
        } else {
            b"x86_64".as_slice()
        },
        b"(none)",
    ];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(FIELD - 1);
        u[i * FIELD..i * FIELD + n].copy_from_slice(&f[..n]);
    }
    k.write_user(buf, &u).map(|_| 0)
}

pub(crate) fn getpid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Ok(u64::from(p.process.pid))
}

pub(crate) fn gettid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Ok(u64::from(p.tid))
}

pub(crate) fn getppid(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Ok(u64::from(p.process.ppid()))
}

pub(crate) fn getpgrp(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    Ok(u64::from(p.process.pgid()))
}

/// The process `pid` names for getpgid/getsid/setpgid (0: the caller).
pub(crate) fn process_by_pid(
    p: &Current,
    pid: i32,
) -> Result<alloc::sync::Arc<crate::process::Process>, Errno> {
    if pid == 0 {
        return Ok(p.process.clone());
    }
    let pid = u32::try_from(pid).map_err(|_| Errno::ESRCH)?;
    p.sys.tree.lock().get(&pid).cloned().ok_or(Errno::ESRCH)
}

pub(crate) fn getpgid(p: &mut Current, _k: &mut dyn Platform, pid: i32) -> SysResult {
    Ok(u64::from(process_by_pid(p, pid)?.pgid()))
}

pub(crate) fn getsid(p: &mut Current, _k: &mut dyn Platform, pid: i32) -> SysResult {
    Ok(u64::from(process_by_pid(p, pid)?.sid()))
}

const RLIM_INFINITY: u64 = u64::MAX;

/// The limits a docker container starts with: (soft, hard).
pub(crate) fn rlimit(resource: u32) -> Result<(u64, u64), Errno> {
    Ok(match resource {
        3 => (8 << 20, RLIM_INFINITY), // RLIMIT_STACK
        4 => (0, RLIM_INFINITY),       // RLIMIT_CORE
        7 => (crate::process::NOFILE_SOFT, crate::process::NOFILE_SOFT), // RLIMIT_NOFILE
        8 => (8 << 20, 8 << 20),       // RLIMIT_MEMLOCK
        12 => (819_200, 819_200),      // RLIMIT_MSGQUEUE (MQ_BYTES_MAX)
        13 | 14 => (0, 0),             // RLIMIT_NICE, RLIMIT_RTPRIO
        0..=15 => (RLIM_INFINITY, RLIM_INFINITY),
        _ => return Err(Errno::EINVAL),
    })
}

/// Every limit a process starts with.
pub(crate) fn default_limits() -> [(u64, u64); 16] {
    core::array::from_fn(|i| rlimit(i as u32).unwrap_or((RLIM_INFINITY, RLIM_INFINITY)))
}

fn write_rlimit(k: &mut dyn Platform, addr: u64, (soft, hard): (u64, u64)) -> Result<(), Errno> {
    let r = Rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    write_struct(k, addr, &r)
}

pub(crate) fn getrlimit(
    p: &mut Current,
    k: &mut dyn Platform,
    resource: u32,
    rlim: u64,
) -> SysResult {
    prlimit64(p, k, 0, resource, 0, rlim)
}

pub(crate) fn setrlimit(
    p: &mut Current,
    k: &mut dyn Platform,
    resource: u32,
    rlim: u64,
) -> SysResult {
    prlimit64(p, k, 0, resource, rlim, 0)
}

pub(crate) fn prlimit64(
    p: &mut Current,
    k: &mut dyn Platform,
    pid: i32,
    resource: u32,
    new_limit: u64,
    old_limit: u64,
) -> SysResult {
    if pid != 0 && pid != p.process.pid as i32 {
        return Err(Errno::ESRCH);
    }
    rlimit(resource)?;
    let new = if new_limit != 0 {
        let Rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        } = read_struct(k, new_limit)?;
        if soft > hard {
            return Err(Errno::EINVAL);
        }
        // RLIMIT_NOFILE cannot go above nr_open.
        if resource == 7 && hard > crate::process::NOFILE as u64 {
            return Err(Errno::EPERM);
        }
        Some((soft, hard))
    } else {
        None
    };
    let mut limits = p.process.limits.lock();
    let old = limits[resource as usize];
    if let Some((soft, hard)) = new {
        // Raising a hard limit needs CAP_SYS_RESOURCE (root has it).
        if hard > old.1 && p.process.euid() != 0 {
            return Err(Errno::EPERM);
        }
        limits[resource as usize] = (soft, hard);
    }
    drop(limits);
    if old_limit != 0 {
        write_rlimit(k, old_limit, old)?;
    }
    Ok(0)
}

// ---- CPU time ----

/// Adds an exiting thread's CPU time to its process's (called under the threads lock).
pub(crate) fn account_exit(p: &Current) {
    let ns = p.thread.cpu_time(p.sys.sched.now_ns());
    p.process.exited_cpu_ns.fetch_add(ns, Ordering::Relaxed);
}

/// The CPU time of one thread of the process, by tid.
pub(crate) fn thread_cpu_ns(p: &Current, tid: u32) -> Option<u64> {
    if tid == p.tid {
        return Some(p.thread.cpu_time(p.sys.sched.now_ns()));
    }
    if !p.process.threads.lock().contains(&tid) {
        return None;
    }
    let thread = p.sys.sched.thread(tid)?;
    Some(thread.cpu_time(p.sys.sched.now_ns()))
}

/// The CPU time of the whole process: its live threads and the ones that exited.
pub(crate) fn process_cpu_ns(p: &Current) -> u64 {
    process_cpu_ns_of(&p.process, &p.sys.sched)
}

/// [`process_cpu_ns`] from anywhere (a CPU-time timer checked by the scheduler).
pub(crate) fn process_cpu_ns_of(
    process: &crate::process::Process,
    sched: &crate::sched::Scheduler,
) -> u64 {
    let threads = process.threads.lock();
    let now = sched.now_ns();
    let live: u64 = threads
        .iter()
        .filter_map(|&tid| sched.thread(tid))
        .map(|t| t.cpu_time(now))
        .sum();
    live + process.exited_cpu_ns.load(Ordering::Relaxed)
}

pub(crate) fn getrusage(p: &mut Current, k: &mut dyn Platform, who: i32, usage: u64) -> SysResult {
    const RUSAGE_SELF: i32 = 0;
    const RUSAGE_CHILDREN: i32 = -1;
    const RUSAGE_THREAD: i32 = 1;
    let cpu = match who {
        RUSAGE_SELF => process_cpu_ns(p),
        RUSAGE_THREAD => p.thread.cpu_time(p.sys.sched.now_ns()),
        // The reaped children and their reaped descendants.
        RUSAGE_CHILDREN => p.process.life.lock().children_cpu_ns,
        _ => return Err(Errno::EINVAL),
    };
    // struct rusage: ru_utime, ru_stime, then 14 longs (maxrss, ..., nivcsw). The time spent
    // in system calls is not told apart from user time: it is all ru_utime. ru_maxrss (KiB)
    // is the resident set now, as /proc/self/status counts it (no high-water mark is kept).
    let mut r = Rusage {
        ru_utime: Timeval::from_ns(cpu),
        ..Rusage::default()
    };
    if who != RUSAGE_CHILDREN {
        r.ru_maxrss = (crate::procfs::resident_pages(&p.process) * 4) as i64;
    }
    write_struct(k, usage, &r).map(|_| 0)
}

/// Clock ticks per second of times(2) and /proc (USER_HZ).
const USER_HZ: u64 = 100;

pub(crate) fn times(p: &mut Current, k: &mut dyn Platform, buf: u64) -> SysResult {
    let ticks = |ns: u64| ns / (1_000_000_000 / USER_HZ);
    if buf != 0 {
        let children = p.process.life.lock().children_cpu_ns;
        let t = Tms {
            tms_utime: ticks(process_cpu_ns(p)) as i64,
            tms_cutime: ticks(children) as i64,
            ..Tms::default()
        };
        write_struct(k, buf, &t)?;
    }
    Ok(ticks(k.monotonic_ns()))
}

pub(crate) fn getrandom(
    _p: &mut Current,
    k: &mut dyn Platform,
    buf: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    const GRND_NONBLOCK: u32 = 1;
    const GRND_RANDOM: u32 = 2;
    const GRND_INSECURE: u32 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    let len = len.min(0x01ff_ffff); // Linux caps one call at 32 MiB - 1
                                    // Checked before anything is made, also for an empty buffer (import_ubuf).
    let out = UserSliceMut::new(buf, len)?;
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = ((len - done) as usize).min(chunk.len());
        k.random(&mut chunk[..n]);
        if let Err(e) = out.write(k, done, &chunk[..n]) {
            return if done == 0 { Err(e) } else { Ok(done) };
        }
        done += n as u64;
    }
    Ok(done)
}

/// sysinfo(2): uptime, memory (the frames and heap the kernel has free), process count.
pub(crate) fn sysinfo(p: &mut Current, k: &mut dyn Platform, info: u64) -> SysResult {
    let sys = &p.sys.info;
    let s = Sysinfo {
        uptime: (sys.uptime_ns() / 1_000_000_000) as i64,
        totalram: sys.mem_total(),
        freeram: sys.mem_free(),
        procs: p.sys.tree.lock().len().min(u16::MAX as usize) as u16,
        mem_unit: 1,
        ..Sysinfo::default()
    };
    write_struct(k, info, &s).map(|_| 0)
}
