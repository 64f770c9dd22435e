//! Signals: actions and masks, generation and queueing, the x86_64 frame and rt_sigreturn,
//! restarts of interrupted calls, the alternate stack, faults, timers and signalfd.
//!
//! Expected layouts come from Linux's and glibc's headers (the REG_* indices of
//! `ucontext.h`, `struct rt_sigframe`, `struct _fpx_sw_bytes`), not from this code.

mod frame;
mod timers;

use super::fake::*;
use crate::nr::*;
use coracle_vfs::{Wake, Waker};

use crate::signal::frame::{FRAME_INFO, FRAME_SIZE, FRAME_UC};
use crate::signal::{deliver, force_fault, user_exception, Fault};
use crate::{dispatch, resume, Current, Errno, FpuLayout, Outcome, UserRegs};
use crate::{TRAP_SIGRETURN, TRAP_SYSCALL};

/// Offsets in `struct ucontext`, taken from the ABI struct (and checked against glibc's
/// `ucontext_t` by `frame::sigcontext_and_frame_offsets_are_linuxs`).
mod uc {
    use coracle_abi::signal::UContext;
    use core::mem::offset_of;

    pub const FLAGS: usize = offset_of!(UContext, uc_flags);
    pub const LINK: usize = offset_of!(UContext, uc_link);
    pub const STACK: usize = offset_of!(UContext, uc_stack);
    pub const MCONTEXT: usize = offset_of!(UContext, uc_mcontext);
    pub const SIGMASK: usize = offset_of!(UContext, uc_sigmask);
    pub const SIZE: usize = size_of::<UContext>();
}

/// Offsets in `struct sigcontext`, taken from the ABI struct (and checked against glibc's
/// REG_* indices by `frame::sigcontext_and_frame_offsets_are_linuxs`).
mod sc {
    use coracle_abi::signal::SigContext;
    use core::mem::offset_of;

    pub const R8: usize = offset_of!(SigContext, r8);
    pub const R9: usize = offset_of!(SigContext, r9);
    pub const R10: usize = offset_of!(SigContext, r10);
    pub const R11: usize = offset_of!(SigContext, r11);
    pub const R12: usize = offset_of!(SigContext, r12);
    pub const R13: usize = offset_of!(SigContext, r13);
    pub const R14: usize = offset_of!(SigContext, r14);
    pub const R15: usize = offset_of!(SigContext, r15);
    pub const RDI: usize = offset_of!(SigContext, rdi);
    pub const RSI: usize = offset_of!(SigContext, rsi);
    pub const RBP: usize = offset_of!(SigContext, rbp);
    pub const RBX: usize = offset_of!(SigContext, rbx);
    pub const RDX: usize = offset_of!(SigContext, rdx);
    pub const RAX: usize = offset_of!(SigContext, rax);
    pub const RCX: usize = offset_of!(SigContext, rcx);
    pub const RSP: usize = offset_of!(SigContext, rsp);
    pub const RIP: usize = offset_of!(SigContext, rip);
    pub const EFLAGS: usize = offset_of!(SigContext, eflags);
    pub const CS: usize = offset_of!(SigContext, cs);
    pub const GS: usize = offset_of!(SigContext, gs);
    pub const FS: usize = offset_of!(SigContext, fs);
    pub const SS: usize = offset_of!(SigContext, ss);
    pub const ERR: usize = offset_of!(SigContext, err);
    pub const TRAPNO: usize = offset_of!(SigContext, trapno);
    pub const OLDMASK: usize = offset_of!(SigContext, oldmask);
    pub const CR2: usize = offset_of!(SigContext, cr2);
    pub const FPSTATE: usize = offset_of!(SigContext, fpstate);
    pub const SIZE: usize = size_of::<SigContext>();
}

const SIGHUP: u64 = 1;
const SIGINT: u64 = 2;
const SIGTRAP: u64 = 5;
const SIGFPE: u64 = 8;
const SIGKILL: u64 = 9;
const SIGUSR1: u64 = 10;
const SIGSEGV: u64 = 11;
const SIGUSR2: u64 = 12;
const SIGPIPE: u64 = 13;
const SIGALRM: u64 = 14;
const SIGTERM: u64 = 15;
const SIGCHLD: u64 = 17;
const SIGTSTP: u64 = 20;
const SIGVTALRM: u64 = 26;
const SIGPROF: u64 = 27;

const SA_SIGINFO: u64 = 4;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTART: u64 = 0x1000_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;

const HANDLER: u64 = 0x40_1000;
const RESTORER: u64 = 0x40_2000;
/// Where the tests' programs "run": the SYSCALL instruction ends here.
const RIP: u64 = 0x40_5002;
const STACK_TOP: u64 = 0x7000_0000;
const STACK_SIZE: u64 = 0x10000;
/// The altstack tests' stack.
const ALT: u64 = 0x6000_0000;
const ALT_SIZE: u64 = 0x4000;

fn bit(sig: u64) -> u64 {
    1 << (sig - 1)
}

fn setup_stack() -> (Current, Fake) {
    let (p, mut k) = setup();
    k.map(STACK_TOP - STACK_SIZE, STACK_SIZE, RW);
    k.map(ALT, ALT_SIZE, RW);
    (p, k)
}

/// Installs an action for `sig` through rt_sigaction.
fn sigaction(p: &mut Current, k: &mut Fake, sig: u64, handler: u64, flags: u64, mask: u64) -> i64 {
    let mut act = [0u8; 32];
    act[..8].copy_from_slice(&handler.to_le_bytes());
    act[8..16].copy_from_slice(&flags.to_le_bytes());
    act[16..24].copy_from_slice(&RESTORER.to_le_bytes());
    act[24..].copy_from_slice(&mask.to_le_bytes());
    k.poke(SCRATCH + 0x800, &act);
    sys(p, k, SYS_rt_sigaction, &[sig, SCRATCH + 0x800, 0, 8])
}

fn handle(p: &mut Current, k: &mut Fake, sig: u64, flags: u64) {
    assert_eq!(
        sigaction(p, k, sig, HANDLER, flags | SA_SIGINFO | SA_RESTORER, 0),
        0
    );
}

fn set_mask(p: &mut Current, k: &mut Fake, mask: u64) {
    k.poke(SCRATCH + 0x900, &mask.to_le_bytes());
    assert_eq!(
        sys(p, k, SYS_rt_sigprocmask, &[2, SCRATCH + 0x900, 0, 8]),
        0
    );
}

fn mask_of(p: &Current) -> u64 {
    p.thread.sig.mask()
}

fn u64_at(k: &Fake, addr: u64) -> u64 {
    u64::from_le_bytes(k.peek(addr, 8).try_into().unwrap())
}

fn u32_at(k: &Fake, addr: u64) -> u32 {
    u32::from_le_bytes(k.peek(addr, 4).try_into().unwrap())
}

/// Registers of a program that just made a system call that returned `rax`, each other
/// register holding a value of its own.
fn user_regs(rax: u64) -> UserRegs {
    UserRegs {
        rax,
        rbx: 0xb0b0,
        rcx: RIP,
        rdx: 0xd0d0,
        rsi: 0x5151,
        rdi: 0xd1d1,
        rbp: 0xbbbb,
        rsp: STACK_TOP - 0x1000 - 8,
        r8: 0x0808,
        r9: 0x0909,
        r10: 0x1010,
        r11: 0x246,
        r12: 0x1212,
        r13: 0x1313,
        r14: 0x1414,
        r15: 0x1515,
        rip: RIP,
        rflags: 0x246,
        trap: TRAP_SYSCALL,
        ..Default::default()
    }
}

/// Fills the fake CPU's XMM registers with a pattern (FXSAVE bytes 160..416).
fn dirty_fpu(k: &mut Fake) {
    for i in 160..416 {
        k.fpu.bytes[i] = (i * 7) as u8;
    }
    // AVX state present: the upper halves of the YMM registers (XSAVE offset 576).
    k.fpu.bytes[512] = 7;
    for i in 576..832 {
        k.fpu.bytes[i] = (i * 3) as u8;
    }
}

/// Blocks thread `p` in a read of an empty pipe; returns the registers of that call.
fn block_in_pipe_read(p: &mut Current, k: &mut Fake) -> UserRegs {
    assert_eq!(sys(p, k, SYS_pipe, &[SCRATCH]), 0);
    let rfd = u32_at(k, SCRATCH) as u64;
    let mut r = user_regs(0);
    let call = crate::tests::fake::regs(SYS_read, &[rfd, SCRATCH + 64, 8]);
    (r.rax, r.rdi, r.rsi, r.rdx) = (call.rax, call.rdi, call.rsi, call.rdx);
    assert_eq!(dispatch(p, k, &mut r), Outcome::Wait);
    r
}

/// Another thread of `p`'s process sends `sig` to `p`'s thread with tgkill.
fn tgkill_from_other_thread(p: &Current, k: &mut Fake, sig: u64) -> Current {
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(
        sys(&mut other, k, SYS_tgkill, &[1, u64::from(p.tid), sig]),
        0
    );
    other
}

/// The interrupted thread runs again: the call ends, and the kernel puts its value in rax.
fn finish_interrupted_call(p: &mut Current, k: &mut Fake, r: &mut UserRegs) -> u64 {
    let why = p.thread.finish_wait().expect("woken");
    assert_eq!(why, Wake::Interrupted);
    let Outcome::Return(v) = resume(p, k, r, why) else {
        panic!("the call ends");
    };
    r.rax = v;
    v
}

#[test]
fn sa_restart_runs_an_interrupted_read_again_after_the_handler() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, SA_RESTART);
    let mut r = block_in_pipe_read(&mut p, &mut k);
    let _other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    assert!(p.thread.sig.flagged());
    assert_eq!(
        finish_interrupted_call(&mut p, &mut k, &mut r),
        (-512i64) as u64
    );
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(r.rip, HANDLER);
    let m = r.rdx + uc::MCONTEXT as u64;
    assert_eq!(
        u64_at(&k, m + sc::RIP as u64),
        RIP - 2,
        "back on the SYSCALL instruction"
    );
    assert_eq!(u64_at(&k, m + sc::RAX as u64), 0, "with read's number");
}

#[test]
fn without_sa_restart_an_interrupted_read_fails_with_eintr() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    let mut r = block_in_pipe_read(&mut p, &mut k);
    let _other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    finish_interrupted_call(&mut p, &mut k, &mut r);
    deliver(&mut p, &mut k, &mut r);
    let m = r.rdx + uc::MCONTEXT as u64;
    assert_eq!(u64_at(&k, m + sc::RIP as u64), RIP);
    assert_eq!(u64_at(&k, m + sc::RAX as u64) as i64, -4, "EINTR");
}

#[test]
fn an_interrupted_call_with_no_handler_left_runs_again() {
    // The handler was replaced by SIG_IGN before the thread took the signal: nothing runs,
    // so the read restarts, invisibly.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    let mut r = block_in_pipe_read(&mut p, &mut k);
    let mut other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    assert_eq!(sigaction(&mut other, &mut k, SIGUSR1, 1, 0, 0), 0);
    finish_interrupted_call(&mut p, &mut k, &mut r);
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!((r.rip, r.rax), (RIP - 2, 0));
}

#[test]
fn nanosleep_and_poll_fail_with_eintr_even_with_sa_restart() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, SA_RESTART);
    k.poke(
        SCRATCH,
        &[&5u64.to_le_bytes()[..], &0u64.to_le_bytes()[..]].concat(),
    );
    let mut r = crate::tests::fake::regs(SYS_nanosleep, &[SCRATCH, SCRATCH + 16]);
    r.rip = RIP;
    r.rsp = STACK_TOP - 0x1000;
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let _other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    assert_eq!(finish_interrupted_call(&mut p, &mut k, &mut r) as i64, -4);
    assert_eq!(u64_at(&k, SCRATCH + 16), 5, "the time left");
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(u64_at(&k, r.rdx + (uc::MCONTEXT + sc::RIP) as u64), RIP);
}

#[test]
fn signals_that_are_ignored_or_blocked_do_not_interrupt_a_wait() {
    let (mut p, mut k) = setup_stack();
    assert_eq!(sigaction(&mut p, &mut k, SIGUSR1, 1, 0, 0), 0); // SIG_IGN
    set_mask(&mut p, &mut k, bit(SIGUSR2));
    block_in_pipe_read(&mut p, &mut k);
    let token = p.thread.begin_wait();
    let other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    let mut other = other;
    assert_eq!(sys(&mut other, &mut k, SYS_tgkill, &[1, 1, SIGUSR2]), 0);
    assert_eq!(sys(&mut other, &mut k, SYS_tgkill, &[1, 1, SIGCHLD]), 0); // ignored by default
    assert!(p.thread.is_waiting(token), "still waiting");
    // The blocked one is pending; the ignored ones were thrown away.
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigpending, &[SCRATCH + 128, 8]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH + 128), bit(SIGUSR2));
}

#[test]
fn a_signal_sent_just_before_a_wait_begins_still_interrupts_it() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    // Pending and flagged while the thread is in the kernel, before its read starts waiting:
    // there was no wait for the sender to interrupt.
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = block_in_pipe_read(&mut p, &mut k);
    // The wait is over as soon as it begins: the kernel's park finds it ended.
    assert_eq!(
        finish_interrupted_call(&mut p, &mut k, &mut r),
        (-512i64) as u64
    );
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(r.rip, HANDLER);
}

#[test]
fn pause_waits_and_a_handled_signal_ends_it_with_eintr() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, SA_RESTART);
    let mut r = crate::tests::fake::regs(SYS_pause, &[]);
    r.rip = RIP;
    r.rsp = STACK_TOP - 0x1000;
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let _other = tgkill_from_other_thread(&p, &mut k, SIGUSR1);
    finish_interrupted_call(&mut p, &mut k, &mut r);
    deliver(&mut p, &mut k, &mut r);
    let m = r.rdx + uc::MCONTEXT as u64;
    assert_eq!(
        u64_at(&k, m + sc::RAX as u64) as i64,
        -4,
        "EINTR despite SA_RESTART"
    );
    assert_eq!(u64_at(&k, m + sc::RIP as u64), RIP);
}

#[test]
fn sigsuspend_runs_the_handler_with_its_mask_and_restores_the_old_one_after() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(SIGHUP));
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    k.poke(SCRATCH, &bit(SIGINT).to_le_bytes());
    let mut r = crate::tests::fake::regs(SYS_rt_sigsuspend, &[SCRATCH, 8]);
    r.rip = RIP;
    r.rsp = STACK_TOP - 0x1000;
    let Outcome::Return(v) = dispatch(&mut p, &mut k, &mut r) else {
        panic!("SIGUSR1 is pending once unblocked");
    };
    r.rax = v;
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(r.rip, HANDLER);
    let ucx = r.rdx;
    assert_eq!(
        u64_at(&k, ucx + uc::SIGMASK as u64),
        bit(SIGUSR1) | bit(SIGHUP),
        "sigreturn puts back the mask from before sigsuspend"
    );
    assert_eq!(
        mask_of(&p),
        bit(SIGINT) | bit(SIGUSR1),
        "the handler runs with sigsuspend's"
    );
    assert_eq!(u64_at(&k, ucx + (uc::MCONTEXT + sc::RAX) as u64) as i64, -4);
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(mask_of(&p), bit(SIGUSR1) | bit(SIGHUP));
    // Errors.
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigsuspend, &[SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigsuspend, &[8, 8]),
        err(Errno::EFAULT)
    );
}

#[test]
fn default_actions_kill_with_128_plus_the_signal() {
    for (sig, status) in [
        (SIGTERM, 143),
        (SIGINT, 130),
        (SIGALRM, 142),
        (SIGUSR1, 138),
    ] {
        let (mut p, mut k) = setup_stack();
        assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, sig]), 0);
        let mut r = user_regs(0);
        assert_eq!(deliver(&mut p, &mut k, &mut r), Some(status));
        assert!(
            k.log.iter().any(|l| l.contains("program killed by")),
            "{:?}",
            k.log
        );
    }
    // abort(): SIGABRT by tgkill, 134; SIGKILL wins over a handled signal pending with it.
    let (mut p, mut k) = setup_stack();
    assert_eq!(sys(&mut p, &mut k, SYS_tgkill, &[1, 1, 6]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), Some(134));
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGHUP, 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGHUP]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGKILL]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), Some(137));
    // Ignored by default, or by SIG_IGN, or blocked: nothing happens.
    let (mut p, mut k) = setup_stack();
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGCHLD]), 0);
    assert_eq!(sigaction(&mut p, &mut k, SIGTERM, 1, 0, 0), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGTERM]), 0);
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    assert_eq!(sys(&mut p, &mut k, SYS_tkill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(r, user_regs(0));
    // Unblocking it delivers it, on the way out of rt_sigprocmask.
    set_mask(&mut p, &mut k, 0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(138));
    // A stop signal without job control is ignored, with a log line.
    let (mut p, mut k) = setup_stack();
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGTSTP]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), None);
    assert!(k.log.iter().any(|l| l.contains("SIGTSTP")), "{:?}", k.log);
}

#[test]
fn sigpipe_from_a_write_kills_or_runs_its_handler() {
    let write_to_closed_pipe = |p: &mut Current, k: &mut Fake| {
        assert_eq!(sys(p, k, SYS_pipe, &[SCRATCH]), 0);
        let (rfd, wfd) = (u32_at(k, SCRATCH) as u64, u32_at(k, SCRATCH + 4) as u64);
        assert_eq!(sys(p, k, SYS_close, &[rfd]), 0);
        assert_eq!(sys(p, k, SYS_write, &[wfd, SCRATCH, 1]), err(Errno::EPIPE));
    };
    let (mut p, mut k) = setup_stack();
    write_to_closed_pipe(&mut p, &mut k);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), Some(128 + 13));
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGPIPE, 0);
    write_to_closed_pipe(&mut p, &mut k);
    let mut r = user_regs((-32i64) as u64);
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!((r.rip, r.rdi), (HANDLER, SIGPIPE));
    assert_eq!(
        u64_at(&k, r.rdx + (uc::MCONTEXT + sc::RAX) as u64) as i64,
        -32
    );
}

#[test]
fn resethand_and_nodefer() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, SA_RESETHAND | SA_NODEFER);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(r.rip, HANDLER);
    assert_eq!(
        mask_of(&p),
        0,
        "SA_NODEFER: the signal is not blocked in its handler"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[SIGUSR1, 0, SCRATCH, 8]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH), 0, "SA_RESETHAND: back to SIG_DFL");
    // A second one now kills.
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(138));
}

#[test]
fn several_pending_signals_nest_their_frames() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    handle(&mut p, &mut k, SIGUSR2, 0);
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(SIGUSR2));
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR2]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    set_mask(&mut p, &mut k, 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    // SIGUSR1 (the lower) was taken first, then SIGUSR2 on top of its frame: SIGUSR2's
    // handler runs first and returns into SIGUSR1's.
    assert_eq!(r.rdi, SIGUSR2);
    let inner = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::RIP) as u64);
    assert_eq!(inner, HANDLER);
    assert_eq!(u64_at(&k, r.rdx + (uc::MCONTEXT + sc::RDI) as u64), SIGUSR1);
}

#[test]
fn standard_signals_merge_and_real_time_ones_queue_in_order() {
    let (mut p, mut k) = setup_stack();
    let rt = 40u64;
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(rt));
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    for value in [11u64, 22, 33] {
        let mut info = [0u8; 128];
        info[8..12].copy_from_slice(&(-1i32).to_le_bytes()); // SI_QUEUE
        info[16..20].copy_from_slice(&1u32.to_le_bytes());
        info[24..32].copy_from_slice(&value.to_le_bytes());
        k.poke(SCRATCH + 0x400, &info);
        assert_eq!(
            sys(
                &mut p,
                &mut k,
                SYS_rt_sigqueueinfo,
                &[1, rt, SCRATCH + 0x400]
            ),
            0
        );
    }
    // sigtimedwait with a zero timeout takes them: one SIGUSR1, then the three values.
    k.poke(SCRATCH, &(bit(SIGUSR1) | bit(rt)).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    let mut got = std::vec::Vec::new();
    loop {
        let s = sys(
            &mut p,
            &mut k,
            SYS_rt_sigtimedwait,
            &[SCRATCH, SCRATCH + 0x200, SCRATCH + 8, 8],
        );
        if s < 0 {
            assert_eq!(s, err(Errno::EAGAIN));
            break;
        }
        let code = u32_at(&k, SCRATCH + 0x208) as i32;
        got.push((s as u64, code, u64_at(&k, SCRATCH + 0x218)));
    }
    assert_eq!(
        got,
        [(SIGUSR1, 0, 0), (rt, -1, 11), (rt, -1, 22), (rt, -1, 33)]
    );
    assert_eq!(mask_of(&p), bit(SIGUSR1) | bit(rt), "the mask is unchanged");
}

#[test]
fn sigtimedwait_waits_with_a_timeout_and_is_woken_by_its_signal() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    k.poke(
        SCRATCH + 8,
        &[&2u64.to_le_bytes()[..], &0u64.to_le_bytes()[..]].concat(),
    );
    let mut r = crate::tests::fake::regs(SYS_rt_sigtimedwait, &[SCRATCH, 0, SCRATCH + 8, 8]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), Some(2_000_000_000));
    // While it waits SIGUSR1 is unblocked for it: a process-directed SIGUSR1 picks it.
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    set_mask(&mut other, &mut k, bit(SIGUSR1));
    assert_eq!(sys(&mut other, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let why = p.thread.finish_wait().expect("woken");
    assert_eq!(
        resume(&mut p, &mut k, &mut r, why),
        Outcome::Return(SIGUSR1)
    );
    assert_eq!(mask_of(&p), bit(SIGUSR1), "the real mask is back");
    // Timing out: EAGAIN.
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    p.sys.sched.expire(u64::MAX / 2);
    let why = p.thread.finish_wait().expect("timed out");
    assert_eq!(why, Wake::TimedOut);
    k.now = 3_000_000_000;
    assert_eq!(
        resume(&mut p, &mut k, &mut r, why),
        Outcome::Return(err(Errno::EAGAIN) as u64)
    );
    assert_eq!(mask_of(&p), bit(SIGUSR1));
}

#[test]
fn a_process_signal_goes_to_a_thread_that_does_not_block_it() {
    let (mut p, mut k) = setup_stack();
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    set_mask(&mut other, &mut k, 0);
    handle(&mut p, &mut k, SIGUSR1, 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert!(other.thread.sig.flagged());
    assert!(!p.thread.sig.flagged());
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), None);
    let mut r = user_regs(0);
    deliver(&mut other, &mut k, &mut r);
    assert_eq!(r.rip, HANDLER);
    // Nobody takes it while everyone blocks it; unblocking it flags the thread.
    set_mask(&mut other, &mut k, bit(SIGUSR1));
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    deliver(&mut other, &mut k, &mut user_regs(0));
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert!(!other.thread.sig.flagged() && !p.thread.sig.flagged());
    set_mask(&mut p, &mut k, 0);
    assert!(p.thread.sig.flagged());
}

#[test]
fn a_thread_that_blocks_a_process_signal_hands_it_to_another() {
    let (mut p, mut k) = setup_stack();
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    handle(&mut p, &mut k, SIGUSR1, 0);
    // Picked: the main thread. It blocks the signal before taking it...
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert!(p.thread.sig.flagged() && !other.thread.sig.flagged());
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    // ...so the other thread gets it.
    assert!(other.thread.sig.flagged());
    let mut r = user_regs(0);
    deliver(&mut other, &mut k, &mut r);
    assert_eq!((r.rip, r.rdi), (HANDLER, SIGUSR1));
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), None);
}

#[test]
fn procmask_pending_and_sigaction_rules() {
    let (mut p, mut k) = setup_stack();
    // SIGKILL and SIGSTOP cannot be blocked.
    set_mask(&mut p, &mut k, u64::MAX);
    assert_eq!(mask_of(&p), !(bit(9) | bit(19)));
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigprocmask, &[0, 0, SCRATCH, 8]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH), !(bit(9) | bit(19)));
    // SIG_UNBLOCK, and `how` only matters with a set.
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigprocmask, &[1, SCRATCH, 0, 8]),
        0
    );
    assert_eq!(mask_of(&p) & bit(SIGUSR1), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_rt_sigprocmask, &[9, 0, 0, 8]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigprocmask, &[9, SCRATCH, 0, 8]),
        err(Errno::EINVAL)
    );
    // rt_sigpending: the blocked pending signals; sizes above 8 are EINVAL, smaller ones
    // copy that many bytes.
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGTERM]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigpending, &[SCRATCH, 16]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &[0xff; 8]);
    assert_eq!(sys(&mut p, &mut k, SYS_rt_sigpending, &[SCRATCH, 2]), 0);
    assert_eq!(
        k.peek(SCRATCH, 8),
        [0x00, 0x40, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
    // sigaction: unknown flags are dropped (SA_UNSUPPORTED probes for that), sa_mask loses
    // SIGKILL and SIGSTOP.
    assert_eq!(
        sigaction(
            &mut p,
            &mut k,
            SIGUSR2,
            HANDLER,
            0x400 | SA_SIGINFO,
            u64::MAX
        ),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[SIGUSR2, 0, SCRATCH, 8]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH + 8), SA_SIGINFO);
    assert_eq!(u64_at(&k, SCRATCH + 24), !(bit(9) | bit(19)));
    // Setting SIG_IGN discards the pending signal, even blocked.
    assert_eq!(sigaction(&mut p, &mut k, SIGTERM, 1, 0, 0), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_rt_sigpending, &[SCRATCH, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH), 0);
}

#[test]
fn signal_argument_errors() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, &[0u8; 32]);
    let e = |r| err(r);
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[9, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    ); // SIGKILL
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[19, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    ); // SIGSTOP
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[9, 0, SCRATCH, 8]),
        0,
        "reading SIGKILL's is fine"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[65, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[0, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[2, SCRATCH, 0, 4]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[2, 8, 0, 8]),
        e(Errno::EFAULT)
    );
    // The action is read before the number is checked.
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[9, 8, 0, 8]),
        e(Errno::EFAULT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigprocmask, &[7, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigprocmask, &[0, SCRATCH, 0, 16]),
        e(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[5, 15]), e(Errno::ESRCH));
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, 99]), e(Errno::EINVAL));
    assert_eq!(
        sys(&mut p, &mut k, SYS_kill, &[1, 0]),
        0,
        "signal 0 checks the process exists"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_kill, &[(-1i64) as u64, 15]),
        e(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_kill, &[(-1i64) as u64, 0]),
        e(Errno::ESRCH)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[0, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_kill, &[(-2i64) as u64, 0]),
        e(Errno::ESRCH)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_tkill, &[0, 10]), e(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, SYS_tkill, &[77, 10]), e(Errno::ESRCH));
    assert_eq!(
        sys(&mut p, &mut k, SYS_tgkill, &[1, 0, 10]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_tgkill, &[2, 1, 10]),
        e(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_tgkill, &[1, 77, 99]),
        e(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_tgkill, &[1, 1, 99]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_restart_syscall, &[]),
        e(Errno::EINTR)
    );
}

#[test]
fn sigqueueinfo_checks_who_may_claim_what() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    let mut info = [0u8; 128];
    info[8..12].copy_from_slice(&0i32.to_le_bytes()); // SI_USER
    k.poke(SCRATCH + 0x400, &info);
    // The main thread signalling its own process may say anything...
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, SIGUSR1, SCRATCH + 0x400]
        ),
        0
    );
    // ...another thread may not pretend to be kill().
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(
        sys(
            &mut other,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, SIGUSR1, SCRATCH + 0x400]
        ),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(
            &mut other,
            &mut k,
            SYS_rt_tgsigqueueinfo,
            &[1, 1, SIGUSR1, SCRATCH + 0x400]
        ),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(
            &mut other,
            &mut k,
            SYS_rt_tgsigqueueinfo,
            &[1, tid.into(), SIGUSR1, SCRATCH + 0x400]
        ),
        0,
        "a thread signalling itself may"
    );
    // Unknown codes must leave the tail zero; bad pointers are EFAULT; bad targets ESRCH.
    info[8..12].copy_from_slice(&(-1i32).to_le_bytes());
    info[100] = 1;
    k.poke(SCRATCH + 0x400, &info);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, SIGUSR1, SCRATCH + 0x400]
        ),
        0,
        "SI_QUEUE is known"
    );
    info[8..12].copy_from_slice(&(-30i32).to_le_bytes());
    k.poke(SCRATCH + 0x400, &info);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, SIGUSR1, SCRATCH + 0x400]
        ),
        err(Errno::E2BIG)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigqueueinfo, &[1, SIGUSR1, 8]),
        err(Errno::EFAULT)
    );
    info[100] = 0;
    k.poke(SCRATCH + 0x400, &info);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[7, SIGUSR1, SCRATCH + 0x400]
        ),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, 99, SCRATCH + 0x400]
        ),
        err(Errno::EINVAL)
    );
}

#[test]
fn real_time_signals_past_the_queue_limit_are_refused_for_sigqueue() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(40));
    let mut info = [0u8; 128];
    info[8..12].copy_from_slice(&(-1i32).to_le_bytes());
    k.poke(SCRATCH + 0x400, &info);
    let mut n = 0;
    let last = loop {
        let r = sys(
            &mut p,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[1, 40, SCRATCH + 0x400],
        );
        if r != 0 || n > 1 << 17 {
            break r;
        }
        n += 1;
    };
    assert_eq!(last, err(Errno::EAGAIN));
    assert!(n >= 1000, "a generous queue first ({n})");
}
