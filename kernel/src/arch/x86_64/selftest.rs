//! `coracle.selftest=smp`: starts the other CPUs and checks what the scheduler will rely on:
//! IPIs arrive both ways (and wake a CPU from `hlt`), every CPU's timer fires at (not before)
//! its deadline and stays quiet when disarmed, a TLB shootdown makes a translation that every
//! CPU has cached go away everywhere (also when all CPUs shoot down at once, and for the
//! kernel's own user copies on a CPU that had interrupts off when the request came), and
//! RDTSCP gives each CPU its index.
//!
//! The boot CPU drives; each AP waits in `idle_wait` for a command, runs it and answers with
//! a WAKE IPI. The result is one log line,
//! `smp: N cpus online, ipi ok, timer ok, tlb ok, tsc_aux ok`
//! (`FAILED` in place of `ok` for a failed part), and a kernel failure if any part failed.

use core::sync::atomic::{AtomicU64, Ordering};

use super::interrupt::{self, counts};
use super::{apic, cpu, idle_wait, send_ipi, MAX_CPUS};
use crate::mm::paging;
use crate::{log, time};
use coracle_syscalls::Perms;

/// A user address no program has mapped yet (the test runs before the program starts).
const TEST_PAGE: u64 = 0x0100_0000_0000;
const MAGIC: u64 = 0x5eed_cafe_f00d_0001;
const TEST_PERMS: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};
/// How long the boot CPU waits for an answer.
const TIMEOUT_MS: u64 = 2000;

const PING: u64 = 1;
const TIMER: u64 = 2;
const READ_MAPPED: u64 = 3;
const READ_UNMAPPED: u64 = 4;
const SHOOTDOWN: u64 = 5;
const TSC_AUX: u64 = 6;
const HOLD_THEN_READ: u64 = 7;

/// Per AP: the last command (sequence << 8 | operation) and its answer (sequence << 8 | 1 for
/// success, 2 for failure).
static COMMAND: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static ANSWER: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
static SEQUENCE: AtomicU64 = AtomicU64::new(0);
/// [`HOLD_THEN_READ`]: the sequence number of the command the AP holds in (interrupts off),
/// and the one the boot CPU lets go of.
static HELD: AtomicU64 = AtomicU64::new(0);
static LET_GO: AtomicU64 = AtomicU64::new(0);

fn ms(n: u64) -> u64 {
    time::tsc_khz().saturating_mul(n)
}

/// Polls `done` with interrupts let in between, for at most `timeout_ms`.
fn wait_until(timeout_ms: u64, done: impl Fn() -> bool) -> bool {
    let end = cpu::rdtsc().saturating_add(ms(timeout_ms));
    loop {
        if done() {
            return true;
        }
        if cpu::rdtsc() >= end {
            return false;
        }
        interrupt::poll();
    }
}

/// Arms the timer 2 ms ahead and checks it fires, not before the deadline; then arms and
/// disarms it and checks it stays quiet.
fn timer_test() -> bool {
    let me = super::cpu_index();
    let before = counts(me).0;
    let deadline = cpu::rdtsc() + ms(2);
    super::arm_timer(deadline);
    let fired = wait_until(TIMEOUT_MS / 2, || counts(me).0 > before);
    let on_time = cpu::rdtsc() >= deadline;
    super::arm_timer(cpu::rdtsc() + ms(1));
    super::arm_timer(0);
    let before = counts(me).0;
    let quiet = !wait_until(3, || counts(me).0 > before);
    if !(fired && on_time && quiet) {
        log!(
            "smp: CPU {me}: timer fired {fired}, not early {on_time}, quiet when disarmed {quiet}"
        );
    }
    fired && on_time && quiet
}

/// Whether RDTSCP reports this CPU's index (the vDSO's getcpu reads it), if the CPU has it.
fn tsc_aux_test() -> bool {
    let has_rdtscp = cpu::cpuid(0x8000_0000, 0).eax >= 0x8000_0001
        && cpu::cpuid(0x8000_0001, 0).edx & (1 << 27) != 0;
    if !has_rdtscp {
        return true;
    }
    let mut aux = 0u32;
    // SAFETY: RDTSCP is reported by CPUID; the intrinsic only writes `aux`.
    unsafe { core::arch::x86_64::__rdtscp(&mut aux) };
    let me = super::cpu_index();
    if aux as usize != me {
        log!("smp: CPU {me}: IA32_TSC_AUX is {aux}");
    }
    aux as usize == me
}

/// Reads the test page as system calls read user memory (`mm::user`): `Some(value)`, or
/// `None` on a fault.
fn read_test_page() -> Option<u64> {
    let mut value = [0u8; 8];
    crate::mm::user::read(TEST_PAGE, &mut value).ok()?;
    Some(u64::from_le_bytes(value))
}

/// With the test page's translation cached and interrupts off (as the kernel runs), says it
/// holds and spins until the boot CPU has unmapped the page and asked for the shootdown
/// without waiting for it (as munmap does); the read after must fault, not reach the old frame
/// through this CPU's TLB.
fn hold_then_read(seq: u64) -> bool {
    if read_test_page() != Some(MAGIC) {
        return false;
    }
    HELD.store(seq, Ordering::Release);
    let end = cpu::rdtsc().saturating_add(ms(TIMEOUT_MS));
    while LET_GO.load(Ordering::Acquire) != seq {
        if cpu::rdtsc() >= end {
            return false;
        }
        core::hint::spin_loop();
    }
    read_test_page().is_none()
}

fn execute(command: u64) -> bool {
    match command & 0xff {
        PING => true,
        TIMER => timer_test(),
        READ_MAPPED => read_test_page() == Some(MAGIC),
        READ_UNMAPPED => read_test_page().is_none(),
        TSC_AUX => tsc_aux_test(),
        HOLD_THEN_READ => hold_then_read(command >> 8),
        SHOOTDOWN => {
            super::tlb_shootdown_all();
            true
        }
        _ => false,
    }
}

/// What each AP runs: one log line, then commands from the boot CPU, sleeping in between.
fn ap_entry(cpu: usize) -> ! {
    log!("smp: CPU {cpu} up (APIC id {})", apic::id());
    let mut last = 0;
    loop {
        let command = COMMAND[cpu].load(Ordering::Acquire);
        if command != last {
            last = command;
            let status = if execute(command) { 1 } else { 2 };
            ANSWER[cpu].store((command & !0xff) | status, Ordering::Release);
            send_ipi(0, interrupt::WAKE);
        }
        idle_wait();
    }
}

/// Sends `operation` to AP `cpu` (with a WAKE) and returns its sequence number.
fn post(cpu: usize, operation: u64) -> u64 {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed) + 1;
    COMMAND[cpu].store((seq << 8) | operation, Ordering::Release);
    send_ipi(cpu, interrupt::WAKE);
    seq
}

/// Waits for AP `cpu`'s answer to command `seq`: whether it came and said success.
fn answer(cpu: usize, seq: u64) -> bool {
    let answered = || ANSWER[cpu].load(Ordering::Acquire) >> 8 == seq;
    if !wait_until(TIMEOUT_MS, answered) {
        log!("smp: CPU {cpu} did not answer command {seq}");
        return false;
    }
    ANSWER[cpu].load(Ordering::Acquire) & 0xff == 1
}

/// Runs `operation` on `cpu`: here for CPU 0, else through a command.
fn run_on(cpu: usize, operation: u64) -> bool {
    if cpu == 0 {
        return execute(operation);
    }
    let seq = post(cpu, operation);
    answer(cpu, seq)
}

/// A WAKE to `cpu` and one back from it (a self-IPI for CPU 0).
fn ipi_round_trip(cpu: usize) -> bool {
    let (mine, theirs) = (counts(0).1, counts(cpu).1);
    if cpu == 0 {
        send_ipi(0, interrupt::WAKE);
        return wait_until(TIMEOUT_MS, || counts(0).1 > mine);
    }
    run_on(cpu, PING)
        && wait_until(TIMEOUT_MS, || counts(0).1 > mine)
        && wait_until(TIMEOUT_MS, || counts(cpu).1 > theirs)
}

fn tlb_test(cpus: usize) -> bool {
    if paging::map_user_zeroed(TEST_PAGE, 4096, TEST_PERMS).is_err()
        || paging::poke_user(TEST_PAGE, &MAGIC.to_le_bytes()).is_err()
    {
        log!("smp: no memory for the TLB test page");
        return false;
    }
    // Every CPU caches the translation...
    let cached = (0..cpus).all(|c| run_on(c, READ_MAPPED));
    // ...which this CPU then removes: without the shootdown the others would still reach the
    // old page through their TLBs.
    paging::unmap_user(TEST_PAGE, 4096);
    super::tlb_shootdown_range(TEST_PAGE, 4096);
    let gone = (0..cpus).all(|c| run_on(c, READ_UNMAPPED));
    // All CPUs shooting each other down at once, interrupts off, must not deadlock.
    let seqs: [u64; MAX_CPUS] = core::array::from_fn(|c| {
        if (1..cpus).contains(&c) {
            post(c, SHOOTDOWN)
        } else {
            0
        }
    });
    super::tlb_shootdown_all();
    let together = (1..cpus).all(|c| answer(c, seqs[c]));
    let held = (1..cpus).all(unmapped_while_held);
    if !(cached && gone && together && held) {
        log!(
            "smp: TLB: cached everywhere {cached}, gone everywhere {gone}, concurrent {together}, \
             kernel copies after an unwaited shootdown {held}"
        );
    }
    cached && gone && together && held
}

/// AP `cpu` caches the test page's translation and holds with interrupts off while this CPU
/// unmaps the page with the shootdown munmap uses (not waited for); its kernel read after
/// must fault.
fn unmapped_while_held(cpu: usize) -> bool {
    if paging::map_user_zeroed(TEST_PAGE, 4096, TEST_PERMS).is_err()
        || paging::poke_user(TEST_PAGE, &MAGIC.to_le_bytes()).is_err()
    {
        log!("smp: no memory for the TLB test page");
        return false;
    }
    let seq = post(cpu, HOLD_THEN_READ);
    let holding = wait_until(TIMEOUT_MS, || HELD.load(Ordering::Acquire) == seq);
    // The frame stays out of the allocator until the AP has flushed.
    paging::unmap_user(TEST_PAGE, 4096);
    LET_GO.store(seq, Ordering::Release);
    holding && answer(cpu, seq)
}

/// Runs the SMP self test with up to `wanted` CPUs; stops the kernel if a part fails.
pub fn smp(wanted: usize) {
    // Measure the TSC now if needed, before any other CPU could want it.
    time::tsc_khz();
    let cpus = super::start_aps(wanted, ap_entry);
    let counted = super::cpus_online() == cpus;
    if !counted {
        log!(
            "smp: start_aps said {cpus} CPUs, cpus_online says {}",
            super::cpus_online()
        );
    }
    let mode = if apic::has_tsc_deadline() {
        "TSC-deadline"
    } else {
        "one-shot"
    };
    log!("smp: APIC timer in {mode} mode");
    let ipi = (0..cpus).all(ipi_round_trip);
    let timer = (0..cpus).all(|c| run_on(c, TIMER));
    let tlb = tlb_test(cpus);
    let aux = (0..cpus).all(|c| run_on(c, TSC_AUX));
    // Let in the IPIs still on their way (the APs' last WAKEs, shootdowns answered by
    // polling), so that none is left for the program's first moment in user mode.
    wait_until(5, || false);
    let word = |ok: bool| if ok { "ok" } else { "FAILED" };
    log!(
        "smp: {cpus} cpus online, ipi {}, timer {}, tlb {}, tsc_aux {}",
        word(ipi),
        word(timer),
        word(tlb),
        word(aux)
    );
    if !(counted && ipi && timer && tlb && aux) {
        crate::fatal(format_args!("the SMP self test failed"));
    }
}
