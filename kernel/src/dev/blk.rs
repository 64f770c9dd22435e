//! virtio-blk: the first disk found, as the filesystems' `coracle_vfs::block::BlockDevice`
//! (the root filesystem's drive, docs/guest-protocol.md "Root device").
//!
//! Built on virtio-drivers' non-blocking requests (`read_blocks_nb` / `complete_read_blocks`;
//! its `read_blocks` spins until the device answers): a request is queued on the device with
//! the page-cache page it reads into, and completes from the `blk` work item that the
//! device's interrupt raises. Requests beyond the queue's room wait in a backlog and are
//! queued as earlier ones complete. Completion callbacks run with no driver lock held (they
//! wake threads). Until the program starts (`boot_done`) a request waits for its completion,
//! the CPU halted. Writes and flushes exist for completeness (the root drive is read-only).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;

use coracle_vfs::block::{BlockBuf, BlockDevice, BlockError, Done, SECTOR_SIZE};
use core::sync::atomic::{AtomicBool, Ordering};

use spin::{Mutex, Once};
use virtio_drivers::device::blk::{BlkReq, BlkResp, VirtIOBlk};
use virtio_drivers::transport::{DeviceType, SomeTransport};

use super::hal::KernelHal;
use super::irq::Vector;
use super::work::Work;
use crate::log;

type Raw = VirtIOBlk<KernelHal, SomeTransport<'static>>;

/// One request: the buffers virtio-drivers needs again at completion, kept at fixed heap
/// addresses while the device owns them.
struct Request {
    sector: u64,
    write: bool,
    req: Box<BlkReq>,
    resp: Box<BlkResp>,
    buf: BlockBuf,
    done: Done,
}

impl Request {
    /// Where the page bytes the request moves are: (kernel address, length).
    fn span(&self) -> (u64, usize) {
        (self.buf.page.addr() + self.buf.offset as u64, self.buf.len)
    }
}

/// The bytes at `span` (a [`Request::span`]).
///
/// # Safety
/// The page must stay alive (its request holds its `Arc`) and nothing else may touch these
/// bytes while the device owns them: a page being filled is used by nobody until its fill
/// finishes, and a page being written back is only read.
unsafe fn bytes((addr, len): (u64, usize)) -> &'static mut [u8] {
    // SAFETY: `addr..addr+len` lies within the page's frame (BlockBuf's invariant, checked in
    // `submit`), which the direct map maps; the caller promises exclusive use.
    unsafe { core::slice::from_raw_parts_mut(addr as *mut u8, len) }
}

struct Disk {
    raw: Raw,
    /// Requests the device holds, by token.
    queued: BTreeMap<u16, Request>,
    /// Requests waiting for room in the queue, oldest first.
    backlog: VecDeque<Request>,
}

// SAFETY: the raw driver's transport and queue are only reached under the disk's lock, and
// the request buffers are owned by the disk; nothing is tied to the CPU that made them.
unsafe impl Send for Disk {}

impl Disk {
    /// Hands the backlog to the device while it has room.
    fn start_backlog(&mut self, failed: &mut alloc::vec::Vec<(Done, Result<(), BlockError>)>) {
        while let Some(mut r) = self.backlog.pop_front() {
            // SAFETY: the request's buffers live in `queued` until `complete`, untouched.
            let token = unsafe {
                let bytes = bytes(r.span());
                let sector = r.sector as usize;
                if r.write {
                    self.raw
                        .write_blocks_nb(sector, &mut r.req, bytes, &mut r.resp)
                } else {
                    self.raw
                        .read_blocks_nb(sector, &mut r.req, bytes, &mut r.resp)
                }
            };
            match token {
                Ok(token) => {
                    self.queued.insert(token, r);
                }
                Err(virtio_drivers::Error::QueueFull) => {
                    self.backlog.push_front(r);
                    return;
                }
                Err(e) => {
                    log!("blk: request at sector {}: {e}", r.sector);
                    failed.push((r.done, Err(BlockError::Io)));
                }
            }
        }
    }

    /// Takes every request the device has finished.
    fn complete(&mut self, out: &mut alloc::vec::Vec<(Done, Result<(), BlockError>)>) {
        while let Some(token) = self.raw.peek_used() {
            let Some(mut r) = self.queued.remove(&token) else {
                log!("blk: the device completed an unknown token {token}");
                return;
            };
            // SAFETY: the same buffers as given to the `_nb` call that returned `token`.
            let result = unsafe {
                let bytes = bytes(r.span());
                if r.write {
                    self.raw
                        .complete_write_blocks(token, &r.req, bytes, &mut r.resp)
                } else {
                    self.raw
                        .complete_read_blocks(token, &r.req, bytes, &mut r.resp)
                }
            };
            let status = match result {
                Ok(()) => Ok(()),
                Err(e) => {
                    log!(
                        "blk: {} at sector {}: {e} ({:?})",
                        if r.write { "write" } else { "read" },
                        r.sector,
                        r.resp.status()
                    );
                    Err(BlockError::Io)
                }
            };
            out.push((r.done, status));
        }
    }
}

static DISK: Once<Mutex<Disk>> = Once::new();
static CAPACITY: Once<(u64, bool)> = Once::new();
static VECTOR: Once<Vector> = Once::new();
static WORK: Work = Work::new("blk", run_work);

/// Runs completions (and starts what waited for room) outside the lock.
fn run_work(_now: u64) -> Option<u64> {
    let disk = DISK.get()?;
    let mut finished = alloc::vec::Vec::new();
    {
        let mut d = disk.lock();
        d.complete(&mut finished);
        d.start_backlog(&mut finished);
    }
    for (done, result) in finished {
        done(result);
    }
    None
}

/// The disk as the filesystems see it.
#[derive(Debug)]
pub struct Blk;

impl Blk {
    fn submit(&self, sector: u64, buf: BlockBuf, done: Done, write: bool) {
        let Some(disk) = DISK.get() else {
            return done(Err(BlockError::Io));
        };
        let (capacity, read_only) = CAPACITY.get().copied().unwrap_or((0, true));
        if write && read_only {
            return done(Err(BlockError::ReadOnly));
        }
        let whole = buf.offset.is_multiple_of(SECTOR_SIZE)
            && buf.len.is_multiple_of(SECTOR_SIZE)
            && buf.len > 0;
        let inside = buf
            .offset
            .checked_add(buf.len)
            .is_some_and(|e| e <= coracle_vfs::page::PAGE_SIZE);
        let end = sector.checked_add((buf.len / SECTOR_SIZE) as u64);
        if !whole || !inside || end.is_none_or(|e| e > capacity) {
            return done(Err(BlockError::OutOfRange));
        }
        let request = Request {
            sector,
            write,
            req: Box::default(),
            resp: Box::default(),
            buf,
            done,
        };
        let mut failed = alloc::vec::Vec::new();
        {
            let mut d = disk.lock();
            d.backlog.push_back(request);
            d.start_backlog(&mut failed);
        }
        for (done, result) in failed {
            done(result);
        }
        if BOOTING.load(Ordering::Acquire) {
            wait_until_idle(disk);
        }
    }
}

/// Until the program starts, requests complete before `submit` returns: boot (mounting the
/// root, loading the program) runs on the boot CPU outside any thread, so there is nothing to
/// park; the CPU halts until the device's interrupt instead of spinning.
static BOOTING: AtomicBool = AtomicBool::new(true);

/// From now on requests complete later, from the interrupt's work item (the scheduler runs).
pub fn boot_done() {
    BOOTING.store(false, Ordering::Release);
}

fn wait_until_idle(disk: &Mutex<Disk>) {
    loop {
        run_work(0);
        let busy = {
            let d = disk.lock();
            !d.queued.is_empty() || !d.backlog.is_empty()
        };
        if !busy {
            return;
        }
        crate::arch::idle_wait();
    }
}

impl BlockDevice for Blk {
    fn capacity(&self) -> u64 {
        CAPACITY.get().map_or(0, |c| c.0)
    }

    fn read_only(&self) -> bool {
        CAPACITY.get().is_none_or(|c| c.1)
    }

    fn read(&self, sector: u64, buf: BlockBuf, done: Done) {
        self.submit(sector, buf, done, false);
    }

    fn write(&self, sector: u64, buf: BlockBuf, done: Done) {
        self.submit(sector, buf, done, true);
    }

    fn flush(&self, done: Done) {
        // Only a writable disk has anything to flush; none is attached yet, so the flush
        // (which virtio-drivers offers only as a spinning call) stays synchronous.
        let result = match DISK.get() {
            Some(d) if !self.read_only() => d.lock().raw.flush().map_err(|_| BlockError::Io),
            _ => Ok(()),
        };
        done(result);
    }
}

/// Initialises the first virtio-blk device found, if any, and routes its interrupt; returns
/// the disk.
pub fn init() -> Option<Arc<dyn BlockDevice>> {
    let mut disks = super::claim(DeviceType::Block).into_iter();
    let found = disks.next()?;
    for extra in disks {
        log!(
            "blk: only one disk is used; {} is left alone",
            extra.location
        );
    }
    let mut raw = match Raw::new(found.transport) {
        Ok(raw) => raw,
        Err(e) => {
            log!("blk: virtio-blk at {}: {e}", found.location);
            return None;
        }
    };
    raw.enable_interrupts();
    CAPACITY.call_once(|| (raw.capacity(), raw.readonly()));
    let disk = DISK.call_once(|| {
        Mutex::new(Disk {
            raw,
            queued: BTreeMap::new(),
            backlog: VecDeque::new(),
        })
    });
    super::work::register(&WORK);
    let handler = Box::new(|| {
        if let Some(d) = DISK.get() {
            d.lock().raw.ack_interrupt();
        }
        WORK.raise();
    });
    let bound = {
        let _disk = disk.lock();
        super::bind_irq(&found.irq, 1, handler)
    };
    match bound {
        Ok(vector) => {
            VECTOR.call_once(|| vector);
            log!(
                "blk: virtio-blk at {}, {} sectors{}, vector {:#x}",
                found.location,
                CAPACITY.get().map_or(0, |c| c.0),
                if Blk.read_only() { ", read-only" } else { "" },
                vector.number()
            );
            Some(Arc::new(Blk))
        }
        Err(e) => {
            log!("blk: virtio-blk at {}: {e}; not used", found.location);
            None
        }
    }
}
