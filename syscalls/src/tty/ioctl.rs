//! The terminal ioctls (tty_ioctl, tty_mode_ioctl, n_tty_ioctl): termios and termios2, the
//! window size, the controlling terminal and foreground group, flushing, and a pty master's
//! requests. Settings asked of a master act on its slave, as on Linux.

use coracle_abi::signal::SIGTTOU;
use coracle_abi::termios::*;

use super::file::{End, TtyFile};
use super::{jobs, pty, Kind};
use crate::uaccess::{read_struct, write_struct, write_u32};
use crate::{Current, Errno, Platform, SysResult};

/// tty_check_change for requests that change the terminal (SIGTTOU for a background job).
fn may_change(p: &Current, tf: &TtyFile) -> Result<(), Errno> {
    jobs::check(p, &tf.tty, SIGTTOU)
}

pub(crate) fn ioctl(
    p: &mut Current,
    k: &mut dyn Platform,
    tf: &TtyFile,
    request: u32,
    arg: u64,
) -> SysResult {
    let tty = &tf.tty;
    let master = tf.end == End::Master;
    match request {
        TCGETS => {
            let t = *tty.state.lock().ldisc.termios();
            write_struct(k, arg, &t).map(|_| 0)
        }
        TCGETS2 => {
            let t = Termios2 {
                termios: *tty.state.lock().ldisc.termios(),
                c_ispeed: 38400,
                c_ospeed: 38400,
            };
            write_struct(k, arg, &t).map(|_| 0)
        }
        TCSETS | TCSETSW | TCSETSF | TCSETS2 | TCSETSW2 | TCSETSF2 => {
            may_change(p, tf)?;
            let t = if matches!(request, TCSETS | TCSETSW | TCSETSF) {
                read_struct::<Termios>(k, arg)?
            } else {
                read_struct::<Termios2>(k, arg)?.termios
            };
            tty.set_termios(t, matches!(request, TCSETSF | TCSETSF2));
            Ok(0)
        }
        TIOCGWINSZ => {
            let w = tty.state.lock().winsize;
            write_struct(k, arg, &w).map(|_| 0)
        }
        TIOCSWINSZ => {
            let w = read_struct::<Winsize>(k, arg)?;
            tty.set_winsize(w);
            Ok(0)
        }
        TIOCSCTTY => set_ctty(p, tf, arg),
        TIOCNOTTY => {
            if master || !jobs::is_ctty(p, tty) {
                return Err(Errno::ENOTTY);
            }
            if p.process.sid() == p.process.pid {
                jobs::disassociate(&p.sys, tty);
            }
            Ok(0)
        }
        TIOCGPGRP | TIOCGSID => {
            if !master && !jobs::is_ctty(p, tty) {
                return Err(Errno::ENOTTY);
            }
            let st = tty.state.lock();
            let v = if request == TIOCGPGRP {
                st.pgrp
            } else if st.session == 0 {
                return Err(Errno::ENOTTY);
            } else {
                st.session
            };
            drop(st);
            write_u32(k, arg, v).map(|_| 0)
        }
        TIOCSPGRP => {
            match may_change(p, tf) {
                Err(Errno::EIO) => return Err(Errno::ENOTTY),
                r => r?,
            }
            if !jobs::is_ctty(p, tty) {
                return Err(Errno::ENOTTY);
            }
            let pgrp = read_struct::<i32>(k, arg)?;
            if pgrp < 0 {
                return Err(Errno::EINVAL);
            }
            let pgrp = pgrp as u32;
            let sid = p.process.sid();
            let (exists, same) = {
                let tree = p.sys.tree.lock();
                let mut members = tree.values().filter(|q| q.pgid() == pgrp);
                match members.next() {
                    None => (false, false),
                    Some(q) => (true, q.sid() == sid),
                }
            };
            if !exists {
                return Err(Errno::ESRCH);
            }
            if !same {
                return Err(Errno::EPERM);
            }
            tty.state.lock().pgrp = pgrp;
            Ok(0)
        }
        TCFLSH => {
            may_change(p, tf)?;
            let (input, output) = match arg as u32 {
                TCIFLUSH => (true, false),
                TCOFLUSH => (false, true),
                TCIOFLUSH => (true, true),
                _ => return Err(Errno::EINVAL),
            };
            // On a master the queues are seen from its side: its input is the slave's
            // output.
            let (input, output) = if master {
                (output, input)
            } else {
                (input, output)
            };
            {
                let mut st = tty.state.lock();
                if input {
                    st.ldisc.flush_input();
                }
                if output {
                    st.master_buf.clear();
                }
            }
            tty.queue.wake_everyone();
            Ok(0)
        }
        TCXONC => {
            may_change(p, tf)?;
            match arg as u32 {
                TCOOFF | TCOON | TCIOFF | TCION => Ok(0),
                _ => Err(Errno::EINVAL),
            }
        }
        TCSBRK | TCSBRKP => {
            may_change(p, tf)?;
            Ok(0)
        }
        TIOCOUTQ => {
            let n = match tty.kind {
                Kind::Pty if !master => tty.state.lock().master_buf.len() as u32,
                _ => 0,
            };
            write_u32(k, arg, n).map(|_| 0)
        }
        TIOCGETD => write_u32(k, arg, 0).map(|_| 0),
        TIOCSETD => match read_struct::<i32>(k, arg)? {
            0 => Ok(0),
            _ => Err(Errno::EINVAL),
        },
        TIOCEXCL | TIOCNXCL => Ok(0),
        // Linux 6.2 and later refuse it unless dev.tty.legacy_tiocsti is set.
        TIOCSTI => Err(Errno::EIO),
        TIOCGPTN | TIOCSPTLCK | TIOCGPTLCK | TIOCGPTPEER if master => {
            pty::master_ioctl(p, k, tf, request, arg)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// TIOCSCTTY: the calling session leader takes `tf` as its controlling terminal; one held by
/// another session is taken from it only with `arg` 1 by root (tiocsctty).
fn set_ctty(p: &Current, tf: &TtyFile, arg: u64) -> SysResult {
    let tty = &tf.tty;
    let sid = p.process.sid();
    if tf.end == End::Master {
        return Err(Errno::EINVAL);
    }
    if jobs::is_ctty(p, tty) {
        return Ok(0);
    }
    if sid != p.process.pid || jobs::ctty(p).is_some() {
        return Err(Errno::EPERM);
    }
    let mut st = tty.state.lock();
    // Taking it from its session sends nothing there (session_clear_tty).
    if st.session != 0 && (arg != 1 || !p.process.creds().capable(coracle_vfs::cap::SYS_ADMIN)) {
        return Err(Errno::EPERM);
    }
    st.session = sid;
    st.pgrp = p.process.pgid();
    Ok(0)
}
