//! The end of a process: group exit, the last thread leaving, zombies, SIGCHLD to the parent,
//! orphans going to their reaper, and the VM stopping when PID 1 ends.
//!
//! A process ends when its last thread has gone ([`thread_gone`]): its files are closed, its
//! memory is given back, its children go to the nearest subreaper or PID 1, and it stays in the
//! system's tree as a zombie holding its status until its parent reaps it (`wait.rs`), or at
//! once when the parent ignores SIGCHLD. PID 1 is the container's entrypoint: when it ends the
//! whole VM stops with its status.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use crate::process::{ExitStatus, Process, System};
use crate::signal::{self, SiChld, SigInfo, Target};
use crate::Current;

pub(crate) use crate::signal::SIGCHLD;
/// si_code values of SIGCHLD.
pub(crate) const CLD_EXITED: i32 = 1;
pub(crate) const CLD_KILLED: i32 = 2;
pub(crate) const CLD_DUMPED: i32 = 3;
pub(crate) const CLD_STOPPED: i32 = 5;
pub(crate) const CLD_CONTINUED: i32 = 6;
/// The init process: orphans go to it, and the VM stops when it ends.
pub(crate) const INIT: u32 = 1;
/// Clock ticks per second of the CPU times in a SIGCHLD siginfo (USER_HZ).
const TICKS: u64 = 100;

/// The process of `p` ends with the status already recorded (exit_group, a fatal signal,
/// the out-of-memory killer): its other threads are killed; the calling thread ends too.
/// Returns the status the VM stops with when the process is PID 1.
pub fn exit_process(p: &mut Current) -> Option<u32> {
    let standing = p.process.set_exit(ExitStatus::Signaled {
        sig: 9,
        core: false,
    });
    if p.process.pid == INIT {
        return Some(standing.docker());
    }
    kill_other_threads(p);
    None
}

/// Kills every thread of the process but the caller (exit_group, execve).
pub(crate) fn kill_other_threads(p: &Current) {
    let tids: Vec<u32> = p.process.threads.lock().clone();
    for tid in tids.into_iter().filter(|&t| t != p.tid) {
        if let Some(t) = p.sys.sched.thread(tid) {
            t.kill();
        }
    }
}

/// The calling thread has ended for good (it exited, or was killed): the last thread of a
/// process makes it a zombie. Returns the status the VM stops with when that was PID 1.
pub fn thread_gone(p: &mut Current) -> Option<u32> {
    let last = {
        let mut threads = p.process.threads.lock();
        let before = threads.len();
        threads.retain(|&t| t != p.tid);
        if threads.len() != before {
            crate::sys::info::account_exit(p);
        }
        threads.is_empty()
    };
    if !last {
        crate::ptrace::on_thread_gone(p, None);
        return None;
    }
    let status = p.process.set_exit(ExitStatus::Signaled {
        sig: 9,
        core: false,
    });
    if p.process.pid == INIT {
        return Some(status.docker());
    }
    crate::tty::jobs::process_ended(&p.sys, &p.process);
    crate::ptrace::on_thread_gone(p, Some(status));
    become_zombie(&p.process, &p.sys, status);
    // A process `coracle exec` started: its status goes to the host.
    crate::exec::process_ended(p.process.pid, status);
    None
}

/// Gives back what a process holds that its zombie does not need: its files (and the POSIX
/// locks it owns), its memory, its address space.
fn release_resources(process: &Process, sys: &System) {
    let files = core::mem::take(&mut *process.files.lock());
    if !files.is_empty() {
        let mut locks = sys.locks.lock();
        for (_, fd) in files.iter() {
            crate::sys::ipc::mqueue::flush(&fd.file, process.pid);
            let st = fd.file.inode().stat();
            locks.release_process((st.dev, st.ino), process.pid);
        }
    }
    drop(files);
    sys.lock_waiters.wake_everyone();
    crate::sys::ipc::sem::exit(sys, process.pid);
    release_memory(process);
}

/// Unmaps the whole user half and lets go of the address space (exit, and the old image of
/// an execve). Processes that share the memory (CLONE_VM) keep it until the last of them lets go.
pub(crate) fn release_memory(process: &Process) {
    let space = process.space.lock().take();
    let last = process.mm.leave();
    if let (Some(space), Some(pinned)) = (space, last) {
        // Every page goes; the file ones its mappings held are let go of then too.
        space.unmap(0, crate::user_ptr::USER_HALF_END, pinned);
    }
}

/// Where the orphans of `dying` go: the nearest living ancestor that is a subreaper, else
/// PID 1 (find_new_reaper).
fn reaper_for(tree: &alloc::collections::BTreeMap<u32, Arc<Process>>, dying: u32) -> u32 {
    let mut at = tree.get(&dying).map_or(0, |p| p.ppid());
    for _ in 0..tree.len() {
        let Some(p) = tree.get(&at) else { break };
        let life = p.life.lock();
        if life.subreaper && life.ended.is_none() {
            return at;
        }
        drop(life);
        at = p.ppid();
    }
    INIT
}

use crate::signal::SIGHUP;

/// The members of the process groups that `dying`'s end orphans and that have a stopped
/// member (POSIX; Linux's kill_orphaned_pgrp): `dying`'s own group, if its parent was the
/// group's link to the rest of the session, and the group of each of its `children` (already
/// handed to their new parent) that lives in another group of the same session.
fn newly_orphaned_groups(
    tree: &alloc::collections::BTreeMap<u32, Arc<Process>>,
    dying: &Process,
    parent: Option<&Process>,
    children: &[Arc<Process>],
) -> Vec<Arc<Process>> {
    let mut groups: Vec<u32> = Vec::new();
    let own = dying.pgid();
    if parent.is_some_and(|pp| pp.pgid() != own && pp.sid() == dying.sid())
        && orphaned(tree, own, dying.pid)
    {
        groups.push(own);
    }
    for child in children {
        let g = child.pgid();
        if g != own && child.sid() == dying.sid() && !groups.contains(&g) && orphaned(tree, g, 0) {
            groups.push(g);
        }
    }
    groups.retain(|&g| {
        tree.values()
            .any(|q| q.pgid() == g && q.stopped.load(Ordering::SeqCst))
    });
    tree.values()
        .filter(|q| groups.contains(&q.pgid()) && q.life.lock().ended.is_none())
        .cloned()
        .collect()
}

/// Whether no member of group `pgid` (but `ignore`) has a parent in another group of the same
/// session (will_become_orphaned_pgrp): zombies and children of PID 1 do not count.
fn orphaned(
    tree: &alloc::collections::BTreeMap<u32, Arc<Process>>,
    pgid: u32,
    ignore: u32,
) -> bool {
    tree.values()
        .filter(|q| q.pgid() == pgid && q.pid != ignore)
        .all(|q| {
            if q.life.lock().ended.is_some() || q.ppid() == INIT {
                return true;
            }
            tree.get(&q.ppid())
                .is_none_or(|pp| pp.pgid() == pgid || pp.sid() != q.sid())
        })
}

/// The process ended with `status`: it becomes a zombie for its parent to reap.
fn become_zombie(process: &Arc<Process>, sys: &Arc<System>, status: ExitStatus) {
    release_resources(process, sys);
    let cpu_ns = process.exited_cpu_ns.load(Ordering::Relaxed);
    let mut orphans_signalled: Vec<(Arc<Process>, u32)> = Vec::new();
    // Zombies handed to the reaper: it hears of them as of its own children's ends.
    let mut zombies: Vec<(Arc<Process>, ExitStatus, u32)> = Vec::new();
    let hang_up: Vec<Arc<Process>>;
    let (parent, reaper, reaped, exit_signal) = {
        let mut tree = sys.tree.lock();
        let reaper_pid = reaper_for(&tree, process.pid);
        let reaper = tree.get(&reaper_pid).cloned();
        let mut any_zombie = false;
        let mut reparented: Vec<Arc<Process>> = Vec::new();
        for child in tree.values().filter(|c| c.ppid() == process.pid) {
            child.ppid.store(reaper_pid, Ordering::Relaxed);
            reparented.push(child.clone());
            let life = child.life.lock();
            if let (Some(end), true) = (life.ended, life.exit_signal != 0) {
                zombies.push((child.clone(), end, life.exit_signal));
            }
            any_zombie |= life.ended.is_some();
            if life.pdeathsig != 0 && life.ended.is_none() {
                orphans_signalled.push((child.clone(), life.pdeathsig));
            }
        }
        let parent = tree.get(&process.ppid()).cloned();
        let exit_signal = {
            let mut life = process.life.lock();
            life.ended = Some(status);
            life.cpu_ns = cpu_ns;
            life.vfork_done = true;
            life.exit_signal
        };
        hang_up = newly_orphaned_groups(&tree, process, parent.as_deref(), &reparented);
        // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) never sees zombies.
        let reaped = parent.as_ref().is_some_and(|pp| {
            let act = pp.signals.action(SIGCHLD);
            exit_signal == SIGCHLD
                && (act.handler == signal::SIG_IGN || act.flags & signal::SA_NOCLDWAIT != 0)
        }) || parent.is_none();
        if reaped {
            tree.remove(&process.pid);
        }
        (
            parent,
            any_zombie.then_some(reaper).flatten(),
            reaped,
            exit_signal,
        )
    };
    // A process group this end orphaned, with a stopped member, is hung up and continued.
    for member in hang_up {
        for sig in [SIGHUP, signal::SIGCONT] {
            let info = SigInfo::new(sig, signal::SI_KERNEL);
            let _ = crate::sys::signal::send_to_other(sys, &member, Target::Process, info);
        }
    }
    for (child, sig) in orphans_signalled {
        let info = SigInfo::new(sig, signal::SI_USER);
        let _ = signal::send(&child, &sys.sched, Target::Process, info, None);
    }
    if let Some(reaper) = reaper {
        for (z, end, sig) in zombies {
            notify_parent(&reaper, &z, sys, end, sig);
        }
        reaper.child_events.wake_everyone();
    }
    if let Some(parent) = parent {
        // A tracer that is not the parent hears first; the parent once it has waited
        // (`parent_hears`).
        if exit_signal != 0 && !reaped && !crate::ptrace::holds_zombie(sys, process.pid) {
            notify_parent(&parent, process, sys, status, exit_signal);
        }
        parent.child_events.wake_everyone();
    }
    process.exit_events.wake_everyone();
}

/// The tracer of the zombie `pid`, not its parent, has waited for it: the parent hears of
/// its end now, as it would have when it ended untraced.
pub(crate) fn parent_hears(sys: &System, pid: u32) {
    let Some(zombie) = sys.process(pid) else {
        return;
    };
    let (end, sig) = {
        let life = zombie.life.lock();
        (life.ended, life.exit_signal)
    };
    let (Some(end), Some(parent)) = (end, sys.process(zombie.ppid())) else {
        return;
    };
    if sig != 0 {
        notify_parent(&parent, &zombie, sys, end, sig);
    }
    parent.child_events.wake_everyone();
}

/// The siginfo of SIGCHLD for `child` with this si_code and si_status.
pub(crate) fn chld_info(sig: u32, child: &Process, code: i32, status: u32, cpu_ns: u64) -> SigInfo {
    let mut info = SigInfo::new(sig, code);
    info.set_fields(&SiChld {
        si_pid: child.pid,
        si_uid: child.ruid(),
        si_status: status as i32,
        si_utime: cpu_ns / (1_000_000_000 / TICKS),
        ..SiChld::default()
    });
    info
}

/// Sends the parent its exit signal for the child's end (do_notify_parent).
fn notify_parent(parent: &Process, child: &Process, sys: &System, status: ExitStatus, sig: u32) {
    let (code, value) = match status {
        ExitStatus::Exited(c) => (CLD_EXITED, c),
        ExitStatus::Signaled { sig, core: false } => (CLD_KILLED, sig),
        ExitStatus::Signaled { sig, core: true } => (CLD_DUMPED, sig),
    };
    let cpu_ns = child.life.lock().cpu_ns;
    let info = chld_info(sig, child, code, value, cpu_ns);
    let _ = signal::send(parent, &sys.sched, Target::Process, info, None);
}
