//! Waits for a disk: a system call that needs a block still being read waits on
//! `coracle_vfs::block::IO_WAIT` and runs again, and a signal does not end that wait (Linux's
//! reads of a disk sleep uninterruptibly): the call finishes and the signal is taken after it.

use std::any::Any;
use std::boxed::Box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::vec::Vec;

use coracle_vfs::block::{read_tracked, BlockBuf, FakeBlock};
use coracle_vfs::types::{Result, Stat, S_IFREG};
use coracle_vfs::{Inode, OpenFile, Waker};

use super::fake::*;
use super::pagecache::program;
use crate::nr::*;
use crate::{dispatch, resume, Errno, Outcome};

/// A program file whose bytes are on a disk still reading them: every read waits (`WAIT`)
/// until `ready`.
struct SlowProgram {
    data: Vec<u8>,
    ready: AtomicBool,
}

impl Inode for SlowProgram {
    fn stat(&self) -> Stat {
        Stat {
            mode: S_IFREG | 0o755,
            size: self.data.len() as u64,
            nlink: 1,
            ..Stat::default()
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(Errno::WAIT);
        }
        let from = (offset as usize).min(self.data.len());
        let n = buf.len().min(self.data.len() - from);
        buf[..n].copy_from_slice(&self.data[from..from + n]);
        Ok(n)
    }
}

/// SIGINT typed while execve waits for the program's first block (bash's `exec sleep` as ^C
/// comes): the wait goes on; once the block is read, execve finishes, and the signal, whose
/// handler the new image no longer has, kills the process. Before, the signal ended the wait,
/// execve ran again at once, found the block still missing and waited again, ended again by
/// the pending signal: the CPU spun in that loop and never took the disk's completion.
#[test]
fn a_signal_does_not_end_execve_waiting_for_the_disk() {
    let (mut p, mut k) = setup();
    let prog = Arc::new(SlowProgram {
        data: program(),
        ready: AtomicBool::new(false),
    });
    let ops = p
        .sys
        .vfs
        .open_inode(&p.caller(), &(prog.clone() as Arc<dyn Inode>), 0);
    let file = OpenFile::new(prog.clone(), b"/bin/prog".to_vec(), 0, ops.unwrap());
    let fd = p.install(file, false).unwrap() as u64;
    // A read in flight on a disk, as the filesystem's would be.
    let disk = FakeBlock::new(std::vec![0; 4096], true);
    disk.set_delayed(true);
    let page = coracle_vfs::page::Page::new_filling().unwrap();
    read_tracked(&*disk, 0, BlockBuf::page(page), Box::new(|_| {}));

    // The process has a SIGINT handler (bash's, before it execs).
    k.poke(SCRATCH + 256, &0x40_0000u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_rt_sigaction, &[2, SCRATCH + 256, 0, 8]),
        0
    );
    k.poke(SCRATCH, b"\0");
    let mut r = regs(SYS_execveat, &[fd, SCRATCH, 0, 0, 0x1000]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);

    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(
        sys(&mut other, &mut k, SYS_tgkill, &[1, u64::from(p.tid), 2]),
        0
    );
    // (begin_wait gives the token of the wait in progress.)
    let token = p.thread.begin_wait();
    assert!(p.thread.is_waiting(token), "the signal ended the disk wait");

    prog.ready.store(true, Ordering::SeqCst);
    disk.complete();
    let why = p
        .thread
        .finish_wait()
        .expect("the disk's completion wakes it");
    assert_eq!(resume(&mut p, &mut k, &mut r, why), Outcome::Return(0));
    // The handler is gone with the old image: the pending SIGINT takes its default action.
    assert_eq!(
        crate::signal::deliver(&mut p, &mut k, &mut r),
        Some(128 + 2)
    );
}
