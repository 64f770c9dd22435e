//! Open terminals: [`TtyFile`] (a console, pts or ptmx description), the devices behind
//! /dev/tty, /dev/console and /dev/pts/N, and what opening one does (the controlling
//! terminal).

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;

use coracle_vfs::types::{oflags::O_NOCTTY, Result};
use coracle_vfs::{Device, FileOps, OpenFile, WaitQueue};

use super::{jobs, Kind, Tty};
use crate::{Current, Errno};

/// Which end of a terminal a description is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The terminal programs use (the console, a pts).
    Slave,
    /// A pty's master (/dev/ptmx).
    Master,
}

/// An open terminal. Reads and writes from processes go through [`super::io`] (job control,
/// VMIN/VTIME, waiting); these [`FileOps`] serve the generic paths (sendfile, splice) without
/// blocking.
pub(crate) struct TtyFile {
    pub tty: Arc<Tty>,
    pub end: End,
}

impl TtyFile {
    /// A new description of `end`, counted as open until it is dropped.
    pub(crate) fn new(tty: Arc<Tty>, end: End) -> TtyFile {
        {
            let mut st = tty.state.lock();
            match end {
                End::Slave => st.slaves += 1,
                End::Master => st.masters += 1,
            }
        }
        TtyFile { tty, end }
    }
}

impl core::fmt::Debug for TtyFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TtyFile")
            .field("tty", &self.tty)
            .field("end", &self.end)
            .finish()
    }
}

impl Drop for TtyFile {
    fn drop(&mut self) {
        let (last_master, last_slave) = {
            let mut st = self.tty.state.lock();
            match self.end {
                End::Slave => {
                    st.slaves -= 1;
                    if st.slaves == 0 && self.tty.kind == Kind::Pty {
                        st.slave_closed = true;
                    }
                    (false, st.slaves == 0)
                }
                End::Master => {
                    st.masters -= 1;
                    (st.masters == 0, false)
                }
            }
        };
        if last_master {
            super::pty::master_closed(&self.tty);
        }
        if last_master || last_slave {
            self.tty.queue.wake_everyone();
        }
    }
}

impl FileOps for TtyFile {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        super::io::read_now(&self.tty, self.end, buf)
    }
    fn write(&self, _pos: u64, data: &[u8]) -> Result<usize> {
        super::io::write_now(&self.tty, self.end, data)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn poll(&self) -> u32 {
        match self.end {
            End::Slave => self.tty.poll_slave(),
            End::Master => self.tty.poll_master(),
        }
    }
    fn readable_bytes(&self) -> Option<usize> {
        let st = self.tty.state.lock();
        Some(match self.end {
            End::Slave => st.ldisc.readable_bytes(),
            End::Master => st.master_buf.len(),
        })
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tty.queue)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The terminal behind an open file, if it is one.
pub(crate) fn file_tty(file: &OpenFile) -> Option<&TtyFile> {
    file.ops().as_any().downcast_ref::<TtyFile>()
}

/// /dev/tty before it is resolved to the opener's controlling terminal by [`on_open`].
pub(crate) struct CttyPlaceholder;

impl FileOps for CttyPlaceholder {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The device of /dev/tty (5, 0).
pub(crate) struct CttyDevice;

impl Device for CttyDevice {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        Ok(Box::new(CttyPlaceholder))
    }
}

/// The device of one terminal's slave side: /dev/console (5, 1) and /dev/pts/N (136, N).
pub(crate) struct SlaveDevice(pub alloc::sync::Weak<Tty>);

impl Device for SlaveDevice {
    fn open(&self, _flags: u32) -> Result<Box<dyn FileOps>> {
        let tty = self.0.upgrade().ok_or(Errno::EIO)?;
        {
            let st = tty.state.lock();
            // A locked pty (before unlockpt) or one whose master is gone cannot be opened.
            if tty.kind == Kind::Pty && (st.locked || st.masters == 0) {
                return Err(Errno::EIO);
            }
        }
        Ok(Box::new(TtyFile::new(tty, End::Slave)))
    }
}

/// What opening a file does when it is a terminal (tty_open): /dev/tty becomes the caller's
/// controlling terminal (ENXIO without one); a session leader without a controlling terminal
/// that opens a pts or the console's pts without O_NOCTTY acquires it (not through
/// /dev/console or a master).
pub(crate) fn on_open(
    p: &Current,
    ops: Box<dyn FileOps>,
    flags: u32,
    via_console: bool,
) -> core::result::Result<Box<dyn FileOps>, Errno> {
    if ops.as_any().is::<CttyPlaceholder>() {
        let tty = jobs::ctty(p).ok_or(Errno::ENXIO)?;
        return Ok(Box::new(TtyFile::new(tty, End::Slave)));
    }
    let Some(f) = ops.as_any().downcast_ref::<TtyFile>() else {
        return Ok(ops);
    };
    let leader = p.process.sid() == p.process.pid;
    if f.end == End::Slave && flags & O_NOCTTY == 0 && !via_console && leader {
        let has_ctty = jobs::ctty(p).is_some();
        let mut st = f.tty.state.lock();
        if !has_ctty && st.session == 0 {
            st.session = p.process.sid();
            st.pgrp = p.process.pgid();
        }
    }
    Ok(ops)
}
