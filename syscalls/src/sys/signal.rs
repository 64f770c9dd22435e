//! Signal dispositions and masks, and signals a process sends itself.
//!
//! Delivery to handlers arrives with the signal-frame work; until then a signal whose action
//! is a handler is reported in the log and treated like its default action.

use crate::uaccess::{read_u64, write_u64};
use crate::{Errno, Platform, Process, SysResult};

const NSIG: i32 = 64;
const SIGKILL: i32 = 9;
const SIGSTOP: i32 = 19;
const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;

/// One `struct sigaction` as the kernel ABI has it (handler, flags, restorer, mask).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// The dispositions of signals 1..=64.
#[derive(Debug, Clone)]
pub struct SigActions([SigAction; NSIG as usize]);

impl Default for SigActions {
    fn default() -> Self {
        Self([SigAction::default(); NSIG as usize])
    }
}

impl SigActions {
    /// The action for `sig` (1..=64).
    pub fn get(&self, sig: i32) -> Option<&SigAction> {
        usize::try_from(sig - 1).ok().and_then(|i| self.0.get(i))
    }
}

fn valid(sig: i32) -> Result<(), Errno> {
    if (1..=NSIG).contains(&sig) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Signals whose default action is to be ignored (signal(7)); stop signals are treated as
/// ignored until job control exists.
fn default_ignored(sig: i32) -> bool {
    matches!(sig, 17 | 18 | 23 | 28 | 19 | 20 | 21 | 22)
}

pub(crate) fn rt_sigaction(
    p: &mut Process,
    k: &mut dyn Platform,
    sig: i32,
    act: u64,
    oldact: u64,
    sigsetsize: u64,
) -> SysResult {
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    valid(sig)?;
    let idx = (sig - 1) as usize;
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut raw = [0u8; 32];
        k.read_user(act, &mut raw)?;
        let word =
            |i: usize| u64::from_le_bytes(raw[i * 8..i * 8 + 8].try_into().unwrap_or_default());
        Some(SigAction {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3),
        })
    } else {
        None
    };
    if oldact != 0 {
        let old = p.sigactions.0[idx];
        let mut raw = [0u8; 32];
        for (i, w) in [old.handler, old.flags, old.restorer, old.mask]
            .into_iter()
            .enumerate()
        {
            raw[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        k.write_user(oldact, &raw)?;
    }
    if let Some(new) = new {
        p.sigactions.0[idx] = new;
    }
    Ok(0)
}

pub(crate) fn rt_sigprocmask(
    p: &mut Process,
    k: &mut dyn Platform,
    how: i32,
    set: u64,
    oldset: u64,
    sigsetsize: u64,
) -> SysResult {
    const SIG_BLOCK: i32 = 0;
    const SIG_UNBLOCK: i32 = 1;
    const SIG_SETMASK: i32 = 2;
    const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if set != 0 {
        let set = read_u64(k, set)?;
        Some(match how {
            SIG_BLOCK => p.sigmask | set,
            SIG_UNBLOCK => p.sigmask & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        })
    } else {
        None
    };
    if oldset != 0 {
        write_u64(k, oldset, p.sigmask)?;
    }
    if let Some(new) = new {
        p.sigmask = new & !UNBLOCKABLE;
    }
    Ok(0)
}

pub(crate) fn sigaltstack(_p: &mut Process, k: &mut dyn Platform, ss: u64, old: u64) -> SysResult {
    const SS_DISABLE: u32 = 2;
    const MINSIGSTKSZ: u64 = 2048;
    if ss != 0 {
        let mut raw = [0u8; 24];
        k.read_user(ss, &mut raw)?;
        let flags = u32::from_le_bytes([raw[8], raw[9], raw[10], raw[11]]);
        let size = u64::from_le_bytes(raw[16..24].try_into().unwrap_or_default());
        if flags & !(SS_DISABLE | 0x8000_0000) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
    }
    if old != 0 {
        let mut raw = [0u8; 24];
        raw[8..12].copy_from_slice(&SS_DISABLE.to_le_bytes());
        k.write_user(old, &raw)?;
    }
    Ok(0)
}

/// A signal sent by the process to itself.
pub(crate) fn raise(p: &mut Process, k: &mut dyn Platform, sig: i32) -> SysResult {
    if sig == 0 {
        return Ok(0);
    }
    valid(sig)?;
    let action = p.sigactions.get(sig).copied().unwrap_or_default();
    let blocked = p.sigmask & (1 << (sig - 1)) != 0;
    if sig != SIGKILL
        && (blocked
            || action.handler == SIG_IGN
            || (action.handler == SIG_DFL && default_ignored(sig)))
    {
        return Ok(0);
    }
    if action.handler != SIG_DFL && sig != SIGKILL {
        k.log(format_args!(
            "signal {sig} has a handler, but handler delivery is not implemented yet: terminating"
        ));
    }
    p.exit_status = Some(128 + sig as u32);
    Ok(0)
}

pub(crate) fn kill(p: &mut Process, k: &mut dyn Platform, pid: i32, sig: i32) -> SysResult {
    valid(sig).or(if sig == 0 { Ok(()) } else { Err(Errno::EINVAL) })?;
    if pid == 0 || pid == -1 || pid == p.info.pid as i32 || pid == -(p.info.pid as i32) {
        raise(p, k, sig)
    } else {
        Err(Errno::ESRCH)
    }
}

pub(crate) fn tgkill(
    p: &mut Process,
    k: &mut dyn Platform,
    tgid: i32,
    tid: i32,
    sig: i32,
) -> SysResult {
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tgid != p.info.pid as i32 || tid != p.info.pid as i32 {
        return Err(Errno::ESRCH);
    }
    raise(p, k, sig)
}

pub(crate) fn tkill(p: &mut Process, k: &mut dyn Platform, tid: i32, sig: i32) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    if tid != p.info.pid as i32 {
        return Err(Errno::ESRCH);
    }
    raise(p, k, sig)
}
