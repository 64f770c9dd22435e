//! The machine-wide files: /proc/{cpuinfo,meminfo,stat,uptime,loadavg,version,filesystems},
//! the generated parts of /proc/sys and /sys, in Linux 6.1's formats (fs/proc/*.c).

use alloc::vec::Vec;

use super::node::SysCtx;
use super::task::TICKS_PER_SEC;
use super::Out;
use crate::sys::info::RELEASE;

/// /proc/cpuinfo: each CPU's block after its `processor` line, then a blank line.
pub(super) fn cpuinfo(c: &SysCtx<'_>) -> Vec<u8> {
    let mut o = Out::default();
    for cpu in 0..c.sys.cpus {
        put!(o, "processor\t: {cpu}\n");
        o.bytes(&c.sys.info.cpuinfo(cpu));
        o.bytes(b"\n");
    }
    o.0
}

/// /proc/meminfo (meminfo_proc_show): Linux 6.1's lines in its order, `%-16s%8lu kB` (the
/// label with its colon padded to 16 columns). What Coracle does not have (swap, page cache,
/// huge pages) is zero; all used memory counts as anonymous.
pub(super) fn meminfo(c: &SysCtx<'_>) -> Vec<u8> {
    let total = c.sys.info.mem_total() / 1024;
    let free = c.sys.info.mem_free().min(c.sys.info.mem_total()) / 1024;
    let used = total - free;
    // VMALLOC_TOTAL of 4-level paging, in kB.
    const VMALLOC_TOTAL: u64 = 34_359_738_367;
    let mut o = Out::default();
    let lines: [(&str, u64); 45] = [
        ("MemTotal", total),
        ("MemFree", free),
        ("MemAvailable", free),
        ("Buffers", 0),
        ("Cached", 0),
        ("SwapCached", 0),
        ("Active", used),
        ("Inactive", 0),
        ("Active(anon)", used),
        ("Inactive(anon)", 0),
        ("Active(file)", 0),
        ("Inactive(file)", 0),
        ("Unevictable", 0),
        ("Mlocked", 0),
        ("SwapTotal", 0),
        ("SwapFree", 0),
        ("Zswap", 0),
        ("Zswapped", 0),
        ("Dirty", 0),
        ("Writeback", 0),
        ("AnonPages", used),
        ("Mapped", 0),
        ("Shmem", 0),
        ("KReclaimable", 0),
        ("Slab", 0),
        ("SReclaimable", 0),
        ("SUnreclaim", 0),
        ("KernelStack", 0),
        ("PageTables", 0),
        ("SecPageTables", 0),
        ("NFS_Unstable", 0),
        ("Bounce", 0),
        ("WritebackTmp", 0),
        // overcommit_ratio 50 and no swap.
        ("CommitLimit", total / 2),
        ("Committed_AS", used),
        ("VmallocTotal", VMALLOC_TOTAL),
        ("VmallocUsed", 0),
        ("VmallocChunk", 0),
        ("Percpu", 0),
        ("HardwareCorrupted", 0),
        ("AnonHugePages", 0),
        ("ShmemHugePages", 0),
        ("ShmemPmdMapped", 0),
        ("FileHugePages", 0),
        ("FilePmdMapped", 0),
    ];
    for (name, kb) in lines {
        if name == "HardwareCorrupted" {
            // The one line with its own format in meminfo.c.
            put!(o, "HardwareCorrupted: {kb:5} kB\n");
        } else {
            put!(o, "{:<16}{kb:8} kB\n", alloc::format!("{name}:"));
        }
    }
    // hugetlb_report_meminfo, then the x86 arch_report_meminfo.
    o.bytes(b"HugePages_Total:       0\nHugePages_Free:        0\n");
    o.bytes(b"HugePages_Rsvd:        0\nHugePages_Surp:        0\n");
    o.bytes(b"Hugepagesize:       2048 kB\nHugetlb:               0 kB\n");
    let direct_2m = total / 2048 * 2048;
    put!(o, "DirectMap4k:    {:8} kB\n", total - direct_2m);
    put!(o, "DirectMap2M:    {direct_2m:8} kB\n");
    put!(o, "DirectMap1G:    {:8} kB\n", 0);
    o.0
}

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / TICKS_PER_SEC)
}

/// /proc/stat (show_stat). CPU time is not accounted: every CPU has been idle since boot.
pub(super) fn stat(c: &SysCtx<'_>) -> Vec<u8> {
    let info = &c.sys.info;
    let idle = ticks(info.uptime_ns());
    let cpus = c.sys.cpus;
    let mut o = Out::default();
    put!(o, "cpu  0 0 0 {} 0 0 0 0 0 0\n", idle * u64::from(cpus));
    for cpu in 0..cpus {
        put!(o, "cpu{cpu} 0 0 0 {idle} 0 0 0 0 0 0\n");
    }
    let btime = info.boot_realtime_ns() / 1_000_000_000;
    let pids = c.sys.pids();
    put!(o, "intr 0\nctxt 0\nbtime {btime}\n");
    put!(o, "processes {}\n", pids.last().copied().unwrap_or(0));
    o.bytes(b"procs_running 1\nprocs_blocked 0\n");
    // The sum, then NR_SOFTIRQS (10) counters.
    o.bytes(b"softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    o.0
}

/// Seconds with two decimals, as `%lu.%02lu`.
fn centisecs(o: &mut Out, ns: u64) {
    let cs = ns / 10_000_000;
    put!(o, "{}.{:02}", cs / 100, cs % 100);
}

/// /proc/uptime: the uptime and the idle time summed over CPUs.
pub(super) fn uptime(c: &SysCtx<'_>) -> Vec<u8> {
    let up = c.sys.info.uptime_ns();
    let mut o = Out::default();
    centisecs(&mut o, up);
    o.bytes(b" ");
    centisecs(&mut o, up.saturating_mul(u64::from(c.sys.cpus)));
    o.bytes(b"\n");
    o.0
}

/// /proc/loadavg: no load is measured; runnable/total threads and the last pid.
pub(super) fn loadavg(c: &SysCtx<'_>) -> Vec<u8> {
    let pids = c.sys.pids();
    let mut o = Out::default();
    put!(
        o,
        "0.00 0.00 0.00 1/{} {}\n",
        pids.len(),
        pids.last().copied().unwrap_or(0)
    );
    o.0
}

/// /proc/version (linux_proc_banner), consistent with uname.
pub(super) fn version(_c: &SysCtx<'_>) -> Vec<u8> {
    let mut o = Out::default();
    o.bytes(b"Linux version ");
    o.bytes(RELEASE);
    o.bytes(b" (coracle@coracle) (rustc) #1 SMP Coracle\n");
    o.0
}

/// /proc/filesystems: the filesystem types Coracle has, in Linux's registration order.
pub(super) fn filesystems(_c: &SysCtx<'_>) -> Vec<u8> {
    b"nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tpipefs\n".to_vec()
}

pub(super) fn hostname(c: &SysCtx<'_>) -> Vec<u8> {
    let mut h = c.sys.hostname.lock().clone();
    h.push(b'\n');
    h
}

/// /proc/sys/fs/file-max: the limit `kmem` enforces.
pub(super) fn file_max(c: &SysCtx<'_>) -> Vec<u8> {
    alloc::format!("{}\n", crate::kmem::file_max(c.sys)).into_bytes()
}

/// /proc/sys/fs/file-nr: open files, free ones (always 0 since Linux 2.6), the limit.
pub(super) fn file_nr(c: &SysCtx<'_>) -> Vec<u8> {
    let open = coracle_vfs::file::open_files();
    alloc::format!("{open}\t0\t{}\n", crate::kmem::file_max(c.sys)).into_bytes()
}

/// /proc/sys/kernel/threads-max: the limit `kmem` enforces.
pub(super) fn threads_max(c: &SysCtx<'_>) -> Vec<u8> {
    alloc::format!("{}\n", crate::kmem::threads_max(c.sys)).into_bytes()
}

/// /proc/sysvipc/msg (sysvipc_msg_proc_show): a header, then one line per queue.
pub(super) fn sysvipc_msg(c: &SysCtx<'_>) -> Vec<u8> {
    let mut o = Out::default();
    o.bytes(b"       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n");
    for l in c.sys.ipc.msg.proc_lines() {
        put!(
            o,
            "{:>10} {:>10}  {:>4o}  {:>10} {:>10} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10}\n",
            l.perm.key,
            l.id,
            l.perm.mode,
            l.bytes,
            l.qnum,
            l.lspid,
            l.lrpid,
            l.perm.uid,
            l.perm.gid,
            l.perm.cuid,
            l.perm.cgid,
            l.times[0],
            l.times[1],
            l.times[2]
        );
    }
    o.0
}

/// /proc/sysvipc/shm (sysvipc_shm_proc_show): a header, then one line per segment.
pub(super) fn sysvipc_shm(c: &SysCtx<'_>) -> Vec<u8> {
    let mut o = Out::default();
    o.bytes(b"       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n");
    for l in c.sys.ipc.shm.proc_lines(c.sys) {
        let rss = l.size.div_ceil(4096) * 4096;
        put!(
            o,
            "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}\n",
            l.perm.key,
            l.id,
            l.perm.mode,
            l.size,
            l.cpid,
            l.lpid,
            l.nattch,
            l.perm.uid,
            l.perm.gid,
            l.perm.cuid,
            l.perm.cgid,
            l.times[0],
            l.times[1],
            l.times[2],
            rss,
            0
        );
    }
    o.0
}

pub(super) fn osrelease(_c: &SysCtx<'_>) -> Vec<u8> {
    let mut r = RELEASE.to_vec();
    r.push(b'\n');
    r
}

/// A random (version 4) UUID in its lowercase text form, with a newline.
fn uuid_text(mut b: [u8; 16]) -> Vec<u8> {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut o = Out::default();
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            o.bytes(b"-");
        }
        put!(o, "{byte:02x}");
    }
    o.bytes(b"\n");
    o.0
}

/// /proc/sys/kernel/random/uuid: a fresh UUID on every open.
pub(super) fn uuid(c: &SysCtx<'_>) -> Vec<u8> {
    let mut b = [0u8; 16];
    c.sys.info.random(&mut b);
    uuid_text(b)
}

/// /proc/sys/kernel/random/boot_id: one UUID for the whole boot.
pub(super) fn boot_id(c: &SysCtx<'_>) -> Vec<u8> {
    let mut id = c.fs.boot_id.lock();
    let b = *id.get_or_insert_with(|| {
        let mut b = [0u8; 16];
        c.sys.info.random(&mut b);
        b
    });
    uuid_text(b)
}

/// A CPU range list as sysfs and `%*pbl` print it: `0`, or `0-N`, with a newline.
pub(super) fn cpu_range(cpus: u32) -> Vec<u8> {
    let mut o = Out::default();
    match cpus {
        0 | 1 => o.bytes(b"0\n"),
        n => put!(o, "0-{}\n", n - 1),
    }
    o.0
}

/// /sys/devices/system/cpu/{online,possible,present}.
pub(super) fn cpus_online(c: &SysCtx<'_>) -> Vec<u8> {
    cpu_range(c.sys.cpus)
}
