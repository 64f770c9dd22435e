//! Process and thread state: exit, arch_prctl, set_tid_address, robust lists, rseq, prctl,
//! and futex as far as one thread needs it.

pub mod exec;
pub(crate) mod exit;
pub(crate) mod fork;
pub(crate) mod group;
pub mod image;
pub(crate) mod jobs;
pub(crate) mod nproc;
pub(crate) mod personality;
pub(crate) mod pidfd;
mod prctl;
pub(crate) mod wait;

pub(crate) use group::{setpgid, setsid};
pub(crate) use personality::personality;
pub(crate) use pidfd::{pidfd_open, pidfd_send_signal};
pub(crate) use wait::{wait4, waitid};

use core::sync::atomic::Ordering;

use crate::{Current, Errno, Platform, SysResult};

pub(crate) fn arch_prctl(
    _p: &mut Current,
    k: &mut dyn Platform,
    code: i32,
    addr: u64,
) -> SysResult {
    const ARCH_SET_GS: i32 = 0x1001;
    const ARCH_SET_FS: i32 = 0x1002;
    const ARCH_GET_FS: i32 = 0x1003;
    const ARCH_GET_GS: i32 = 0x1004;
    // Linux refuses bases at or above TASK_SIZE_MAX (the end of the canonical user half).
    const TASK_SIZE_MAX: u64 = 0x0000_7fff_ffff_f000;
    match code {
        ARCH_SET_FS | ARCH_SET_GS => {
            if addr >= TASK_SIZE_MAX {
                return Err(Errno::EPERM);
            }
            if code == ARCH_SET_FS {
                k.set_fs_base(addr)
            } else {
                k.set_gs_base(addr)
            }
            Ok(0)
        }
        ARCH_GET_FS => {
            let v = k.fs_base();
            k.write_user(addr, &v.to_le_bytes()).map(|_| 0)
        }
        ARCH_GET_GS => {
            let v = k.gs_base();
            k.write_user(addr, &v.to_le_bytes()).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn set_tid_address(p: &mut Current, _k: &mut dyn Platform, tidptr: u64) -> SysResult {
    p.clear_child_tid = tidptr;
    // The caller's thread id, not the process's.
    Ok(u64::from(p.tid))
}

pub(crate) fn set_robust_list(
    p: &mut Current,
    _k: &mut dyn Platform,
    head: u64,
    len: u64,
) -> SysResult {
    // sizeof(struct robust_list_head) on x86_64.
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    p.thread.robust_list.store(head, Ordering::Relaxed);
    Ok(0)
}

/// get_robust_list: the list head of thread `tid` of the caller's process (0: the caller).
pub(crate) fn get_robust_list(
    p: &mut Current,
    k: &mut dyn Platform,
    tid: i32,
    head_ptr: u64,
    len_ptr: u64,
) -> SysResult {
    let thread = match tid {
        0 => p.thread.clone(),
        t if t > 0 && p.process.threads.lock().contains(&(t as u32)) => {
            p.sys.sched.thread(t as u32).ok_or(Errno::ESRCH)?
        }
        _ => return Err(Errno::ESRCH),
    };
    let head = thread.robust_list.load(Ordering::Relaxed);
    k.write_user(head_ptr, &head.to_le_bytes())?;
    k.write_user(len_ptr, &24u64.to_le_bytes())?;
    Ok(0)
}

pub(crate) fn rseq(
    _p: &mut Current,
    _k: &mut dyn Platform,
    _rseq: u64,
    _len: u32,
    _flags: i32,
    _sig: u32,
) -> SysResult {
    // Restartable sequences are optional: glibc and tcmalloc fall back when registration fails.
    Err(Errno::ENOSYS)
}

pub(crate) fn prctl(
    p: &mut Current,
    k: &mut dyn Platform,
    option: i32,
    arg2: u64,
    _arg3: u64,
    _arg4: u64,
    _arg5: u64,
) -> SysResult {
    const PR_SET_PDEATHSIG: i32 = 1;
    const PR_GET_PDEATHSIG: i32 = 2;
    const PR_GET_DUMPABLE: i32 = 3;
    const PR_SET_DUMPABLE: i32 = 4;
    const PR_SET_NAME: i32 = 15;
    const PR_GET_NAME: i32 = 16;
    const PR_SET_CHILD_SUBREAPER: i32 = 36;
    const PR_GET_CHILD_SUBREAPER: i32 = 37;
    match option {
        PR_SET_PDEATHSIG => {
            if arg2 > 64 {
                return Err(Errno::EINVAL);
            }
            p.process.life.lock().pdeathsig = arg2 as u32;
            Ok(0)
        }
        PR_GET_PDEATHSIG => {
            let sig = p.process.life.lock().pdeathsig;
            k.write_user(arg2, &sig.to_le_bytes()).map(|_| 0)
        }
        PR_GET_DUMPABLE => Ok(1),
        PR_SET_DUMPABLE => {
            if arg2 <= 1 {
                Ok(0)
            } else {
                Err(Errno::EINVAL)
            }
        }
        PR_SET_NAME => {
            // The name is cut to TASK_COMM_LEN - 1 bytes.
            let mut b = [0u8; 16];
            let mut n = 0;
            while n < 15 {
                k.read_user(arg2 + n as u64, &mut b[n..n + 1])?;
                if b[n] == 0 {
                    break;
                }
                n += 1;
            }
            *p.process.comm.lock() = b[..n].to_vec();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut b = [0u8; 16];
            let comm = p.process.comm.lock().clone();
            let n = comm.len().min(15);
            b[..n].copy_from_slice(&comm[..n]);
            k.write_user(arg2, &b).map(|_| 0)
        }
        PR_SET_CHILD_SUBREAPER => {
            p.process.life.lock().subreaper = arg2 != 0;
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => {
            let on = u32::from(p.process.life.lock().subreaper);
            k.write_user(arg2, &on.to_le_bytes()).map(|_| 0)
        }
        _ => prctl::switches(p, option, arg2, _arg3, _arg4, _arg5),
    }
}
