//! Job control on terminals: signals to a foreground group, the controlling terminal of a
//! session, and the checks that stop background jobs touching the terminal (SIGTTIN,
//! SIGTTOU; Linux's tty_check_change and job_control).

use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_abi::signal::SI_KERNEL;
use coracle_abi::signal::{SIGCONT, SIGHUP};
use coracle_abi::termios::{VMIN, VTIME};

use super::ldisc::Ldisc;
use super::Tty;
use crate::process::{Process, System};
use crate::signal::{SigInfo, Target};
use crate::{Current, Errno};

/// Sends `sig` from the kernel to every live process of group `pgrp` (kill_pgrp).
pub(crate) fn signal_group(sys: &System, pgrp: u32, sig: u32) {
    if pgrp == 0 {
        return;
    }
    let members: Vec<Arc<Process>> = sys
        .tree
        .lock()
        .values()
        .filter(|q| q.pgid() == pgrp)
        .cloned()
        .collect();
    for q in members {
        let info = SigInfo::new(sig, SI_KERNEL);
        let _ = crate::sys::signal::send_to_other(sys, &q, Target::Process, info);
    }
}

/// Whether poll should say readable: canonical mode needs a line, otherwise VMIN bytes when
/// VTIME is 0 (else one) (n_tty's input_available_p for poll).
pub(crate) fn poll_ready(l: &Ldisc) -> bool {
    if l.canonical() {
        return l.has_input();
    }
    let t = l.termios();
    let min = usize::from(t.c_cc[VMIN]);
    let want = if t.c_cc[VTIME] == 0 && min > 0 {
        min
    } else {
        1
    };
    l.readable_bytes() >= want
}

/// The controlling terminal of the caller's session.
pub(crate) fn ctty(p: &Current) -> Option<Arc<Tty>> {
    p.sys.ttys.of_session(p.process.sid())
}

/// Whether `tty` is the caller's controlling terminal.
pub(crate) fn is_ctty(p: &Current, tty: &Tty) -> bool {
    let sid = p.process.sid();
    sid != 0 && tty.state.lock().session == sid
}

/// Whether `sig` would not stop the caller: ignored by its process or blocked by its thread.
fn ignored_or_blocked(p: &Current, sig: u32) -> bool {
    p.process.signals.action(sig).handler == crate::signal::SIG_IGN || p.thread.sig.blocks(sig)
}

/// Whether group `pgrp` is orphaned: no member has a parent in another group of the same
/// session (POSIX; Linux's will_become_orphaned_pgrp).
fn orphaned(sys: &System, pgrp: u32) -> bool {
    let tree = sys.tree.lock();
    !tree.values().any(|q| {
        q.pgid() == pgrp
            && q.life.lock().ended.is_none()
            && tree
                .get(&q.ppid())
                .is_some_and(|parent| parent.pgid() != pgrp && parent.sid() == q.sid())
    })
}

/// May the caller touch `tty` as `sig` guards (SIGTTIN for reads, SIGTTOU for writes with
/// TOSTOP and for changing settings)? A background process of the terminal's session is
/// stopped: its group gets `sig` and the call restarts once it is continued. When `sig`
/// is ignored or blocked a write or change goes ahead and a read fails with EIO, as it does
/// from an orphaned group (Linux's __tty_check_change).
pub(crate) fn check(p: &Current, tty: &Tty, sig: u32) -> Result<(), Errno> {
    if !is_ctty(p, tty) {
        return Ok(());
    }
    let fg = tty.state.lock().pgrp;
    let mine = p.process.pgid();
    if fg == 0 || fg == mine {
        return Ok(());
    }
    if ignored_or_blocked(p, sig) {
        return if sig == coracle_abi::signal::SIGTTIN {
            Err(Errno::EIO)
        } else {
            Ok(())
        };
    }
    if orphaned(&p.sys, mine) {
        return Err(Errno::EIO);
    }
    signal_group(&p.sys, mine, sig);
    Err(Errno::ERESTARTSYS)
}

/// The session leader lets go of its terminal (exit, TIOCNOTTY): the foreground group gets
/// SIGHUP and SIGCONT, and the terminal no session (Linux's disassociate_ctty).
pub(crate) fn disassociate(sys: &System, tty: &Tty) {
    let pgrp = {
        let mut st = tty.state.lock();
        st.session = 0;
        core::mem::take(&mut st.pgrp)
    };
    signal_group(sys, pgrp, SIGHUP);
    signal_group(sys, pgrp, SIGCONT);
}

/// A process ended: if it led a session with a terminal, the terminal is let go.
pub(crate) fn process_ended(sys: &System, proc: &Process) {
    if proc.sid() != proc.pid {
        return;
    }
    if let Some(tty) = sys.ttys.of_session(proc.pid) {
        disassociate(sys, &tty);
    }
}
