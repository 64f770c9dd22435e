//! Threads: clone and clone3 with the thread flags, exit and exit_group, sched_yield.
//!
//! A new thread shares its process (memory, fds, cwd, signal handlers); it starts with a copy
//! of the caller's registers and FP state, returning 0 from the system call on its own stack.
//! Creating processes (clone without CLONE_VM, fork, vfork) is not here yet.

use alloc::boxed::Box;

use coracle_abi::sched as abi;
use coracle_abi::FromBytes;

use crate::process::ExitStatus;
use crate::regs::{FpArea, UserRegs, TRAP_SYSCALL};
use crate::sched::TaskBody;
use crate::sys::futex::key_of;
use crate::{Current, Errno, Platform, SysResult};

pub(crate) const CLONE_VM: u64 = 0x100;
pub(crate) const CLONE_FS: u64 = 0x200;
pub(crate) const CLONE_FILES: u64 = 0x400;
pub(crate) const CLONE_SIGHAND: u64 = 0x800;
pub(crate) const CLONE_PIDFD: u64 = 0x1000;
pub(crate) const CLONE_PTRACE: u64 = 0x2000;
pub(crate) const CLONE_VFORK: u64 = 0x4000;
pub(crate) const CLONE_PARENT: u64 = 0x8000;
pub(crate) const CLONE_THREAD: u64 = 0x1_0000;
pub(crate) const CLONE_NEWNS: u64 = 0x2_0000;
pub(crate) const CLONE_SYSVSEM: u64 = 0x4_0000;
pub(crate) const CLONE_SETTLS: u64 = 0x8_0000;
pub(crate) const CLONE_PARENT_SETTID: u64 = 0x10_0000;
pub(crate) const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
pub(crate) const CLONE_DETACHED: u64 = 0x40_0000;
pub(crate) const CLONE_UNTRACED: u64 = 0x80_0000;
pub(crate) const CLONE_CHILD_SETTID: u64 = 0x100_0000;
pub(crate) const CLONE_NEWCGROUP: u64 = 0x200_0000;
pub(crate) const CLONE_IO: u64 = 0x8000_0000;
/// The namespace flags (UTS, IPC, user, pid, net) that need privileges we do not model.
const CLONE_NEW_OTHERS: u64 = 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What the caller of clone asked for, from either entry point.
struct CloneArgs {
    flags: u64,
    /// The signal the parent gets when a new process ends.
    exit_signal: u32,
    /// The child's stack pointer (0: the caller's).
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
    /// Where CLONE_PIDFD stores the pidfd (clone: parent_tid; clone3: its own field).
    pidfd: u64,
}

pub(crate) fn clone(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    flags: u64,
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
) -> SysResult {
    // clone(2) has no room for the high flags: they are ignored there, as on Linux.
    let args = CloneArgs {
        flags: flags & 0xffff_ff00,
        exit_signal: (flags & 0xff) as u32,
        stack,
        parent_tid,
        child_tid,
        tls,
        pidfd: parent_tid,
    };
    if args.flags & CLONE_PIDFD != 0 && args.flags & CLONE_PARENT_SETTID != 0 {
        // Both would use parent_tid.
        return Err(Errno::EINVAL);
    }
    do_clone(p, k, regs, args)
}

/// clone3(2): `struct clone_args` from user memory, `size` bytes of it.
pub(crate) fn clone3(
    p: &mut Current,
    k: &mut dyn Platform,
    regs: &UserRegs,
    uargs: u64,
    size: u64,
) -> SysResult {
    const VER0: u64 = 64;
    const KNOWN: usize = size_of::<abi::CloneArgs>(); // up to and including `cgroup` (VER2)
    if size < VER0 {
        return Err(Errno::EINVAL);
    }
    if size > 4096 {
        return Err(Errno::E2BIG);
    }
    let mut raw = alloc::vec![0u8; size as usize];
    k.read_user(uargs, &mut raw)?;
    if raw.len() > KNOWN && raw[KNOWN..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    raw.resize(raw.len().max(KNOWN), 0);
    let (a, _) = abi::CloneArgs::read_from_prefix(&raw).map_err(|_| Errno::EINVAL)?;
    let abi::CloneArgs {
        flags,
        pidfd,
        child_tid,
        parent_tid,
        exit_signal,
        stack,
        stack_size,
        tls,
        set_tid,
        set_tid_size,
        ..
    } = a;
    if exit_signal & !0xff != 0 || exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    if (stack == 0) != (stack_size == 0) {
        return Err(Errno::EINVAL);
    }
    if set_tid_size > 32 || (set_tid == 0) != (set_tid_size == 0) {
        return Err(Errno::EINVAL);
    }
    if set_tid_size != 0 {
        // Choosing the child's pid needs CAP_SYS_ADMIN in the pid namespace's owner.
        return Err(Errno::EPERM);
    }
    if flags & (CLONE_CLEAR_SIGHAND | CLONE_INTO_CGROUP) != 0 {
        k.log(format_args!(
            "clone3: CLONE_CLEAR_SIGHAND/CLONE_INTO_CGROUP are not supported: EINVAL"
        ));
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_PIDFD != 0 && pidfd == 0 {
        return Err(Errno::EINVAL);
    }
    do_clone(
        p,
        k,
        regs,
        CloneArgs {
            flags,
            exit_signal: exit_signal as u32,
            stack: stack.wrapping_add(stack_size),
            parent_tid,
            child_tid,
            tls,
            pidfd,
        },
    )
}

fn do_clone(p: &mut Current, k: &mut dyn Platform, regs: &UserRegs, a: CloneArgs) -> SysResult {
    let f = a.flags;
    // The dependencies Linux checks in copy_process.
    if f & (CLONE_NEWNS | CLONE_FS) == (CLONE_NEWNS | CLONE_FS) {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    if f & CLONE_THREAD != 0 && f & CLONE_PIDFD != 0 {
        return Err(Errno::EINVAL);
    }
    if f & (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEW_OTHERS) != 0 {
        k.log(format_args!(
            "clone: new namespaces are not supported (flags {f:#x}): EPERM"
        ));
        return Err(Errno::EPERM);
    }
    if f & CLONE_THREAD == 0 {
        // A new process: fork, vfork, posix_spawn's clone(CLONE_VM|CLONE_VFORK).
        let fa = crate::sys::process::fork::ForkArgs {
            flags: f,
            exit_signal: a.exit_signal,
            stack: a.stack,
            parent_tid: a.parent_tid,
            child_tid: a.child_tid,
            tls: a.tls,
            pidfd: a.pidfd,
        };
        return crate::sys::process::fork::new_process(p, k, regs, fa);
    }
    // Flags that change nothing for a thread of a single-address-space process.
    let _ = (
        CLONE_FILES,
        CLONE_SYSVSEM,
        CLONE_PTRACE,
        CLONE_VFORK,
        CLONE_PARENT,
        CLONE_DETACHED,
        CLONE_UNTRACED,
        CLONE_IO,
    );

    crate::kmem::check_thread_count(&p.sys)?;
    crate::sys::process::nproc::check(p)?;
    let tid = p.sys.sched.alloc_tid();
    let mut child = p.new_thread(tid);
    let tid_bytes = tid.to_le_bytes();
    if f & CLONE_CHILD_SETTID != 0 {
        // The child's memory is the caller's: write it now, before the child can run.
        if let Err(e) = k.write_user(a.child_tid, &tid_bytes) {
            child.forget();
            return Err(e);
        }
    }
    if f & CLONE_PARENT_SETTID != 0 {
        if let Err(e) = k.write_user(a.parent_tid, &tid_bytes) {
            child.forget();
            return Err(e);
        }
    }
    if f & CLONE_CHILD_CLEARTID != 0 {
        child.clear_child_tid = a.child_tid;
    }
    let tls = (f & CLONE_SETTLS != 0).then_some(a.tls);
    crate::ptrace::on_clone(p, &child, f, a.exit_signal);
    start_child(k, regs, a.stack, tls, child);
    Ok(u64::from(tid))
}

/// What a thread does on its way out: the clear-tid wake, the robust list, its signals.
/// Makes the new thread or process `child` runnable: the caller's registers (`stack`, if not 0,
/// as its stack pointer; `tls`, if given, as its FS base), 0 as clone's result in it, and a
/// copy of the caller's FP state.
pub(crate) fn start_child(
    k: &mut dyn Platform,
    regs: &UserRegs,
    stack: u64,
    tls: Option<u64>,
    child: Current,
) {
    let mut cregs = *regs;
    cregs.rax = 0;
    cregs.trap = TRAP_SYSCALL;
    if stack != 0 {
        cregs.rsp = stack;
    }
    // The live bases are in the CPU, not yet in the saved registers.
    cregs.fs_base = tls.unwrap_or_else(|| k.fs_base());
    cregs.gs_base = k.gs_base();
    let mut fpu = Box::<FpArea>::default();
    k.save_fpu(&mut fpu);
    let sched = child.sys.sched.clone();
    let task = sched.make_task(TaskBody {
        current: child,
        regs: cregs,
        fpu,
    });
    sched.enqueue(task);
}

fn thread_exit(p: &mut Current, k: &mut dyn Platform) {
    crate::signal::thread_exit(p);
    if p.clear_child_tid != 0 {
        let addr = p.clear_child_tid;
        // The kernel's wake is a shared one (no FUTEX_PRIVATE_FLAG), as in mm_release.
        if k.write_user(addr, &0u32.to_le_bytes()).is_ok() {
            if let Ok(key) = key_of(p, addr, false) {
                p.sys.futexes.wake(key, 1);
            }
        }
    }
    walk_robust_list(p, k);
}

/// Marks the robust futexes the thread still holds as FUTEX_OWNER_DIED and wakes a waiter of
/// each, as Linux's exit_robust_list does.
fn walk_robust_list(p: &mut Current, k: &mut dyn Platform) {
    const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
    const FUTEX_WAITERS: u32 = 0x8000_0000;
    const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
    const LIMIT: usize = 2048; // ROBUST_LIST_LIMIT
    let head = p
        .thread
        .robust_list
        .load(core::sync::atomic::Ordering::Relaxed);
    if head == 0 {
        return;
    }
    let read64 = |k: &dyn Platform, a: u64| -> Option<u64> {
        let mut b = [0u8; 8];
        k.read_user(a, &mut b).ok().map(|_| u64::from_le_bytes(b))
    };
    // struct robust_list_head { list.next; long futex_offset; list_op_pending; }. Bit 0 of
    // an entry pointer marks a PI futex: marked as its owner died, but its waiters are the
    // PI code's business (not woken here).
    let (Some(mut entry), Some(offset), Some(pending)) =
        (read64(k, head), read64(k, head + 8), read64(k, head + 16))
    else {
        return;
    };
    let handle = |k: &mut dyn Platform, entry: u64| {
        let (pi, addr) = (entry & 1 != 0, (entry & !1).wrapping_add(offset));
        for _ in 0..16 {
            let mut b = [0u8; 4];
            if k.read_user(addr, &mut b).is_err() || !addr.is_multiple_of(4) {
                return;
            }
            let val = u32::from_le_bytes(b);
            if val & FUTEX_TID_MASK != p.tid {
                return;
            }
            let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            match k.cmpxchg_user_u32(addr, val, new) {
                Ok(old) if old == val => {
                    // handle_futex_death wakes as a shared futex: robust mutexes in
                    // shared memory hand over to waiters in other processes.
                    if !pi && val & FUTEX_WAITERS != 0 {
                        if let Ok(key) = key_of(p, addr, false) {
                            p.sys.futexes.wake(key, 1);
                        }
                    }
                    return;
                }
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    };
    let mut n = 0;
    while entry & !1 != head && entry & !1 != 0 && n < LIMIT {
        let next = read64(k, entry & !1);
        if entry & !1 != pending & !1 {
            handle(k, entry);
        }
        match next {
            Some(next) => entry = next,
            None => break,
        }
        n += 1;
    }
    if pending & !1 != 0 {
        handle(k, pending);
    }
}

pub(crate) fn exit(p: &mut Current, k: &mut dyn Platform, status: i32) -> SysResult {
    thread_exit(p, k);
    let code = ExitStatus::Exited((status & 0xff) as u32);
    let last = {
        let mut threads = p.process.threads.lock();
        threads.retain(|&t| t != p.tid);
        // Under the lock, so the process CPU clock counts this thread's time exactly once.
        crate::sys::info::account_exit(p);
        threads.is_empty()
    };
    if p.tid == p.process.pid {
        // The process's status is its main thread's, even if other threads end later.
        p.process.set_exit(code);
    }
    if last {
        p.exit_status = Some(p.process.exit_code().unwrap_or(code).docker());
    } else {
        p.exit_thread = true;
    }
    Ok(0)
}

pub(crate) fn exit_group(p: &mut Current, k: &mut dyn Platform, status: i32) -> SysResult {
    thread_exit(p, k);
    let code = ExitStatus::Exited((status & 0xff) as u32);
    p.exit_status = Some(p.process.set_exit(code).docker());
    Ok(0)
}

pub(crate) fn sched_yield(p: &mut Current, _k: &mut dyn Platform) -> SysResult {
    p.yield_cpu = true;
    Ok(0)
}
