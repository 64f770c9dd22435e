//! Demand paging: what a page fault on a user address does.
//!
//! A touch of a page that is in a VMA but not resident makes it resident (zeroed anonymous
//! memory, a copy of the file for private file mappings, the file's own page for shared ones);
//! a touch below a stack that grows down extends it first, up to RLIMIT_STACK and never
//! closer than the guard gap to the mapping below. Anything else is the signal Linux sends.

use alloc::vec;

use super::vmas::page_down;
use super::{accessible, Mm, VmaName, PAGE, STACK_GUARD_GAP, USER_TOP};
use crate::process::ProcShared;
use crate::{Errno, Perms, Platform};

const SIGBUS: u32 = 7;
const SIGSEGV: u32 = 11;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultResult {
    /// The page is mapped now (or already was): run the instruction again.
    Mapped,
    /// Deliver this signal (SIGSEGV or SIGBUS) with this si_code and si_addr.
    Signal { signo: u32, code: i32, addr: u64 },
    /// No memory for the page: the process is to be killed ([`out_of_memory_kill`]).
    OutOfMemory,
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
    shared: &ProcShared,
    k: &mut dyn Platform,
    addr: u64,
    access: Access,
) -> FaultResult {
    let stack_limit = stack_limit(shared);
    shared.mm.lock().fault(k, addr, access, stack_limit)
}

/// RLIMIT_STACK's soft limit.
pub(crate) fn stack_limit(shared: &ProcShared) -> u64 {
    shared.limits.lock()[RLIMIT_STACK].0
}

/// Logs the kill of an out-of-memory process and returns the status it ends with (137, as
/// for SIGKILL).
pub fn out_of_memory_kill(shared: &ProcShared, k: &mut dyn Platform) -> u32 {
    shared.set_exit(crate::process::ExitStatus::Signaled {
        sig: 9,
        core: false,
    });
    let comm = shared.comm.lock().clone();
    k.log(format_args!(
        "out of memory: killed process {} ({})",
        shared.pid,
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
        let perms = self.vmas[&start].perms;
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
                } else {
                    k.protect(page, PAGE, perms);
                }
            }
            return FaultResult::Mapped;
        }
        self.fill(k, start, page, addr)
    }

    /// Makes `page` of the VMA at `start` resident; `addr` is the faulting address.
    pub(crate) fn fill(
        &mut self,
        k: &mut dyn Platform,
        start: u64,
        page: u64,
        addr: u64,
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
        if v.shared {
            if let Some(got) = coracle_vfs::tmpfs::file_page(&inode, offset / PAGE) {
                return match got {
                    Ok(p) => match k.map_shared(page, &p, perms) {
                        Ok(()) => {
                            self.pinned.insert(page, p);
                            FaultResult::Mapped
                        }
                        Err(_) => FaultResult::OutOfMemory,
                    },
                    Err(Errno::ENOMEM) => FaultResult::OutOfMemory,
                    Err(_) => bus,
                };
            }
        }
        // A private page: a copy of the file's bytes (zeros past its end within the page).
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
                    match self.fill(k, s, page, page) {
                        FaultResult::Mapped => {}
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
