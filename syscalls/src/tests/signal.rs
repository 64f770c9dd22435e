//! Signals: actions and masks, generation and queueing, the x86_64 frame and rt_sigreturn,
//! restarts of interrupted calls, the alternate stack, faults, timers and signalfd.
//!
//! Expected layouts come from Linux's and glibc's headers (the REG_* indices of
//! `ucontext.h`, `struct rt_sigframe`, `struct _fpx_sw_bytes`), not from this code.

use super::fake::*;
use coracle_vfs::{Wake, Waker};

use crate::signal::frame::{sc, uc, FRAME_INFO, FRAME_SIZE, FRAME_UC};
use crate::signal::{deliver, force_fault, user_exception, Fault};
use crate::{dispatch, resume, Errno, FpuLayout, Outcome, Process, UserRegs};
use crate::{TRAP_SIGRETURN, TRAP_SYSCALL};

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

fn setup_stack() -> (Process, Fake) {
    let (p, mut k) = setup();
    k.map(STACK_TOP - STACK_SIZE, STACK_SIZE, RW);
    k.map(ALT, ALT_SIZE, RW);
    (p, k)
}

/// Installs an action for `sig` through rt_sigaction.
fn sigaction(p: &mut Process, k: &mut Fake, sig: u64, handler: u64, flags: u64, mask: u64) -> i64 {
    let mut act = [0u8; 32];
    act[..8].copy_from_slice(&handler.to_le_bytes());
    act[8..16].copy_from_slice(&flags.to_le_bytes());
    act[16..24].copy_from_slice(&RESTORER.to_le_bytes());
    act[24..].copy_from_slice(&mask.to_le_bytes());
    k.poke(SCRATCH + 0x800, &act);
    sys(p, k, 13, &[sig, SCRATCH + 0x800, 0, 8])
}

fn handle(p: &mut Process, k: &mut Fake, sig: u64, flags: u64) {
    assert_eq!(
        sigaction(p, k, sig, HANDLER, flags | SA_SIGINFO | SA_RESTORER, 0),
        0
    );
}

fn set_mask(p: &mut Process, k: &mut Fake, mask: u64) {
    k.poke(SCRATCH + 0x900, &mask.to_le_bytes());
    assert_eq!(sys(p, k, 14, &[2, SCRATCH + 0x900, 0, 8]), 0);
}

fn mask_of(p: &Process) -> u64 {
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

#[test]
fn sigcontext_and_frame_offsets_are_linuxs() {
    // glibc's REG_* indices into uc_mcontext.gregs, 8 bytes each.
    let greg = |i: usize| i * 8;
    assert_eq!(sc::R8, greg(0));
    assert_eq!(sc::R9, greg(1));
    assert_eq!(sc::R10, greg(2));
    assert_eq!(sc::R11, greg(3));
    assert_eq!(sc::R12, greg(4));
    assert_eq!(sc::R13, greg(5));
    assert_eq!(sc::R14, greg(6));
    assert_eq!(sc::R15, greg(7));
    assert_eq!(sc::RDI, greg(8));
    assert_eq!(sc::RSI, greg(9));
    assert_eq!(sc::RBP, greg(10));
    assert_eq!(sc::RBX, greg(11));
    assert_eq!(sc::RDX, greg(12));
    assert_eq!(sc::RAX, greg(13));
    assert_eq!(sc::RCX, greg(14));
    assert_eq!(sc::RSP, greg(15));
    assert_eq!(sc::RIP, greg(16));
    assert_eq!(sc::EFLAGS, greg(17));
    assert_eq!(sc::CS, greg(18)); // REG_CSGSFS: cs, gs, fs, ss as four u16
    assert_eq!(
        (sc::GS, sc::FS, sc::SS),
        (greg(18) + 2, greg(18) + 4, greg(18) + 6)
    );
    assert_eq!(sc::ERR, greg(19));
    assert_eq!(sc::TRAPNO, greg(20));
    assert_eq!(sc::OLDMASK, greg(21));
    assert_eq!(sc::CR2, greg(22));
    assert_eq!(sc::FPSTATE, greg(23)); // mcontext_t.fpregs follows the 23 gregs
    assert_eq!(sc::SIZE, 256);
    // ucontext: flags, link, stack_t (24 bytes), mcontext, then the kernel's 8-byte mask.
    assert_eq!(
        (uc::FLAGS, uc::LINK, uc::STACK, uc::MCONTEXT),
        (0, 8, 16, 40)
    );
    assert_eq!((uc::SIGMASK, uc::SIZE), (296, 304));
    // rt_sigframe: pretcode, ucontext, siginfo (128 bytes).
    assert_eq!((FRAME_UC, FRAME_INFO, FRAME_SIZE), (8, 312, 440));
}

#[test]
fn a_handler_frame_holds_the_interrupted_state() {
    let (mut p, mut k) = setup_stack();
    assert_eq!(
        sigaction(
            &mut p,
            &mut k,
            SIGUSR1,
            HANDLER,
            SA_SIGINFO | SA_RESTORER,
            bit(SIGUSR2)
        ),
        0
    );
    set_mask(&mut p, &mut k, bit(SIGHUP));
    dirty_fpu(&mut k);
    let fp_before = k.fpu.bytes;
    // kill(getpid(), SIGUSR1) returns 0; the handler runs on the way back to user mode.
    let mut r = crate::tests::fake::regs(62, &[1, SIGUSR1]);
    r.rip = RIP;
    r.rsp = STACK_TOP - 0x1000 - 8;
    r.rbx = 0xb0b0;
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Return(0));
    r.rax = 0;
    let before = r;
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);

    let frame = r.rsp;
    assert_eq!(
        frame % 16,
        8,
        "rsp is 8 mod 16 at the handler's entry, as after a call"
    );
    assert!(frame + FRAME_SIZE <= before.rsp - 128, "below the red zone");
    assert_eq!(r.rip, HANDLER);
    assert_eq!(
        (r.rdi, r.rsi, r.rdx, r.rax),
        (SIGUSR1, frame + 312, frame + 8, 0)
    );
    assert_eq!(
        u64_at(&k, frame),
        RESTORER,
        "the return address is sa_restorer"
    );
    let ucx = frame + 8;
    assert_eq!(
        u64_at(&k, ucx + uc::FLAGS as u64),
        7,
        "UC_FP_XSTATE|SIGCONTEXT_SS|STRICT_RESTORE_SS"
    );
    assert_eq!(u64_at(&k, ucx + uc::LINK as u64), 0);
    assert_eq!(
        u64_at(&k, ucx + uc::SIGMASK as u64),
        bit(SIGHUP),
        "the mask to restore"
    );
    let m = ucx + uc::MCONTEXT as u64;
    for (off, want) in [
        (sc::R8, before.r8),
        (sc::R15, before.r15),
        (sc::RDI, before.rdi),
        (sc::RSI, before.rsi),
        (sc::RBX, 0xb0b0),
        (sc::RAX, 0),
        (sc::RSP, before.rsp),
        (sc::RIP, RIP),
        (sc::EFLAGS, before.rflags),
        (sc::OLDMASK, bit(SIGHUP)),
    ] {
        assert_eq!(u64_at(&k, m + off as u64), want, "sigcontext offset {off}");
    }
    assert_eq!(k.peek(m + sc::CS as u64, 8), [0x33, 0, 0, 0, 0, 0, 0x2b, 0]);
    // siginfo: SIGUSR1 from pid 1, SI_USER.
    let info = k.peek(frame + 312, 128);
    assert_eq!(u32::from_le_bytes(info[0..4].try_into().unwrap()), 10);
    assert_eq!(i32::from_le_bytes(info[8..12].try_into().unwrap()), 0);
    assert_eq!(
        u32::from_le_bytes(info[16..20].try_into().unwrap()),
        1,
        "si_pid"
    );
    assert!(info[48..].iter().all(|&b| b == 0));
    // FP state: 64-byte aligned above the frame, an XSAVE image with its markers.
    let fp = u64_at(&k, m + sc::FPSTATE as u64);
    assert_eq!(fp % 64, 0);
    assert!(fp >= frame + FRAME_SIZE && fp + 836 <= before.rsp - 128);
    assert_eq!(u32_at(&k, fp + 464), 0x4650_5853, "FP_XSTATE_MAGIC1");
    assert_eq!(u32_at(&k, fp + 468), 836, "extended_size");
    assert_eq!(u64_at(&k, fp + 472), 7, "xfeatures");
    assert_eq!(u32_at(&k, fp + 480), 832, "xstate_size");
    assert_eq!(
        u32_at(&k, fp + 832),
        0x4650_5845,
        "FP_XSTATE_MAGIC2 after the image"
    );
    assert_eq!(u64_at(&k, fp + 512) & 3, 3, "FP and SSE marked present");
    assert_eq!(
        k.peek(fp + 160, 256),
        fp_before[160..416].to_vec(),
        "the XMM registers"
    );
    // The handler runs with clean FP registers and old | sa_mask | the signal blocked.
    assert_eq!(k.fpu.bytes[160..416], [0u8; 256]);
    assert_eq!(mask_of(&p), bit(SIGHUP) | bit(SIGUSR2) | bit(SIGUSR1));
}

#[test]
fn rt_sigreturn_restores_registers_fp_state_and_mask() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    dirty_fpu(&mut k);
    let fp_before = k.fpu.bytes;
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0x1234);
    r.trap = 3; // interrupted in user code by a trap, not a system call
    let before = r;
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(mask_of(&p), bit(SIGUSR1));
    // The handler moves on: it scribbles on the registers and FP state, then returns into
    // the restorer, which calls rt_sigreturn with rsp just above the return address.
    k.fpu.bytes[200] ^= 0xff;
    let mut h = r;
    h.rsp = r.rsp + 8;
    h.rax = 15;
    h.rbx = 0xdead;
    h.trap = TRAP_SYSCALL;
    assert_eq!(dispatch(&mut p, &mut k, &mut h), Outcome::Return(0x1234));
    h.rax = 0x1234;
    let mut want = before;
    want.trap = TRAP_SIGRETURN;
    assert_eq!(h, want);
    assert_eq!(k.fpu.bytes[..832], fp_before[..832], "FP state restored");
    assert_eq!(mask_of(&p), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut h), None);
    assert_eq!(h, want, "nothing restarts after sigreturn");
}

#[test]
fn a_handler_can_change_the_registers_sigreturn_restores() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let m = r.rdx + uc::MCONTEXT as u64;
    k.poke(m + sc::RIP as u64, &0x40_9000u64.to_le_bytes());
    k.poke(m + sc::EFLAGS as u64, &0xffff_ffffu64.to_le_bytes());
    // The handler blocks SIGUSR2 for after its return through uc_sigmask.
    k.poke(
        r.rdx + uc::SIGMASK as u64,
        &(bit(SIGUSR2) | bit(SIGKILL)).to_le_bytes(),
    );
    r.rsp += 8;
    r.rax = 15;
    let Outcome::Return(_) = dispatch(&mut p, &mut k, &mut r) else {
        panic!("rt_sigreturn returns");
    };
    assert_eq!(r.rip, 0x40_9000);
    // Only the flags user code may set come back (FIX_EFLAGS), never IF or IOPL.
    assert_eq!(r.rflags & 0x3200, 0x0200);
    assert_eq!(r.rflags & 0xcd5, 0xcd5);
    assert_eq!(mask_of(&p), bit(SIGUSR2), "SIGKILL cannot be blocked");
}

#[test]
fn a_corrupt_frame_kills_with_sigsegv() {
    // An unreadable frame.
    let (mut p, mut k) = setup_stack();
    let mut r = user_regs(15);
    r.rsp = 0x9000_0000;
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Return(0));
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(128 + 11));

    // An XSAVE header XRSTOR would fault on.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 520, &1u64.to_le_bytes()); // XCOMP_BV
    r.rsp += 8;
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(139));

    // A reserved MXCSR bit.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 24, &0x0001_1f80u32.to_le_bytes());
    r.rsp += 8;
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(139));
}

#[test]
fn a_bad_frame_goes_to_a_sigsegv_handler_if_there_is_one() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGSEGV, 0);
    let mut r = user_regs(15);
    r.rsp = STACK_TOP - 8; // the "frame" runs past the end of the stack
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Return(0));
    r.rax = 0;
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(r.rip, HANDLER);
    assert_eq!(r.rdi, SIGSEGV);
    let info = k.peek(r.rsi, 16);
    assert_eq!(
        i32::from_le_bytes(info[8..12].try_into().unwrap()),
        0x80,
        "SI_KERNEL"
    );
}

#[test]
fn without_the_xsave_markers_only_the_legacy_state_comes_back() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    dirty_fpu(&mut k);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 464, &0u32.to_le_bytes()); // no MAGIC1
    r.rsp += 8;
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(
        k.fpu.bytes[200],
        (200 * 7) as u8,
        "XMM registers from the legacy part"
    );
    assert_eq!(k.fpu.bytes[512], 3, "only FP and SSE present");
    assert!(
        k.fpu.bytes[576..832].iter().all(|&b| b == 0),
        "AVX initialised"
    );
}

#[test]
fn fxsave_machines_get_a_plain_fxsave_frame() {
    let (mut p, mut k) = setup_stack();
    k.fpu_layout = Some(FpuLayout::FXSAVE);
    handle(&mut p, &mut k, SIGUSR1, 0);
    dirty_fpu(&mut k);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    let old_sp = r.rsp;
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(u64_at(&k, r.rdx), 6, "no UC_FP_XSTATE");
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    assert!(fp + 512 <= old_sp - 128);
    assert_ne!(u32_at(&k, fp + 464), 0x4650_5853);
    k.fpu.bytes[170] = 0;
    r.rsp += 8;
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(k.fpu.bytes[170], (170 * 7) as u8);
}

/// Blocks thread `p` in a read of an empty pipe; returns the registers of that call.
fn block_in_pipe_read(p: &mut Process, k: &mut Fake) -> UserRegs {
    assert_eq!(sys(p, k, 22, &[SCRATCH]), 0);
    let rfd = u32_at(k, SCRATCH) as u64;
    let mut r = user_regs(0);
    let call = crate::tests::fake::regs(0, &[rfd, SCRATCH + 64, 8]);
    (r.rax, r.rdi, r.rsi, r.rdx) = (call.rax, call.rdi, call.rsi, call.rdx);
    assert_eq!(dispatch(p, k, &mut r), Outcome::Wait);
    r
}

/// Another thread of `p`'s process sends `sig` to `p`'s thread with tgkill.
fn tgkill_from_other_thread(p: &Process, k: &mut Fake, sig: u64) -> Process {
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(sys(&mut other, k, 234, &[1, u64::from(p.tid), sig]), 0);
    other
}

/// The interrupted thread runs again: the call ends, and the kernel puts its value in rax.
fn finish_interrupted_call(p: &mut Process, k: &mut Fake, r: &mut UserRegs) -> u64 {
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
    let mut r = crate::tests::fake::regs(35, &[SCRATCH, SCRATCH + 16]);
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
    assert_eq!(sys(&mut other, &mut k, 234, &[1, 1, SIGUSR2]), 0);
    assert_eq!(sys(&mut other, &mut k, 234, &[1, 1, SIGCHLD]), 0); // ignored by default
    assert!(p.thread.is_waiting(token), "still waiting");
    // The blocked one is pending; the ignored ones were thrown away.
    assert_eq!(sys(&mut p, &mut k, 127, &[SCRATCH + 128, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH + 128), bit(SIGUSR2));
}

#[test]
fn a_signal_sent_just_before_a_wait_begins_still_interrupts_it() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    // Pending and flagged while the thread is in the kernel, before its read starts waiting:
    // there was no wait for the sender to interrupt.
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
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
    let mut r = crate::tests::fake::regs(34, &[]);
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    k.poke(SCRATCH, &bit(SIGINT).to_le_bytes());
    let mut r = crate::tests::fake::regs(130, &[SCRATCH, 8]);
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
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(mask_of(&p), bit(SIGUSR1) | bit(SIGHUP));
    // Errors.
    assert_eq!(sys(&mut p, &mut k, 130, &[SCRATCH, 4]), err(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, 130, &[8, 8]), err(Errno::EFAULT));
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
        assert_eq!(sys(&mut p, &mut k, 62, &[1, sig]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 234, &[1, 1, 6]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), Some(134));
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGHUP, 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGHUP]), 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGKILL]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), Some(137));
    // Ignored by default, or by SIG_IGN, or blocked: nothing happens.
    let (mut p, mut k) = setup_stack();
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGCHLD]), 0);
    assert_eq!(sigaction(&mut p, &mut k, SIGTERM, 1, 0, 0), 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGTERM]), 0);
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    assert_eq!(sys(&mut p, &mut k, 200, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(r, user_regs(0));
    // Unblocking it delivers it, on the way out of rt_sigprocmask.
    set_mask(&mut p, &mut k, 0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(138));
    // A stop signal without job control is ignored, with a log line.
    let (mut p, mut k) = setup_stack();
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGTSTP]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut user_regs(0)), None);
    assert!(k.log.iter().any(|l| l.contains("SIGTSTP")), "{:?}", k.log);
}

#[test]
fn sigpipe_from_a_write_kills_or_runs_its_handler() {
    let write_to_closed_pipe = |p: &mut Process, k: &mut Fake| {
        assert_eq!(sys(p, k, 22, &[SCRATCH]), 0);
        let (rfd, wfd) = (u32_at(k, SCRATCH) as u64, u32_at(k, SCRATCH + 4) as u64);
        assert_eq!(sys(p, k, 3, &[rfd]), 0);
        assert_eq!(sys(p, k, 1, &[wfd, SCRATCH, 1]), err(Errno::EPIPE));
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(r.rip, HANDLER);
    assert_eq!(
        mask_of(&p),
        0,
        "SA_NODEFER: the signal is not blocked in its handler"
    );
    assert_eq!(sys(&mut p, &mut k, 13, &[SIGUSR1, 0, SCRATCH, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH), 0, "SA_RESETHAND: back to SIG_DFL");
    // A second one now kills.
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(138));
}

#[test]
fn several_pending_signals_nest_their_frames() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    handle(&mut p, &mut k, SIGUSR2, 0);
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(SIGUSR2));
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR2]), 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    for value in [11u64, 22, 33] {
        let mut info = [0u8; 128];
        info[8..12].copy_from_slice(&(-1i32).to_le_bytes()); // SI_QUEUE
        info[16..20].copy_from_slice(&1u32.to_le_bytes());
        info[24..32].copy_from_slice(&value.to_le_bytes());
        k.poke(SCRATCH + 0x400, &info);
        assert_eq!(sys(&mut p, &mut k, 129, &[1, rt, SCRATCH + 0x400]), 0);
    }
    // sigtimedwait with a zero timeout takes them: one SIGUSR1, then the three values.
    k.poke(SCRATCH, &(bit(SIGUSR1) | bit(rt)).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    let mut got = std::vec::Vec::new();
    loop {
        let s = sys(
            &mut p,
            &mut k,
            128,
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
    let mut r = crate::tests::fake::regs(128, &[SCRATCH, 0, SCRATCH + 8, 8]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), Some(2_000_000_000));
    // While it waits SIGUSR1 is unblocked for it: a process-directed SIGUSR1 picks it.
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    set_mask(&mut other, &mut k, bit(SIGUSR1));
    assert_eq!(sys(&mut other, &mut k, 62, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 14, &[0, 0, SCRATCH, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH), !(bit(9) | bit(19)));
    // SIG_UNBLOCK, and `how` only matters with a set.
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, 14, &[1, SCRATCH, 0, 8]), 0);
    assert_eq!(mask_of(&p) & bit(SIGUSR1), 0);
    assert_eq!(sys(&mut p, &mut k, 14, &[9, 0, 0, 8]), 0);
    assert_eq!(
        sys(&mut p, &mut k, 14, &[9, SCRATCH, 0, 8]),
        err(Errno::EINVAL)
    );
    // rt_sigpending: the blocked pending signals; sizes above 8 are EINVAL, smaller ones
    // copy that many bytes.
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGTERM]), 0);
    assert_eq!(sys(&mut p, &mut k, 127, &[SCRATCH, 16]), err(Errno::EINVAL));
    k.poke(SCRATCH, &[0xff; 8]);
    assert_eq!(sys(&mut p, &mut k, 127, &[SCRATCH, 2]), 0);
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
    assert_eq!(sys(&mut p, &mut k, 13, &[SIGUSR2, 0, SCRATCH, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH + 8), SA_SIGINFO);
    assert_eq!(u64_at(&k, SCRATCH + 24), !(bit(9) | bit(19)));
    // Setting SIG_IGN discards the pending signal, even blocked.
    assert_eq!(sigaction(&mut p, &mut k, SIGTERM, 1, 0, 0), 0);
    assert_eq!(sys(&mut p, &mut k, 127, &[SCRATCH, 8]), 0);
    assert_eq!(u64_at(&k, SCRATCH), 0);
}

#[test]
fn signal_argument_errors() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, &[0u8; 32]);
    let e = |r| err(r);
    assert_eq!(
        sys(&mut p, &mut k, 13, &[9, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    ); // SIGKILL
    assert_eq!(
        sys(&mut p, &mut k, 13, &[19, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    ); // SIGSTOP
    assert_eq!(
        sys(&mut p, &mut k, 13, &[9, 0, SCRATCH, 8]),
        0,
        "reading SIGKILL's is fine"
    );
    assert_eq!(
        sys(&mut p, &mut k, 13, &[65, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 13, &[0, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 13, &[2, SCRATCH, 0, 4]),
        e(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, 13, &[2, 8, 0, 8]), e(Errno::EFAULT));
    // The action is read before the number is checked.
    assert_eq!(sys(&mut p, &mut k, 13, &[9, 8, 0, 8]), e(Errno::EFAULT));
    assert_eq!(
        sys(&mut p, &mut k, 14, &[7, SCRATCH, 0, 8]),
        e(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 14, &[0, SCRATCH, 0, 16]),
        e(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, 62, &[5, 15]), e(Errno::ESRCH));
    assert_eq!(sys(&mut p, &mut k, 62, &[1, 99]), e(Errno::EINVAL));
    assert_eq!(
        sys(&mut p, &mut k, 62, &[1, 0]),
        0,
        "signal 0 checks the process exists"
    );
    assert_eq!(
        sys(&mut p, &mut k, 62, &[(-1i64) as u64, 15]),
        e(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, 62, &[(-1i64) as u64, 0]),
        e(Errno::ESRCH)
    );
    assert_eq!(sys(&mut p, &mut k, 62, &[0, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, 62, &[(-2i64) as u64, 0]),
        e(Errno::ESRCH)
    );
    assert_eq!(sys(&mut p, &mut k, 200, &[0, 10]), e(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, 200, &[77, 10]), e(Errno::ESRCH));
    assert_eq!(sys(&mut p, &mut k, 234, &[1, 0, 10]), e(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, 234, &[2, 1, 10]), e(Errno::ESRCH));
    assert_eq!(sys(&mut p, &mut k, 234, &[1, 77, 99]), e(Errno::ESRCH));
    assert_eq!(sys(&mut p, &mut k, 234, &[1, 1, 99]), e(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, 219, &[]), e(Errno::EINTR));
}

#[test]
fn sigqueueinfo_checks_who_may_claim_what() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    let mut info = [0u8; 128];
    info[8..12].copy_from_slice(&0i32.to_le_bytes()); // SI_USER
    k.poke(SCRATCH + 0x400, &info);
    // The main thread signalling its own process may say anything...
    assert_eq!(sys(&mut p, &mut k, 129, &[1, SIGUSR1, SCRATCH + 0x400]), 0);
    // ...another thread may not pretend to be kill().
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(
        sys(&mut other, &mut k, 129, &[1, SIGUSR1, SCRATCH + 0x400]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut other, &mut k, 297, &[1, 1, SIGUSR1, SCRATCH + 0x400]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(
            &mut other,
            &mut k,
            297,
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
        sys(&mut p, &mut k, 129, &[1, SIGUSR1, SCRATCH + 0x400]),
        0,
        "SI_QUEUE is known"
    );
    info[8..12].copy_from_slice(&(-30i32).to_le_bytes());
    k.poke(SCRATCH + 0x400, &info);
    assert_eq!(
        sys(&mut p, &mut k, 129, &[1, SIGUSR1, SCRATCH + 0x400]),
        err(Errno::E2BIG)
    );
    assert_eq!(
        sys(&mut p, &mut k, 129, &[1, SIGUSR1, 8]),
        err(Errno::EFAULT)
    );
    info[100] = 0;
    k.poke(SCRATCH + 0x400, &info);
    assert_eq!(
        sys(&mut p, &mut k, 129, &[7, SIGUSR1, SCRATCH + 0x400]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, 129, &[1, 99, SCRATCH + 0x400]),
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
        let r = sys(&mut p, &mut k, 129, &[1, 40, SCRATCH + 0x400]);
        if r != 0 || n > 1 << 17 {
            break r;
        }
        n += 1;
    };
    assert_eq!(last, err(Errno::EAGAIN));
    assert!(n >= 1000, "a generous queue first ({n})");
}

#[test]
fn sigaltstack_rules() {
    let (mut p, mut k) = setup_stack();
    let ss = |k: &mut Fake, sp: u64, flags: u32, size: u64| {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&sp.to_le_bytes());
        b[8..12].copy_from_slice(&flags.to_le_bytes());
        b[16..].copy_from_slice(&size.to_le_bytes());
        k.poke(SCRATCH + 0x300, &b);
    };
    let call = |p: &mut Process, k: &mut Fake, rsp: u64, new: bool, old: bool| {
        let mut r = crate::tests::fake::regs(
            131,
            &[
                if new { SCRATCH + 0x300 } else { 0 },
                if old { SCRATCH + 0x340 } else { 0 },
            ],
        );
        r.rsp = rsp;
        match dispatch(p, k, &mut r) {
            Outcome::Return(v) => v as i64,
            o => panic!("{o:?}"),
        }
    };
    // At first: disabled.
    assert_eq!(call(&mut p, &mut k, STACK_TOP - 64, false, true), 0);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 2);
    ss(&mut k, ALT, 0, 2047);
    assert_eq!(
        call(&mut p, &mut k, STACK_TOP - 64, true, false),
        err(Errno::ENOMEM)
    );
    ss(&mut k, ALT, 5, ALT_SIZE);
    assert_eq!(
        call(&mut p, &mut k, STACK_TOP - 64, true, false),
        err(Errno::EINVAL)
    );
    ss(&mut k, ALT, 0, ALT_SIZE);
    assert_eq!(call(&mut p, &mut k, STACK_TOP - 64, true, true), 0);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 2, "the old one, disabled");
    // Running on it: SS_ONSTACK, and no change is allowed.
    assert_eq!(call(&mut p, &mut k, ALT + 100, false, true), 0);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 1);
    assert_eq!(u64_at(&k, SCRATCH + 0x340), ALT);
    assert_eq!(u64_at(&k, SCRATCH + 0x350), ALT_SIZE);
    assert_eq!(
        call(&mut p, &mut k, ALT + 100, true, false),
        err(Errno::EPERM)
    );
    assert_eq!(call(&mut p, &mut k, STACK_TOP - 64, false, true), 0);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 0);
    assert_eq!(
        call(&mut p, &mut k, STACK_TOP - 64, true, false),
        0,
        "same again"
    );
    // SS_DISABLE takes it away whatever the other fields.
    ss(&mut k, 0x1234, 2, 1);
    assert_eq!(call(&mut p, &mut k, STACK_TOP - 64, true, true), 0);
    assert_eq!(call(&mut p, &mut k, STACK_TOP - 64, false, true), 0);
    assert_eq!(
        k.peek(SCRATCH + 0x340, 24),
        [&[0u8; 8][..], &2u32.to_le_bytes(), &[0u8; 12]].concat()
    );
}

fn set_altstack(p: &mut Process, k: &mut Fake, flags: u32) {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&ALT.to_le_bytes());
    b[8..12].copy_from_slice(&flags.to_le_bytes());
    b[16..].copy_from_slice(&ALT_SIZE.to_le_bytes());
    k.poke(SCRATCH + 0x300, &b);
    let mut r = crate::tests::fake::regs(131, &[SCRATCH + 0x300, 0]);
    r.rsp = STACK_TOP - 64;
    assert_eq!(dispatch(p, k, &mut r), Outcome::Return(0));
}

#[test]
fn sa_onstack_handlers_run_on_the_alternate_stack() {
    let (mut p, mut k) = setup_stack();
    set_altstack(&mut p, &mut k, 0);
    handle(&mut p, &mut k, SIGUSR1, SA_ONSTACK | SA_NODEFER);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    assert!(r.rsp > ALT && r.rsp < ALT + ALT_SIZE, "{:#x}", r.rsp);
    assert_eq!(r.rsp % 16, 8);
    // uc_stack shows the stack as set.
    assert_eq!(u64_at(&k, r.rdx + 16), ALT);
    assert_eq!(u32_at(&k, r.rdx + 24), 0);
    assert_eq!(u64_at(&k, r.rdx + 32), ALT_SIZE);
    // A second signal while on it nests on it, below the first frame.
    let first = r.rsp;
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    deliver(&mut p, &mut k, &mut r);
    assert!(r.rsp < first - 128 && r.rsp > ALT);
    // More nesting than the stack holds: it overflows, and SIGSEGV kills.
    let mut status = None;
    for _ in 0..20 {
        assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
        status = deliver(&mut p, &mut k, &mut r);
        if status.is_some() {
            break;
        }
    }
    assert_eq!(status, Some(139));
    assert!(k
        .log
        .iter()
        .any(|l| l.contains("alternate signal stack overflowed")));
}

#[test]
fn ss_autodisarm_lends_the_stack_to_one_handler_at_a_time() {
    let (mut p, mut k) = setup_stack();
    set_altstack(&mut p, &mut k, 1 << 31);
    handle(&mut p, &mut k, SIGUSR1, SA_ONSTACK);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    assert!(r.rsp > ALT && r.rsp < ALT + ALT_SIZE);
    assert_eq!(
        u32_at(&k, r.rdx + 24),
        1 << 31,
        "uc_stack keeps the flags as set"
    );
    // Inside the handler the stack is gone (disabled)...
    let mut q = crate::tests::fake::regs(131, &[0, SCRATCH + 0x340]);
    q.rsp = r.rsp;
    dispatch(&mut p, &mut k, &mut q);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 2);
    // ...and sigreturn gives it back.
    r.rsp += 8;
    r.rax = 15;
    dispatch(&mut p, &mut k, &mut r);
    let mut q = crate::tests::fake::regs(131, &[0, SCRATCH + 0x340]);
    q.rsp = STACK_TOP - 64;
    dispatch(&mut p, &mut k, &mut q);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 1 << 31);
    assert_eq!(u64_at(&k, SCRATCH + 0x340), ALT);
}

#[test]
fn a_fault_with_a_handler_gets_si_addr_code_and_the_fault_registers() {
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGSEGV, 0);
    let mut r = user_regs(0x77);
    r.trap = 14;
    r.error_code = 6;
    let fault = Fault {
        signo: 11,
        code: 1,
        addr: 0xdead_0000,
        trapno: 14,
        error_code: 6,
    };
    assert_eq!(force_fault(&mut p, &mut k, &mut r, fault), None);
    assert_eq!((r.rip, r.rdi), (HANDLER, SIGSEGV));
    let info = k.peek(r.rsi, 24);
    assert_eq!(
        i32::from_le_bytes(info[8..12].try_into().unwrap()),
        1,
        "SEGV_MAPERR"
    );
    assert_eq!(
        u64::from_le_bytes(info[16..24].try_into().unwrap()),
        0xdead_0000
    );
    let m = r.rdx + uc::MCONTEXT as u64;
    assert_eq!(u64_at(&k, m + sc::TRAPNO as u64), 14);
    assert_eq!(u64_at(&k, m + sc::ERR as u64), 6);
    assert_eq!(u64_at(&k, m + sc::CR2 as u64), 0xdead_0000);
    assert_eq!(
        u64_at(&k, m + sc::RAX as u64),
        0x77,
        "a fault is not a system call"
    );
    // A later asynchronous signal's frame still shows the last fault.
    handle(&mut p, &mut k, SIGUSR1, SA_NODEFER);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(
        u64_at(&k, r.rdx + (uc::MCONTEXT + sc::CR2) as u64),
        0xdead_0000
    );
}

#[test]
fn a_fault_that_is_blocked_ignored_or_unhandled_kills() {
    let fault = Fault {
        signo: 11,
        code: 2,
        addr: 0x1000,
        trapno: 14,
        error_code: 7,
    };
    let (mut p, mut k) = setup_stack();
    assert_eq!(
        force_fault(&mut p, &mut k, &mut user_regs(0), fault),
        Some(139)
    );
    assert!(
        k.log
            .iter()
            .any(|l| l.contains("program killed by SIGSEGV: page fault")),
        "{:?}",
        k.log
    );
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGSEGV, 0);
    set_mask(&mut p, &mut k, bit(SIGSEGV));
    assert_eq!(
        force_fault(&mut p, &mut k, &mut user_regs(0), fault),
        Some(139)
    );
    let (mut p, mut k) = setup_stack();
    assert_eq!(sigaction(&mut p, &mut k, SIGSEGV, 1, 0, 0), 0);
    assert_eq!(
        force_fault(&mut p, &mut k, &mut user_regs(0), fault),
        Some(139)
    );
    // A handler whose frame cannot be written (the stack is gone) dies the same way.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGSEGV, 0);
    let mut r = user_regs(0);
    r.rsp = 0x10;
    assert_eq!(force_fault(&mut p, &mut k, &mut r, fault), Some(139));
}

#[test]
fn exceptions_become_linuxs_signals() {
    let case = |trap: u64, error: u64, cr2: u64| {
        let (mut p, mut k) = setup_stack();
        for sig in [SIGSEGV, SIGFPE, 4, SIGTRAP, 7] {
            handle(&mut p, &mut k, sig, 0);
        }
        let mut r = user_regs(0);
        r.trap = trap;
        r.error_code = error;
        let before = r.rip;
        if user_exception(&mut p, &mut k, &mut r, cr2).is_some() {
            return None;
        }
        if r.rip == before {
            return None;
        }
        let info = k.peek(r.rsi, 24);
        let code = i32::from_le_bytes(info[8..12].try_into().unwrap());
        let addr = u64::from_le_bytes(info[16..24].try_into().unwrap());
        let trapno = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::TRAPNO) as u64);
        Some((r.rdi, code, addr, trapno))
    };
    assert_eq!(
        case(0, 0, 0),
        Some((SIGFPE, 1, RIP, 0)),
        "#DE: FPE_INTDIV at the instruction"
    );
    assert_eq!(
        case(6, 0, 0),
        Some((4, 2, RIP, 6)),
        "#UD: SIGILL ILL_ILLOPN"
    );
    assert_eq!(
        case(3, 0, 0),
        Some((SIGTRAP, 0x80, 0, 3)),
        "int3: SIGTRAP from the kernel"
    );
    assert_eq!(
        case(13, 0, 0),
        Some((SIGSEGV, 0x80, 0, 13)),
        "#GP: SI_KERNEL, no address"
    );
    assert_eq!(
        case(14, 6, 0x1234),
        Some((SIGSEGV, 1, 0x1234, 14)),
        "unmapped: MAPERR"
    );
    assert_eq!(
        case(17, 0, 0),
        Some((7, 1, 0, 17)),
        "#AC: SIGBUS BUS_ADRALN"
    );
    assert_eq!(case(32, 0, 0), None, "an interrupt is not a fault");
    // A page fault where a mapping exists but refuses the access: ACCERR.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGSEGV, 0);
    p.shared.mm.lock().record(0x50_0000, 0x50_1000, RO);
    let mut r = user_regs(0);
    r.trap = 14;
    r.error_code = 7;
    user_exception(&mut p, &mut k, &mut r, 0x50_0010);
    assert_eq!(u32_at(&k, r.rsi + 8), 2, "SEGV_ACCERR");
    // #XM: the code comes from MXCSR's unmasked exception flags (ZE unmasked and raised).
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGFPE, 0);
    k.fpu.bytes[24..28].copy_from_slice(&((0x1f80u32 & !(1 << 9)) | (1 << 2)).to_le_bytes());
    let mut r = user_regs(0);
    r.trap = 19;
    user_exception(&mut p, &mut k, &mut r, 0);
    assert_eq!(u32_at(&k, r.rsi + 8), 3, "FPE_FLTDIV");
}

#[test]
fn itimer_real_and_alarm_send_sigalrm() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGALRM));
    // setitimer(ITIMER_REAL, {interval 0.5 s, value 1 s}).
    k.poke(
        SCRATCH,
        &[0u64, 500_000, 1, 0].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(sys(&mut p, &mut k, 38, &[0, SCRATCH, 0]), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(1_000_000_000));
    k.now = 250_000_000;
    assert_eq!(sys(&mut p, &mut k, 36, &[0, SCRATCH + 64]), 0);
    assert_eq!(
        k.peek(SCRATCH + 64, 32),
        [0u64, 500_000, 0, 750_000].map(u64::to_le_bytes).concat()
    );
    p.sys.sched.expire(1_000_000_000);
    assert_eq!(p.shared.signals.pending(1), bit(SIGALRM));
    assert_eq!(p.sys.sched.next_deadline(), Some(1_500_000_000), "periodic");
    // alarm(5) replaces it and returns the seconds left, rounded: 0.5 s left → 1.
    k.now = 1_000_000_000;
    assert_eq!(sys(&mut p, &mut k, 37, &[5]), 1);
    assert_eq!(p.sys.sched.next_deadline(), Some(6_000_000_000));
    k.now = 1_400_000_000;
    assert_eq!(sys(&mut p, &mut k, 37, &[0]), 5, "4.6 s rounds to 5");
    assert_eq!(p.sys.sched.next_deadline(), None);
    assert_eq!(sys(&mut p, &mut k, 37, &[0]), 0);
    // Errors: bad `which`, bad microseconds, CPU-time itimers.
    assert_eq!(sys(&mut p, &mut k, 36, &[3, SCRATCH]), err(Errno::EINVAL));
    k.poke(
        SCRATCH,
        &[0u64, 1_000_000, 1, 0].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(
        sys(&mut p, &mut k, 38, &[0, SCRATCH, 0]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &[0u64, 0, 1, 0].map(u64::to_le_bytes).concat());
    assert_eq!(
        sys(&mut p, &mut k, 38, &[2, SCRATCH, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, 36, &[2, SCRATCH + 64]), 0);
    // The SIGALRM from the itimer is the kernel's.
    k.poke(SCRATCH, &bit(SIGALRM).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            128,
            &[SCRATCH, SCRATCH + 0x200, SCRATCH + 8, 8]
        ),
        14
    );
    assert_eq!(u32_at(&k, SCRATCH + 0x208), 0x80, "SI_KERNEL");
}

/// timer_create(clock, sigevent) → the timer id.
fn timer_create(
    p: &mut Process,
    k: &mut Fake,
    clock: u64,
    notify: i32,
    signo: u32,
    tid: u32,
) -> i64 {
    let mut ev = [0u8; 64];
    ev[..8].copy_from_slice(&0xabcdu64.to_le_bytes());
    ev[8..12].copy_from_slice(&signo.to_le_bytes());
    ev[12..16].copy_from_slice(&notify.to_le_bytes());
    ev[16..20].copy_from_slice(&tid.to_le_bytes());
    k.poke(SCRATCH + 0x500, &ev);
    let r = sys(p, k, 222, &[clock, SCRATCH + 0x500, SCRATCH + 0x580]);
    if r < 0 {
        return r;
    }
    i64::from(u32_at(k, SCRATCH + 0x580))
}

fn timer_settime(
    p: &mut Process,
    k: &mut Fake,
    id: i64,
    flags: u64,
    interval: u64,
    value: u64,
) -> i64 {
    const NS: u64 = 1_000_000_000;
    let spec = [interval / NS, interval % NS, value / NS, value % NS];
    k.poke(SCRATCH + 0x600, &spec.map(u64::to_le_bytes).concat());
    sys(p, k, 223, &[id as u64, flags, SCRATCH + 0x600, 0])
}

#[test]
fn posix_timers_signal_count_overruns_and_can_target_a_thread() {
    let (mut p, mut k) = setup_stack();
    let rt = 40u32;
    set_mask(&mut p, &mut k, bit(u64::from(rt)));
    assert_eq!(
        timer_create(&mut p, &mut k, 1, 0, rt, 0),
        0,
        "ids count from 0"
    );
    assert_eq!(timer_settime(&mut p, &mut k, 0, 0, 100, 1000), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(1000));
    p.sys.sched.expire(1000);
    // Three more periods pass while the signal is still pending: overruns.
    for t in [1100, 1200, 1300] {
        p.sys.sched.expire(t);
    }
    k.poke(SCRATCH, &bit(u64::from(rt)).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            128,
            &[SCRATCH, SCRATCH + 0x200, SCRATCH + 8, 8]
        ),
        i64::from(rt)
    );
    let info = k.peek(SCRATCH + 0x200, 32);
    assert_eq!(
        i32::from_le_bytes(info[8..12].try_into().unwrap()),
        -2,
        "SI_TIMER"
    );
    assert_eq!(
        i32::from_le_bytes(info[16..20].try_into().unwrap()),
        0,
        "si_tid: timer id"
    );
    assert_eq!(
        i32::from_le_bytes(info[20..24].try_into().unwrap()),
        3,
        "si_overrun"
    );
    assert_eq!(
        u64::from_le_bytes(info[24..32].try_into().unwrap()),
        0xabcd,
        "si_value"
    );
    assert_eq!(sys(&mut p, &mut k, 225, &[0]), 3);
    // timer_gettime: the time to the next expiry and the interval.
    k.now = 1350;
    assert_eq!(sys(&mut p, &mut k, 224, &[0, SCRATCH + 0x700]), 0);
    assert_eq!(
        k.peek(SCRATCH + 0x700, 32),
        [0u64, 100, 0, 50].map(u64::to_le_bytes).concat()
    );
    assert_eq!(sys(&mut p, &mut k, 226, &[0]), 0);
    assert_eq!(sys(&mut p, &mut k, 226, &[0]), err(Errno::EINVAL));
    assert_eq!(p.sys.sched.next_deadline(), None);

    // SIGEV_THREAD_ID: the signal is the thread's own.
    let tid = p.sys.sched.alloc_tid();
    let other = p.new_thread(tid);
    let id = timer_create(&mut p, &mut k, 0, 4, SIGUSR2 as u32, tid);
    assert_eq!(id, 1);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 10), 0);
    p.sys.sched.expire(k.now + 10);
    assert!(other.thread.sig.flagged());
    assert_eq!(p.shared.signals.pending(tid), bit(SIGUSR2));
    assert_eq!(p.shared.signals.pending(1), 0);
    // Bad events, clocks and ids.
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 4, 10, 9999),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 0, 65, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 7, 10, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 4, 0, 10, 0),
        err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 42, 0, 10, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_settime(&mut p, &mut k, 77, 0, 0, 10),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_settime(&mut p, &mut k, id, 0, 0, 1_000_000_000 * 3 + 5),
        0
    );
    assert_eq!(sys(&mut p, &mut k, 224, &[99, SCRATCH]), err(Errno::EINVAL));
    // A failed timer_create used up an id, as on Linux.
    assert_eq!(timer_create(&mut p, &mut k, 1, 1, 0, 0), 5);
}

#[test]
fn sigev_none_timers_only_count_down_and_abstime_is_absolute() {
    let (mut p, mut k) = setup_stack();
    let id = timer_create(&mut p, &mut k, 1, 1, 0, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 500), 0);
    assert_eq!(p.sys.sched.next_deadline(), None, "nothing to fire");
    k.now = 200;
    assert_eq!(sys(&mut p, &mut k, 224, &[id as u64, SCRATCH]), 0);
    assert_eq!(u64_at(&k, SCRATCH + 24), 300);
    k.now = 900;
    assert_eq!(sys(&mut p, &mut k, 224, &[id as u64, SCRATCH]), 0);
    assert_eq!(u64_at(&k, SCRATCH + 24), 0, "expired");
    // TIMER_ABSTIME on CLOCK_MONOTONIC.
    let id = timer_create(&mut p, &mut k, 1, 0, SIGUSR1 as u32, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 1, 0, 5000), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(5000));
}

#[test]
fn signalfd_reads_pending_signals_of_its_mask() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(SIGUSR2));
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    let fd = sys(&mut p, &mut k, 289, &[u64::MAX, SCRATCH, 8, 0o4000]);
    assert!(fd >= 3, "{fd}");
    let fd = fd as u64;
    let file = p.file(fd as i32).unwrap();
    assert_eq!(file.path(), b"anon_inode:[signalfd]");
    assert_eq!(
        sys(&mut p, &mut k, 0, &[fd, SCRATCH + 0x100, 128]),
        err(Errno::EAGAIN)
    );
    assert_eq!(file.ops().poll(), 0);
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR2]), 0);
    assert_eq!(file.ops().poll(), 0, "not in its mask");
    assert_eq!(sys(&mut p, &mut k, 62, &[1, SIGUSR1]), 0);
    assert_eq!(file.ops().poll(), 1, "POLLIN");
    assert_eq!(
        sys(&mut p, &mut k, 0, &[fd, SCRATCH + 0x100, 127]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, 0, &[fd, SCRATCH + 0x100, 300]), 128);
    assert_eq!(u32_at(&k, SCRATCH + 0x100), 10, "ssi_signo");
    assert_eq!(u32_at(&k, SCRATCH + 0x108), 0, "ssi_code SI_USER");
    assert_eq!(u32_at(&k, SCRATCH + 0x10c), 1, "ssi_pid");
    // SIGUSR2 is still pending (not in the mask); the fd's mask can be changed.
    assert_eq!(p.shared.signals.pending(1), bit(SIGUSR2));
    k.poke(SCRATCH, &bit(SIGUSR2).to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, 289, &[fd, SCRATCH, 8, 0]), fd as i64);
    assert_eq!(sys(&mut p, &mut k, 0, &[fd, SCRATCH + 0x100, 128]), 128);
    assert_eq!(u32_at(&k, SCRATCH + 0x100), 12);
    // Errors.
    assert_eq!(
        sys(&mut p, &mut k, 289, &[u64::MAX, SCRATCH, 4, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 289, &[u64::MAX, SCRATCH, 8, 1]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 289, &[1, SCRATCH, 8, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 289, &[99, SCRATCH, 8, 0]),
        err(Errno::EBADF)
    );
}

#[test]
fn a_blocking_signalfd_read_waits_for_a_signal() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    let fd = sys(&mut p, &mut k, 282, &[u64::MAX, SCRATCH, 8]) as u64;
    let mut r = crate::tests::fake::regs(0, &[fd, SCRATCH + 0x100, 256]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(sys(&mut other, &mut k, 62, &[1, SIGUSR1]), 0);
    let why = p.thread.finish_wait().expect("woken by the queued signal");
    assert_eq!(resume(&mut p, &mut k, &mut r, why), Outcome::Return(128));
    assert_eq!(
        u32_at(&k, SCRATCH + 0x10c),
        1,
        "ssi_pid: the sender's process"
    );
}
