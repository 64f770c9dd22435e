//! POSIX message queues (`mq_overview(7)`, `ipc/mqueue.c`): mq_open, mq_unlink,
//! mq_timedsend, mq_timedreceive, mq_notify and mq_getsetattr over the queues of the mqueue
//! filesystem (`fs`); a queue's messages and notification are in `queue`.
//!
//! Blocked senders and receivers wait on the queue's wait queue (the one poll and epoll use)
//! and try again when it changes, until their absolute CLOCK_REALTIME timeout (`ETIMEDOUT`)
//! or a signal (`EINTR`, or a restart after an SA_RESTART handler). A message arriving in an
//! empty queue that no receiver waits on fires the registered notification: SIGEV_SIGNAL
//! queues the signal with si_code SI_MESGQ, SIGEV_NONE only uses the registration up.
//! SIGEV_THREAD (glibc's, over a netlink socket the kernel writes a cookie to) is `EINVAL`
//! here: this kernel has no netlink notification socket, as Linux without CONFIG_NET.

pub(crate) mod fs;
pub(crate) mod queue;
#[cfg(test)]
mod tests;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use coracle_abi::ipc::MqAttr;
use coracle_abi::signal::Sigevent;
use coracle_vfs::perm::{check_access, sticky_ok, MAY_READ, MAY_WRITE};
use coracle_vfs::types::oflags::{O_ACCMODE, O_CREAT, O_EXCL, O_NONBLOCK, O_RDWR, O_WRONLY};
use coracle_vfs::{OpenFile, Wake};

use self::fs::{MqFile, MqInode, MSGSIZE_MAX, MSG_MAX};
use self::queue::{How, Notify, Queue, MQ_PRIO_MAX};
use crate::signal::{SigInfo, Target};
use crate::uaccess::{read_cstr, read_struct, read_timespec, write_struct};
use crate::{Current, Errno, Platform, SysResult};

const NAME_MAX: usize = 255;
const RLIMIT_MSGQUEUE: usize = 12;
const SIGEV_SIGNAL: i32 = 0;
const SIGEV_NONE: i32 = 1;
const SIGEV_THREAD: i32 = 2;
/// _NSIG: a notification signal may be 0 (none) up to this.
const NSIG: u32 = 64;

/// The queue name from user memory, as the kernel sees it (glibc and musl strip the leading
/// `/`): empty is `ENOENT` (getname); `ENAMETOOLONG` past NAME_MAX; `.`, `..` or holding a
/// `/`: `EACCES` (lookup_one_len).
fn queue_name(k: &dyn Platform, addr: u64) -> Result<Vec<u8>, Errno> {
    let name = read_cstr(k, addr, 4096)?;
    if name.is_empty() {
        return Err(Errno::ENOENT);
    }
    if name == b"." || name == b".." || name.contains(&b'/') {
        return Err(Errno::EACCES);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(name)
}

/// `mq_attr_ok`: at least one message of at least one byte, within msg_max and msgsize_max
/// (root in a container has no CAP_SYS_RESOURCE to go past them).
fn check_attr(a: &MqAttr) -> Result<(u64, u64), Errno> {
    if a.mq_maxmsg <= 0 || a.mq_msgsize <= 0 {
        return Err(Errno::EINVAL);
    }
    let (maxmsg, msgsize) = (a.mq_maxmsg as u64, a.mq_msgsize as u64);
    if maxmsg > MSG_MAX || msgsize > MSGSIZE_MAX {
        return Err(Errno::EINVAL);
    }
    Ok((maxmsg, msgsize))
}

pub(crate) fn mq_open(
    p: &mut Current,
    k: &mut dyn Platform,
    name: u64,
    oflag: i32,
    mode: u32,
    attr: u64,
) -> SysResult {
    let oflag = oflag as u32;
    let attr: Option<MqAttr> = if oflag & O_CREAT != 0 && attr != 0 {
        Some(read_struct(k, attr)?)
    } else {
        None
    };
    let name = queue_name(k, name)?;
    let cx = p.caller();
    let dir = p.sys.ipc.mq.clone();
    let inode = match dir.get(&name) {
        None if oflag & O_CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let queue = match attr {
                Some(a) => {
                    let (maxmsg, msgsize) = check_attr(&a)?;
                    Queue::new(maxmsg, msgsize)
                }
                None => Queue::new(fs::MSG_DEFAULT, fs::MSGSIZE_DEFAULT),
            };
            let limit = p.process.limits.lock()[RLIMIT_MSGQUEUE].0;
            let owner = (mode & 0o777 & !cx.umask, cx.uid, cx.gid);
            dir.add(&name, owner, queue, limit)?
        }
        Some(existing) => {
            if oflag & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
                return Err(Errno::EEXIST);
            }
            let want = match oflag & O_ACCMODE {
                0 => MAY_READ,
                O_WRONLY => MAY_WRITE,
                O_RDWR => MAY_READ | MAY_WRITE,
                _ => return Err(Errno::EINVAL),
            };
            check_access(&cx, &coracle_vfs::Inode::stat(&*existing), want)?;
            existing
        }
    };
    let mut path = alloc::vec![b'/'];
    path.extend_from_slice(&name);
    let ops = alloc::boxed::Box::new(MqFile {
        inode: inode.clone(),
    });
    let file = OpenFile::new(inode, path, oflag & (O_ACCMODE | O_NONBLOCK), ops);
    // Queue descriptors are always close-on-exec (do_mq_open's get_unused_fd_flags).
    p.install(file, true).map(|fd| fd as u64)
}

pub(crate) fn mq_unlink(p: &mut Current, k: &mut dyn Platform, name: u64) -> SysResult {
    let name = queue_name(k, name)?;
    let dir = p.sys.ipc.mq.clone();
    let victim = dir.get(&name).ok_or(Errno::ENOENT)?;
    let cx = p.caller();
    let dir_stat = coracle_vfs::Inode::stat(&*dir);
    check_access(&cx, &dir_stat, MAY_WRITE | coracle_vfs::perm::MAY_EXEC)?;
    if !sticky_ok(&cx, &dir_stat, &coracle_vfs::Inode::stat(&*victim)) {
        return Err(Errno::EPERM);
    }
    dir.remove(&name)?;
    Ok(0)
}

/// Closing a descriptor of a queue ends the closing process's notification registration on
/// it (`mqueue_flush_file`), whichever descriptor registered it. Other files: nothing.
pub(crate) fn flush(file: &OpenFile, pid: u32) {
    if let Some(f) = file.ops().as_any().downcast_ref::<MqFile>() {
        let _ = f.inode.queue.lock().set_notify(pid, None);
    }
}

/// The queue behind descriptor `fd` (`EBADF` for any other file).
fn queue_file(p: &Current, fd: i32) -> Result<(Arc<OpenFile>, Arc<MqInode>), Errno> {
    let file = p.file(fd)?;
    let inode = file
        .ops()
        .as_any()
        .downcast_ref::<MqFile>()
        .map(|f| f.inode.clone())
        .ok_or(Errno::EBADF)?;
    Ok((file, inode))
}

/// An absolute CLOCK_REALTIME timeout as a CLOCK_MONOTONIC deadline, fixed on the call's
/// first run; `EINVAL` for an invalid timespec (checked before anything else, as Linux's
/// prepare_timeout).
fn deadline(p: &mut Current, k: &dyn Platform, timeout: u64) -> Result<Option<u64>, Errno> {
    if timeout == 0 {
        return Ok(None);
    }
    let abs = read_timespec(k, timeout)?;
    let offset = k.realtime_offset_ns();
    Ok(p.call_deadline(|| Some(abs.saturating_sub(offset))))
}

/// Waits for the queue to change, or says why the call ends: `EINTR` (restartable) after a
/// signal, `ETIMEDOUT` past the deadline; `WAIT` once registered.
fn wait(
    p: &mut Current,
    k: &dyn Platform,
    q: &MqInode,
    deadline: Option<u64>,
    registered: &mut bool,
) -> Result<(), Errno> {
    match p.resumed() {
        Some(Wake::Interrupted) => return Err(Errno::ERESTARTSYS),
        Some(Wake::TimedOut) => return Err(Errno::ETIMEDOUT),
        _ => {}
    }
    if deadline.is_some_and(|d| k.monotonic_ns() >= d) {
        return Err(Errno::ETIMEDOUT);
    }
    if *registered {
        return Err(Errno::WAIT);
    }
    *registered = true;
    p.wait_on(&q.changed, u64::MAX);
    if let Some(d) = deadline {
        p.wait_until(d);
    }
    Ok(())
}

pub(crate) fn mq_timedsend(
    p: &mut Current,
    k: &mut dyn Platform,
    mqd: i32,
    msg: u64,
    len: u64,
    prio: u32,
    timeout: u64,
) -> SysResult {
    if prio >= MQ_PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    let deadline = deadline(p, k, timeout)?;
    let (file, q) = queue_file(p, mqd)?;
    if !file.writable() {
        return Err(Errno::EBADF);
    }
    if len > q.queue.lock().msgsize {
        return Err(Errno::EMSGSIZE);
    }
    let mut data = alloc::vec![0u8; len as usize];
    k.read_user(msg, &mut data)?;
    let mut registered = false;
    loop {
        let sent = {
            let sched = p.sys.sched.clone();
            let mut queue = q.queue.lock();
            match queue.send(prio, core::mem::take(&mut data), |t| {
                sched.thread(t).is_some()
            }) {
                Ok(n) => Some(n),
                Err(Errno::EAGAIN) => None,
                Err(e) => return Err(e),
            }
        };
        if let Some(notify) = sent {
            q.touch(true);
            q.changed.wake_all(u64::from(coracle_abi::poll::POLLIN));
            if let Some(n) = notify {
                notify_owner(p, n);
            }
            return Ok(0);
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        // The message comes back for the next try (send only takes it when it fits).
        data = alloc::vec![0u8; len as usize];
        k.read_user(msg, &mut data)?;
        wait(p, k, &q, deadline, &mut registered)?;
    }
}

/// Sends the notification `n` fired (`__do_notify`): for SIGEV_SIGNAL the signal, with the
/// sender's pid and uid, to the registered process if it still lives; the permission check of
/// kill does not apply.
fn notify_owner(p: &Current, n: Notify) {
    let How::Signal { signo, value } = n.how else {
        return;
    };
    if signo == 0 {
        return;
    }
    let Some(target) = p.sys.tree.lock().get(&n.pid).cloned() else {
        return;
    };
    let uid = p.process.creds().uid;
    let info = SigInfo::mesgq(signo, p.process.pid, uid, value);
    // A process that ended meanwhile gets nothing, as a signal to a dead pid.
    let _ = crate::sys::signal::send_info(p, &target, Target::Process, info);
}

pub(crate) fn mq_timedreceive(
    p: &mut Current,
    k: &mut dyn Platform,
    mqd: i32,
    msg: u64,
    len: u64,
    prio: u64,
    timeout: u64,
) -> SysResult {
    let deadline = deadline(p, k, timeout)?;
    let (file, q) = queue_file(p, mqd)?;
    if !file.readable() {
        return Err(Errno::EBADF);
    }
    let tid = p.tid;
    if len < q.queue.lock().msgsize {
        return Err(Errno::EMSGSIZE);
    }
    let mut registered = false;
    loop {
        let got = {
            let mut queue = q.queue.lock();
            let got = queue.receive();
            if got.is_none() && !file.nonblocking() {
                queue.receivers.insert(tid);
            } else {
                queue.receivers.remove(&tid);
            }
            got
        };
        if let Some((mprio, data)) = got {
            q.touch(false);
            q.changed.wake_all(u64::from(coracle_abi::poll::POLLOUT));
            k.write_user(msg, &data)?;
            if prio != 0 {
                k.write_user(prio, &mprio.to_le_bytes())?;
            }
            return Ok(data.len() as u64);
        }
        if file.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        if let Err(e) = wait(p, k, &q, deadline, &mut registered) {
            if e != Errno::WAIT {
                q.queue.lock().receivers.remove(&tid);
            }
            return Err(e);
        }
    }
}

pub(crate) fn mq_notify(p: &mut Current, k: &mut dyn Platform, mqd: i32, sevp: u64) -> SysResult {
    let how = if sevp == 0 {
        None
    } else {
        let ev: Sigevent = read_struct(k, sevp)?;
        match ev.sigev_notify {
            SIGEV_NONE => Some(How::Nothing),
            SIGEV_SIGNAL if ev.sigev_signo <= NSIG => Some(How::Signal {
                signo: ev.sigev_signo,
                value: ev.sigev_value,
            }),
            SIGEV_THREAD => {
                static LOGGED: AtomicBool = AtomicBool::new(false);
                if !LOGGED.swap(true, Ordering::Relaxed) {
                    k.log(format_args!("mq_notify with SIGEV_THREAD is not supported"));
                }
                return Err(Errno::EINVAL);
            }
            _ => return Err(Errno::EINVAL),
        }
    };
    let (_, q) = queue_file(p, mqd)?;
    let pid = p.process.pid;
    q.queue.lock().set_notify(pid, how)?;
    q.touch(false);
    Ok(0)
}

pub(crate) fn mq_getsetattr(
    p: &mut Current,
    k: &mut dyn Platform,
    mqd: i32,
    new: u64,
    old: u64,
) -> SysResult {
    let new: Option<MqAttr> = if new == 0 {
        None
    } else {
        Some(read_struct(k, new)?)
    };
    if new.is_some_and(|a| a.mq_flags & !i64::from(O_NONBLOCK) != 0) {
        return Err(Errno::EINVAL);
    }
    let (file, q) = queue_file(p, mqd)?;
    let before = {
        let queue = q.queue.lock();
        MqAttr {
            mq_flags: i64::from(file.flags() & O_NONBLOCK),
            mq_maxmsg: queue.maxmsg as i64,
            mq_msgsize: queue.msgsize as i64,
            mq_curmsgs: queue.len() as i64,
            reserved: [0; 4],
        }
    };
    if let Some(a) = new {
        let flags = (file.flags() & !O_NONBLOCK) | (a.mq_flags as u32 & O_NONBLOCK);
        file.set_flags(flags);
    }
    if old != 0 {
        write_struct(k, old, &before)?;
    }
    q.touch(false);
    Ok(0)
}
