//! /proc and /sys through the VFS, on a machine booted as the kernel boots it: formats
//! checked field by field against Linux 6.1's, links, listings, errors.

use std::string::String;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::vec::Vec;

use coracle_vfs::file::SEEK_SET;
use coracle_vfs::types::{
    oflags::*, EpochClock, FileType, NewNode, PROC_SUPER_MAGIC, SYSFS_MAGIC, S_IFDIR, S_IFLNK,
    S_IFREG,
};
use coracle_vfs::{inode::same_inode, Errno, Inode, OpenFile};

use super::task::{bitmap, map_line};
use crate::mm::VmaName;
use crate::process::StartInfo;
use crate::setup::{boot, load_program, BootOptions};
use crate::tests::fake::cpio_entry;
use crate::Current;
use crate::{Perms, SystemInfo};

const RX: Perms = Perms {
    read: true,
    write: false,
    exec: true,
};
const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};

/// A machine with 256 MiB (200 free), up 5 s, booted at 1_700_000_000.
struct TestInfo(AtomicU8);

impl SystemInfo for TestInfo {
    fn uptime_ns(&self) -> u64 {
        5_000_000_000
    }
    fn realtime_ns(&self) -> u64 {
        1_700_000_005_000_000_000
    }
    fn mem_total(&self) -> u64 {
        256 << 20
    }
    fn mem_free(&self) -> u64 {
        200 << 20
    }
    fn cpuinfo(&self, cpu: u32) -> Vec<u8> {
        std::format!("vendor_id\t: Fake\ncore id\t\t: {cpu}\n").into_bytes()
    }
    fn random(&self, buf: &mut [u8]) {
        let seed = self.0.fetch_add(1, Ordering::Relaxed);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 17);
        }
    }
}

fn start_info(pid: u32) -> StartInfo {
    StartInfo {
        pid,
        tty: false,
        stdin_forwarded: false,
        hostname: b"box".to_vec(),
        exe: b"/bin/app".to_vec(),
        cmdline: b"/bin/app\0-v\0".to_vec(),
        environ: b"HOME=/\0".to_vec(),
        cpus: 2,
        brk: 0x60_0000,
        mmap_top: 0x7f00_0000_0000,
        creds: crate::creds::Creds::container(0, 0, &[]),
    }
}

/// Process 1 (`/bin/app`, started 3 s after boot, cwd /work) on a machine with `cpus` CPUs.
fn machine(cpus: u32) -> Current {
    let mut initrd = Vec::new();
    cpio_entry(&mut initrd, b"bin", 0o040_755, b"");
    cpio_entry(&mut initrd, b"bin/app", 0o100_755, b"\x7fELF not really");
    cpio_entry(&mut initrd, b"work", 0o040_755, b"");
    cpio_entry(&mut initrd, b"TRAILER!!!", 0, b"");
    let booted = boot(
        &initrd,
        &mut |_| {},
        Arc::new(EpochClock),
        Arc::new(TestInfo(AtomicU8::new(1))),
        Arc::new(crate::tests::fake::FakeCpu::default()),
        &BootOptions {
            tty: false,
            hostname: b"box".to_vec(),
            cpus,
            cwd: b"/work".to_vec(),
            etc_files: Vec::new(),
            root: Default::default(),
            read_only: false,
            tmpfs: Vec::new(),
            volumes: Vec::new(),
            disk: None,
        },
    )
    .expect("boot");
    let p = Current::new(booted.system, start_info(1), booted.cwd, 3_000_000_000);
    let (exe, _, path) = load_program(&p.sys, b"/bin/app").expect("exe");
    p.set_exe(exe, path);
    p
}

fn cwd(p: &Current) -> Arc<dyn Inode> {
    p.process.fs.lock().cwd.clone()
}

fn lookup(p: &Current, path: &str, follow: bool) -> Result<Arc<dyn Inode>, Errno> {
    let l = p
        .sys
        .vfs
        .resolve(&p.caller(), &cwd(p), path.as_bytes(), follow)?;
    Ok(l.inode.expect("resolved"))
}

fn open(p: &Current, path: &str, flags: u32) -> Result<Arc<OpenFile>, Errno> {
    let inode = lookup(p, path, true)?;
    let ops = p.sys.vfs.open_inode(&p.caller(), &inode, flags)?;
    Ok(OpenFile::new(inode, path.as_bytes().to_vec(), flags, ops))
}

fn read_all(f: &OpenFile) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 100]; // small reads: the snapshot must serve them in pieces
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn read(p: &Current, path: &str) -> String {
    let f = open(p, path, O_RDONLY).unwrap_or_else(|e| panic!("open {path}: {e:?}"));
    String::from_utf8(read_all(&f)).expect("utf-8")
}

fn readlink(p: &Current, path: &str) -> Result<String, Errno> {
    let link = lookup(p, path, false)?;
    Ok(String::from_utf8(link.readlink(&p.caller())?).expect("utf-8"))
}

fn list(p: &Current, path: &str) -> Vec<(String, u64, FileType)> {
    let f = open(p, path, O_RDONLY | O_DIRECTORY).expect("open dir");
    let mut names = Vec::new();
    f.getdents(&p.caller(), |e, _| {
        names.push((String::from_utf8(e.name.clone()).unwrap(), e.ino, e.kind));
        true
    })
    .expect("getdents");
    names
}

fn names(p: &Current, path: &str) -> Vec<String> {
    list(p, path).into_iter().map(|(n, _, _)| n).collect()
}

#[test]
fn self_stat_has_52_fields_with_comm_in_parentheses() {
    let p = machine(2);
    let text = read(&p, "/proc/self/stat");
    assert!(text.ends_with('\n'));
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields.len(), 52, "{text}");
    assert_eq!(fields[0], "1");
    assert_eq!(fields[1], "(app)");
    assert_eq!(fields[2], "R");
    assert_eq!(fields[3], "0", "ppid");
    assert_eq!(fields[7], "-1", "tpgid");
    assert_eq!(fields[17], "20", "priority");
    assert_eq!(fields[19], "1", "threads");
    assert_eq!(fields[21], "300", "starttime: 3 s in USER_HZ ticks");
    assert_eq!(fields[24], "18446744073709551615", "rsslim");
    assert_eq!(fields[37], "17", "exit_signal");
    // The thread's own view under task/.
    assert_eq!(read(&p, "/proc/1/task/1/stat"), text);
}

#[test]
fn statm_has_seven_page_counts() {
    let p = machine(2);
    p.process.mm.get().lock().record(0x40_0000, 0x40_4000, RX);
    let text = read(&p, "/proc/self/statm");
    let fields: Vec<u64> = text
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(fields.len(), 7, "{text}");
    assert_eq!(fields[0], 4, "size in pages");
}

#[test]
fn status_has_linux_6_1_fields_in_order() {
    let p = machine(2);
    let text = read(&p, "/proc/self/status");
    let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
    let expected = [
        "Name",
        "Umask",
        "State",
        "Tgid",
        "Ngid",
        "Pid",
        "PPid",
        "TracerPid",
        "Uid",
        "Gid",
        "FDSize",
        "Groups",
        "NStgid",
        "NSpid",
        "NSpgid",
        "NSsid",
        "VmPeak",
        "VmSize",
        "VmLck",
        "VmPin",
        "VmHWM",
        "VmRSS",
        "RssAnon",
        "RssFile",
        "RssShmem",
        "VmData",
        "VmStk",
        "VmExe",
        "VmLib",
        "VmPTE",
        "VmSwap",
        "HugetlbPages",
        "CoreDumping",
        "THP_enabled",
        "Threads",
        "SigQ",
        "SigPnd",
        "ShdPnd",
        "SigBlk",
        "SigIgn",
        "SigCgt",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
        "NoNewPrivs",
        "Seccomp",
        "Seccomp_filters",
        "Speculation_Store_Bypass",
        "SpeculationIndirectBranch",
        "Cpus_allowed",
        "Cpus_allowed_list",
        "Mems_allowed",
        "Mems_allowed_list",
        "voluntary_ctxt_switches",
        "nonvoluntary_ctxt_switches",
    ];
    assert_eq!(keys, expected);
    for line in [
        "Name:\tapp\n",
        "Umask:\t0022\n",
        "State:\tR (running)\n",
        "Uid:\t0\t0\t0\t0\n",
        "FDSize:\t64\n",
        "Groups:\t \n",
        "VmLck:\t       0 kB\n",
        "SigBlk:\t0000000000000000\n",
        "CapEff:\t00000000a80425fb\n",
        "Seccomp:\t0\n",
        "Cpus_allowed:\t3\n",
        "Cpus_allowed_list:\t0-1\n",
        "Mems_allowed_list:\t0\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn bitmaps_print_as_linux_pb() {
    assert_eq!(bitmap(2, 2).0, b"3");
    assert_eq!(bitmap(1, 1).0, b"1");
    assert_eq!(bitmap(36, 36).0, b"f,ffffffff");
    assert_eq!(bitmap(64, 64).0, b"ffffffff,ffffffff");
    let nodes = bitmap(1, 1024).0;
    assert_eq!(nodes.len(), 32 * 9 - 1);
    assert!(nodes.ends_with(b",00000000,00000001"));
}

#[test]
fn maps_lines_pad_names_to_column_73() {
    let rw = (RW, false);
    let mut o = super::Out::default();
    map_line(
        &mut o,
        0x5562_dee5_d000,
        0x5562_dee5_f000,
        rw,
        0x2000,
        (254, 0, 247_030),
        Some(b"/usr/bin/cat"),
    );
    map_line(
        &mut o,
        0x7fff_6ba3_7000,
        0x7fff_6ba5_8000,
        rw,
        0,
        (0, 0, 0),
        Some(b"[stack]"),
    );
    map_line(&mut o, 0x1000, 0x2000, rw, 0, (0, 0, 0), None);
    map_line(&mut o, 0x3000, 0x4000, (RW, true), 0, (0, 1, 9), None);
    let text = String::from_utf8(o.0).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "5562dee5d000-5562dee5f000 rw-p 00002000 fe:00 247030                     /usr/bin/cat"
    );
    assert_eq!(lines[0].find('/'), Some(73));
    assert_eq!(lines[1].find('['), Some(73));
    assert_eq!(lines[2], "00001000-00002000 rw-p 00000000 00:00 0 ");
    assert_eq!(lines[3], "00003000-00004000 rw-s 00000000 00:01 9 ");
}

#[test]
fn maps_names_the_kernel_pages_and_keeps_them_apart() {
    let p = machine(1);
    let r = Perms {
        read: true,
        write: false,
        exec: false,
    };
    {
        let shared = p.process.mm.get();
        let mut mm = shared.lock();
        mm.record(0x7fff_bf7f_e000, 0x7fff_bf7f_f000, r);
        mm.record_named(
            0x7fff_bf7f_f000,
            0x7fff_bf80_0000,
            r,
            VmaName::Special("[vvar]"),
        );
        mm.record_named(
            0x7fff_bf80_0000,
            0x7fff_bf80_1000,
            RX,
            VmaName::Special("[vdso]"),
        );
        mm.record(0x7fff_bf80_1000, 0x7fff_bf80_2000, RX);
    }
    let text = read(&p, "/proc/self/maps");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], "7fffbf7fe000-7fffbf7ff000 r--p 00000000 00:00 0 ");
    assert!(lines[1].starts_with("7fffbf7ff000-7fffbf800000 r--p 00000000 00:00 0 "));
    assert_eq!(&lines[1][73..], "[vvar]");
    assert!(lines[2].starts_with("7fffbf800000-7fffbf801000 r-xp 00000000 00:00 0 "));
    assert_eq!(&lines[2][73..], "[vdso]");
    assert_eq!(lines[3], "7fffbf801000-7fffbf802000 r-xp 00000000 00:00 0 ");
}

#[test]
fn maps_names_the_executable_heap_and_stack() {
    let p = machine(2);
    let exe = p.process.exe.lock().clone().unwrap().0;
    let file = |offset| VmaName::File {
        inode: exe.clone(),
        path: Arc::from(&b"/bin/app"[..]),
        offset,
    };
    {
        let shared = p.process.mm.get();
        let mut mm = shared.lock();
        mm.record_named(0x40_0000, 0x40_2000, RX, file(0));
        mm.record_named(0x40_2000, 0x40_3000, RW, file(0x2000));
        mm.record(0x60_0000, 0x62_1000, RW); // at the program break: the heap
        mm.record(0x7f00_0000_0000, 0x7f00_0000_4000, RW);
        mm.record_named(0x7fff_ff80_0000, 0x7fff_ffff_f000, RW, VmaName::Stack);
    }
    let text = read(&p, "/proc/self/maps");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    let st = exe.stat();
    let dev = std::format!(
        "{:02x}:{:02x} {}",
        coracle_vfs::major(st.dev),
        coracle_vfs::minor(st.dev),
        st.ino
    );
    assert!(lines[0].starts_with(&std::format!("00400000-00402000 r-xp 00000000 {dev} ")));
    assert!(lines[1].starts_with(&std::format!("00402000-00403000 rw-p 00002000 {dev} ")));
    assert!(lines[2].starts_with("00600000-00621000 rw-p 00000000 00:00 0 "));
    assert_eq!(lines[3], "7f0000000000-7f0000004000 rw-p 00000000 00:00 0 ");
    for (line, name) in [
        (0, "/bin/app"),
        (1, "/bin/app"),
        (2, "[heap]"),
        (4, "[stack]"),
    ] {
        assert_eq!(&lines[line][73..], name, "{}", lines[line]);
        assert_eq!(&lines[line][72..73], " ");
    }
    // The counters follow the same VMAs.
    let status = read(&p, "/proc/self/status");
    assert!(status.contains("\nVmExe:\t       8 kB\n"), "{status}");
    assert!(status.contains("\nVmStk:\t    8188 kB\n"), "{status}");
    let statm: Vec<u64> = read(&p, "/proc/self/statm")
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    assert_eq!(statm[3], 2, "text pages");
    let stat = read(&p, "/proc/self/stat");
    let fields: Vec<&str> = stat.split_whitespace().collect();
    assert_eq!(fields[25], std::format!("{}", 0x40_0000), "startcode");
    assert_eq!(fields[26], std::format!("{}", 0x40_2000), "endcode");
    assert_eq!(fields[46], std::format!("{}", 0x60_0000), "start_brk");
}

#[test]
fn mprotect_splits_keep_file_offsets() {
    let p = machine(2);
    let exe = p.process.exe.lock().clone().unwrap().0;
    let name = VmaName::File {
        inode: exe,
        path: Arc::from(&b"/bin/app"[..]),
        offset: 0x1000,
    };
    p.process
        .mm
        .get()
        .lock()
        .record_named(0x40_0000, 0x40_4000, RW, name);
    let mut k = crate::tests::fake::Fake::default();
    let process = p.process.clone();
    let mut p = p;
    crate::sys::mman::mprotect(&mut p, &mut k, 0x40_1000, 0x1000, 1).unwrap();
    let text = read(&p, "/proc/self/maps");
    let offsets: Vec<&str> = text.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    assert_eq!(offsets, ["00001000", "00002000", "00003000"], "{text}");
    assert_eq!(process.mm.get().lock().vmas().count(), 3);
}

#[test]
fn meminfo_lines_are_label_16_value_8_kb() {
    let p = machine(2);
    let text = read(&p, "/proc/meminfo");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "MemTotal:         262144 kB");
    assert_eq!(lines[1], "MemFree:          204800 kB");
    assert_eq!(lines[2], "MemAvailable:     204800 kB");
    for line in &lines {
        let (label, rest) = line.split_once(':').expect(line);
        assert!(!label.contains(' '), "{line}");
        let value = rest.trim_start().trim_end_matches(" kB");
        assert!(value.parse::<u64>().is_ok(), "{line}");
        if line.ends_with(" kB") && !line.starts_with("Vmalloc") {
            assert_eq!(line.len(), 27, "{line:?}");
        }
    }
    assert!(text.contains("\nVmallocTotal:   34359738367 kB\n"));
    assert!(text.contains("\nHugePages_Total:       0\n"));
    assert!(text.contains("\nHardwareCorrupted:     0 kB\n"));
    assert!(lines.last().unwrap().starts_with("DirectMap1G:"));
}

#[test]
fn limits_table_has_linux_column_widths() {
    let p = machine(2);
    let text = read(&p, "/proc/self/limits");
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 17);
    assert_eq!(
        lines[0],
        "Limit                     Soft Limit           Hard Limit           Units     \n"
    );
    assert_eq!(
        lines[4],
        "Max stack size            8388608              unlimited            bytes     \n"
    );
    assert_eq!(
        lines[8],
        "Max open files            1048576              1048576              files     \n"
    );
    assert!(lines[14].starts_with("Max nice priority "));
    assert!(lines[14].ends_with(" \n") && !lines[14].contains("bytes"));
}

#[test]
fn fdinfo_shows_offset_octal_flags_with_cloexec_and_inode() {
    let p = machine(2);
    let cx = p.caller();
    let l = p
        .sys
        .vfs
        .resolve_parent(&cx, &cwd(&p), b"/work/data", true)
        .unwrap();
    let file = l
        .dir
        .create(&l.name, NewNode::Regular, 0o644, 0, 0)
        .unwrap();
    file.write_at(0, b"0123456789").unwrap();
    let f = open(&p, "/work/data", O_RDWR).unwrap();
    f.seek(5, SEEK_SET).unwrap();
    let fd = p.install(f.clone(), true).unwrap();
    let text = read(&p, &std::format!("/proc/self/fdinfo/{fd}"));
    let mnt_id = 22; // the root filesystem, first in the mount table
    assert_eq!(
        text,
        std::format!(
            "pos:\t5\nflags:\t02000002\nmnt_id:\t{mnt_id}\nino:\t{}\n",
            file.stat().ino
        )
    );
    // Not cloexec: fd 0, the read-only stdin pipe.
    assert!(read(&p, "/proc/self/fdinfo/0").starts_with("pos:\t0\nflags:\t00\n"));
    // The fd link reads the path and jumps to the file.
    let link = std::format!("/proc/self/fd/{fd}");
    assert_eq!(readlink(&p, &link).unwrap(), "/work/data");
    assert!(same_inode(&lookup(&p, &link, true).unwrap(), &file));
    assert_eq!(
        lookup(&p, &link, false).unwrap().stat().mode,
        S_IFLNK | 0o700
    );
    assert_eq!(
        lookup(&p, "/proc/self/fd/0", false).unwrap().stat().mode,
        S_IFLNK | 0o500
    );
    // Once unlinked, the link says so (and still reaches the file).
    cwd(&p).unlink(b"data").unwrap();
    assert_eq!(readlink(&p, &link).unwrap(), "/work/data (deleted)");
    assert!(same_inode(&lookup(&p, &link, true).unwrap(), &file));
}

#[test]
fn directory_links_follow_renames() {
    let p = machine(2);
    let work = cwd(&p);
    let sub = work
        .create(b"sub", NewNode::Directory, 0o755, 0, 0)
        .unwrap();
    let f = open(&p, "/work/sub", O_RDONLY | O_DIRECTORY).unwrap();
    let fd = p.install(f, false).unwrap();
    let link = std::format!("/proc/self/fd/{fd}");
    assert_eq!(readlink(&p, &link).unwrap(), "/work/sub");
    work.rename(b"sub", &work, b"moved", 0).unwrap();
    assert_eq!(readlink(&p, &link).unwrap(), "/work/moved");
    p.process.fs.lock().cwd = sub;
    assert_eq!(readlink(&p, "/proc/self/cwd").unwrap(), "/work/moved");
}

#[test]
fn proc_lists_self_and_the_pids() {
    let p = machine(2);
    let other = Current::new(p.sys.clone(), start_info(7), cwd(&p), 0);
    let entries = names(&p, "/proc");
    assert_eq!(entries[..4], [".", "..", "self", "thread-self"]);
    for name in [
        "cpuinfo", "meminfo", "stat", "uptime", "mounts", "sys", "1", "7",
    ] {
        assert!(entries.iter().any(|e| e == name), "{name} in {entries:?}");
    }
    let pos = |n: &str| entries.iter().position(|e| e == n).unwrap();
    assert!(pos("1") < pos("7"));
    assert!(pos("sys") < pos("1"));
    // A process stays in /proc until it is reaped.
    p.sys.tree.lock().remove(&7);
    drop(other);
    assert!(!names(&p, "/proc").iter().any(|e| e == "7"));

    let fds = names(&p, "/proc/self/fd");
    assert_eq!(fds, [".", "..", "0", "1", "2"]);
    let pid_dir = names(&p, "/proc/1");
    for name in [
        "task", "fd", "fdinfo", "status", "stat", "maps", "exe", "cwd", "cgroup",
    ] {
        assert!(pid_dir.iter().any(|e| e == name), "{name} in {pid_dir:?}");
    }
    assert!(!names(&p, "/proc/1/task/1").iter().any(|e| e == "task"));
    assert_eq!(names(&p, "/proc/1/task"), [".", "..", "1"]);
}

#[test]
fn readdir_types_and_inodes_match_stat() {
    let p = machine(2);
    for dir in [
        "/proc",
        "/proc/1",
        "/proc/self/fd",
        "/sys/devices/system/cpu",
    ] {
        let mut seen = std::collections::BTreeSet::new();
        for (name, ino, kind) in list(&p, dir) {
            if name == "." || name == ".." {
                continue;
            }
            assert!(seen.insert(ino), "{dir}/{name}: inode {ino} repeated");
            let st = lookup(&p, &std::format!("{dir}/{name}"), false)
                .unwrap()
                .stat();
            assert_eq!(st.ino, ino, "{dir}/{name}");
            assert_eq!(st.file_type(), kind, "{dir}/{name}");
        }
    }
}

#[test]
fn links_read_as_linux() {
    let p = machine(2);
    assert_eq!(readlink(&p, "/proc/self").unwrap(), "1");
    assert_eq!(readlink(&p, "/proc/thread-self").unwrap(), "1/task/1");
    assert_eq!(readlink(&p, "/proc/mounts").unwrap(), "self/mounts");
    assert_eq!(readlink(&p, "/proc/self/exe").unwrap(), "/bin/app");
    assert_eq!(readlink(&p, "/proc/self/cwd").unwrap(), "/work");
    assert_eq!(readlink(&p, "/proc/self/root").unwrap(), "/");
    assert_eq!(readlink(&p, "/proc/self/fd/1").unwrap(), "pipe:[102]");
    assert!(same_inode(
        &lookup(&p, "/proc/self/cwd", true).unwrap(),
        &cwd(&p)
    ));
    assert!(same_inode(
        &lookup(&p, "/proc/self/root/work", true).unwrap(),
        &cwd(&p)
    ));
    let exe = p.process.exe.lock().clone().unwrap().0;
    assert!(same_inode(
        &lookup(&p, "/proc/self/exe", true).unwrap(),
        &exe
    ));
    assert_eq!(read(&p, "/proc/thread-self/comm"), "app\n");
    assert_eq!(read(&p, "/proc/self/cmdline"), "/bin/app\0-v\0");
    assert_eq!(read(&p, "/proc/1/environ"), "HOME=/\0");
    assert_eq!(read(&p, "/proc/self/cgroup"), "0::/\n");
    // `..` of a /proc directory climbs back through the tree.
    assert!(same_inode(
        &lookup(&p, "/proc/self/fd/..", true).unwrap(),
        &lookup(&p, "/proc/1", true).unwrap()
    ));
}

#[test]
fn unknown_names_and_dead_processes_are_enoent() {
    let p = machine(2);
    for path in [
        "/proc/2",
        "/proc/01",
        "/proc/+1",
        "/proc/self/nope",
        "/proc/self/fd/99",
        "/proc/self/fdinfo/99",
        "/proc/self/task/2",
        "/proc/sys/kernel/nope",
        "/sys/devices/system/cpu/cpu2",
        "/sys/devices/system/cpu/cpu01",
        "/sys/nope",
    ] {
        assert_eq!(lookup(&p, path, true).err(), Some(Errno::ENOENT), "{path}");
    }
    let other = Current::new(p.sys.clone(), start_info(7), cwd(&p), 0);
    let status = lookup(&p, "/proc/7/status", true).unwrap();
    let dir = lookup(&p, "/proc/7", true).unwrap();
    p.sys.tree.lock().remove(&7);
    drop(other);
    assert_eq!(lookup(&p, "/proc/7", true).err(), Some(Errno::ENOENT));
    let opened = p.sys.vfs.open_inode(&p.caller(), &status, O_RDONLY);
    assert_eq!(opened.err(), Some(Errno::ENOENT));
    assert_eq!(
        dir.lookup(&p.caller(), b"status").err(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn stat_modes_devices_and_inodes() {
    let p = machine(2);
    let st = |path: &str, follow: bool| lookup(&p, path, follow).unwrap().stat();
    let file = st("/proc/self/stat", true);
    assert_eq!(file.mode, S_IFREG | 0o444);
    assert_eq!(file.size, 0);
    assert_eq!(st("/proc", true).mode, S_IFDIR | 0o555);
    assert_eq!(st("/proc/1/fd", true).mode, S_IFDIR | 0o500);
    assert_eq!(st("/proc/self", false).mode, S_IFLNK | 0o777);
    assert_eq!(st("/proc/self/comm", true).mode, S_IFREG | 0o644);
    assert_eq!(st("/proc/self/environ", true).mode, S_IFREG | 0o400);
    assert_eq!(st("/sys/devices/system/cpu/online", true).size, 4096);
    // One device per filesystem; numbers stable per node.
    let proc_dev = st("/proc", true).dev;
    assert_eq!(file.dev, proc_dev);
    assert_ne!(st("/sys", true).dev, proc_dev);
    assert_eq!(st("/proc/1/stat", true).ino, file.ino);
    assert_ne!(st("/proc/1/status", true).ino, file.ino);
    assert_ne!(st("/proc/1/task/1/stat", true).ino, file.ino);
    assert_eq!(
        st("/proc/sys/kernel/ostype", true),
        st("/proc/sys/kernel/ostype", true)
    );
    let statfs = |path: &str| lookup(&p, path, true).unwrap().statfs().fs_type;
    assert_eq!(statfs("/proc/self/maps"), PROC_SUPER_MAGIC);
    assert_eq!(statfs("/sys/fs/cgroup"), SYSFS_MAGIC);
}

#[test]
fn reads_come_from_one_snapshot_and_pread_works() {
    let p = machine(2);
    let f = open(&p, "/proc/self/comm", O_RDONLY).unwrap();
    *p.process.comm.lock() = b"renamed".to_vec();
    let mut buf = [0u8; 16];
    assert_eq!(f.pread(1, &mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"pp\n");
    assert_eq!(f.pread(100, &mut buf).unwrap(), 0);
    assert_eq!(read_all(&f), b"app\n");
    assert_eq!(read(&p, "/proc/self/comm"), "renamed\n");
}

#[test]
fn writes_fail_as_linux_except_comm_and_oom_score_adj() {
    let p = machine(2);
    let cpuinfo = open(&p, "/proc/cpuinfo", O_WRONLY).unwrap();
    assert_eq!(cpuinfo.write(b"x").err(), Some(Errno::EIO));
    let stat = open(&p, "/proc/self/stat", O_RDWR).unwrap();
    assert_eq!(stat.write(b"x").err(), Some(Errno::EINVAL));
    assert_eq!(
        open(&p, "/proc/sys/kernel/hostname", O_WRONLY).err(),
        Some(Errno::EROFS)
    );
    assert_eq!(
        open(&p, "/sys/kernel/mm/transparent_hugepage/enabled", O_RDWR).err(),
        Some(Errno::EROFS)
    );
    assert!(lookup(&p, "/proc/self/oom_score_adj", true)
        .unwrap()
        .truncate(0)
        .is_ok());

    let proc_root = lookup(&p, "/proc", true).unwrap();
    let create = |dir: &Arc<dyn Inode>, node| dir.create(b"new", node, 0o644, 0, 0).err();
    assert_eq!(create(&proc_root, NewNode::Regular), Some(Errno::EACCES));
    assert_eq!(create(&proc_root, NewNode::Directory), Some(Errno::ENOENT));
    let sys_dir = lookup(&p, "/sys/fs/cgroup", true).unwrap();
    assert_eq!(create(&sys_dir, NewNode::Directory), Some(Errno::EROFS));

    let comm = open(&p, "/proc/self/comm", O_WRONLY).unwrap();
    assert_eq!(comm.write(b"a-very-long-thread-name").unwrap(), 23);
    assert_eq!(read(&p, "/proc/self/comm"), "a-very-long-thr\n");
    assert_eq!(
        read(&p, "/proc/self/status").lines().next(),
        Some("Name:\ta-very-long-thr")
    );

    let adj = open(&p, "/proc/self/oom_score_adj", O_WRONLY).unwrap();
    assert_eq!(read(&p, "/proc/self/oom_score_adj"), "0\n");
    assert_eq!(adj.write(b"-500\n").unwrap(), 5);
    assert_eq!(read(&p, "/proc/self/oom_score_adj"), "-500\n");
    assert_eq!(adj.write(b"1001").err(), Some(Errno::EINVAL));
    assert_eq!(adj.write(b"abc").err(), Some(Errno::EINVAL));
}

#[test]
fn mounts_and_mountinfo_follow_the_mount_table() {
    let p = machine(2);
    let mounts = read(&p, "/proc/self/mounts");
    assert_eq!(mounts, read(&p, "/proc/mounts"));
    let lines: Vec<&str> = mounts.lines().collect();
    assert_eq!(lines[0], "rootfs / tmpfs rw,relatime 0 0");
    assert!(lines.contains(&"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"));
    assert!(lines.contains(&"sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0"));
    assert!(lines.contains(&"shm /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k 0 0"));

    let info = read(&p, "/proc/self/mountinfo");
    let lines: Vec<&str> = info.lines().collect();
    let root_dev = lookup(&p, "/", true).unwrap().stat().dev;
    assert_eq!(
        lines[0],
        std::format!(
            "22 21 {}:{} / / rw,relatime - tmpfs rootfs rw",
            coracle_vfs::major(root_dev),
            coracle_vfs::minor(root_dev)
        )
    );
    let proc_line = lines.iter().find(|l| l.contains(" /proc ")).unwrap();
    assert!(proc_line.ends_with(" / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw"));
    let dev_line = lines.iter().find(|l| l.contains(" /dev ")).unwrap();
    assert!(dev_line.starts_with("23 22 "), "{dev_line}");
    assert!(dev_line.ends_with(" / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755"));
    let shm_line = lines.iter().find(|l| l.contains(" /dev/shm ")).unwrap();
    assert!(shm_line.starts_with("24 23 "), "{shm_line}");
    let sys_line = lines.iter().find(|l| l.contains(" /sys ")).unwrap();
    assert!(sys_line.ends_with(" / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro"));
}

#[test]
fn machine_files() {
    let p = machine(2);
    assert_eq!(
        read(&p, "/proc/cpuinfo"),
        "processor\t: 0\nvendor_id\t: Fake\ncore id\t\t: 0\n\n\
         processor\t: 1\nvendor_id\t: Fake\ncore id\t\t: 1\n\n"
    );
    assert_eq!(read(&p, "/proc/uptime"), "5.00 10.00\n");
    assert_eq!(read(&p, "/proc/loadavg"), "0.00 0.00 0.00 1/1 1\n");
    let stat = read(&p, "/proc/stat");
    let lines: Vec<&str> = stat.lines().collect();
    assert_eq!(lines[0], "cpu  0 0 0 1000 0 0 0 0 0 0");
    assert_eq!(lines[1], "cpu0 0 0 0 500 0 0 0 0 0 0");
    assert_eq!(lines[2], "cpu1 0 0 0 500 0 0 0 0 0 0");
    assert!(stat.contains("\nbtime 1700000000\n"), "{stat}");
    assert!(stat.contains("\nprocs_running 1\nprocs_blocked 0\n"));
    assert_eq!(
        lines.last().unwrap().split(' ').count(),
        12,
        "softirq: sum + 10"
    );
    assert!(read(&p, "/proc/version").starts_with("Linux version 6.6.0-coracle "));
    assert!(read(&p, "/proc/filesystems").contains("nodev\tproc\n"));
    assert_eq!(read(&p, "/proc/sys/kernel/hostname"), "box\n");
    assert_eq!(read(&p, "/proc/sys/kernel/osrelease"), "6.6.0-coracle\n");
    assert_eq!(read(&p, "/proc/sys/kernel/ostype"), "Linux\n");
    assert_eq!(read(&p, "/proc/sys/kernel/pid_max"), "4194304\n");
    assert_eq!(read(&p, "/proc/sys/kernel/cap_last_cap"), "40\n");
    assert_eq!(read(&p, "/proc/sys/vm/overcommit_memory"), "0\n");
    assert_eq!(read(&p, "/proc/sys/fs/nr_open"), "1048576\n");
    assert_eq!(read(&p, "/proc/sys/net/core/somaxconn"), "4096\n");
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 37
        && s.ends_with('\n')
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
        && s[..36]
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c))
}

#[test]
fn uuids_are_fresh_and_boot_id_is_fixed() {
    let p = machine(2);
    let a = read(&p, "/proc/sys/kernel/random/uuid");
    let b = read(&p, "/proc/sys/kernel/random/uuid");
    assert!(is_uuid_v4(&a), "{a:?}");
    assert_ne!(a, b);
    let boot = read(&p, "/proc/sys/kernel/random/boot_id");
    assert!(is_uuid_v4(&boot), "{boot:?}");
    assert_eq!(read(&p, "/proc/sys/kernel/random/boot_id"), boot);
}

#[test]
fn sysfs_cpus_and_fixed_files() {
    let p = machine(2);
    assert_eq!(read(&p, "/sys/devices/system/cpu/online"), "0-1\n");
    assert_eq!(read(&p, "/sys/devices/system/cpu/possible"), "0-1\n");
    assert_eq!(read(&p, "/sys/devices/system/cpu/present"), "0-1\n");
    let cpus = names(&p, "/sys/devices/system/cpu");
    assert!(cpus.ends_with(&["cpu0".into(), "cpu1".into()]), "{cpus:?}");
    assert_eq!(names(&p, "/sys/devices/system/cpu/cpu1"), [".", ".."]);
    assert_eq!(names(&p, "/sys/fs/cgroup"), [".", ".."]);
    assert_eq!(
        read(&p, "/sys/kernel/mm/transparent_hugepage/enabled"),
        "always [madvise] never\n"
    );
    let one = machine(1);
    assert_eq!(read(&one, "/sys/devices/system/cpu/online"), "0\n");
    let status = read(&one, "/proc/self/status");
    assert!(status.contains("\nCpus_allowed:\t1\nCpus_allowed_list:\t0\n"));
}

#[test]
fn maps_shows_a_file_mappings_device_inode_and_deletion() {
    use crate::nr::*;
    use crate::tests::fake::{setup, sys, SCRATCH};
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"/tmp/mapped\0");
    let fd = sys(
        &mut p,
        &mut k,
        SYS_openat,
        &[-100i64 as u64, SCRATCH, 0o102, 0o600],
    );
    assert!(fd >= 0);
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd as u64, 0x3000]), 0);
    let at = sys(
        &mut p,
        &mut k,
        SYS_mmap,
        &[0, 0x1000, 1, 1, fd as u64, 0x2000],
    );
    assert!(at > 0);
    let st = p.file(fd as i32).unwrap().inode().stat();
    let line = |p: &Current| {
        read(p, "/proc/self/maps")
            .lines()
            .find(|l| l.starts_with(&std::format!("{at:08x}-")))
            .map(String::from)
            .expect("a line for the mapping")
    };
    let want = std::format!(
        "{at:08x}-{:08x} r--s 00002000 {:02x}:{:02x} {} ",
        at + 0x1000,
        st.dev >> 8 & 0xfff,
        st.dev & 0xff,
        st.ino
    );
    let shown = line(&p);
    assert!(shown.starts_with(&want), "{shown} / {want}");
    assert!(shown.ends_with(" /tmp/mapped"), "{shown}");
    assert_eq!(shown.find('/'), Some(73));
    assert_eq!(sys(&mut p, &mut k, SYS_unlink, &[SCRATCH]), 0);
    // Before this change the name stayed as it was.
    assert!(line(&p).ends_with(" /tmp/mapped (deleted)"), "{}", line(&p));
}

#[test]
fn inotify_limits_are_the_ones_enforced() {
    use crate::sys::inotify::{MAX_QUEUED_EVENTS, MAX_USER_INSTANCES, MAX_USER_WATCHES};
    let p = machine(1);
    let dir = "/proc/sys/fs/inotify";
    for (name, value) in [
        ("max_queued_events", MAX_QUEUED_EVENTS),
        ("max_user_instances", MAX_USER_INSTANCES),
        ("max_user_watches", MAX_USER_WATCHES),
    ] {
        assert_eq!(
            read(&p, &std::format!("{dir}/{name}")),
            std::format!("{value}\n")
        );
    }
}

#[test]
fn ns_links_read_as_kind_and_number_and_open_the_namespace() {
    let p = machine(1);
    assert_eq!(
        names(&p, "/proc/self/ns"),
        [
            ".",
            "..",
            "net",
            "uts",
            "ipc",
            "pid",
            "pid_for_children",
            "user",
            "mnt",
            "cgroup",
            "time",
            "time_for_children"
        ]
    );
    assert_eq!(
        readlink(&p, "/proc/self/ns/net").unwrap(),
        "net:[4026531833]"
    );
    assert_eq!(
        readlink(&p, "/proc/1/ns/pid_for_children").unwrap(),
        "pid:[4026531836]"
    );
    let ns = lookup(&p, "/proc/self/ns/mnt", true).unwrap();
    let st = ns.stat();
    assert_eq!((st.ino, st.mode), (4026531832, S_IFREG | 0o444));
}
