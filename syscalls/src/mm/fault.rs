//! Demand paging: what a page fault on a user address does.
//!
//! A touch of a page that is in a VMA but not resident makes it resident: zeroed anonymous
//! memory; for a file, its page-cache page (see `coracle_vfs::cache`), mapped itself for a
//! shared mapping and read-only for a private one, whose first write copies it (a write
//! fault copies at once). A page the file's filesystem is still reading makes the fault
//! [`FaultResult::Wait`]: the thread waits on the page and takes the fault again;
//! a touch below a stack that grows down extends it first, up to RLIMIT_STACK and never
//! closer than the guard gap to the mapping below. Anything else is the signal Linux sends.

use alloc::sync::Arc;
use alloc::vec;

use coracle_abi::signal::{SIGBUS, SIGSEGV};
use coracle_vfs::cache::{get_page, Got};
use coracle_vfs::page::Page;

use super::vmas::page_down;
use super::{accessible, Mm, VmaName, PAGE, STACK_GUARD_GAP, USER_TOP};
use crate::process::Process;
use crate::{Errno, Perms, Platform};

/// si_code of SIGSEGV: no mapping at the address.
pub const SEGV_MAPERR: i32 = 1;
/// si_code of SIGSEGV: the mapping does not allow the access.
pub const SEGV_ACCERR: i32 = 2;
/// si_code of SIGBUS: the address has no backing (past the end of the file).
pub const BUS_ADRERR: i32 = 2;
/// RLIMIT_STACK's index in the limits.
const RLIMIT_STACK: usize = 3;
/// The exit status of a process the out-of-memory killer ends (SIGKILL).
const OOM_STATUS: u32 = 128 + 9;

/// The kind of access that faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Exec,
}

impl Access {
    /// From an x86 page-fault error code: bit 1 is a write, bit 4 an instruction fetch.
    pub fn from_x86_error_code(code: u64) -> Access {
        if code & (1 << 4) != 0 {
            Access::Exec
        } else if code & (1 << 1) != 0 {
            Access::Write
        } else {
            Access::Read
        }
    }
}

/// What a page fault comes to.
#[derive(Debug, Clone)]
pub enum FaultResult {
    /// The page is mapped now (or already was): run the instruction again.
    Mapped,
    /// The file page is being read: wait on its [`Page::waiters`], then take the fault again.
    Wait(Arc<Page>),
    /// Deliver this signal (SIGSEGV or SIGBUS) with this si_code and si_addr.
    Signal { signo: u32, code: i32, addr: u64 },
    /// No memory for the page: the process is to be killed ([`out_of_memory_kill`]).
    OutOfMemory,
}

impl PartialEq for FaultResult {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (FaultResult::Wait(a), FaultResult::Wait(b)) => Arc::ptr_eq(a, b),
            (
                FaultResult::Signal { signo, code, addr },
                FaultResult::Signal {
                    signo: s,
                    code: c,
                    addr: a,
                },
            ) => (signo, code, addr) == (s, c, a),
            (FaultResult::Mapped, FaultResult::Mapped)
            | (FaultResult::OutOfMemory, FaultResult::OutOfMemory) => true,
            _ => false,
        }
    }
}

/// Whether `perms` allow `access`. On x86 every mapped page is readable: PROT_WRITE and
/// PROT_EXEC imply PROT_READ.
pub(crate) fn allows(perms: Perms, access: Access) -> bool {
    match access {
        Access::Read => accessible(perms),
        Access::Write => perms.write,
        Access::Exec => perms.exec,
    }
}

/// Handles a fault at user address `addr`: the kernel's trap loop calls this for every page
/// fault taken in user mode, the user copies for every page they could not reach.
pub fn handle_page_fault(
    process: &Process,
    k: &mut dyn Platform,
    addr: u64,
    access: Access,
) -> FaultResult {
    let stack_limit = stack_limit(process);
    process.mm.get().lock().fault(k, addr, access, stack_limit)
}

/// A user-mode fault that met a page being read ([`FaultResult::Wait`]): registers the thread
/// on the page's wait queue. True: park the thread; woken, it goes back to user mode as it
/// was and takes the fault again. False: the read ended meanwhile (or the thread is being
/// killed): take the fault again at once.
pub fn wait_for_page(p: &mut crate::Current, page: &Page) -> bool {
    page.waiters().register(p.thread.waiter(u64::MAX));
    let killed = p.thread.killed.load(core::sync::atomic::Ordering::SeqCst);
    if page.state() != coracle_vfs::page::PageState::Filling || killed {
        p.thread.finish_wait();
        return false;
    }
    p.stop_waiting = true;
    true
}

/// RLIMIT_STACK's soft limit.
pub(crate) fn stack_limit(process: &Process) -> u64 {
    process.limits.lock()[RLIMIT_STACK].0
}

/// Logs the kill of an out-of-memory process and returns the status it ends with (137, as
/// for SIGKILL).
pub fn out_of_memory_kill(process: &Process, k: &mut dyn Platform) -> u32 {
    process.set_exit(crate::process::ExitStatus::Signaled {
        sig: 9,
        core: false,
    });
    let comm = process.comm.lock().clone();
    k.log(format_args!(
        "out of memory: killed process {} ({})",
        process.pid,
        alloc::string::String::from_utf8_lossy(&comm)
    ));
    OOM_STATUS
}

impl Mm {
    /// [`handle_page_fault`] with the mm lock held.
    pub(crate) fn fault(
        &mut self,
        k: &mut dyn Platform,
        addr: u64,
        access: Access,
        stack_limit: u64,
    ) -> FaultResult {
        let segv = |code| FaultResult::Signal {
            signo: SIGSEGV,
            code,
            addr,
        };
        if addr >= USER_TOP {
            return segv(SEGV_MAPERR);
        }
        let Some((mut start, vma)) = self.find(addr) else {
            return segv(SEGV_MAPERR);
        };
        if start > addr {
            if !vma.growsdown {
                return segv(SEGV_MAPERR);
            }
            match self.grow_down(start, addr, stack_limit) {
                Some(s) => start = s,
                None => return segv(SEGV_MAPERR),
            }
        }
        let (perms, shared) = (self.vmas[&start].perms, self.vmas[&start].shared);
        if !allows(perms, access) {
            return segv(SEGV_ACCERR);
        }
        let page = page_down(addr);
        if let Some(now) = k.query(page) {
            // Another CPU mapped it first, or this CPU's TLB was stale after a permission
            // upgrade; make sure the page table agrees with the VMA and retry.
            if !allows(now, access) {
                if access == Access::Write {
                    // A copy-on-write page (after a fork) is copied here.
                    if k.make_writable(page, perms).is_err() {
                        return FaultResult::OutOfMemory;
                    }
                    // A shared file page a write-back made read-only (write_protect_file)
                    // holds data its backing store lacks once more.
                    if shared {
                        if let Some(p) = self.pinned.get(&page) {
                            p.set_dirty();
                        }
                    }
                } else {
                    k.protect(page, PAGE, perms);
                }
            }
            return FaultResult::Mapped;
        }
        self.fill(k, start, page, addr, access)
    }

    /// Makes `page` of the VMA at `start` resident; `addr` is the faulting address.
    pub(crate) fn fill(
        &mut self,
        k: &mut dyn Platform,
        start: u64,
        page: u64,
        addr: u64,
        access: Access,
    ) -> FaultResult {
        let bus = FaultResult::Signal {
            signo: SIGBUS,
            code: BUS_ADRERR,
            addr,
        };
        let v = &self.vmas[&start];
        let perms = v.perms;
        let (inode, offset) = match &v.name {
            VmaName::Anon | VmaName::Stack => {
                return match k.map_zeroed(page, PAGE, perms) {
                    Ok(()) => FaultResult::Mapped,
                    Err(_) => FaultResult::OutOfMemory,
                };
            }
            VmaName::File { inode, offset, .. } => (inode.clone(), offset + (page - start)),
            // The kernel maps its own pages ([vdso], [vvar]) at once and never drops them.
            VmaName::Special(_) => {
                return FaultResult::Signal {
                    signo: SIGSEGV,
                    code: SEGV_MAPERR,
                    addr,
                }
            }
        };
        let shared = v.shared;
        if let Some(cached) = inode.cached() {
            let p = match get_page(cached, offset / PAGE) {
                Ok(Got::Ready(p)) => p,
                Ok(Got::Wait(p)) => return FaultResult::Wait(p),
                Err(Errno::ENOMEM) => return FaultResult::OutOfMemory,
                Err(_) => return bus,
            };
            let mapped = if shared {
                // Stores through a writable shared mapping reach the file: it has data its
                // backing store may not (msync and fsync write it back).
                if perms.write {
                    p.set_dirty();
                }
                k.map_shared(page, &p, perms)
            } else if access == Access::Write {
                // do_cow_fault: a write to a private page copies it at once.
                let mut buf = vec![0u8; PAGE as usize];
                p.read(0, &mut buf);
                return match k.map_copy(page, &buf, perms) {
                    Ok(()) => FaultResult::Mapped,
                    Err(_) => FaultResult::OutOfMemory,
                };
            } else {
                k.map_file_cow(page, &p, perms)
            };
            return match mapped {
                Ok(()) => {
                    self.pinned.insert(page, p);
                    FaultResult::Mapped
                }
                Err(_) => FaultResult::OutOfMemory,
            };
        }
        // A file without a page cache: a private copy of its bytes (zeros past its end
        // within the page).
        let mut buf = vec![0u8; PAGE as usize];
        match inode.read_at(offset, &mut buf) {
            Ok(0) | Err(_) => bus,
            Ok(n) => match k.map_copy(page, &buf[..n], perms) {
                Ok(()) => FaultResult::Mapped,
                Err(_) => FaultResult::OutOfMemory,
            },
        }
    }

    /// Extends the stack VMA at `start` down to `addr`'s page (expand_downwards): not below
    /// mmap_min_addr, not within the guard gap of an accessible mapping below, not beyond
    /// `limit` bytes in all. Returns the new start.
    fn grow_down(&mut self, start: u64, addr: u64, limit: u64) -> Option<u64> {
        let new_start = page_down(addr);
        if new_start < super::MMAP_MIN_ADDR {
            return None;
        }
        if let Some((_, below)) = self.vmas.range(..start).next_back() {
            if !below.growsdown
                && accessible(below.perms)
                && new_start.saturating_sub(below.end) < STACK_GUARD_GAP
            {
                return None;
            }
        }
        let vma = self.vmas.get(&start)?;
        // A file never grows down: mmap refuses MAP_GROWSDOWN for files.
        if matches!(vma.name, VmaName::File { .. }) || vma.end - new_start > limit {
            return None;
        }
        let vma = self.vmas.remove(&start)?;
        self.vmas.insert(new_start, vma);
        Some(new_start)
    }

    /// Makes every accessible page of `[start, end)` resident (MAP_POPULATE, mlock,
    /// MADV_POPULATE_*): `ENOMEM` for a hole or when memory runs out, `EFAULT` when a page
    /// cannot be had (past the end of its file).
    pub(crate) fn populate(
        &mut self,
        k: &mut dyn Platform,
        start: u64,
        end: u64,
    ) -> Result<(), Errno> {
        let mut page = start;
        while page < end {
            let (s, v) = self.vma_at(page).ok_or(Errno::ENOMEM)?;
            let vma_end = v.end.min(end);
            if !accessible(v.perms) {
                page = vma_end;
                continue;
            }
            while page < vma_end {
                if k.query(page).is_none() {
                    match self.fill(k, s, page, page, Access::Read) {
                        FaultResult::Mapped => {}
                        // Populating does not wait for reads: the page comes on first touch.
                        FaultResult::Wait(_) => {}
                        FaultResult::OutOfMemory => return Err(Errno::ENOMEM),
                        FaultResult::Signal { .. } => return Err(Errno::EFAULT),
                    }
                }
                page += PAGE;
            }
        }
        Ok(())
    }
}
