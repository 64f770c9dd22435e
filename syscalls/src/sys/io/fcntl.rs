//! fcntl (flags, duplication, seals, pipe sizes, POSIX record locks) and flock.

use alloc::sync::Arc;

use coracle_vfs::pipe::pipe_of;
use coracle_vfs::{OpenFile, Wake};

use coracle_abi::fcntl::{Flock, F_RDLCK, F_UNLCK, F_WRLCK};

use super::fdtable::dup_to_lowest;
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Platform, SysResult};

fn record_lock(
    p: &mut Current,
    k: &mut dyn Platform,
    file: &Arc<OpenFile>,
    cmd: i32,
    arg: u64,
) -> SysResult {
    use crate::locks::Owner;
    const F_GETLK: i32 = 5;
    const F_SETLKW: i32 = 7;
    const F_OFD_GETLK: i32 = 36;
    const F_OFD_SETLKW: i32 = 38;
    let mut fl: Flock = read_struct(k, arg)?;
    let Flock {
        l_type,
        l_whence: whence,
        l_start,
        l_len,
        l_pid,
        ..
    } = fl;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    if !(F_RDLCK..=F_UNLCK).contains(&l_type) {
        return Err(Errno::EINVAL);
    }
    let ofd = (36..=38).contains(&cmd);
    if ofd && l_pid != 0 {
        return Err(Errno::EINVAL);
    }
    let base: i128 = match whence {
        0 => 0,
        1 => i128::from(file.offset()),
        2 => i128::from(file.inode().stat().size),
        _ => return Err(Errno::EINVAL),
    };
    let start = base + i128::from(l_start);
    let (start, end) = match l_len {
        0 => (start, i128::from(u64::MAX)),
        n if n > 0 => (start, start + i128::from(n)),
        n => (start + i128::from(n), start),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let (start, end) = (start as u64, end.min(i128::from(u64::MAX)) as u64);
    let st = file.inode().stat();
    let key = (st.dev, st.ino);
    let owner = if ofd {
        Owner::file(file)
    } else {
        Owner::Process(p.process.pid)
    };
    let mut locks = p.sys.locks.lock();
    if cmd == F_GETLK || cmd == F_OFD_GETLK {
        if l_type == F_UNLCK {
            return Err(Errno::EINVAL);
        }
        match locks.test(key, &owner, start, end, l_type == F_WRLCK) {
            // Only l_type changes when nothing conflicts; the rest is given back as it came.
            None => fl.l_type = F_UNLCK,
            Some(c) => {
                fl.l_type = if c.write { F_WRLCK } else { F_RDLCK };
                fl.l_whence = 0;
                fl.l_start = c.start as i64;
                fl.l_len = if c.end == u64::MAX {
                    0
                } else {
                    (c.end - c.start) as i64
                };
                fl.l_pid = c.pid;
            }
        }
        drop(locks);
        write_struct(k, arg, &fl)?;
        return Ok(0);
    }
    let kind = match l_type {
        F_RDLCK if !file.readable() => return Err(Errno::EBADF),
        F_WRLCK if !file.writable() => return Err(Errno::EBADF),
        F_UNLCK => None,
        t => Some(t == F_WRLCK),
    };
    let wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
    match locks.set(key, owner.clone(), start, end, kind) {
        Ok(()) => {
            drop(locks);
            p.sys.lock_waiters.wake_everyone();
            Ok(0)
        }
        Err(_) if wait && p.resumed() == Some(Wake::Interrupted) => Err(Errno::ERESTARTSYS),
        Err(_) if wait => {
            drop(locks);
            // Register, then try once more: an unlock in between is not missed.
            let sys = p.sys.clone();
            p.wait_on(&sys.lock_waiters, u64::MAX);
            let again = sys.locks.lock().set(key, owner, start, end, kind);
            match again {
                Ok(()) => Ok(0),
                Err(_) => Err(Errno::WAIT),
            }
        }
        Err(_) => Err(Errno::EAGAIN),
    }
}

pub(crate) fn fcntl(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    cmd: i32,
    arg: u64,
) -> SysResult {
    const F_DUPFD: i32 = 0;
    const F_GETFD: i32 = 1;
    const F_SETFD: i32 = 2;
    const F_GETFL: i32 = 3;
    const F_SETFL: i32 = 4;
    const F_SETOWN: i32 = 8;
    const F_GETOWN: i32 = 9;
    const F_SETSIG: i32 = 10;
    const F_GETSIG: i32 = 11;
    const F_GETOWN_EX: i32 = 16;
    const F_SETLEASE: i32 = 1024;
    const F_GETLEASE: i32 = 1025;
    const F_NOTIFY: i32 = 1026;
    const F_DUPFD_CLOEXEC: i32 = 1030;
    const F_SETPIPE_SZ: i32 = 1031;
    const F_GETPIPE_SZ: i32 = 1032;
    const F_ADD_SEALS: i32 = 1033;
    const F_GET_SEALS: i32 = 1034;
    const FD_CLOEXEC: u64 = 1;
    let entry = p.process.files.lock().get(fd)?;
    let file = &entry.file;
    let path_only = file.is_path();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = usize::try_from(arg as i32).map_err(|_| Errno::EINVAL)?;
            if min >= p.fd_limit() {
                return Err(Errno::EINVAL);
            }
            dup_to_lowest(p, fd, min, cmd == F_DUPFD_CLOEXEC)
        }
        F_GETFD => Ok(u64::from(entry.cloexec)),
        F_SETFD => {
            p.process
                .files
                .lock()
                .set_cloexec(fd, arg & FD_CLOEXEC != 0)?;
            Ok(0)
        }
        F_GETFL => Ok(u64::from(file.flags())),
        F_SETFL if path_only => Err(Errno::EBADF),
        F_SETFL => {
            file.set_flags(arg as u32);
            Ok(0)
        }
        5..=7 | 36..=38 => record_lock(p, k, file, cmd, arg),
        _ if path_only => Err(Errno::EBADF),
        F_GETOWN | F_GETSIG | F_GETLEASE => Ok(if cmd == F_GETLEASE { F_UNLCK as u64 } else { 0 }),
        F_SETOWN | F_SETSIG | F_GETOWN_EX => Ok(0),
        F_SETLEASE | F_NOTIFY => Err(Errno::EINVAL),
        F_GETPIPE_SZ => pipe_of(file.ops())
            .map(|pipe| pipe.capacity() as u64)
            .ok_or(Errno::EBADF),
        F_SETPIPE_SZ => {
            let pipe = pipe_of(file.ops()).ok_or(Errno::EBADF)?;
            let privileged = p.process.euid() == 0;
            pipe.set_capacity(arg as u32 as usize, privileged)
                .map(|n| n as u64)
        }
        F_ADD_SEALS | F_GET_SEALS => crate::sys::fs::seals(p, file, cmd == F_ADD_SEALS, arg as u32),
        _ => Err(Errno::EINVAL),
    }
}

pub(crate) fn flock(p: &mut Current, _k: &mut dyn Platform, fd: i32, op: i32) -> SysResult {
    const LOCK_SH: i32 = 1;
    const LOCK_EX: i32 = 2;
    const LOCK_NB: i32 = 4;
    const LOCK_UN: i32 = 8;
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let kind = match op & !LOCK_NB {
        LOCK_SH => Some(false),
        LOCK_EX => Some(true),
        LOCK_UN => None,
        _ => return Err(Errno::EINVAL),
    };
    let st = file.inode().stat();
    let owner = crate::locks::Owner::file(&file);
    let sys = p.sys.clone();
    if sys
        .locks
        .lock()
        .flock((st.dev, st.ino), owner.clone(), kind)
    {
        sys.lock_waiters.wake_everyone();
        Ok(0)
    } else if op & LOCK_NB != 0 {
        Err(Errno::EAGAIN)
    } else if p.resumed() == Some(Wake::Interrupted) {
        Err(Errno::ERESTARTSYS)
    } else {
        p.wait_on(&sys.lock_waiters, u64::MAX);
        if sys.locks.lock().flock((st.dev, st.ino), owner, kind) {
            Ok(0)
        } else {
            Err(Errno::WAIT)
        }
    }
}
