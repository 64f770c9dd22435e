//! What the syscall layer's /proc needs from the machine ([`SystemInfo`]), and the wall clock
//! filesystems stamp times with.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use coracle_syscalls::SystemInfo;
use coracle_vfs::{Clock, Timespec};

use crate::arch::cpu;
use crate::mm::{frame, heap, PAGE_SIZE};
use crate::time;

/// The kernel's facts.
#[derive(Debug)]
pub struct KernelInfo {
    /// /proc/cpuinfo's block, made on first read (not on the boot path).
    cpuinfo: spin::Once<Vec<u8>>,
}

impl KernelInfo {
    pub fn new() -> Self {
        KernelInfo {
            cpuinfo: spin::Once::new(),
        }
    }
}

impl SystemInfo for KernelInfo {
    fn uptime_ns(&self) -> u64 {
        time::monotonic_ns()
    }
    fn realtime_ns(&self) -> u64 {
        time::realtime_ns()
    }
    fn boot_realtime_ns(&self) -> u64 {
        // The wall clock is the host's time at boot plus the monotonic clock, exactly.
        time::epoch_ns()
    }
    fn mem_total(&self) -> u64 {
        // The frames the heap grew by are counted among the frames.
        let (frames, _) = frame::stats();
        frames * PAGE_SIZE + heap::boot_size()
    }
    fn mem_free(&self) -> u64 {
        let (_, free) = frame::stats();
        let (heap, used) = heap::stats();
        free * PAGE_SIZE + heap.saturating_sub(used)
    }
    fn cpuinfo(&self, _cpu: u32) -> Vec<u8> {
        self.cpuinfo.call_once(describe_cpu).clone()
    }
    fn random(&self, buf: &mut [u8]) {
        let mut x = cpu::rdtsc() | 1;
        for chunk in buf.chunks_mut(8) {
            let v = crate::entropy::seeded()
                .or_else(cpu::rdrand)
                .unwrap_or_else(|| {
                    // xorshift over the TSC when RDRAND is missing.
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                });
            chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// CLOCK_REALTIME for file times. Until something needs the precise clock (which may cost a
/// TSC calibration), boot-time files get the host's time at spawn.
#[derive(Debug)]
pub struct FsClock;

impl Clock for FsClock {
    fn now(&self) -> Timespec {
        if time::tsc_khz_if_known() != 0 {
            Timespec::from_ns(time::realtime_ns())
        } else {
            Timespec::from_ns(time::epoch_ns())
        }
    }
}

fn regs_str(regs: &[u32]) -> String {
    let mut s = String::new();
    for r in regs {
        for b in r.to_le_bytes() {
            if b != 0 {
                s.push(b as char);
            }
        }
    }
    s
}

/// /proc/cpuinfo's block for a CPU, from CPUID (one block fits every vCPU: QEMU gives them the
/// same model).
fn describe_cpu() -> Vec<u8> {
    let v = cpu::cpuid(0, 0);
    let vendor = regs_str(&[v.ebx, v.edx, v.ecx]);
    let l1 = cpu::cpuid(1, 0);
    let stepping = l1.eax & 0xf;
    let base_model = (l1.eax >> 4) & 0xf;
    let base_family = (l1.eax >> 8) & 0xf;
    let family = if base_family == 0xf {
        base_family + ((l1.eax >> 20) & 0xff)
    } else {
        base_family
    };
    let model = if base_family == 0x6 || base_family == 0xf {
        base_model | (((l1.eax >> 16) & 0xf) << 4)
    } else {
        base_model
    };
    let ext = cpu::cpuid(0x8000_0000, 0).eax;
    let name = if ext >= 0x8000_0004 {
        let mut regs = Vec::new();
        for leaf in 0x8000_0002..=0x8000_0004u32 {
            let r = cpu::cpuid(leaf, 0);
            regs.extend_from_slice(&[r.eax, r.ebx, r.ecx, r.edx]);
        }
        String::from(regs_str(&regs).trim())
    } else {
        String::from("QEMU Virtual CPU")
    };
    let bits = |reg: u32, names: &[(u32, &'static str)]| -> Vec<&'static str> {
        names
            .iter()
            .filter(|(b, _)| reg & (1 << b) != 0)
            .map(|(_, n)| *n)
            .collect()
    };
    let mut flags = bits(
        l1.edx,
        &[
            (0, "fpu"),
            (1, "vme"),
            (2, "de"),
            (3, "pse"),
            (4, "tsc"),
            (5, "msr"),
            (6, "pae"),
            (7, "mce"),
            (8, "cx8"),
            (9, "apic"),
            (11, "sep"),
            (12, "mtrr"),
            (13, "pge"),
            (14, "mca"),
            (15, "cmov"),
            (16, "pat"),
            (17, "pse36"),
            (19, "clflush"),
            (23, "mmx"),
            (24, "fxsr"),
            (25, "sse"),
            (26, "sse2"),
            (28, "ht"),
        ],
    );
    flags.extend(bits(
        l1.ecx,
        &[
            (0, "pni"),
            (1, "pclmulqdq"),
            (3, "monitor"),
            (9, "ssse3"),
            (12, "fma"),
            (13, "cx16"),
            (19, "sse4_1"),
            (20, "sse4_2"),
            (21, "x2apic"),
            (22, "movbe"),
            (23, "popcnt"),
            (25, "aes"),
            (26, "xsave"),
            (28, "avx"),
            (29, "f16c"),
            (30, "rdrand"),
            (31, "hypervisor"),
        ],
    ));
    let l7 = cpu::cpuid(7, 0);
    flags.extend(bits(
        l7.ebx,
        &[
            (0, "fsgsbase"),
            (3, "bmi1"),
            (5, "avx2"),
            (8, "bmi2"),
            (9, "erms"),
            (16, "avx512f"),
            (18, "rdseed"),
            (19, "adx"),
            (29, "sha_ni"),
        ],
    ));
    let mhz = time::tsc_khz_if_known();
    let mhz = if mhz == 0 { 2_000_000 } else { mhz };
    let addr = if ext >= 0x8000_0008 {
        cpu::cpuid(0x8000_0008, 0).eax
    } else {
        0x3028
    };
    let clflush = ((l1.ebx >> 8) & 0xff) * 8;
    format!(
        "vendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\nmodel name\t: {name}\n\
         stepping\t: {stepping}\nmicrocode\t: 0x1\ncpu MHz\t\t: {}.{:03}\ncache size\t: 16384 KB\n\
         physical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\ncpu cores\t: 1\napicid\t\t: 0\n\
         initial apicid\t: 0\nfpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: {}\nwp\t\t: yes\n\
         flags\t\t: {}\nbugs\t\t:\nbogomips\t: {}.{:02}\nclflush size\t: {clflush}\n\
         cache_alignment\t: {clflush}\naddress sizes\t: {} bits physical, {} bits virtual\n\
         power management:\n",
        mhz / 1000,
        mhz % 1000,
        v.eax,
        flags.join(" "),
        mhz * 2 / 1000,
        (mhz * 2 % 1000) / 10,
        addr & 0xff,
        (addr >> 8) & 0xff,
    )
    .into_bytes()
}
