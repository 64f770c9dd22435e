//! The signal frame: its layout, rt_sigreturn, the alternate stack, faults made signals.

use super::*;
use crate::nr::*;
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
    let mut r = crate::tests::fake::regs(SYS_kill, &[1, SIGUSR1]);
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
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
    h.rax = SYS_rt_sigreturn;
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
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
    r.rax = SYS_rt_sigreturn;
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 520, &1u64.to_le_bytes()); // XCOMP_BV
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(deliver(&mut p, &mut k, &mut r), Some(139));

    // A reserved MXCSR bit.
    let (mut p, mut k) = setup_stack();
    handle(&mut p, &mut k, SIGUSR1, 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 24, &0x0001_1f80u32.to_le_bytes());
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    k.poke(fp + 464, &0u32.to_le_bytes()); // no MAGIC1
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    let old_sp = r.rsp;
    deliver(&mut p, &mut k, &mut r);
    assert_eq!(u64_at(&k, r.rdx), 6, "no UC_FP_XSTATE");
    let fp = u64_at(&k, r.rdx + (uc::MCONTEXT + sc::FPSTATE) as u64);
    assert!(fp + 512 <= old_sp - 128);
    assert_ne!(u32_at(&k, fp + 464), 0x4650_5853);
    k.fpu.bytes[170] = 0;
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
    dispatch(&mut p, &mut k, &mut r);
    assert_eq!(k.fpu.bytes[170], (170 * 7) as u8);
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
    let call = |p: &mut Current, k: &mut Fake, rsp: u64, new: bool, old: bool| {
        let mut r = crate::tests::fake::regs(
            SYS_sigaltstack,
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

fn set_altstack(p: &mut Current, k: &mut Fake, flags: u32) {
    let mut b = [0u8; 24];
    b[..8].copy_from_slice(&ALT.to_le_bytes());
    b[8..12].copy_from_slice(&flags.to_le_bytes());
    b[16..].copy_from_slice(&ALT_SIZE.to_le_bytes());
    k.poke(SCRATCH + 0x300, &b);
    let mut r = crate::tests::fake::regs(SYS_sigaltstack, &[SCRATCH + 0x300, 0]);
    r.rsp = STACK_TOP - 64;
    assert_eq!(dispatch(p, k, &mut r), Outcome::Return(0));
}

#[test]
fn sa_onstack_handlers_run_on_the_alternate_stack() {
    let (mut p, mut k) = setup_stack();
    set_altstack(&mut p, &mut k, 0);
    handle(&mut p, &mut k, SIGUSR1, SA_ONSTACK | SA_NODEFER);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    deliver(&mut p, &mut k, &mut r);
    assert!(r.rsp < first - 128 && r.rsp > ALT);
    // More nesting than the stack holds: it overflows, and SIGSEGV kills.
    let mut status = None;
    for _ in 0..20 {
        assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let mut r = user_regs(0);
    deliver(&mut p, &mut k, &mut r);
    assert!(r.rsp > ALT && r.rsp < ALT + ALT_SIZE);
    assert_eq!(
        u32_at(&k, r.rdx + 24),
        1 << 31,
        "uc_stack keeps the flags as set"
    );
    // Inside the handler the stack is gone (disabled)...
    let mut q = crate::tests::fake::regs(SYS_sigaltstack, &[0, SCRATCH + 0x340]);
    q.rsp = r.rsp;
    dispatch(&mut p, &mut k, &mut q);
    assert_eq!(u32_at(&k, SCRATCH + 0x348), 2);
    // ...and sigreturn gives it back.
    r.rsp += 8;
    r.rax = SYS_rt_sigreturn;
    dispatch(&mut p, &mut k, &mut r);
    let mut q = crate::tests::fake::regs(SYS_sigaltstack, &[0, SCRATCH + 0x340]);
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
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
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
    p.process.mm.get().lock().record(0x50_0000, 0x50_1000, RO);
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
