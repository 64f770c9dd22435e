//! The Coracle kernel: boots through PVH, loads one Linux program from the initrd, runs it in
//! ring 3 and serves its system calls through the portable `coracle-syscalls` crate.
//!
//! All `unsafe` code of Coracle lives in this crate, mostly under `arch/` and `mm/`, each
//! block with the invariant it relies on.
#![no_std]
#![no_main]

extern crate alloc;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/mod.rs")]
mod arch;
mod console;
mod cpu_loop;
mod cpu_stats;
mod dev;
mod entropy;
mod launch;
mod mm;
mod panic;
mod platform;
mod pvh;
mod sysinfo;
mod task;
mod time;
mod vdso;

pub use panic::fatal;

use coracle_devices::netconfig::NetConfig;
use task::Config;

/// Self tests asked for on the command line that run once the command line is read.
#[derive(Debug, Default)]
struct Selftests {
    smp: bool,
    cow: bool,
    net: bool,
}

/// Parses the `key=value` tokens of the command line (docs/guest-protocol.md).
fn parse_cmdline(cmdline: &[u8]) -> (Config, u64, Selftests, NetConfig) {
    let mut tsc_khz = None;
    let mut config = Config {
        cpus: 1,
        ..Config::default()
    };
    let mut epoch = 0;
    let mut selftests = Selftests::default();
    let mut net = NetConfig::default();
    for token in cmdline.split(|&b| b == b' ').filter(|t| !t.is_empty()) {
        let mut kv = token.splitn(2, |&b| b == b'=');
        let (key, value) = (kv.next().unwrap_or_default(), kv.next().unwrap_or_default());
        let number = || {
            core::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
        };
        match key {
            b"coracle.tty" => config.tty = value == b"1",
            b"coracle.stdin" => config.stdin = value == b"1",
            b"coracle.winsize" => config.winsize = parse_winsize(value),
            b"coracle.verbose" => config.verbose = value == b"1",
            b"coracle.timing" => config.timing = value == b"1",
            // Per-CPU counters, logged at shutdown (`cpu_stats`).
            b"coracle.cpustats" if value == b"1" => cpu_stats::enable(),
            b"coracle.epoch" => epoch = number().unwrap_or(0),
            // The root filesystem is the EROFS image on the virtio-blk drive, not the initrd.
            b"coracle.root" if value == b"blk" => config.root_blk = true,
            b"coracle.cpus" => config.cpus = number().unwrap_or(1) as u32,
            b"coracle.root" if value == b"overlay" => config.overlay = true,
            b"coracle.root" if value == b"tmpfs" => config.overlay = false,
            b"coracle.readonly" => config.read_only = value == b"1",
            b"coracle.tmpfs" => config.tmpfs.push(value.to_vec()),
            b"coracle.volume" => config.volumes.push(value.to_vec()),
            // Deterministic runs (`coracle run --icount`): random bytes from this seed, and the
            // TSC's frequency given rather than measured.
            b"coracle.seed" => entropy::set_seed(number().unwrap_or(0)),
            b"coracle.tsc_khz" => tsc_khz = number(),
            // Linux's flag of the same name: no address-space randomisation, for runs that
            // must repeat exactly (QEMU's -icount).
            // `norandmaps=1` too: `coracle run --kernel-arg` takes key=value tokens.
            b"norandmaps" => config.norandmaps = value.is_empty() || value == b"1",
            b"coracle.selftest" if value == b"fault" => selftest_fault(),
            b"coracle.selftest" if value == b"alloc" => selftest_alloc(),
            b"coracle.selftest" if value == b"smp" => selftests.smp = true,
            b"coracle.selftest" if value == b"cow" => selftests.cow = true,
            b"coracle.selftest" if value == b"net" => selftests.net = true,
            _ if net.apply(key, value) == Ok(true) => {}
            _ => log!(
                "ignoring kernel argument {}",
                core::str::from_utf8(token).unwrap_or("?")
            ),
        }
    }
    time::set_khz(tsc_khz);
    (config, epoch, selftests, net)
}

/// `ROWSxCOLS`: the host terminal's size at start (`-t`).
fn parse_winsize(value: &[u8]) -> Option<(u16, u16)> {
    let text = core::str::from_utf8(value).ok()?;
    let (rows, cols) = text.split_once('x')?;
    Some((rows.parse().ok()?, cols.parse().ok()?))
}

/// A deliberate kernel fault, so tests can check the fault report and the failure status.
fn selftest_fault() {
    log!("selftest: reading an unmapped kernel address");
    // SAFETY: deliberately unsound: this read faults, and the fault handler stops the VM.
    let v = unsafe { core::ptr::read_volatile(0xffff_ff00_dead_0000 as *const u64) };
    log!("selftest: read {v} without a fault");
}

/// A kernel allocation that cannot be served (a TiB), as when a VM is too small for the
/// kernel's boot structures: tests check that it ends as a clean out-of-memory failure.
fn selftest_alloc() {
    log!("selftest: allocating 1 TiB on the kernel heap");
    let v: alloc::vec::Vec<u8> = alloc::vec::Vec::with_capacity(1 << 40);
    log!("selftest: got {} bytes", v.capacity());
}

/// Entered from the boot assembly on the boot stack, in long mode, on the boot page tables.
#[no_mangle]
extern "C" fn kernel_entry(start_info: u64, boot_tsc: u64) -> ! {
    time::init(boot_tsc);
    let features = arch::init();
    vdso::init();
    let Some(boot) = pvh::parse(start_info) else {
        fatal(format_args!("no PVH start_info at {start_info:#x}"));
    };
    mm::init(&boot, start_info);
    mm::paging::init();
    arch::smp::init(boot.rsdp, boot.ap_trampoline);
    let (config, epoch, selftests, net) = parse_cmdline(boot.cmdline);
    time::set_epoch(epoch);
    let before = arch::cpu::rdtsc();
    dev::init(boot.rsdp);
    dev::console::init(config.stdin);
    let found = arch::cpu::rdtsc();
    dev::net::init(selftests.net, &net);
    let root_disk = if config.root_blk {
        dev::blk::init()
    } else {
        None
    };
    if config.root_blk && root_disk.is_none() {
        fatal(format_args!(
            "coracle.root=blk but no virtio-blk drive is usable"
        ));
    }
    if config.timing {
        let done = arch::cpu::rdtsc();
        log!(
            "timing: devices found in {} ticks, network card set up in {} ticks",
            found - before,
            done - found
        );
    }
    // Before the other CPUs start: the frame count is exact with one CPU.
    if selftests.cow {
        mm::selftest::cow();
    }
    if selftests.smp {
        arch::selftest::smp(config.cpus as usize);
    }
    // The initrd module, else the records a packed image carries in the kernel file.
    let (records, release) = match boot.initrd {
        Some(initrd) => (initrd, true),
        None => match launch::embedded() {
            Some(records) => (records, false),
            None => fatal(format_args!("no initrd: the program to run comes in it")),
        },
    };
    task::run(records, release, root_disk, &config, features)
}
