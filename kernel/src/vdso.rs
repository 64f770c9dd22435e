//! The vDSO: clock reads and `getcpu` without a system call.
//!
//! `vdso/image.s` is a whole ELF shared object ("linux-vdso.so.1": `clock_gettime`,
//! `gettimeofday`, `time`, `getcpu`, `clock_getres`, each also as `__vdso_*`, version
//! LINUX_2.6) assembled into the kernel's read-only data. [`map_into`] maps it read+exec into a
//! process right above one read-only "vvar" page, [`VVAR`], through which the kernel tells the
//! code how to turn the TSC into time; the ELF's address goes to the program as
//! AT_SYSINFO_EHDR. Both are the kernel image's own pages, shared by every process, never copied.
//!
//! The clock data comes from `time.rs` ([`publish_clock`]) once the TSC frequency is known;
//! until then the vDSO code makes the real system call, which measures it. The data is written
//! under a sequence count (odd while being written) that the code re-reads around its reads.

use core::mem::offset_of;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use coracle_syscalls::Perms;
use spin::Mutex;
use x86_64::registers::model_specific::Msr;

use crate::arch::cpu;
use crate::mm::paging::{self, AddressSpace};
use crate::mm::PAGE_SIZE;
use crate::time::TscScale;

/// The data page, as the vDSO code reads it (offsets passed to the assembly below). Its size is
/// its alignment, so it fills its page alone and exposes nothing else to user space.
#[repr(C, align(4096))]
struct Vvar {
    /// Sequence count: odd while the kernel writes the clock fields.
    seq: AtomicU32,
    /// Bit 0: the clock fields are valid (the TSC frequency is known).
    flags: AtomicU32,
    tsc_base: AtomicU64,
    mult: AtomicU64,
    shift: AtomicU32,
    /// How `getcpu` reads the CPU number: one of the `GETCPU_*` values.
    getcpu: AtomicU32,
    /// Monotonic nanoseconds at `tsc_base`.
    mono_base: AtomicU64,
    /// Added to the monotonic time for the wall clock: the host's time at boot.
    realtime_offset: AtomicU64,
}

static VVAR: Vvar = Vvar {
    seq: AtomicU32::new(0),
    flags: AtomicU32::new(0),
    tsc_base: AtomicU64::new(0),
    mult: AtomicU64::new(0),
    shift: AtomicU32::new(0),
    getcpu: AtomicU32::new(GETCPU_SYSCALL),
    mono_base: AtomicU64::new(0),
    realtime_offset: AtomicU64::new(0),
};

/// Writers of [`VVAR`]'s clock fields take turns.
static WRITER: Mutex<()> = Mutex::new(());

const GETCPU_SYSCALL: u32 = 0;
const GETCPU_RDPID: u32 = 1;
const GETCPU_RDTSCP: u32 = 2;

/// Clock ids the vDSO answers, as bit masks: REALTIME 0, MONOTONIC 1, MONOTONIC_RAW 4,
/// REALTIME_COARSE 5, MONOTONIC_COARSE 6, BOOTTIME 7, TAI 11. The CPU-time clocks (2, 3, and
/// the negative per-process/thread ids), the alarm clocks and bad ids go to the system call.
/// As in `syscalls/src/sys/time.rs`: no NTP, no suspend and no TAI offset, so RAW, BOOTTIME
/// and TAI equal their base clocks, and the coarse clocks have full resolution.
const CLOCKS: u32 = 1 << 0 | 1 << 1 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 11;
/// The clocks that add the wall-clock offset: REALTIME, REALTIME_COARSE, TAI.
const WALL_CLOCKS: u32 = 1 << 0 | 1 << 5 | 1 << 11;
/// The clocks whose `clock_getres` is the tick (Linux's HZ=250) rather than 1 ns.
const COARSE_CLOCKS: u32 = 1 << 5 | 1 << 6;
const COARSE_RES_NS: u32 = 4_000_000;

/// The System V ELF hash (`vd_hash` of a version definition).
const fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    let mut i = 0;
    while i < name.len() {
        h = (h << 4).wrapping_add(name[i] as u32);
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
        i += 1;
    }
    h
}

core::arch::global_asm!(
    include_str!("vdso/image.s"),
    VVAR_SEQ = const offset_of!(Vvar, seq),
    VVAR_FLAGS = const offset_of!(Vvar, flags),
    VVAR_TSC_BASE = const offset_of!(Vvar, tsc_base),
    VVAR_MULT = const offset_of!(Vvar, mult),
    VVAR_SHIFT = const offset_of!(Vvar, shift),
    VVAR_GETCPU = const offset_of!(Vvar, getcpu),
    VVAR_MONO_BASE = const offset_of!(Vvar, mono_base),
    VVAR_REALTIME_OFFSET = const offset_of!(Vvar, realtime_offset),
    GETCPU_RDPID = const GETCPU_RDPID,
    GETCPU_RDTSCP = const GETCPU_RDTSCP,
    CLOCKS = const CLOCKS,
    WALL_CLOCKS = const WALL_CLOCKS,
    COARSE_CLOCKS = const COARSE_CLOCKS,
    COARSE_RES_NS = const COARSE_RES_NS,
    HASH_SONAME = const elf_hash(b"linux-vdso.so.1"),
    HASH_LINUX_2_6 = const elf_hash(b"LINUX_2.6"),
);

extern "C" {
    static __coracle_vdso_start: u8;
    static __coracle_vdso_end: u8;
}

/// The image's kernel address range.
fn image() -> (u64, u64) {
    (
        (&raw const __coracle_vdso_start) as u64,
        (&raw const __coracle_vdso_end) as u64,
    )
}

/// IA32_TSC_AUX, which RDTSCP and RDPID return.
const IA32_TSC_AUX: u32 = 0xc000_0103;

/// How this CPU lets user code read its number: RDPID, else RDTSCP, else neither.
fn getcpu_mode() -> u32 {
    if cpu::cpuid(7, 0).ecx & (1 << 22) != 0 {
        GETCPU_RDPID
    } else if cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0001
        && cpu::cpuid(0x8000_0001, 0).edx & (1 << 27) != 0
    {
        GETCPU_RDTSCP
    } else {
        GETCPU_SYSCALL
    }
}

/// Boot CPU, once: picks how `getcpu` works and numbers this CPU 0. Call after `arch::init`.
pub fn init() {
    let mode = getcpu_mode();
    VVAR.getcpu.store(mode, Ordering::Relaxed);
    set_cpu_number(0);
}

/// Every CPU, at bring-up: stores `cpu` (node 0) where the vDSO's `getcpu` reads it, encoded as
/// Linux does, `(node << 12) | cpu`. Does nothing on CPUs without RDTSCP and RDPID (their
/// `getcpu` makes the system call).
pub fn set_cpu_number(cpu: u32) {
    if getcpu_mode() == GETCPU_SYSCALL {
        return;
    }
    // SAFETY: IA32_TSC_AUX exists when RDTSCP or RDPID does (checked above); it only feeds
    // those two instructions, nothing in the kernel depends on it.
    unsafe { Msr::new(IA32_TSC_AUX).write(u64::from(cpu & 0xfff)) };
}

/// Publishes the clock: `scale` turns the TSC into monotonic ns, `realtime_offset` is added
/// for the wall clock. Called by `time.rs` whenever either changes.
pub fn publish_clock(scale: &TscScale, realtime_offset: u64) {
    let _turn = WRITER.lock();
    let seq = VVAR.seq.load(Ordering::Relaxed);
    VVAR.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    fence(Ordering::Release);
    VVAR.tsc_base.store(scale.base, Ordering::Relaxed);
    VVAR.mult.store(scale.mult, Ordering::Relaxed);
    VVAR.shift.store(scale.shift, Ordering::Relaxed);
    VVAR.mono_base.store(0, Ordering::Relaxed);
    VVAR.realtime_offset
        .store(realtime_offset, Ordering::Relaxed);
    VVAR.flags.store(1, Ordering::Relaxed);
    VVAR.seq.store(seq.wrapping_add(2), Ordering::Release);
}

/// Maps the vvar page at `base` and the vDSO right above it into `space`; returns the vDSO's
/// address (for AT_SYSINFO_EHDR) and its end, `None` if they could not be mapped (the program
/// then makes real system calls). The caller records the `[vvar]` and `[vdso]` VMAs.
pub fn map_into(space: &AddressSpace, base: u64) -> Option<(u64, u64)> {
    let (start, end) = image();
    let vvar = (&raw const VVAR) as u64;
    let read = Perms {
        read: true,
        write: false,
        exec: false,
    };
    let read_exec = Perms { exec: true, ..read };
    let ehdr = base + PAGE_SIZE;
    let mapped = paging::map_user_kernel_pages(space, base, vvar, PAGE_SIZE, read).is_ok()
        && paging::map_user_kernel_pages(space, ehdr, start, end - start, read_exec).is_ok();
    if !mapped {
        space.unmap(base, PAGE_SIZE + end - start, alloc::vec::Vec::new());
        crate::log!("vdso: cannot map it at {base:#x}; clocks use system calls");
        return None;
    }
    Some((ehdr, ehdr + end - start))
}
