//! eventfd and eventfd2: a 64-bit counter behind a file descriptor (eventfd(2)).
//!
//! A read takes the counter (or 1 of it with `EFD_SEMAPHORE`) and fails with `EAGAIN` at
//! zero; a write adds to it and fails with `EAGAIN` if the sum would pass `u64::MAX - 1`.
//! Blocking callers wait on the eventfd's queue through the generic read/write path.

use alloc::boxed::Box;
use core::any::Any;

use coracle_vfs::file::events::*;
use coracle_vfs::types::oflags::{O_CLOEXEC, O_NONBLOCK};
use coracle_vfs::types::Result;
use coracle_vfs::{FileOps, WaitQueue};
use spin::Mutex;

use crate::sys::anon::install_anon;
use crate::{Current, Errno, Platform, SysResult};

const EFD_SEMAPHORE: u32 = 1;

struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
}

impl FileOps for EventFd {
    fn read(&self, _pos: u64, buf: &mut [u8]) -> Result<usize> {
        if buf.len() < 8 {
            return Err(Errno::EINVAL);
        }
        let value = {
            let mut count = self.count.lock();
            if *count == 0 {
                return Err(Errno::EAGAIN);
            }
            let v = if self.semaphore { 1 } else { *count };
            *count -= v;
            v
        };
        buf[..8].copy_from_slice(&value.to_le_bytes());
        self.queue.wake_all(u64::from(POLLOUT));
        Ok(8)
    }

    fn write(&self, _pos: u64, data: &[u8]) -> Result<usize> {
        let Some(bytes) = data.get(..8) else {
            return Err(Errno::EINVAL);
        };
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        let value = u64::from_le_bytes(b);
        if value == u64::MAX {
            return Err(Errno::EINVAL);
        }
        {
            let mut count = self.count.lock();
            if u64::MAX - *count <= value {
                return Err(Errno::EAGAIN);
            }
            *count += value;
        }
        // Even adding 0 wakes (Linux does): an edge-triggered watcher sees an event.
        self.queue.wake_all(u64::from(POLLIN));
        Ok(8)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn poll(&self) -> u32 {
        let count = *self.count.lock();
        let mut ev = 0;
        if count > 0 {
            ev |= POLLIN;
        }
        if count == u64::MAX {
            ev |= POLLERR;
        }
        if count < u64::MAX - 1 {
            ev |= POLLOUT;
        }
        ev
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn record_io(&self) -> bool {
        true
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub(crate) fn eventfd2(
    p: &mut Current,
    _k: &mut dyn Platform,
    initval: u32,
    flags: i32,
) -> SysResult {
    let flags = flags as u32;
    if flags & !(EFD_SEMAPHORE | O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let ops = EventFd {
        count: Mutex::new(u64::from(initval)),
        semaphore: flags & EFD_SEMAPHORE != 0,
        queue: WaitQueue::new(),
    };
    install_anon(p, "eventfd", flags, Box::new(ops))
}

pub(crate) fn eventfd(p: &mut Current, k: &mut dyn Platform, initval: u32) -> SysResult {
    eventfd2(p, k, initval, 0)
}
