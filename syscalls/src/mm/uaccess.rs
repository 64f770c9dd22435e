//! User copies that fault pages in, as the kernel's copy_to_user/copy_from_user do.
//!
//! The platform's copies only reach resident pages. [`Faulting`] wraps the platform for the
//! length of one system call: a copy that fails runs the fault handler for each page of its
//! range that is not mapped with the access it needs, then tries once more. A page no VMA
//! allows stays `EFAULT`; a page with no memory left for it marks the call out of memory
//! (the dispatcher then kills the process, as Linux's OOM killer would).
//!
//! Every method of every platform trait is forwarded here explicitly (the traits have no
//! default bodies, so a method added to one does not compile until it is forwarded);
//! `tests::platform` proves each forward reaches the wrapped platform.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;

use super::fault::{allows, stack_limit, Access, FaultResult};
use super::{vmas::page_down, PAGE};
use crate::platform::{
    AddressSpaces, Clock, Console, Cpu, Entropy, KernelLog, Page, PageTables, Space, UserMemory,
    UserTls,
};
use crate::process::Process;
use crate::regs::{FpArea, FpuLayout};
use crate::{Errno, Perms, Platform, Stream};

/// The platform as system-call handlers see it: copies fault pages in.
pub(crate) struct Faulting<'a> {
    k: RefCell<&'a mut dyn Platform>,
    process: &'a Process,
    out_of_memory: Cell<bool>,
}

impl<'a> Faulting<'a> {
    pub(crate) fn new(process: &'a Process, k: &'a mut dyn Platform) -> Self {
        Self {
            k: RefCell::new(k),
            process,
            out_of_memory: Cell::new(false),
        }
    }

    /// Whether a copy found no memory for a page it needed.
    pub(crate) fn out_of_memory(&self) -> bool {
        self.out_of_memory.get()
    }

    /// The wrapped platform.
    pub(crate) fn inner(&mut self) -> &mut dyn Platform {
        *self.k.get_mut()
    }

    /// Faults in the pages of `[addr, addr+len)` the access cannot reach: `EFAULT` if one
    /// cannot be had, `WAIT` while one is read from its file's block device (the system call
    /// then waits on `coracle_vfs::block::IO_WAIT` and runs again, as for its own reads).
    fn fault_in(&self, addr: u64, len: usize, access: Access) -> Result<(), Errno> {
        let Some(end) = addr.checked_add(len as u64) else {
            return Err(Errno::EFAULT);
        };
        let mut k = self.k.borrow_mut();
        let limit = stack_limit(self.process);
        let mut page = page_down(addr);
        while page < end {
            let reachable = k.query(page).is_some_and(|p| allows(p, access));
            if !reachable {
                let at = page.max(addr);
                match self
                    .process
                    .mm
                    .get()
                    .lock()
                    .fault(&mut **k, at, access, limit)
                {
                    FaultResult::Mapped => {}
                    FaultResult::Signal { .. } => return Err(Errno::EFAULT),
                    FaultResult::Wait(_) => return Err(Errno::WAIT),
                    FaultResult::OutOfMemory => {
                        self.out_of_memory.set(true);
                        return Err(Errno::EFAULT);
                    }
                }
            }
            page += PAGE;
        }
        Ok(())
    }
}

/// Copies `buf.len()` bytes from user address `addr`, faulting pages in (for kernel code
/// outside a system call, e.g. signal delivery).
pub fn read_user(
    process: &Process,
    k: &mut dyn Platform,
    addr: u64,
    buf: &mut [u8],
) -> Result<(), Errno> {
    Faulting::new(process, k).read_user(addr, buf)
}

/// Copies `data` to user address `addr`, faulting pages in (for kernel code outside a
/// system call, e.g. signal frames on a stack that has to grow).
pub fn write_user(
    process: &Process,
    k: &mut dyn Platform,
    addr: u64,
    data: &[u8],
) -> Result<(), Errno> {
    Faulting::new(process, k).write_user(addr, data)
}

impl UserMemory for Faulting<'_> {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        match self.k.borrow().read_user(addr, buf) {
            Err(Errno::EFAULT) => {}
            done => return done,
        }
        self.fault_in(addr, buf.len(), Access::Read)?;
        self.k.borrow().read_user(addr, buf)
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        match self.k.get_mut().write_user(addr, data) {
            Err(Errno::EFAULT) => {}
            done => return done,
        }
        self.fault_in(addr, data.len(), Access::Write)?;
        self.k.get_mut().write_user(addr, data)
    }

    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        match self.k.get_mut().cmpxchg_user_u32(addr, expected, new) {
            Err(Errno::EFAULT) => {}
            done => return done,
        }
        self.fault_in(addr, 4, Access::Write)?;
        self.k.get_mut().cmpxchg_user_u32(addr, expected, new)
    }
}

impl Cpu for Faulting<'_> {
    fn save_fpu(&mut self, area: &mut FpArea) {
        self.inner().save_fpu(area);
    }

    fn load_fpu(&mut self, area: &FpArea) {
        self.inner().load_fpu(area);
    }

    fn fpu_layout(&self) -> FpuLayout {
        self.k.borrow().fpu_layout()
    }

    fn hwcaps(&self) -> (u64, u64) {
        self.k.borrow().hwcaps()
    }
}

impl Console for Faulting<'_> {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> usize {
        self.inner().write_stream(stream, data)
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.inner().read_stdin(buf)
    }
}

impl PageTables for Faulting<'_> {
    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        self.inner().map_zeroed(start, len, perms)
    }

    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        self.inner().map_copy(va, data, perms)
    }

    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.inner().map_shared(va, page, perms)
    }

    fn map_file_cow(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.inner().map_file_cow(va, page, perms)
    }

    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        self.inner().unmap(start, len, keep)
    }

    fn protect(&mut self, start: u64, len: u64, perms: Perms) {
        self.inner().protect(start, len, perms);
    }

    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        self.inner().move_pages(from, to, len)
    }

    fn query(&self, va: u64) -> Option<Perms> {
        self.k.borrow().query(va)
    }

    fn make_writable(&mut self, va: u64, perms: Perms) -> Result<(), Errno> {
        self.inner().make_writable(va, perms)
    }

    fn map_vdso(&mut self, base: u64) -> Option<(u64, u64)> {
        self.inner().map_vdso(base)
    }
}

impl AddressSpaces for Faulting<'_> {
    fn space(&self) -> Space {
        self.k.borrow().space()
    }

    fn new_space(&mut self) -> Result<Space, Errno> {
        self.inner().new_space()
    }

    fn switch_space(&mut self, space: &Space) {
        self.inner().switch_space(space);
    }
}

impl UserTls for Faulting<'_> {
    fn set_fs_base(&mut self, base: u64) {
        self.inner().set_fs_base(base);
    }

    fn fs_base(&self) -> u64 {
        self.k.borrow().fs_base()
    }

    fn set_gs_base(&mut self, base: u64) {
        self.inner().set_gs_base(base);
    }

    fn gs_base(&self) -> u64 {
        self.k.borrow().gs_base()
    }
}

impl Clock for Faulting<'_> {
    fn realtime_ns(&self) -> u64 {
        self.k.borrow().realtime_ns()
    }

    fn monotonic_ns(&self) -> u64 {
        self.k.borrow().monotonic_ns()
    }

    fn realtime_offset_ns(&self) -> u64 {
        self.k.borrow().realtime_offset_ns()
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        self.inner().sleep_until(deadline_ns);
    }
}

impl Entropy for Faulting<'_> {
    fn random(&mut self, buf: &mut [u8]) {
        self.inner().random(buf);
    }
}

impl KernelLog for Faulting<'_> {
    fn log(&mut self, args: fmt::Arguments<'_>) {
        self.inner().log(args);
    }

    fn verbose(&self) -> bool {
        self.k.borrow().verbose()
    }
}
