//! System V message queues: msgget, msgsnd, msgrcv, msgctl (`ipc/msg.c`), with Linux's
//! default limits (msgmax 8192, msgmnb 16384, msgmni 32000) and its errors. Senders and
//! receivers that must wait sleep on one queue for every message queue and check again when
//! anything changes; a queue removed under them gives `EIDRM`, a signal `EINTR` (these calls
//! are never restarted).

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use coracle_abi::ipc::{MsgInfo, MsqidDs};
use coracle_vfs::{WaitQueue, Wake};
use spin::Mutex;

use super::{
    find_key, gone, Ids, Object, Perm, IPC_64, IPC_INFO, IPC_NOWAIT, IPC_RMID, IPC_SET, IPC_STAT,
};
use crate::uaccess::{read_struct, write_struct};
use crate::{Current, Errno, Platform, SysResult};

pub(crate) const MSGMAX: u64 = 8192;
pub(crate) const MSGMNB: u64 = 16384;
pub(crate) const MSGMNI: u32 = 32000;

const MSG_NOERROR: i32 = 0o10000;
const MSG_EXCEPT: i32 = 0o20000;
const MSG_COPY: i32 = 0o40000;
const MSG_STAT: i32 = 11;
const MSG_INFO: i32 = 12;
const MSG_STAT_ANY: i32 = 13;

/// One message queue.
#[derive(Debug)]
pub(crate) struct Queue {
    perm: Perm,
    msgs: VecDeque<(i64, Vec<u8>)>,
    bytes: u64,
    qbytes: u64,
    stime: i64,
    rtime: i64,
    ctime: i64,
    lspid: i32,
    lrpid: i32,
}

/// Every message queue of the machine.
#[derive(Debug)]
pub(crate) struct Queues {
    ids: Mutex<Ids<Queue>>,
    changed: WaitQueue,
}

impl Default for Queues {
    fn default() -> Self {
        Queues {
            ids: Mutex::new(Ids::new(MSGMNI)),
            changed: WaitQueue::new(),
        }
    }
}

/// One line of /proc/sysvipc/msg.
pub(crate) struct MsgLine {
    pub id: i32,
    pub perm: Perm,
    pub bytes: u64,
    pub qnum: u64,
    pub lspid: i32,
    pub lrpid: i32,
    pub times: [i64; 3],
}

impl Queues {
    /// /proc/sysvipc/msg's lines.
    pub(crate) fn proc_lines(&self) -> Vec<MsgLine> {
        let ids = self.ids.lock();
        ids.slots
            .iter()
            .map(|(&i, q)| MsgLine {
                id: Ids::<Queue>::id(i, q.perm.seq),
                perm: q.perm,
                bytes: q.bytes,
                qnum: q.msgs.len() as u64,
                lspid: q.lspid,
                lrpid: q.lrpid,
                times: [q.stime, q.rtime, q.ctime],
            })
            .collect()
    }
}

fn now(k: &dyn Platform) -> i64 {
    (k.realtime_ns() / 1_000_000_000) as i64
}

/// The queue `id` names, or `EINVAL` (`EIDRM` when a wait of this call saw it go).
fn queue<'a>(p: &Current, ids: &'a mut Ids<Queue>, id: i32) -> Result<&'a mut Queue, Errno> {
    ids.get(id, gone(p))
}

impl Object for Queue {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

/// Registers a wait on the queues' changes, or says why not: `EAGAIN`/`ENOMSG` (`nowait`),
/// `EINTR` after a signal, `WAIT` once registered.
fn wait(
    p: &mut Current,
    q: &WaitQueue,
    nowait: Option<Errno>,
    registered: &mut bool,
) -> Result<(), Errno> {
    if let Some(e) = nowait {
        return Err(e);
    }
    if p.resumed() == Some(Wake::Interrupted) {
        return Err(Errno::EINTR);
    }
    if *registered {
        return Err(Errno::WAIT);
    }
    *registered = true;
    p.wait_on(q, u64::MAX);
    Ok(())
}

pub(crate) fn msgget(p: &mut Current, k: &mut dyn Platform, key: i32, flags: i32) -> SysResult {
    let queues = &p.sys.ipc.msg;
    let mut ids = queues.ids.lock();
    if let Some(index) = find_key(&*ids, key, flags, |q| q.perm, p)? {
        let seq = ids.slots[&index].perm.seq;
        return Ok(Ids::<Queue>::id(index, seq) as u64);
    }
    let (index, seq) = ids.reserve()?;
    ids.slots.insert(
        index,
        Queue {
            perm: Perm::new(p, key, flags, seq),
            msgs: VecDeque::new(),
            bytes: 0,
            qbytes: MSGMNB,
            stime: 0,
            rtime: 0,
            ctime: now(k),
            lspid: 0,
            lrpid: 0,
        },
    );
    Ok(Ids::<Queue>::id(index, seq) as u64)
}

pub(crate) fn msgsnd(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    msgp: u64,
    size: u64,
    flags: i32,
) -> SysResult {
    if size > MSGMAX {
        return Err(Errno::EINVAL);
    }
    let mtype = i64::from_le_bytes(read_struct::<[u8; 8]>(k, msgp)?);
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let mut text = alloc::vec![0u8; size as usize];
    if size > 0 {
        k.read_user(msgp + 8, &mut text)?;
    }
    let sys = p.sys.clone();
    let queues = &sys.ipc.msg;
    let mut registered = false;
    loop {
        {
            let mut ids = queues.ids.lock();
            let q = queue(p, &mut ids, id)?;
            if !q.perm.allows(p, 0o2) {
                return Err(Errno::EACCES);
            }
            // msg_fits_inqueue: the bytes, and one header per byte of room at most.
            let fits = q.bytes + size <= q.qbytes && (q.msgs.len() as u64) < q.qbytes;
            if fits {
                q.bytes += size;
                q.msgs.push_back((mtype, core::mem::take(&mut text)));
                q.lspid = p.process.pid as i32;
                q.stime = now(k);
                drop(ids);
                queues.changed.wake_all(u64::MAX);
                return Ok(0);
            }
        }
        let nowait = (flags & IPC_NOWAIT != 0).then_some(Errno::EAGAIN);
        wait(p, &queues.changed, nowait, &mut registered)?;
    }
}

/// The position of the message msgrcv takes: the first (type 0), the first of the type (or
/// not of it, MSG_EXCEPT), or the first of the lowest type up to -type.
fn pick(msgs: &VecDeque<(i64, Vec<u8>)>, msgtyp: i64, flags: i32) -> Option<usize> {
    if msgtyp == 0 {
        return (!msgs.is_empty()).then_some(0);
    }
    if msgtyp > 0 {
        let except = flags & MSG_EXCEPT != 0;
        return msgs.iter().position(|(t, _)| (*t == msgtyp) != except);
    }
    let bound = msgtyp.checked_neg().unwrap_or(i64::MAX);
    let mut best: Option<(usize, i64)> = None;
    for (i, (t, _)) in msgs.iter().enumerate() {
        if *t <= bound && best.is_none_or(|(_, b)| *t < b) {
            best = Some((i, *t));
        }
    }
    best.map(|(i, _)| i)
}

pub(crate) fn msgrcv(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    msgp: u64,
    size: u64,
    msgtyp: i64,
    flags: i32,
) -> SysResult {
    if (size as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 {
        // MSG_COPY is for checkpoint/restore, which this kernel is built without.
        if flags & MSG_EXCEPT != 0 || flags & IPC_NOWAIT == 0 {
            return Err(Errno::EINVAL);
        }
        return Err(Errno::ENOSYS);
    }
    let sys = p.sys.clone();
    let queues = &sys.ipc.msg;
    let mut registered = false;
    loop {
        let taken = {
            let mut ids = queues.ids.lock();
            let q = queue(p, &mut ids, id)?;
            if !q.perm.allows(p, 0o4) {
                return Err(Errno::EACCES);
            }
            match pick(&q.msgs, msgtyp, flags) {
                Some(i) => {
                    if q.msgs[i].1.len() as u64 > size && flags & MSG_NOERROR == 0 {
                        return Err(Errno::E2BIG);
                    }
                    let msg = q.msgs.remove(i);
                    if let Some((_, text)) = &msg {
                        q.bytes -= text.len() as u64;
                    }
                    q.lrpid = p.process.pid as i32;
                    q.rtime = now(k);
                    msg
                }
                None => None,
            }
        };
        if let Some((mtype, text)) = taken {
            queues.changed.wake_all(u64::MAX);
            let n = text.len().min(size as usize);
            k.write_user(msgp, &mtype.to_le_bytes())?;
            k.write_user(msgp + 8, &text[..n])?;
            return Ok(n as u64);
        }
        let nowait = (flags & IPC_NOWAIT != 0).then_some(Errno::ENOMSG);
        wait(p, &queues.changed, nowait, &mut registered)?;
    }
}

fn stat_of(q: &Queue) -> MsqidDs {
    MsqidDs {
        msg_perm: q.perm.abi(),
        msg_stime: q.stime,
        msg_rtime: q.rtime,
        msg_ctime: q.ctime,
        msg_cbytes: q.bytes,
        msg_qnum: q.msgs.len() as u64,
        msg_qbytes: q.qbytes,
        msg_lspid: q.lspid,
        msg_lrpid: q.lrpid,
        ..MsqidDs::default()
    }
}

pub(crate) fn msgctl(
    p: &mut Current,
    k: &mut dyn Platform,
    id: i32,
    cmd: i32,
    buf: u64,
) -> SysResult {
    let sys = p.sys.clone();
    let queues = &sys.ipc.msg;
    let cmd = cmd & !IPC_64;
    match cmd {
        IPC_INFO | MSG_INFO => {
            let ids = queues.ids.lock();
            let mut info = MsgInfo {
                msgpool: (MSGMNI as u64 * MSGMNB / 1024) as i32,
                msgmap: MSGMNB as i32,
                msgmax: MSGMAX as i32,
                msgmnb: MSGMNB as i32,
                msgmni: MSGMNI as i32,
                msgssz: 16,
                msgtql: MSGMNB as i32,
                msgseg: 0xffff,
                pad: 0,
            };
            if cmd == MSG_INFO {
                info.msgpool = ids.slots.len() as i32;
                info.msgmap = ids.slots.values().map(|q| q.msgs.len() as i32).sum();
                info.msgtql = ids.slots.values().map(|q| q.bytes as i32).sum();
            }
            let max = ids.slots.keys().next_back().copied().unwrap_or(0);
            drop(ids);
            write_struct(k, buf, &info)?;
            Ok(u64::from(max))
        }
        IPC_STAT | MSG_STAT | MSG_STAT_ANY => {
            let (ds, ret) = {
                let mut ids = queues.ids.lock();
                let (q, ret) = ids.stat_target(p, cmd, id, MSG_STAT_ANY, gone(p))?;
                (stat_of(q), ret)
            };
            write_struct(k, buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let ds: MsqidDs = read_struct(k, buf)?;
            let mut ids = queues.ids.lock();
            let q = queue(p, &mut ids, id)?;
            q.perm.may_change(p)?;
            // Raising the size past msgmnb takes CAP_SYS_RESOURCE, which Docker does not give.
            if ds.msg_qbytes > MSGMNB && ds.msg_qbytes > q.qbytes {
                return Err(Errno::EPERM);
            }
            q.perm.set(p, &ds.msg_perm)?;
            q.qbytes = ds.msg_qbytes;
            q.ctime = now(k);
            drop(ids);
            queues.changed.wake_all(u64::MAX);
            Ok(0)
        }
        IPC_RMID => {
            let mut ids = queues.ids.lock();
            let q = queue(p, &mut ids, id)?;
            q.perm.may_change(p)?;
            let index = Ids::<Queue>::index_of(id)?;
            ids.slots.remove(&index);
            drop(ids);
            queues.changed.wake_all(u64::MAX);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
