//! The application: loading it from the initrd, its first instruction, and the loop that runs
//! it and serves its system calls and faults until it exits.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_syscalls::creds::Creds;
use coracle_syscalls::mm::{
    handle_page_fault, out_of_memory_kill, wait_for_page, Access, FaultResult,
};
use coracle_syscalls::process::SystemInfo;
use coracle_syscalls::sched::TaskBody;
use coracle_syscalls::setup::{self, BootOptions};
use coracle_syscalls::signal::{self, Fault};
use coracle_syscalls::{start_first, Current, StartInfo, UserRegs};
use coracle_vfs::cpio::Reader;

use crate::arch::cpu::Features;
use crate::cpu_loop::KernelCpus;
use crate::mm::paging;
use crate::platform::KernelPlatform;
use crate::sysinfo::{FsClock, KernelInfo};
use crate::{console, fatal, time};

use coracle_syscalls::image::MMAP_TOP;
use coracle_syscalls::rootfs::{RootKind, TmpfsMount};

/// Settings from the kernel command line.
#[derive(Debug, Default)]
pub struct Config {
    pub tty: bool,
    pub stdin: bool,
    /// `-t`: the host terminal's size (rows, columns) when the VM started.
    pub winsize: Option<(u16, u16)>,
    pub verbose: bool,
    pub timing: bool,
    pub cpus: u32,
    /// `norandmaps`: every image at Linux's addresses without ASLR (randomize_va_space 0).
    pub norandmaps: bool,
    /// `coracle.root=overlay`: the image is the read-only lower layer of an overlay.
    pub overlay: bool,
    /// `coracle.readonly=1`: `--read-only`.
    pub read_only: bool,
    /// `coracle.tmpfs=PATH[:OPTIONS]`, one per `--tmpfs`.
    pub tmpfs: Vec<Vec<u8>>,
    /// `coracle.root=blk`: the root filesystem is on the virtio-blk drive.
    pub root_blk: bool,
    /// `coracle.volume=TAG:PATH[:ro]`, one per `-v`.
    pub volumes: Vec<Vec<u8>>,
}

fn nul_split(data: &[u8]) -> Vec<Vec<u8>> {
    data.split(|&b| b == 0)
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>()
        .split_last()
        .map(|(_, v)| v.to_vec())
        .unwrap_or_default()
}

fn member<'a>(initrd: &'a [u8], name: &[u8]) -> &'a [u8] {
    match Reader::find(initrd, name) {
        Ok(Some(e)) => e.data,
        Ok(None) => fatal(format_args!(
            "the initrd has no {}",
            core::str::from_utf8(name).unwrap_or("?")
        )),
        Err(e) => fatal(format_args!("bad initrd: {e}")),
    }
}

/// The optional `.coracle/etc/NAME` records (docs/guest-protocol.md): files for /etc. They
/// come right after the four launch records, so the walk stops at the first other member.
fn etc_records(archive: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    Reader::new(archive)
        .map_while(Result::ok)
        .take_while(|e| e.name.starts_with(b".coracle/"))
        .filter_map(|e| {
            let name = e.name.strip_prefix(b".coracle/etc/")?;
            Some((name.to_vec(), e.data.to_vec()))
        })
        .collect()
}

/// The optional `.coracle/user` record (docs/guest-protocol.md): the user the program runs
/// as; root with Docker's capabilities without it.
fn user_record(archive: &[u8]) -> Creds {
    let record = Reader::new(archive)
        .map_while(Result::ok)
        .take_while(|e| e.name.starts_with(b".coracle/"))
        .find(|e| e.name == b".coracle/user");
    match record {
        None => Creds::container(0, 0, &[]),
        Some(e) => Creds::from_record(e.data).unwrap_or_else(|| {
            fatal(format_args!(
                "bad .coracle/user record {:?}",
                core::str::from_utf8(e.data).unwrap_or("?")
            ))
        }),
    }
}

/// Unpacks the root filesystem from the initrd at physical `[initrd.0, initrd.0+initrd.1)`
/// (whose memory then goes to the frame allocator when `owned`: not for the records embedded
/// in the kernel image, `launch`), loads the program named in it, runs it to its end, and
/// returns its status.
pub fn run(
    initrd: (u64, u64),
    owned: bool,
    root_disk: Option<Arc<dyn coracle_vfs::block::BlockDevice>>,
    config: &Config,
    features: Features,
) -> ! {
    // SAFETY: the initrd module (or the kernel image's launch section) is RAM reserved in
    // mm::init and mapped by the direct map.
    // Its pages go back to the frame allocator (and may be written) only once unpacking has
    // read them for the last time: each `release` call covers bytes the unpacker reported it
    // never reads again, and the slice is not used after unpacking.
    let archive = unsafe {
        core::slice::from_raw_parts(
            crate::mm::phys_to_virt(initrd.0) as *const u8,
            initrd.1 as usize,
        )
    };
    let argv = nul_split(member(archive, b".coracle/argv"));
    let envp = nul_split(member(archive, b".coracle/env"));
    let exec = member(archive, b".coracle/exec").to_vec();
    let cwd = member(archive, b".coracle/cwd").to_vec();
    let etc_files = etc_records(archive);
    let creds = user_record(archive);
    // uname's nodename: the container's /etc/hostname when the host sends one (`--hostname`
    // or the random name, as Docker), else $HOSTNAME.
    let hostname = etc_files
        .iter()
        .find(|(name, _)| name == b"hostname")
        .map(|(_, data)| data.trim_ascii().to_vec())
        .filter(|h| !h.is_empty())
        .or_else(|| {
            envp.iter()
                .find_map(|e| e.strip_prefix(b"HOSTNAME="))
                .map(<[u8]>::to_vec)
        })
        .unwrap_or_else(|| b"coracle".to_vec());

    let phase = |name: &str| {
        if config.timing {
            console::log_line(format_args!(
                "timing: {name} done at {} ticks",
                time::ticks_since_boot()
            ));
        }
    };
    phase("kernel setup");
    // The other CPUs come up now and halt until there is work; the scheduler gets as many run
    // queues as CPUs answered.
    let cpus = if config.cpus > 1 {
        crate::arch::start_aps(config.cpus as usize, ap_main)
    } else {
        1
    };
    // Pages of the archive go back to the frame allocator as unpacking passes them, so the
    // archive and the files made from it need not fit in memory together. Unpacking never
    // reads the bytes it reported done again (nor does anything after it).
    let page = crate::mm::PAGE_SIZE;
    let mut freed_to = initrd.0.next_multiple_of(page);
    let mut release = |upto: usize| {
        let end = (initrd.0 + (upto as u64).min(initrd.1)) & !(page - 1);
        if owned && end > freed_to {
            crate::mm::release_initrd(freed_to, end);
            freed_to = end;
        }
    };
    let mem = KernelInfo::new().mem_total();
    let tmpfs = config
        .tmpfs
        .iter()
        .map(|spec| {
            TmpfsMount::parse(spec, mem).unwrap_or_else(|e| {
                let spec = core::str::from_utf8(spec).unwrap_or("?");
                fatal(format_args!("coracle.tmpfs={spec}: {e}"))
            })
        })
        .collect();
    let volumes = crate::dev::p9::mount_volumes(&config.volumes);
    // A root on the drive: mounted now (its reads wait in place until the program starts).
    let root = root_disk.map(|disk| {
        coracle_vfs::erofs::Erofs::mount(disk)
            .and_then(|fs| fs.root())
            .unwrap_or_else(|e| {
                fatal(format_args!(
                    "cannot mount the root filesystem (EROFS on virtio-blk): {}",
                    e.name()
                ))
            })
    });
    phase("drive mounted");
    let booted = setup::boot(
        archive,
        &mut release,
        Arc::new(FsClock),
        Arc::new(KernelInfo::new()),
        Arc::new(KernelCpus),
        &BootOptions {
            tty: config.tty,
            hostname: hostname.clone(),
            cpus: cpus as u32,
            cwd: cwd.to_vec(),
            etc_files,
            root: if config.overlay {
                RootKind::Overlay
            } else {
                RootKind::Tmpfs
            },
            read_only: config.read_only,
            tmpfs,
            volumes,
            disk: root,
        },
    )
    .unwrap_or_else(|e| fatal(format_args!("{e}")));
    // Everything needed from the archive is in the files and the copies above now.
    release(initrd.1 as usize);
    if config.verbose {
        console::log_line(format_args!("root filesystem: {:?}", booted.unpacked));
    }
    phase("root filesystem");
    // The host's control records (signals for PID 1) reach this machine from now on.
    coracle_syscalls::console::attach(booted.system.clone());
    // Before PID 1's terminal takes the input queued so far (`Current::new`).
    coracle_syscalls::console::set_hooks(coracle_syscalls::console::Hooks {
        input_taken: crate::dev::console::input_taken,
        writable: console::writable,
    });
    // `coracle exec` starts processes with PID 1's user, directory and environment.
    coracle_syscalls::exec::set_hooks(coracle_syscalls::exec::Hooks {
        send: crate::dev::console::exec_send,
        writable: crate::dev::console::exec_writable,
        input_taken: crate::dev::console::exec_input_taken,
    });
    coracle_syscalls::exec::attach(
        booted.system.clone(),
        coracle_syscalls::exec::Defaults {
            creds: creds.clone(),
            cwd: cwd.clone(),
            env: envp.clone(),
        },
    );
    if config.norandmaps {
        booted
            .system
            .randomize_va_space
            .store(0, core::sync::atomic::Ordering::Relaxed);
    }
    let mut platform = KernelPlatform::new(config.verbose, paging::boot_space());
    platform.hwcaps = hwcaps(features);
    let joined = |list: &[Vec<u8>]| -> Vec<u8> {
        let mut v = Vec::new();
        for s in list {
            v.extend_from_slice(s);
            v.push(0);
        }
        v
    };
    let mut current = Current::new(
        booted.system.clone(),
        StartInfo {
            pid: 1,
            tty: config.tty,
            stdin_forwarded: config.stdin,
            hostname,
            exe: exec.to_vec(),
            cmdline: joined(&argv),
            environ: joined(&envp),
            cpus: cpus as u32,
            brk: 0,
            mmap_top: MMAP_TOP,
            creds,
        },
        booted.cwd,
        time::monotonic_ns_if_known(),
    );
    // The terminal's echoes go to the host's stdout, like program output.
    coracle_syscalls::console::set_output(|data| {
        console::write_stream(console::Stream::Stdout, data)
    });
    if let Some((rows, cols)) = config.winsize {
        coracle_syscalls::console::set_winsize(rows, cols);
    }
    // The program (an ELF, with its interpreter if it names one, or a #! script) starts as
    // execve would start it, in an address space of its own. When it cannot (a missing or
    // broken interpreter in the image), the run ends as a container runtime's does: 127 when
    // something is not found, 126 otherwise, with the reason on stderr.
    let regs = match start_first(&mut current, &mut platform, &exec, argv, envp) {
        Ok(regs) => regs,
        Err(e) => {
            let message = alloc::format!(
                "coracle: cannot run {}: {} (the kernel log with --verbose says why)\n",
                core::str::from_utf8(&exec).unwrap_or("?"),
                e.name()
            );
            console::write_stream_all(console::Stream::Stderr, message.as_bytes());
            let status = if e == coracle_vfs::Errno::ENOENT {
                127
            } else {
                126
            };
            crate::cpu_loop::shutdown(status, config.timing)
        }
    };
    phase("image and stack");
    let sched = booted.system.sched.clone();
    let task = sched.make_task(TaskBody {
        current,
        regs,
        fpu: Box::default(),
    });
    RUNTIME.call_once(|| Runtime {
        hwcaps: platform.hwcaps,
        sched: sched.clone(),
        verbose: config.verbose,
        timing: config.timing,
    });
    // Block reads complete from interrupts from now on; a thread that needs one waits.
    crate::dev::blk::boot_done();
    sched.enqueue(task);
    for cpu in 1..cpus {
        crate::arch::send_ipi(cpu, crate::arch::interrupt::WAKE);
    }
    console::control(format_args!("entry ticks={}", time::ticks_since_boot()));
    crate::cpu_loop::run(0, &sched, &mut platform, config.timing)
}

/// What the other CPUs need to join the scheduler, set once the program is loaded.
struct Runtime {
    hwcaps: (u64, u64),
    sched: Arc<coracle_syscalls::sched::Scheduler>,
    verbose: bool,
    timing: bool,
}

static RUNTIME: spin::Once<Runtime> = spin::Once::new();

/// Where the other CPUs start: halted until the program is loaded, then the scheduler's loop.
fn ap_main(cpu: usize) -> ! {
    let rt = loop {
        if let Some(rt) = RUNTIME.get() {
            break rt;
        }
        crate::arch::idle_wait();
    };
    // One process for now: every CPU runs in the address space the kernel booted into.
    let mut platform = KernelPlatform::new(rt.verbose, paging::boot_space());
    platform.hwcaps = rt.hwcaps;
    crate::cpu_loop::run(cpu, &rt.sched, &mut platform, rt.timing)
}

/// AT_HWCAP and AT_HWCAP2 for programs on this CPU.
fn hwcaps(features: Features) -> (u64, u64) {
    // HWCAP2_FSGSBASE
    (
        u64::from(features.hwcap),
        if features.fsgsbase { 2 } else { 0 },
    )
}

/// What becomes of a thread after an exception in user mode.
pub(crate) enum UserFault {
    /// Back to user mode.
    Resume,
    /// Park it: it waits for a page being read, and takes the fault again when woken.
    Wait,
    /// The process ends (its status is recorded).
    Exit,
}

/// Handles an exception raised by user code: a page fault the VMAs allow is served (demand
/// paging, stack growth; a page being read makes the thread wait for it); anything else
/// becomes the signal Linux sends for it, delivered to the program's handler or killing it
/// (the status comes back).
pub(crate) fn user_fault(
    platform: &mut KernelPlatform,
    current: &mut Current,
    regs: &mut UserRegs,
) -> UserFault {
    let cr2 = x86_64::registers::control::Cr2::read_raw();
    if regs.trap != crate::arch::fault::PAGE_FAULT {
        return match signal::user_exception(current, platform, regs, cr2) {
            Some(_) => UserFault::Exit,
            None => UserFault::Resume,
        };
    }
    let access = Access::from_x86_error_code(regs.error_code);
    let status = match handle_page_fault(&current.process, platform, cr2, access) {
        FaultResult::Mapped => {
            crate::mm::pressure::fault_served();
            None
        }
        FaultResult::Wait(page) => {
            return match wait_for_page(current, &page) {
                true => UserFault::Wait,
                false => UserFault::Resume,
            }
        }
        FaultResult::OutOfMemory => {
            // Mapped file pages may go back to make room: then take the fault again.
            if crate::mm::pressure::retry_after_oom(current, platform, cr2) {
                return UserFault::Resume;
            }
            Some(out_of_memory_kill(&current.process, platform))
        }
        FaultResult::Signal { signo, code, addr } => {
            let fault = Fault {
                signo,
                code,
                addr,
                trapno: regs.trap,
                error_code: regs.error_code,
            };
            signal::force_fault(current, platform, regs, fault)
        }
    };
    match status {
        Some(_) => UserFault::Exit,
        None => UserFault::Resume,
    }
}
