//! New processes: fork, vfork, and clone without CLONE_THREAD.
//!
//! The child gets a copy-on-write copy of the parent's user half (its space handle's
//! `fork`; pages of MAP_SHARED mappings stay shared), a copy of the VMA list, of the fd
//! table (the same open file descriptions, so offsets are shared), of the signal actions and
//! the caller's mask, and the caller's registers returning 0. With CLONE_VM (vfork,
//! posix_spawn, clone(CLONE_VM)) the child shares the parent's memory map and address space
//! instead of copying them (`crate::mm::MmRef`), until one of them calls execve or ends. A
//! vfork parent (CLONE_VFORK) waits until the child calls execve or ends.

use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use spin::Mutex;

use crate::process::{Life, Process};
use crate::regs::UserRegs;
use crate::signal::SigThread;
use crate::{Current, Errno, Platform, SysResult};
use coracle_vfs::WaitQueue;

/// What the caller of fork, vfork or clone asked for.
pub(crate) struct ForkArgs {
    pub flags: u64,
    /// The signal the parent gets when the child ends.
    pub exit_signal: u32,
    /// The child's stack pointer (0: the caller's).
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
    /// Where CLONE_PIDFD stores the child's pidfd.
    pub pidfd: u64,
}

const CLONE_VM: u64 = 0x100;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
use crate::signal::SIGCHLD;

pub(crate) fn fork(p: &mut Current, k: &mut dyn Platform, regs: &UserRegs) -> SysResult {
    let args = ForkArgs {
        flags: 0,
        exit_signal: SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
        pidfd: 0,
    };
    new_process(p, k, regs, args)
}

pub(crate) fn vfork(p: &mut Current, k: &mut dyn Platform, regs: &UserRegs) -> SysResult {
    let args = ForkArgs {
        flags: CLONE_VM | CLONE_VFORK,
        exit_signal: SIGCHLD,
        stack: 0,
        parent_tid: 0,
        child_tid: 0,
        tls: 0,
        pidfd: 0,
    };
    new_process(p, k, regs, args)
}

/// Makes the child process and starts it; returns its pid to the parent.
pub(crate) fn new_process(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    a: ForkArgs,
) -> SysResult {
    // A vfork parent's re-run after its wait: the child exists already.
    if p.progress != 0 {
        return vfork_wait(p, p.progress as u32);
    }
    crate::kmem::check_thread_count(&p.sys)?;
    crate::sys::process::nproc::check(p)?;
    let parent = p.process.clone();
    let pid = p.sys.sched.alloc_tid();
    let shared_vm = a.flags & CLONE_VM != 0;
    // The memory: with CLONE_VM the parent's own map and space (mm_users + 1); otherwise the
    // VMA list and the page tables, copied together under the mm lock so no fault slips
    // between them.
    let (mm, space) = if shared_vm {
        (parent.mm.share(), k.space())
    } else {
        let shared = parent.mm.get();
        let mm = shared.lock();
        let space = k.space().fork()?;
        let mut mm = mm.clone();
        // MADV_DONTFORK ranges are not the child's; MADV_WIPEONFORK ones fault in zeros.
        for (start, end) in mm.forked() {
            space.unmap(start, end - start, Vec::new());
        }
        (crate::mm::MmRef::new(mm), space)
    };
    let ppid = if a.flags & CLONE_PARENT != 0 {
        parent.ppid()
    } else {
        parent.pid
    };
    let child = Arc::new(Process {
        pid,
        ppid: AtomicU32::new(ppid),
        pgid: AtomicU32::new(parent.pgid()),
        sid: AtomicU32::new(parent.sid()),
        creds: Mutex::new(parent.creds()),
        comm: Mutex::new(parent.comm.lock().clone()),
        cmdline: Mutex::new(parent.cmdline.lock().clone()),
        environ: Mutex::new(parent.environ.lock().clone()),
        auxv: Mutex::new(parent.auxv.lock().clone()),
        space: Mutex::new(Some(space.clone())),
        stopped: core::sync::atomic::AtomicBool::new(false),
        life: Mutex::new(Life {
            exit_signal: a.exit_signal,
            prctl: parent.life.lock().prctl,
            ..Life::default()
        }),
        child_events: WaitQueue::new(),
        exit_events: WaitQueue::new(),
        exe: Mutex::new(parent.exe.lock().clone()),
        files: Mutex::new(parent.files.lock().clone()),
        fs: Mutex::new(parent.fs.lock().clone()),
        mm,
        limits: Mutex::new(*parent.limits.lock()),
        start_ns: k.monotonic_ns(),
        threads: Mutex::new(vec![pid]),
        signals: parent.signals.fork(),
        exited_cpu_ns: AtomicU64::new(0),
        exit_code: Mutex::new(None),
        personality: AtomicU32::new(parent.personality.load(Ordering::Relaxed)),
        ioprio: AtomicU32::new(parent.ioprio.load(Ordering::Relaxed)),
    });
    if a.flags & CLONE_PIDFD != 0 {
        // Made before the child exists for anyone else: a failure leaves no trace.
        let fd = super::pidfd::install(p, child.clone(), 0)?;
        if let Err(e) = k.write_user(a.pidfd, &(fd as i32).to_le_bytes()) {
            p.process.files.lock().remove(fd as usize);
            return Err(e);
        }
    }
    p.sys.register(&child);
    let mut info = p.info.clone();
    info.pid = pid;
    let thread = p.sys.sched.new_thread(pid);
    thread.sig.inherit(&p.thread.sig);
    crate::sys::sched::inherit(&p.thread, &thread);
    let mut cp = Current {
        info,
        sys: p.sys.clone(),
        process: child.clone(),
        tid: pid,
        thread,
        wait_begun: false,
        resumed: None,
        deadline: None,
        progress: 0,
        held: None,
        sig: SigThread::forked(&p.sig),
        clear_child_tid: 0,
        stdin_eof: p.stdin_eof,
        exit_status: None,
        exit_thread: false,
        stop_waiting: false,
        yield_cpu: false,
        bounce: Vec::new(),
        missing_logged: BTreeSet::new(),
        trace_phase: crate::ptrace::Phase::Idle,
        trace_inject: None,
        debug: crate::regs::DebugRegs::default(),
    };
    let tid_bytes = pid.to_le_bytes();
    if a.flags & CLONE_CHILD_SETTID != 0 {
        // In the child's memory (without CLONE_VM a copy): switch to it for the store.
        let mine = k.space();
        k.switch_space(&space);
        let _ = crate::mm::write_user(&child, k, a.child_tid, &tid_bytes);
        k.switch_space(&mine);
    }
    // Before the child can run, so a CLONE_VM child sees it too (LTP clone08).
    if a.flags & CLONE_PARENT_SETTID != 0 {
        let _ = k.write_user(a.parent_tid, &tid_bytes);
    }
    if a.flags & CLONE_CHILD_CLEARTID != 0 {
        cp.clear_child_tid = a.child_tid;
    }
    let tls = (a.flags & CLONE_SETTLS != 0).then_some(a.tls);
    crate::ptrace::on_clone(p, &cp, a.flags, a.exit_signal);
    crate::sys::thread::start_child(k, regs, a.stack, tls, cp);
    if a.flags & CLONE_VFORK != 0 {
        p.progress = u64::from(pid);
        return vfork_wait(p, pid);
    }
    Ok(u64::from(pid))
}

/// A vfork parent waits until its child `pid` has called execve or ended. Only a fatal
/// signal ends the wait early on Linux; here any interruption does.
fn vfork_wait(p: &mut Current, pid: u32) -> SysResult {
    let Some(child) = p.sys.tree.lock().get(&pid).cloned() else {
        return Ok(u64::from(pid));
    };
    if child.life.lock().vfork_done || p.resumed() == Some(coracle_vfs::Wake::Interrupted) {
        crate::ptrace::on_vfork_done(p, pid);
        return Ok(u64::from(pid));
    }
    p.wait_on(&child.exit_events, u64::MAX);
    if child.life.lock().vfork_done {
        crate::ptrace::on_vfork_done(p, pid);
        return Ok(u64::from(pid));
    }
    Err(Errno::WAIT)
}
