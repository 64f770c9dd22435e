//! An open generated file: the text as it was when opened (as seq_file keeps the text of
//! its first read), and what writing to it does.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;

use coracle_vfs::{Errno, FileOps, Result};

use super::node::{Fs, Who};
use super::pid;

/// What a write to an open generated file does.
pub(super) enum OnWrite {
    Fail(Errno),
    Comm { who: Who, writer: u32 },
    OomScoreAdj { who: Who },
}

/// An open generated file: the text as it was at open.
pub(super) struct Snapshot {
    pub data: Vec<u8>,
    pub on_write: OnWrite,
    pub fs: Arc<Fs>,
}

impl FileOps for Snapshot {
    fn read(&self, pos: u64, buf: &mut [u8]) -> Result<usize> {
        let start = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }

    fn write(&self, _pos: u64, data: &[u8]) -> Result<usize> {
        let sys = || self.fs.system();
        match self.on_write {
            OnWrite::Fail(e) => Err(e),
            OnWrite::Comm { who, writer } => {
                let p = sys()?.process(who.pid).ok_or(Errno::ESRCH)?;
                pid::write_comm(&p, writer, data)
            }
            OnWrite::OomScoreAdj { who } => {
                let sys = sys()?;
                sys.process(who.pid).ok_or(Errno::ESRCH)?;
                let value = pid::parse_oom_score_adj(data)?;
                let live = sys.pids();
                let mut adj = self.fs.oom_adj.lock();
                adj.retain(|pid, _| live.contains(pid));
                adj.insert(who.pid, value);
                Ok(data.len())
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
