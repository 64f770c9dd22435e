//! One POSIX message queue's contents (`ipc/mqueue.c`'s `mqueue_inode_info`): messages by
//! priority, the highest first and in arrival order within a priority, the byte count the
//! queue's file shows as QSIZE, and the one process registered for a notification.
//!
//! The system calls that wait on it are in `super`; this part has no waiting and no user
//! memory, so host tests drive it directly.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::cmp::Reverse;

use crate::Errno;

/// MQ_PRIO_MAX: priorities are below it.
pub(crate) const MQ_PRIO_MAX: u32 = 32768;

/// How a registered process is told that a message arrived (`sigev_notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// SIGEV_NONE: nothing is sent, the registration is only used up.
    Nothing,
    /// SIGEV_SIGNAL: `signo` (0: none) with `value` in si_value.
    Signal { signo: u32, value: u64 },
}

/// A notification registration: the process (its thread-group id) and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Notify {
    pub pid: u32,
    pub how: How,
}

impl Notify {
    /// `sigev_notify` as the queue file shows it under NOTIFY.
    fn kind(&self) -> i32 {
        match self.how {
            How::Signal { .. } => 0,
            How::Nothing => 1,
        }
    }
}

/// A queue's messages and attributes.
#[derive(Debug)]
pub(crate) struct Queue {
    pub maxmsg: u64,
    pub msgsize: u64,
    /// Keyed by (priority, highest first; arrival number).
    msgs: BTreeMap<(Reverse<u32>, u64), Vec<u8>>,
    arrivals: u64,
    /// The bytes of the messages held (QSIZE).
    pub qsize: u64,
    pub notify: Option<Notify>,
    /// Threads blocked in mq_timedreceive: while there is one, a message goes to it and no
    /// notification is sent (Linux hands the message over directly).
    pub receivers: BTreeSet<u32>,
}

impl Queue {
    pub(crate) fn new(maxmsg: u64, msgsize: u64) -> Queue {
        Queue {
            maxmsg,
            msgsize,
            msgs: BTreeMap::new(),
            arrivals: 0,
            qsize: 0,
            notify: None,
            receivers: BTreeSet::new(),
        }
    }

    /// What the queue counts for against RLIMIT_MSGQUEUE (`mqueue_get_inode`): its message
    /// bytes and, per message, a `struct msg_msg` (48 bytes) and a priority-tree node (48).
    pub(crate) fn footprint(&self) -> u64 {
        let tree = self.maxmsg * 48 + self.maxmsg.min(u64::from(MQ_PRIO_MAX)) * 48;
        self.maxmsg
            .saturating_mul(self.msgsize)
            .saturating_add(tree)
    }

    /// mq_curmsgs.
    pub(crate) fn len(&self) -> u64 {
        self.msgs.len() as u64
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len() >= self.maxmsg
    }

    /// Adds a message (`EAGAIN` when full, `EMSGSIZE` when longer than msgsize). Returns the
    /// notification this send fires, which it also takes: one is due when the queue was empty
    /// and no receiver waits (`__do_notify`); `receiver_alive` says whether a thread listed in
    /// `receivers` still exists.
    pub(crate) fn send(
        &mut self,
        prio: u32,
        data: Vec<u8>,
        receiver_alive: impl Fn(u32) -> bool,
    ) -> Result<Option<Notify>, Errno> {
        if data.len() as u64 > self.msgsize {
            return Err(Errno::EMSGSIZE);
        }
        if self.is_full() {
            return Err(Errno::EAGAIN);
        }
        self.receivers.retain(|&t| receiver_alive(t));
        self.qsize += data.len() as u64;
        self.msgs.insert((Reverse(prio), self.arrivals), data);
        self.arrivals += 1;
        if self.len() == 1 && self.receivers.is_empty() {
            return Ok(self.notify.take());
        }
        Ok(None)
    }

    /// Takes the first message: the highest priority, the oldest of it.
    pub(crate) fn receive(&mut self) -> Option<(u32, Vec<u8>)> {
        let ((Reverse(prio), _), data) = self.msgs.pop_first()?;
        self.qsize -= data.len() as u64;
        Some((prio, data))
    }

    /// mq_notify: registers `n`, or (`None`) removes the caller `pid`'s registration. `EBUSY`
    /// if another registration stands; removing someone else's is silently nothing.
    pub(crate) fn set_notify(&mut self, pid: u32, n: Option<How>) -> Result<(), Errno> {
        match (n, self.notify) {
            (None, Some(cur)) if cur.pid == pid => self.notify = None,
            (None, _) => {}
            (Some(_), Some(_)) => return Err(Errno::EBUSY),
            (Some(how), None) => self.notify = Some(Notify { pid, how }),
        }
        Ok(())
    }

    /// What reading the queue's file gives (`mqueue_read_file`); `pid_of` maps the owner's
    /// pid as the reader sees it.
    pub(crate) fn status_line(&self) -> alloc::string::String {
        let (kind, signo, pid) = match self.notify {
            Some(n) => {
                let signo = match n.how {
                    How::Signal { signo, .. } => signo,
                    How::Nothing => 0,
                };
                (n.kind(), signo, n.pid)
            }
            None => (0, 0, 0),
        };
        alloc::format!(
            "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
            self.qsize,
            kind,
            signo,
            pid
        )
    }
}
