//! ptrace(2) itself: the tracer's requests (`kernel/ptrace.c`, `arch/x86/kernel/ptrace.c`).
//!
//! Every request but TRACEME, ATTACH, SEIZE, KILL and INTERRUPT needs a tracee of the caller
//! that is in a stop it has not been resumed from (else `ESRCH`). Memory goes through the
//! tracee's address space as process_vm_readv does; a write to a private mapping without
//! PROT_WRITE (a breakpoint in program text) makes the page a private copy, as Linux's
//! FOLL_FORCE does.

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::ptrace::{PtraceSyscallInfo, UserRegsStruct};

use super::*;
use crate::process::Process;
use crate::signal::{self, Target, SIGKILL, SIGSTOP};
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Perms, Platform, SysResult};

const PTRACE_TRACEME: i64 = 0;
const PTRACE_PEEKTEXT: i64 = 1;
const PTRACE_PEEKDATA: i64 = 2;
const PTRACE_PEEKUSR: i64 = 3;
const PTRACE_POKETEXT: i64 = 4;
const PTRACE_POKEDATA: i64 = 5;
const PTRACE_POKEUSR: i64 = 6;
const PTRACE_CONT: i64 = 7;
const PTRACE_KILL: i64 = 8;
const PTRACE_SINGLESTEP: i64 = 9;
const PTRACE_GETREGS: i64 = 12;
const PTRACE_SETREGS: i64 = 13;
const PTRACE_GETFPREGS: i64 = 14;
const PTRACE_SETFPREGS: i64 = 15;
const PTRACE_ATTACH: i64 = 16;
const PTRACE_DETACH: i64 = 17;
const PTRACE_SYSCALL: i64 = 24;
const PTRACE_SETOPTIONS: i64 = 0x4200;
const PTRACE_GETEVENTMSG: i64 = 0x4201;
const PTRACE_GETSIGINFO: i64 = 0x4202;
const PTRACE_SETSIGINFO: i64 = 0x4203;
const PTRACE_GETREGSET: i64 = 0x4204;
const PTRACE_SETREGSET: i64 = 0x4205;
const PTRACE_SEIZE: i64 = 0x4206;
const PTRACE_INTERRUPT: i64 = 0x4207;
const PTRACE_GET_SYSCALL_INFO: i64 = 0x420e;

/// Every option Linux knows (PTRACE_O_MASK).
const OPTIONS_MASK: u32 = 0x0030_00ff;
/// PTRACE_O_SUSPEND_SECCOMP: needs CAP_SYS_ADMIN, which a container lacks.
const PTRACE_O_SUSPEND_SECCOMP: u32 = 0x0020_0000;
/// PTRACE_SEIZE's only flag-free data: the options.
const CAP_SYS_PTRACE: u32 = 19;

const NT_PRSTATUS: u64 = 1;
const NT_PRFPREG: u64 = 2;
const NT_X86_XSTATE: u64 = 0x202;

const PTRACE_SYSCALL_INFO_NONE: u8 = 0;
const PTRACE_SYSCALL_INFO_ENTRY: u8 = 1;
const PTRACE_SYSCALL_INFO_EXIT: u8 = 2;
/// AUDIT_ARCH_X86_64.
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

pub(crate) fn ptrace(
    p: &mut Current,
    k: &mut dyn Platform,
    request: i64,
    pid: i32,
    addr: u64,
    data: u64,
) -> SysResult {
    match request {
        PTRACE_TRACEME => return traceme(p),
        PTRACE_ATTACH => return attach(p, pid, false, 0),
        PTRACE_SEIZE if addr != 0 => return Err(Errno::EIO),
        PTRACE_SEIZE => return attach(p, pid, true, data),
        _ => {}
    }
    let t = tracee(p, pid)?;
    match request {
        PTRACE_KILL => {
            if let Some(proc) = p.sys.process(t.pid) {
                let info = SigInfo::new(SIGKILL, signal::SI_KERNEL);
                crate::sys::signal::send_to_other(&p.sys, &proc, Target::Process, info)?;
            }
            return Ok(0);
        }
        PTRACE_INTERRUPT => return interrupt(&t),
        _ => {}
    }
    if !t.state.lock().stopped() {
        return Err(Errno::ESRCH);
    }
    match request {
        PTRACE_PEEKTEXT | PTRACE_PEEKDATA => {
            let word = peek(p, k, &t, addr)?;
            k.write_user(data, &word.to_le_bytes())?;
            Ok(0)
        }
        PTRACE_POKETEXT | PTRACE_POKEDATA => {
            poke(p, k, &t, addr, &data.to_le_bytes())?;
            Ok(0)
        }
        PTRACE_PEEKUSR => {
            let word = user::peek(&t.state.lock(), addr)?;
            k.write_user(data, &word.to_le_bytes())?;
            Ok(0)
        }
        PTRACE_POKEUSR => user::poke(&mut t.state.lock(), addr, data).map(|()| 0),
        PTRACE_GETREGS => {
            let regs = user::get(&t.state.lock());
            write_struct(k, data, &regs).map(|()| 0)
        }
        PTRACE_SETREGS => {
            let regs: UserRegsStruct = read_struct(k, data)?;
            user::set(&mut t.state.lock(), &regs).map(|()| 0)
        }
        PTRACE_GETFPREGS => {
            let bytes = user::fpregs(&t.state.lock()).to_vec();
            k.write_user(data, &bytes).map(|()| 0)
        }
        PTRACE_SETFPREGS => {
            let mut bytes = [0u8; coracle_abi::ptrace::USER_FPREGS_SIZE];
            k.read_user(data, &mut bytes)?;
            let layout = k.fpu_layout();
            user::set_fpregs(&mut t.state.lock(), &bytes, layout);
            Ok(0)
        }
        PTRACE_GETREGSET => getregset(k, &t, addr, data),
        PTRACE_SETREGSET => setregset(k, &t, addr, data),
        PTRACE_SETOPTIONS => {
            let options = check_options(data)?;
            t.state.lock().options = options;
            Ok(0)
        }
        PTRACE_GETEVENTMSG => {
            let msg = t.state.lock().event_msg;
            k.write_user(data, &msg.to_le_bytes()).map(|()| 0)
        }
        PTRACE_GETSIGINFO => {
            let info = t.state.lock().siginfo.to_user();
            write_struct(k, data, &info).map(|()| 0)
        }
        PTRACE_SETSIGINFO => {
            let user: crate::signal::UserSiginfo = read_struct(k, data)?;
            let mut st = t.state.lock();
            let info = SigInfo::from_user(user.head.si_signo, &user)?;
            st.siginfo = info;
            if let Some(Stop::Signal(_)) = st.stop {
                st.stop = Some(Stop::Signal(info));
            }
            Ok(0)
        }
        PTRACE_GET_SYSCALL_INFO => syscall_info(k, &t, addr, data),
        PTRACE_CONT => resume(&t, Mode::Cont, data, false),
        PTRACE_SYSCALL => resume(&t, Mode::Syscall, data, false),
        PTRACE_SINGLESTEP => resume(&t, Mode::Step, data, false),
        PTRACE_DETACH => detach(p, &t, data),
        _ => Err(Errno::EIO),
    }
}

/// The options of SETOPTIONS and SEIZE: `EINVAL` for unknown bits, `EPERM` for the one that
/// needs CAP_SYS_ADMIN.
fn check_options(data: u64) -> Result<u32, Errno> {
    let options = u32::try_from(data).map_err(|_| Errno::EINVAL)?;
    if options & !OPTIONS_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    if options & PTRACE_O_SUSPEND_SECCOMP != 0 {
        return Err(Errno::EPERM);
    }
    Ok(options)
}

/// The caller's tracee `pid` (a thread id), alive.
fn tracee(p: &Current, pid: i32) -> Result<Arc<Tracee>, Errno> {
    let tid = u32::try_from(pid).map_err(|_| Errno::ESRCH)?;
    let t = p.sys.ptrace.get(tid).ok_or(Errno::ESRCH)?;
    let st = t.state.lock();
    if st.tracer != p.process.pid || st.ended.is_some() {
        return Err(Errno::ESRCH);
    }
    drop(st);
    Ok(t)
}

/// The process thread `tid` belongs to.
fn process_of(p: &Current, tid: u32) -> Option<Arc<Process>> {
    if let Some(proc) = p.sys.process(tid) {
        if proc.threads.lock().contains(&tid) {
            return Some(proc);
        }
    }
    let tree = p.sys.tree.lock();
    tree.values()
        .find(|q| q.threads.lock().contains(&tid))
        .cloned()
}

/// PTRACE_TRACEME: the parent becomes the caller's tracer.
fn traceme(p: &mut Current) -> SysResult {
    let parent = p.process.ppid();
    if parent == 0 || p.sys.process(parent).is_none() {
        return Err(Errno::EPERM);
    }
    let t = Tracee::new(p.thread.clone(), p.process.pid, parent, 0, false);
    p.sys.ptrace.insert(t)?;
    Ok(0)
}

/// PTRACE_ATTACH (the tracee gets SIGSTOP) and PTRACE_SEIZE (with `options`; no stop).
/// The ptrace access check: the same real, effective and saved ids, or CAP_SYS_PTRACE.
fn attach(p: &mut Current, pid: i32, seize: bool, options: u64) -> SysResult {
    let options = if seize { check_options(options)? } else { 0 };
    let tid = u32::try_from(pid)
        .ok()
        .filter(|&t| t > 0)
        .ok_or(Errno::ESRCH)?;
    let thread = p.sys.sched.thread(tid).ok_or(Errno::ESRCH)?;
    let proc = process_of(p, tid).ok_or(Errno::ESRCH)?;
    if proc.life.lock().ended.is_some() {
        return Err(Errno::EPERM);
    }
    if Arc::ptr_eq(&proc, &p.process) {
        return Err(Errno::EPERM);
    }
    let me = p.process.creds();
    let them = proc.creds();
    let same = [them.uid, them.euid, them.suid]
        .iter()
        .all(|&u| u == me.uid)
        && [them.gid, them.egid, them.sgid]
            .iter()
            .all(|&g| g == me.gid);
    if !same && !me.capable(CAP_SYS_PTRACE) {
        return Err(Errno::EPERM);
    }
    let t = Tracee::new(thread, proc.pid, p.process.pid, options, seize);
    p.sys.ptrace.insert(t)?;
    if !seize {
        let info = SigInfo::from_process(SIGSTOP, signal::SI_USER, p.process.pid, me.uid);
        let _ = signal::send(&proc, &p.sys.sched, Target::Thread(tid), info, None);
    }
    Ok(0)
}

/// PTRACE_INTERRUPT (seized tracees only): a running tracee stops in PTRACE_EVENT_STOP.
fn interrupt(t: &Tracee) -> SysResult {
    let mut st = t.state.lock();
    if !st.seized {
        return Err(Errno::EIO);
    }
    let queued = st.pending.iter().any(|s| {
        matches!(
            s,
            Stop::Event {
                event: PTRACE_EVENT_STOP,
                ..
            }
        )
    });
    if st.stop.is_none() && !queued {
        st.pending.push_back(Stop::Event {
            event: PTRACE_EVENT_STOP,
            msg: 0,
        });
        drop(st);
        t.thread.signal_wake();
    }
    Ok(0)
}

/// CONT, SYSCALL, SINGLESTEP and DETACH: the tracee goes on, with signal `data` (`EIO` if
/// it is not a signal number).
fn resume(t: &Tracee, mode: Mode, data: u64, detach: bool) -> SysResult {
    if data > u64::from(signal::NSIG) {
        return Err(Errno::EIO);
    }
    t.state.lock().resume = Some(Resume {
        mode,
        sig: data as u32,
        detach,
    });
    t.resumed.wake_everyone();
    Ok(0)
}

/// PTRACE_DETACH: tracing ends now, so that another tracer may attach at once, as on Linux.
/// A tracee whose registers changed (or that single-stepped) takes them back itself first.
fn detach(p: &Current, t: &Tracee, data: u64) -> SysResult {
    if data > u64::from(signal::NSIG) {
        return Err(Errno::EIO);
    }
    let st = t.state.lock();
    if st.regs_dirty || st.fpu_dirty || st.forced_tf {
        drop(st);
        return resume(t, Mode::Cont, data, true);
    }
    drop(st);
    p.sys.ptrace.remove(t.tid);
    t.resumed.wake_everyone();
    if data != 0 {
        if let Some(proc) = p.sys.process(t.pid) {
            let info = SigInfo::from_process(data as u32, signal::SI_USER, p.process.pid, 0);
            let _ = signal::send(&proc, &p.sys.sched, Target::Thread(t.tid), info, None);
        }
    }
    Ok(0)
}

/// Runs `f` in the tracee's address space.
fn in_tracee<T>(
    p: &Current,
    k: &mut dyn Platform,
    t: &Tracee,
    f: impl FnOnce(&Process, &mut dyn Platform) -> Result<T, Errno>,
) -> Result<T, Errno> {
    let proc = p.sys.process(t.pid).ok_or(Errno::ESRCH)?;
    let space = proc.space.lock().clone().ok_or(Errno::ESRCH)?;
    let same = Arc::ptr_eq(&proc, &p.process);
    let mine = k.space();
    crate::sys::process_vm::in_space(k, &space, &mine, same, |k| f(&proc, k))
}

/// PEEKTEXT/PEEKDATA: one word of the tracee's memory (`EIO` where nothing is mapped).
fn peek(p: &Current, k: &mut dyn Platform, t: &Tracee, addr: u64) -> Result<u64, Errno> {
    in_tracee(p, k, t, |proc, k| {
        let mut word = [0u8; 8];
        crate::mm::read_user(proc, k, addr, &mut word).map_err(|_| Errno::EIO)?;
        Ok(u64::from_le_bytes(word))
    })
}

/// POKETEXT/POKEDATA: `data` into the tracee's memory, page by page.
fn poke(p: &Current, k: &mut dyn Platform, t: &Tracee, addr: u64, data: &[u8]) -> SysResult {
    in_tracee(p, k, t, |proc, k| {
        let mut done = 0usize;
        while done < data.len() {
            let at = addr.wrapping_add(done as u64);
            let room = (crate::mm::PAGE - at % crate::mm::PAGE) as usize;
            let n = room.min(data.len() - done);
            force_write(proc, k, at, &data[done..done + n]).map_err(|_| Errno::EIO)?;
            done += n;
        }
        Ok(0)
    })
}

/// Writes `data` (within one page) at `addr` of `proc` (the current space): a plain user
/// write, or for a private mapping without PROT_WRITE a write to a private copy of the page,
/// whose protection stays as it was (FOLL_FORCE).
pub(crate) fn force_write(
    proc: &Process,
    k: &mut dyn Platform,
    addr: u64,
    data: &[u8],
) -> Result<(), Errno> {
    match crate::mm::write_user(proc, k, addr, data) {
        Err(Errno::EFAULT) => {}
        done => return done,
    }
    // Resident first (a read fault), then copied and written under the mm lock.
    let mut probe = [0u8; 1];
    crate::mm::read_user(proc, k, addr, &mut probe)?;
    let shared = proc.mm.get();
    let mm = shared.lock();
    let (start, vma) = mm.find(addr).ok_or(Errno::EFAULT)?;
    if start > addr || vma.shared || vma.perms.write {
        return Err(Errno::EFAULT);
    }
    let perms = vma.perms;
    let page = addr & !(crate::mm::PAGE - 1);
    let writable = Perms {
        write: true,
        ..perms
    };
    k.make_writable(page, writable)?;
    let written = k.write_user(addr, data);
    k.protect(page, crate::mm::PAGE, perms);
    drop(mm);
    written
}

/// Reads the iovec at `data`: (base, len).
fn iovec(k: &dyn Platform, data: u64) -> Result<(u64, u64), Errno> {
    let mut raw = [0u8; 16];
    k.read_user(data, &mut raw)?;
    let base = u64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
    let len = u64::from_le_bytes(raw[8..].try_into().unwrap_or_default());
    Ok((base, len))
}

/// The register set `note` as bytes.
fn regset(k: &dyn Platform, t: &Tracee, note: u64) -> Result<Vec<u8>, Errno> {
    let st = t.state.lock();
    match note {
        NT_PRSTATUS => Ok(user::get(&st).as_bytes().to_vec()),
        NT_PRFPREG => Ok(user::fpregs(&st).to_vec()),
        NT_X86_XSTATE => user::xstate(&st, k.fpu_layout()).ok_or(Errno::ENODEV),
        _ => Err(Errno::EINVAL),
    }
}

/// PTRACE_GETREGSET: as much of the set as the iovec holds; its length is updated.
fn getregset(k: &mut dyn Platform, t: &Tracee, note: u64, data: u64) -> SysResult {
    let (base, len) = iovec(k, data)?;
    let bytes = regset(k, t, note)?;
    let n = bytes.len().min(usize::try_from(len).unwrap_or(usize::MAX));
    k.write_user(base, &bytes[..n])?;
    k.write_user(data + 8, &(n as u64).to_le_bytes())?;
    Ok(0)
}

/// PTRACE_SETREGSET: the general and FXSAVE sets (whole), and the XSAVE one, which must be
/// exactly the CPU's XSAVE size (`EFAULT` otherwise, as xstateregs_set says).
fn setregset(k: &mut dyn Platform, t: &Tracee, note: u64, data: u64) -> SysResult {
    let (base, len) = iovec(k, data)?;
    match note {
        NT_PRSTATUS => {
            if len < size_of::<UserRegsStruct>() as u64 {
                return Err(Errno::EINVAL);
            }
            let regs: UserRegsStruct = read_struct(k, base)?;
            user::set(&mut t.state.lock(), &regs).map(|()| 0)
        }
        NT_PRFPREG => {
            let mut bytes = [0u8; coracle_abi::ptrace::USER_FPREGS_SIZE];
            if len < bytes.len() as u64 {
                return Err(Errno::EINVAL);
            }
            k.read_user(base, &mut bytes)?;
            let layout = k.fpu_layout();
            user::set_fpregs(&mut t.state.lock(), &bytes, layout);
            Ok(0)
        }
        NT_X86_XSTATE => {
            let layout = k.fpu_layout();
            if layout.xsave_size == 0 {
                return Err(Errno::ENODEV);
            }
            if len != u64::from(layout.xsave_size) {
                return Err(Errno::EFAULT);
            }
            let mut bytes = alloc::vec![0u8; layout.xsave_size as usize];
            k.read_user(base, &mut bytes)?;
            user::set_xstate(&mut t.state.lock(), &bytes, layout).map(|()| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// PTRACE_GET_SYSCALL_INFO: what the tracee's stop says about its system call; returns the
/// size of the full answer, writing at most `size` bytes of it.
fn syscall_info(k: &mut dyn Platform, t: &Tracee, size: u64, data: u64) -> SysResult {
    let st = t.state.lock();
    let r = &st.regs;
    let mut info = PtraceSyscallInfo {
        arch: AUDIT_ARCH_X86_64,
        instruction_pointer: r.rip,
        stack_pointer: r.rsp,
        ..PtraceSyscallInfo::default()
    };
    // The bytes of the answer: the header, and the union's member in use.
    let used = match st.stop {
        Some(Stop::SyscallEntry) => {
            info.op = PTRACE_SYSCALL_INFO_ENTRY;
            info.data = [st.orig_rax, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9, 0];
            24 + 56
        }
        Some(Stop::SyscallExit) => {
            info.op = PTRACE_SYSCALL_INFO_EXIT;
            let is_error = (r.rax as i64) < 0 && (r.rax as i64) >= -4095;
            info.data[0] = r.rax;
            info.data[1] = u64::from(is_error);
            24 + 9
        }
        _ => {
            info.op = PTRACE_SYSCALL_INFO_NONE;
            24
        }
    };
    drop(st);
    let n = used.min(usize::try_from(size).unwrap_or(usize::MAX));
    k.write_user(data, &info.as_bytes()[..n])?;
    Ok(used as u64)
}

use coracle_abi::IntoBytes;
