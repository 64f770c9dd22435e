//! What every CPU runs: take a thread from the scheduler, run it in user mode, serve its system
//! calls and traps, and switch when it waits, yields, ends or its time slice is over.
//!
//! Threads never sleep on a kernel stack (see `coracle_syscalls::sched`): each CPU has one
//! kernel stack, this loop, and at most one thread's registers loaded at a time. The kernel
//! runs with interrupts disabled; only user mode and the idle halt take them.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use coracle_syscalls::platform::AddressSpaces;
use coracle_syscalls::sched::{CpuControl, Scheduler, Task, TIME_SLICE_NS};
use coracle_syscalls::{
    dispatch, exit_process, resume, signal, stop_wait, thread_gone, trace_wait, Outcome,
    TRAP_SIGRETURN, TRAP_SYSCALL,
};
use coracle_vfs::Wake;

use crate::arch::{self, fpu, interrupt, trap::run_user, Interrupt};
use crate::cpu_stats::Stat;
use crate::platform::KernelPlatform;
use crate::task::UserFault;
use crate::{console, time};

/// The kernel's side of the scheduler: which CPU we are, waking other CPUs, the clock.
#[derive(Debug)]
pub struct KernelCpus;

impl CpuControl for KernelCpus {
    fn kick(&self, cpu: usize) {
        crate::cpu_stats::add(Stat::Ipis, 1);
        arch::send_ipi(cpu, interrupt::WAKE);
    }

    fn current_cpu(&self) -> usize {
        arch::cpu_index()
    }

    fn now_ns(&self) -> u64 {
        time::monotonic_ns()
    }
}

/// Stops the machine with the program's status, as the host tool expects it.
pub fn shutdown(status: u32, timing: bool) -> ! {
    let khz = if timing {
        time::tsc_khz()
    } else {
        time::tsc_khz_if_known()
    };
    // The program's sockets close as its exit would close them, and what they sent reaches
    // the peers before the card stops with the VM.
    crate::dev::net_drain::drain();
    crate::cpu_stats::report();
    // Stores through shared mappings of volume files reach the host (an unmount's sync).
    crate::dev::p9::sync_all();
    // The host has every byte of output before it learns the program ended.
    crate::dev::console::flush();
    console::control(format_args!("exit status={status} tsc_khz={khz}"));
    arch::cpu::exit_vm(0)
}

/// What the loop does after serving one kernel entry of a thread.
enum Next {
    /// Back to user mode.
    Run,
    /// Off this CPU: it waits (parked), or it was preempted or yielded (`requeue`).
    Leave { requeue: bool },
    /// The thread ended.
    Ended,
}

/// Runs threads on CPU `cpu` forever.
pub fn run(cpu: usize, sched: &Arc<Scheduler>, platform: &mut KernelPlatform, timing: bool) -> ! {
    loop {
        sched.set_idle(cpu, false);
        // Processes `coracle exec` asked for start here, between threads.
        coracle_syscalls::exec::spawn_pending(platform);
        if let Some(task) = sched.pick(cpu) {
            run_task(cpu, sched, &task, platform, timing);
            continue;
        }
        // Nothing to run: mark idle, look once more (a wake may have raced), then wait for the
        // earliest deadline.
        sched.set_idle(cpu, true);
        if sched.has_waiting(cpu) {
            continue;
        }
        idle_until_deadline(cpu, sched);
    }
}

/// The deadline (CLOCK_MONOTONIC ns) this CPU's timer is armed for, per CPU (u64::MAX: none),
/// so that an unchanged deadline costs no timer write.
static ARMED: [AtomicU64; arch::MAX_CPUS] = [const { AtomicU64::new(u64::MAX) }; arch::MAX_CPUS];

/// Arms this CPU's timer for `deadline` (ns; `None`: none) unless it is armed for that or
/// earlier. It also wakes for the devices' deferred work: the device CPU, which takes the
/// device interrupts, for all of it, another CPU for the deadlines set there. A timer armed
/// earlier than needed is left to fire (the loop then arms the real deadline): the network
/// stack's deadline moves at almost every poll, and a timer write on every return to user
/// mode cost a seventh of the samples of a redis load.
fn arm(cpu: usize, deadline: Option<u64>) {
    let mut want = deadline.unwrap_or(u64::MAX);
    if let Some(work) = crate::dev::work::cpu_deadline(cpu) {
        want = want.min(work);
    }
    let armed = ARMED[cpu].load(Ordering::Relaxed);
    // An armed deadline that has passed fired (or is about to): it no longer covers `want`.
    if want < armed || (armed != u64::MAX && armed <= time::monotonic_ns()) {
        ARMED[cpu].store(want, Ordering::Relaxed);
        arch::arm_timer(if want == u64::MAX {
            0
        } else {
            time::tsc_at(want).max(1)
        });
    }
}

/// Forgets the armed deadline after the timer fired (it disarms itself).
fn fired(cpu: usize) {
    ARMED[cpu].store(u64::MAX, Ordering::Relaxed);
}

/// Waits, with nothing to run, for an interrupt: the earliest deadline, or a wake from another
/// CPU; then wakes the threads whose deadline passed.
fn idle_until_deadline(cpu: usize, sched: &Scheduler) {
    let deadline = sched.next_deadline();
    if deadline.is_none()
        && arch::cpus_online() == 1
        && !crate::dev::work::any()
        && !ONLY_CPU_WARNED.swap(true, Ordering::Relaxed)
    {
        // Every thread waits for something only another thread or a signal could give, no
        // device could wake one, and nothing else runs: Linux would hang here too.
        console::log_line(format_args!(
            "all threads are waiting and nothing can wake them: the program hangs"
        ));
    }
    arm(cpu, deadline);
    let work = crate::dev::work::cpu_deadline(cpu);
    let wake = match (deadline, work) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if wake.is_none_or(|d| d > time::monotonic_ns()) {
        // Frames written before going idle leave now, with one doorbell.
        crate::dev::net::flush();
        let halted = crate::cpu_stats::stamp();
        arch::idle_wait();
        crate::cpu_stats::add(Stat::Halts, 1);
        crate::cpu_stats::add_since(Stat::IdleNs, halted);
    } else {
        crate::cpu_stats::add(Stat::IdleSpins, 1);
    }
    if wake.is_some_and(|d| d <= time::monotonic_ns()) {
        fired(cpu);
    }
    crate::dev::work::run_due(time::monotonic_ns());
    sched.expire(time::monotonic_ns());
    crate::mm::tlb::reclaim();
}

static ONLY_CPU_WARNED: AtomicBool = AtomicBool::new(false);

/// The trap flag (single-step) in RFLAGS.
const RFLAGS_TF: u64 = 0x100;
/// The debug exception's vector.
const DEBUG_VECTOR: u64 = 1;

/// Runs `task` on this CPU until it leaves it.
fn run_task(
    cpu: usize,
    sched: &Arc<Scheduler>,
    task: &Arc<Task>,
    platform: &mut KernelPlatform,
    timing: bool,
) {
    let thread = &task.thread;
    crate::cpu_stats::add(Stat::Picks, 1);
    let picked = crate::cpu_stats::stamp();
    thread.last_cpu.store(cpu, Ordering::Relaxed);
    sched.set_running(cpu, thread.tid);
    let mut body = task.body.lock();
    let body = &mut *body;
    // The thread's process may live in another address space than the last thread here.
    let space = body.current.process.space.lock().clone();
    if let Some(space) = space {
        platform.switch_space(&space);
    }
    // CPU time: all of it from here until the thread leaves is its own (user mode and its
    // system calls), charged at every kernel entry so that its CPU clocks read current.
    thread.start_running(time::monotonic_ns());
    arch::set_user_fs_base(body.regs.fs_base);
    arch::set_user_gs_base(body.regs.gs_base);
    fpu::restore(&body.fpu);

    // Back from a wait: finish the system call it was in (a killed thread just ends).
    let mut next = match thread.finish_wait() {
        Some(_) if thread.killed.load(Ordering::SeqCst) => Next::Ended,
        // Continued after a stop (job control): back to user mode as it was.
        Some(_) if core::mem::take(&mut body.current.stop_waiting) => Next::Run,
        Some(why) => after_call(
            cpu,
            sched,
            task,
            resume(&mut body.current, platform, &mut body.regs, why),
            body,
            platform,
            timing,
        ),
        None => Next::Run,
    };
    let slice_end = time::monotonic_ns().saturating_add(TIME_SLICE_NS);
    while let Next::Run = next {
        if thread.killed.load(Ordering::SeqCst) {
            next = Next::Ended;
            break;
        }
        // A traced thread goes through its ptrace stops (each until its tracer resumes it):
        // those its system call queued before any signal is taken, the signal-delivery stop
        // that delivery queued after. Pending signals are delivered on the way back to user
        // mode (one atomic load when there are none); a fatal one ends the program.
        let mut traced_stop = false;
        for pass in 0..2 {
            if pass == 1 && signal::deliver(&mut body.current, platform, &mut body.regs).is_some() {
                next = end_process(body, platform, timing);
                break;
            }
            if trace_wait(&mut body.current, platform, &mut body.regs) {
                traced_stop = true;
                break;
            }
        }
        if !matches!(next, Next::Run) {
            break;
        }
        // A traced thread in a ptrace stop waits for its tracer here, a stopped process's
        // threads for SIGCONT.
        if traced_stop || stop_wait(&mut body.current) {
            if thread.park(task.clone()).is_none() {
                next = Next::Leave { requeue: false };
                break;
            }
            thread.finish_wait();
            body.current.stop_waiting = false;
            continue;
        }
        // The timer: the earliest deadline, or the end of the slice if others wait to run.
        let mut deadline = sched.next_deadline();
        if sched.has_waiting(cpu) {
            deadline = Some(deadline.map_or(slice_end, |d| d.min(slice_end)));
        }
        // Frames ran short and the page cache's unheld pages were not enough: release the
        // mapped ones here, where no lock is held (one load when memory is fine).
        if crate::mm::pressure::wanted() {
            crate::mm::pressure::relieve(&body.current, platform);
        }
        arm(cpu, deadline);
        // With TF set (a single step) the return from a system call goes through IRET, as
        // Linux's does: SYSRET would trap before the next instruction ran. A tracer's
        // hardware breakpoints hold in user mode only.
        if body.regs.trap == TRAP_SYSCALL && body.regs.rflags & RFLAGS_TF != 0 {
            body.regs.trap = TRAP_SIGRETURN;
        }
        let debug = body.current.debug.armed().then_some(body.current.debug);
        if let Some(d) = &debug {
            arch::debugreg::arm(&d.addr, d.dr7);
        }
        run_user(&mut body.regs);
        if debug.is_some() {
            arch::debugreg::disarm();
        }
        thread.charge(time::monotonic_ns());
        if body.regs.trap == DEBUG_VECTOR {
            let dr6 = arch::debugreg::take_status();
            if body.current.debug.note_trap(dr6) {
                body.regs.rflags |= coracle_syscalls::RFLAGS_RF;
            }
        }
        let trap = body.regs.trap;
        next = if trap == TRAP_SYSCALL {
            let nr = body.regs.rax;
            let entered = crate::cpu_stats::stamp();
            let outcome = dispatch(&mut body.current, platform, &mut body.regs);
            crate::cpu_stats::syscall(nr, entered);
            after_call(cpu, sched, task, outcome, body, platform, timing)
        } else if interrupt::is_interrupt(trap) {
            let what = arch::interrupt_done(trap);
            if what == Interrupt::Timer {
                fired(cpu);
            }
            // Device work (a card's interrupt, a stack timer) runs here, outside the raw
            // handler and with no system call's lock held.
            crate::dev::work::run_due(time::monotonic_ns());
            if what == Interrupt::Timer {
                sched.expire(time::monotonic_ns());
                crate::mm::tlb::reclaim();
            }
            // A process `coracle exec` asked for starts at the loop's top, between threads
            // (building its image sets the CPU's FS/GS bases and FPU): this thread leaves the
            // CPU with its own saved, even if it would never leave it otherwise.
            if coracle_syscalls::exec::pending() {
                Next::Leave { requeue: true }
            } else {
                Next::Run
            }
        } else {
            match crate::task::user_fault(platform, &mut body.current, &mut body.regs) {
                UserFault::Resume => Next::Run,
                UserFault::Exit => end_process(body, platform, timing),
                UserFault::Wait => match thread.park(task.clone()) {
                    None => Next::Leave { requeue: false },
                    Some(_) => {
                        // The page came while the thread registered: fault again now.
                        thread.finish_wait();
                        body.current.stop_waiting = false;
                        Next::Run
                    }
                },
            }
        };
        if matches!(next, Next::Run) && sched.has_waiting(cpu) && time::monotonic_ns() >= slice_end
        {
            next = Next::Leave { requeue: true };
        }
    }
    sched.set_running(cpu, 0);
    crate::cpu_stats::add_since(Stat::ThreadNs, picked);
    thread.stop_running(time::monotonic_ns());
    match next {
        Next::Leave { requeue } => {
            body.regs.fs_base = arch::user_fs_base();
            body.regs.gs_base = arch::user_gs_base();
            fpu::save(&mut body.fpu);
            if requeue {
                sched.requeue(cpu, task.clone());
            }
        }
        Next::Ended | Next::Run => {
            if let Some(status) = thread_gone(&mut body.current) {
                shutdown(status, timing)
            }
            sched.remove(thread.tid)
        }
    }
}

/// The thread's process ends (exit_group, a fatal signal): the VM stops if it is PID 1,
/// otherwise its other threads are killed and this one ends.
fn end_process(
    body: &mut coracle_syscalls::sched::TaskBody,
    platform: &mut KernelPlatform,
    timing: bool,
) -> Next {
    let _ = platform;
    match exit_process(&mut body.current) {
        Some(status) => shutdown(status, timing),
        None => Next::Ended,
    }
}

/// Acts on the outcome of a system call; a wait that already ended continues at once.
fn after_call(
    cpu: usize,
    sched: &Arc<Scheduler>,
    task: &Arc<Task>,
    mut outcome: Outcome,
    body: &mut coracle_syscalls::sched::TaskBody,
    platform: &mut KernelPlatform,
    timing: bool,
) -> Next {
    loop {
        match outcome {
            Outcome::Return(v) => {
                body.regs.rax = v;
                return Next::Run;
            }
            Outcome::Yield(v) => {
                body.regs.rax = v;
                // (A thread whose affinity excludes this CPU moves: see Scheduler::requeue.)
                return if sched.has_waiting(cpu) || !task.thread.may_run_on(cpu) {
                    Next::Leave { requeue: true }
                } else {
                    Next::Run
                };
            }
            Outcome::Wait => match task.thread.park(task.clone()) {
                None => return Next::Leave { requeue: false },
                Some(_) => {
                    let why = task.thread.finish_wait().unwrap_or(Wake::Retry);
                    outcome = resume(&mut body.current, platform, &mut body.regs, why);
                }
            },
            Outcome::ExitThread => return Next::Ended,
            Outcome::Exit(_) => return end_process(body, platform, timing),
        }
    }
}
