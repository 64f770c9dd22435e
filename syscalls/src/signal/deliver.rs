//! Delivery before the return to user mode, restarts of interrupted calls, and faults made
//! signals.
//!
//! [`deliver`] mirrors Linux's exit-to-user signal work: while a signal the thread does not
//! block is pending it takes the next one (synchronous signals first), runs its action —
//! ignore, die, or push a handler frame — and repeats, so several handlers nest as on Linux.
//! A system call a signal interrupted (ERESTARTSYS, ERESTARTNOHAND) fails with EINTR when a
//! handler runs (unless SA_RESTART allows ERESTARTSYS to run again) and runs again otherwise.

use coracle_abi::FromBytes;

use super::frame;
use super::*;
use crate::regs::{UserRegs, TRAP_SYSCALL};
use crate::Platform;

/// A synchronous fault, as the signal it becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub signo: u32,
    pub code: i32,
    /// si_addr (0 for the faults Linux reports with SI_KERNEL).
    pub addr: u64,
    /// The exception vector and error code, which the frame's sigcontext shows (trapno, err).
    pub trapno: u64,
    pub error_code: u64,
}

/// The page-fault vector; its address is also the frame's cr2.
const PAGE_FAULT: u64 = 14;
/// The first vector that is an interrupt, not an exception.
const FIRST_IRQ: u64 = 32;

/// How an interrupted system call asked to continue (Linux's -ERESTART* codes in rax).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// ERESTARTSYS: again after a handler with SA_RESTART, EINTR after one without.
    Sys,
    /// ERESTARTNOINTR: always again.
    NoIntr,
    /// ERESTARTNOHAND and ERESTART_RESTARTBLOCK: EINTR after any handler.
    NoHand,
}

fn restart_code(rax: u64) -> Option<Restart> {
    match rax as i64 {
        -512 => Some(Restart::Sys),
        -513 => Some(Restart::NoIntr),
        -514 | -516 => Some(Restart::NoHand),
        _ => None,
    }
}

/// Makes the system call in `regs` run again: back over the 2-byte SYSCALL, with its number.
fn restart(regs: &mut UserRegs, nr: u64) {
    regs.rax = nr;
    regs.rip = regs.rip.wrapping_sub(2);
}

/// What the next pending signal asks for.
enum Taken {
    Handle(SigInfo, SigAction),
    Kill(u32),
    /// The thread is traced: the signal goes to its tracer first (a signal-delivery stop).
    Trace(SigInfo),
}

/// Takes the next signal the thread does not block and decides its action (Linux's
/// get_signal): ignored ones are dropped here, SA_RESETHAND takes effect.
fn take_next(p: &mut Current, k: &mut dyn Platform) -> Option<Taken> {
    let mut stops: u64 = 0;
    // The signal a tracer gave back comes first; blocked meanwhile, it waits in the queue
    // (and goes to the tracer again when taken).
    let mut injected = p.trace_inject.take();
    if let Some(info) = injected.filter(|i| p.thread.sig.blocks(i.signo())) {
        injected = None;
        let _ = send(&p.process, &p.sys.sched, Target::Thread(p.tid), info, None);
    }
    let traced = p.thread.traced.load(Ordering::SeqCst);
    let taken = {
        let mut st = p.process.signals.state.lock();
        loop {
            let info = match injected.take() {
                Some(info) => info,
                None => {
                    let pending = st.pending_of(p.tid) | st.shared.set;
                    // SIGKILL ends the process whatever else is pending.
                    let allowed = if pending & bit(SIGKILL) != 0 {
                        bit(SIGKILL)
                    } else {
                        !p.thread.sig.mask()
                    };
                    let Some(info) = st.dequeue(p.tid, allowed) else {
                        break None;
                    };
                    if traced && info.signo() != SIGKILL {
                        break Some(Taken::Trace(info));
                    }
                    info
                }
            };
            let sig = info.signo();
            let act = st.action(sig);
            if act.handler == SIG_IGN {
                continue;
            }
            if act.handler == SIG_DFL {
                match default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Cont => continue,
                    DefaultAction::Stop => {
                        stops |= bit(sig);
                        continue;
                    }
                    DefaultAction::Term | DefaultAction::Core => break Some(Taken::Kill(sig)),
                }
            }
            if act.flags & SA_RESETHAND != 0 {
                st.actions[(sig - 1) as usize].handler = SIG_DFL;
            }
            break Some(Taken::Handle(info, act));
        }
    };
    if stops != 0 {
        // The process stops; its threads park before going back to user mode.
        crate::sys::process::jobs::stop_process(p, k, stops.trailing_zeros() + 1);
    }
    taken
}

/// Delivers the signals pending for the thread before it returns to user mode; the kernel
/// calls it every time, and it costs one atomic load when nothing is pending. Also finishes
/// an interrupted system call (restart or EINTR) and puts back a mask a call changed.
/// Returns the status the process ends with if a signal kills it (128 + N).
pub fn deliver(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> Option<u32> {
    let interrupted = regs.trap == TRAP_SYSCALL && restart_code(regs.rax).is_some();
    if !p.thread.sig.flagged() && !interrupted && p.sig.saved_mask.is_none() {
        return None;
    }
    // A traced thread takes no signal while it has ptrace stops to go through.
    if crate::ptrace::busy(p) {
        return None;
    }
    // Frames go to user memory that may have to be faulted in (a growing stack).
    let process = p.process.clone();
    let mut user = crate::mm::Faulting::new(&process, k);
    let status = deliver_pending(p, &mut user, regs);
    if user.out_of_memory() {
        return Some(crate::mm::out_of_memory_kill(&process, user.inner()));
    }
    status
}

/// The slow path of [`deliver`].
fn deliver_pending(p: &mut Current, k: &mut dyn Platform, regs: &mut UserRegs) -> Option<u32> {
    p.thread.sig.flag.store(false, Ordering::SeqCst);
    // Each round either drops a signal or pushes a frame; a frame that cannot be written
    // becomes a SIGSEGV that kills. The bound only guards against a bug looping forever.
    for _ in 0..4 * NSIG {
        let Some(taken) = take_next(p, k) else {
            break;
        };
        match taken {
            Taken::Kill(sig) => return Some(die(p, k, sig, regs.rip)),
            Taken::Trace(info) => {
                // Delivery goes on once the tracer has answered (see `crate::ptrace`).
                crate::ptrace::queue_signal(p, info);
                p.thread.sig.flag();
                return None;
            }
            Taken::Handle(info, act) => {
                if regs.trap == TRAP_SYSCALL {
                    match restart_code(regs.rax) {
                        Some(Restart::Sys) if act.flags & SA_RESTART != 0 => {
                            restart(regs, p.sig.syscall_nr);
                        }
                        Some(Restart::NoIntr) => restart(regs, p.sig.syscall_nr),
                        Some(_) => regs.rax = Errno::EINTR.as_return() as u64,
                        None => {}
                    }
                }
                let saved = p.sig.saved_mask.take();
                let frame_mask = saved.unwrap_or_else(|| p.thread.sig.mask());
                match frame::setup(p, k, regs, &info, &act, frame_mask) {
                    Ok(()) => {
                        let mut mask = p.thread.sig.mask() | act.mask;
                        if act.flags & SA_NODEFER == 0 {
                            mask |= bit(info.signo());
                        }
                        set_mask(p, mask);
                        if p.sig.altstack.flags & SS_AUTODISARM != 0 {
                            p.sig.altstack = AltStack::DISARMED;
                        }
                    }
                    Err(why) => {
                        p.sig.saved_mask = saved;
                        k.log(format_args!(
                            "cannot push the frame for {} ({why}): SIGSEGV",
                            name(info.signo())
                        ));
                        force_sigsegv(p, info.signo());
                    }
                }
            }
        }
    }
    finish_without_handler(p, regs);
    None
}

/// No handler ran: an interrupted call runs again, and a mask set for a call comes back.
fn finish_without_handler(p: &mut Current, regs: &mut UserRegs) {
    if regs.trap == TRAP_SYSCALL && restart_code(regs.rax).is_some() {
        restart(regs, p.sig.syscall_nr);
    }
    if let Some(mask) = p.sig.saved_mask.take() {
        set_mask(p, mask);
    }
}

/// RLIMIT_CORE's index in the limits.
const RLIMIT_CORE: usize = 4;

/// The process dies of `sig`: the log line, the status.
fn die(p: &mut Current, k: &mut dyn Platform, sig: u32, rip: u64) -> u32 {
    match p.sig.forced.take() {
        Some(f) if f.signo == sig => k.log(format_args!(
            "program killed by {}: {} (vector {}, error {:#x}) at RIP {rip:#x}, address {:#x}",
            name(sig),
            vector_name(f.trapno),
            f.trapno,
            f.error_code,
            f.addr
        )),
        _ => k.log(format_args!(
            "program killed by {} (signal {sig})",
            name(sig)
        )),
    }
    // Coracle writes no core file, yet reports the dump (CLD_DUMPED, WCOREDUMP) where Linux
    // would write one: a core-dumping signal with RLIMIT_CORE at least the page an ELF core
    // needs (binfmt min_coredump), as a container with `ulimit -c` raised sees it.
    let core = crate::signal::default_action(sig) == crate::signal::DefaultAction::Core
        && crate::sys::mman::limit(p, RLIMIT_CORE) >= 4096;
    p.process
        .set_exit(crate::process::ExitStatus::Signaled { sig, core })
        .docker()
}

/// Queues `info` for the calling thread so that it is delivered: unblocked, and with the
/// default action if it was blocked or ignored (or always, `fatal`), as Linux's
/// force_sig_info.
pub(crate) fn force(p: &Current, info: SigInfo, fatal: bool) {
    let sig = info.signo();
    {
        let mut st = p.process.signals.state.lock();
        let blocked = p.thread.sig.blocks(sig);
        let slot = &mut st.actions[(sig - 1) as usize];
        if blocked || slot.handler == SIG_IGN || fatal {
            slot.handler = SIG_DFL;
        }
        if blocked {
            p.thread.sig.mask.fetch_and(!bit(sig), Ordering::SeqCst);
        }
    }
    let _ = send(&p.process, &p.sys.sched, Target::Thread(p.tid), info, None);
    p.thread.sig.flag();
}

/// A frame for `sig` could not be pushed: SIGSEGV, which kills if it was SIGSEGV's own frame
/// that failed (Linux's force_sigsegv).
fn force_sigsegv(p: &Current, sig: u32) {
    force(p, SigInfo::new(SIGSEGV, SI_KERNEL), sig == SIGSEGV);
}

/// A fault the kernel could not resolve becomes its signal (Linux's force_sig_fault): if the
/// program blocks or ignores it, or has no handler, it dies (the status comes back);
/// otherwise the handler's frame is pushed with si_addr, si_code, trapno, err and cr2 set.
pub fn force_fault(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    fault: Fault,
) -> Option<u32> {
    let mut fault = fault;
    if fault.trapno == PAGE_FAULT && fault.addr >= frame::USER_TOP {
        fault.error_code |= 1; // a kernel address is reported as a protection fault
    }
    p.sig.fault = FaultRegs {
        trapno: fault.trapno,
        error_code: fault.error_code,
        cr2: if fault.trapno == PAGE_FAULT {
            fault.addr
        } else {
            p.sig.fault.cr2
        },
    };
    p.sig.forced = Some(fault);
    force(
        p,
        SigInfo::fault(fault.signo, fault.code, fault.addr),
        false,
    );
    let status = deliver(p, k, regs);
    p.sig.forced = None;
    status
}

/// An exception from user code that the kernel did not resolve (vector in `regs.trap`, CR2
/// in `cr2`): the signal Linux sends for it, through [`force_fault`]. Interrupts and
/// spurious math faults are not the program's doing: nothing happens (None).
pub fn user_exception(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &mut UserRegs,
    cr2: u64,
) -> Option<u32> {
    let fault = exception_fault(p, k, regs, cr2)?;
    force_fault(p, k, regs, fault)
}

/// The signal, code and address Linux gives each exception (arch/x86/kernel/traps.c).
fn exception_fault(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    cr2: u64,
) -> Option<Fault> {
    let trapno = regs.trap;
    let fault = |signo, code, addr| Fault {
        signo,
        code,
        addr,
        trapno,
        error_code: regs.error_code,
    };
    Some(match trapno {
        0 => fault(SIGFPE, FPE_INTDIV, regs.rip),
        // The code DebugRegs::note_trap chose from the debug status.
        1 => fault(SIGTRAP, p.debug.trap_code, regs.rip),
        // int3: force_sig(SIGTRAP), so SI_KERNEL and no address.
        3 => fault(SIGTRAP, SI_KERNEL, 0),
        4 | 10 | 13 => fault(SIGSEGV, SI_KERNEL, 0),
        6 => fault(SIGILL, ILL_ILLOPN, regs.rip),
        11 | 12 | 18 => fault(SIGBUS, SI_KERNEL, 0),
        PAGE_FAULT => {
            // ACCERR when a mapping covers the address (its permissions refused the access),
            // MAPERR when none does.
            let mapped = p
                .process
                .mm
                .get()
                .lock()
                .vmas()
                .any(|(start, end, _)| (start..end).contains(&cr2));
            fault(SIGSEGV, if mapped { SEGV_ACCERR } else { SEGV_MAPERR }, cr2)
        }
        16 | 19 => {
            let code = math_code(p, k, trapno)?;
            Fault {
                error_code: 0,
                ..fault(SIGFPE, code, regs.rip)
            }
        }
        17 => fault(SIGBUS, BUS_ADRALN, 0),
        21 => fault(SIGSEGV, SEGV_CPERR, 0),
        // NMI, double fault and interrupts are not the program's doing.
        2 | 8 => return None,
        v if v >= FIRST_IRQ => return None,
        _ => fault(SIGSEGV, SI_KERNEL, 0),
    })
}

/// The si_code of an x87 (#MF) or SIMD (#XM) exception, from the unmasked exception bits in
/// the status (fpu__exception_code); None when no unmasked exception is set (spurious).
fn math_code(p: &mut Current, k: &mut dyn Platform, trapno: u64) -> Option<i32> {
    let area = p.sig.fp_scratch();
    k.save_fpu(area);
    let (fx, _) = FpState64::read_from_prefix(&area.bytes).ok()?;
    let err = if trapno == 16 {
        u32::from(fx.swd & !fx.cwd)
    } else {
        !(fx.mxcsr >> 7) & fx.mxcsr
    };
    if err & 0x001 != 0 {
        Some(FPE_FLTINV)
    } else if err & 0x004 != 0 {
        Some(FPE_FLTDIV)
    } else if err & 0x008 != 0 {
        Some(FPE_FLTOVF)
    } else if err & 0x012 != 0 {
        Some(FPE_FLTUND)
    } else if err & 0x020 != 0 {
        Some(FPE_FLTRES)
    } else {
        None
    }
}

/// The name of an exception vector, for the log.
fn vector_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        3 => "breakpoint",
        4 => "overflow",
        6 => "invalid opcode",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack fault",
        13 => "general protection",
        14 => "page fault",
        16 => "x87 floating point",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating point",
        21 => "control protection",
        _ => "exception",
    }
}
