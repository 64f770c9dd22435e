//! Pseudo-terminals and the terminal devices of /dev: /dev/ptmx makes a pair whose slave is
//! /dev/pts/N (unlocked by TIOCSPTLCK, named by TIOCGPTN, opened directly by TIOCGPTPEER);
//! /dev/tty is the opener's controlling terminal; under `-t` the console is /dev/pts/0 and
//! /dev/console. Docker's devpts options: nodes owned by group tty (5), mode 0620.

use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use coracle_abi::signal::{SIGCONT, SIGHUP};
use coracle_abi::termios::{Winsize, TIOCGPTLCK, TIOCGPTN, TIOCGPTPEER, TIOCSPTLCK};
use coracle_vfs::dev::{DEV_CONSOLE, DEV_TTY};
use coracle_vfs::types::{makedev, oflags::*, NewNode, Result};
use coracle_vfs::{Device, FileOps, Inode, OpenFile};

use super::file::{on_open, CttyDevice, End, SlaveDevice, TtyFile};
use super::{jobs, Kind, Tty};
use crate::process::System;
use crate::uaccess::{read_struct, write_u32};
use crate::{Current, Errno, Platform, SysResult};

/// /dev/ptmx's device number.
const DEV_PTMX: (u32, u32) = (5, 2);
/// The major of /dev/pts/N (UNIX98_PTY_SLAVE_MAJOR).
pub(crate) const PTS_MAJOR: u32 = 136;
/// The tty group, owner of the pts nodes (devpts `gid=5`).
const TTY_GID: u32 = 5;

/// /dev/ptmx: each open makes a new pair and is its master.
struct PtmxDevice(Weak<System>);

impl Device for PtmxDevice {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        let sys = self.0.upgrade().ok_or(Errno::ENXIO)?;
        let tty = sys.ttys.add(Kind::Pty, self.0.clone());
        add_node(&sys, &tty)?;
        Ok(Box::new(TtyFile::new(tty, End::Master)))
    }
}

/// The pts directory of `sys`.
pub(crate) fn pts_dir(sys: &System) -> Result<Arc<dyn Inode>> {
    sys.ttys.pts_dir.lock().clone().ok_or(Errno::ENXIO)
}

/// Creates /dev/pts/N for `tty` and registers its device.
pub(crate) fn add_node(sys: &System, tty: &Arc<Tty>) -> Result<()> {
    let dir = pts_dir(sys)?;
    let name = alloc::format!("{}", tty.index).into_bytes();
    let rdev = makedev(PTS_MAJOR, tty.index);
    // A node left by an earlier pair of the same number goes first.
    let _ = dir.unlink(&name);
    dir.create(&name, NewNode::CharDevice(rdev), 0o620, 0, TTY_GID)?;
    sys.vfs
        .register_device(rdev, Arc::new(SlaveDevice(Arc::downgrade(tty))));
    Ok(())
}

/// Sets up the terminal devices of `sys` in /dev (`dev`), and the console when `console`.
pub(crate) fn setup(sys: &Arc<System>, dev: &Arc<dyn Inode>, console: bool) -> Result<()> {
    let cx_pts = dev.lookup(&root_caller(dev), b"pts")?;
    *sys.ttys.pts_dir.lock() = Some(cx_pts);
    let _ = dev.unlink(b"ptmx");
    dev.create(
        b"ptmx",
        NewNode::CharDevice(makedev(DEV_PTMX.0, DEV_PTMX.1)),
        0o666,
        0,
        0,
    )?;
    let weak = Arc::downgrade(sys);
    let reg = |n: (u32, u32), d: Arc<dyn Device>| sys.vfs.register_device(makedev(n.0, n.1), d);
    reg(DEV_PTMX, Arc::new(PtmxDevice(weak.clone())));
    reg(DEV_TTY, Arc::new(CttyDevice));
    if console {
        let tty = sys.ttys.add(Kind::Console, weak);
        tty.state.lock().winsize = Winsize {
            ws_row: 24,
            ws_col: 80,
            ..Winsize::default()
        };
        add_node(sys, &tty)?;
        reg(DEV_CONSOLE, Arc::new(SlaveDevice(Arc::downgrade(&tty))));
        *sys.ttys.console.lock() = Some(tty);
    }
    Ok(())
}

/// A caller for looking up /dev's entries at boot.
pub(crate) fn root_caller(dir: &Arc<dyn Inode>) -> coracle_vfs::Caller {
    coracle_vfs::Caller {
        pid: 0,
        tid: 0,
        uid: 0,
        gid: 0,
        groups: Vec::new(),
        caps: coracle_vfs::cap::ALL,
        umask: 0o022,
        root: dir.clone(),
    }
}

/// The last description of a master closed: the slave is hung up (its session leader gets
/// SIGHUP and SIGCONT, its foreground group SIGHUP) and /dev/pts/N goes away.
pub(crate) fn master_closed(tty: &Arc<Tty>) {
    let (session, pgrp) = {
        let mut st = tty.state.lock();
        st.hungup = true;
        (
            core::mem::take(&mut st.session),
            core::mem::take(&mut st.pgrp),
        )
    };
    if let Some(sys) = tty.system() {
        if session != 0 {
            if let Some(leader) = sys.process(session) {
                for sig in [SIGHUP, SIGCONT] {
                    let info = crate::signal::SigInfo::new(sig, coracle_abi::signal::SI_KERNEL);
                    let _ = crate::sys::signal::send_to_other(
                        &sys,
                        &leader,
                        crate::signal::Target::Process,
                        info,
                    );
                }
            }
            if pgrp != session {
                jobs::signal_group(&sys, pgrp, SIGHUP);
            }
        }
        if let Ok(dir) = pts_dir(&sys) {
            let _ = dir.unlink(alloc::format!("{}", tty.index).as_bytes());
        }
        sys.ttys.remove(tty.index);
    }
    tty.queue.wake_everyone();
}

/// The requests only a master answers.
pub(crate) fn master_ioctl(
    p: &mut Current,
    k: &mut dyn Platform,
    tf: &TtyFile,
    request: u32,
    arg: u64,
) -> SysResult {
    let tty = &tf.tty;
    match request {
        TIOCGPTN => write_u32(k, arg, tty.index).map(|_| 0),
        TIOCSPTLCK => {
            let lock = read_struct::<i32>(k, arg)? != 0;
            tty.state.lock().locked = lock;
            Ok(0)
        }
        TIOCGPTLCK => {
            let locked = tty.state.lock().locked;
            write_u32(k, arg, u32::from(locked)).map(|_| 0)
        }
        TIOCGPTPEER => {
            let flags = arg as u32;
            if flags & !(O_ACCMODE | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) != 0 {
                return Err(Errno::EINVAL);
            }
            let rdev = makedev(PTS_MAJOR, tty.index);
            let ops = SlaveDevice(Arc::downgrade(tty)).open(flags)?;
            let ops = on_open(p, ops, flags, false)?;
            let dir = pts_dir(&p.sys)?;
            let name = alloc::format!("{}", tty.index);
            let inode = dir.lookup(&p.caller(), name.as_bytes())?;
            if inode.stat().rdev != rdev {
                return Err(Errno::EIO);
            }
            let path = alloc::format!("/dev/pts/{name}").into_bytes();
            let file = OpenFile::new(inode, path, flags | O_LARGEFILE, ops);
            p.install(file, flags & O_CLOEXEC != 0).map(|n| n as u64)
        }
        _ => Err(Errno::ENOTTY),
    }
}
