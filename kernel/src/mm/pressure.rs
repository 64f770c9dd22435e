//! Memory pressure: giving page-cache pages back when frames run short, instead of failing.
//!
//! The frame allocator calls [`on_low`] when free frames fall to the low mark, a little above
//! the reserves it keeps for the kernel heap: the page cache's shrinker
//! (`coracle_vfs::evict`) drops clean pages nothing holds, to be read again when needed.
//! Pages that mappings hold cannot be let go of from inside an allocation (its caller may
//! hold the locks an unmap takes), so when the shrinker falls short [`on_low`] raises a flag,
//! and the CPU loop calls [`relieve`] before it next returns to user mode (as does a page
//! fault that found no memory, before it kills the process): there, with no lock held, the
//! clean file pages are unmapped from every process, every CPU flushes them, and the
//! shrinker runs again. Only when nothing can be given back does a program get ENOMEM or
//! the out-of-memory kill.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use coracle_syscalls::Current;
use coracle_vfs::evict::SHRINKER;

use super::{frame, tlb};
use crate::platform::KernelPlatform;

/// Set when the shrinker could not free what was asked: mapped pages are to be released.
static WANTED: AtomicBool = AtomicBool::new(false);
/// Allocations that skip the shrinker after a pass that freed nothing (a pass over a cache
/// full of held pages walks all of it: not on every allocation).
static QUIET: AtomicU32 = AtomicU32::new(0);
const QUIET_ALLOCATIONS: u32 = 64;

/// Frames to free per pass: 1/128 of memory, at least 16.
fn batch() -> usize {
    let (total, _) = frame::stats();
    (total / 128).max(16) as usize
}

/// The free frames under which the shrinker runs: 1/64 of memory above twice the reserve,
/// where the calls that make kernel objects start failing with ENOMEM (`syscalls::kmem`),
/// so that a cache full of clean pages never makes them fail.
pub(super) fn low_mark(total: u64, reserve: u64) -> u64 {
    2 * reserve + total / 64
}

/// Free frames are at the low mark: drop clean unheld pages, and ask for mapped ones to be
/// released if that was not enough. Called from inside allocations, with any lock held.
pub(super) fn on_low() {
    let quiet = QUIET.load(Ordering::Relaxed);
    if quiet > 0 {
        QUIET.store(quiet - 1, Ordering::Relaxed);
        return;
    }
    let want = batch();
    let freed = SHRINKER.shrink(want);
    if freed < want {
        WANTED.store(true, Ordering::Relaxed);
    }
    if freed == 0 {
        QUIET.store(QUIET_ALLOCATIONS, Ordering::Relaxed);
    }
}

/// Whether [`relieve`] is wanted (one load: the CPU loop asks before every return to user).
pub fn wanted() -> bool {
    WANTED.load(Ordering::Relaxed)
}

/// Unmaps clean file pages from every process, waits until no CPU can reach them, and lets
/// the shrinker free them; true if anything was given back. Called with no lock held.
pub fn relieve(current: &Current, platform: &mut KernelPlatform) -> bool {
    WANTED.store(false, Ordering::Relaxed);
    let released = coracle_syscalls::mm::release_file_pages(current, platform);
    if released > 0 {
        // The unmapped pages are held until every CPU flushed: flush now, then free.
        crate::arch::tlb_shootdown_all();
        tlb::reclaim();
    }
    QUIET.store(0, Ordering::Relaxed);
    let freed = SHRINKER.shrink(batch());
    released > 0 || freed > 0
}

/// The address of the last user fault that found no memory, and how many times in a row it
/// did: a fault that finds none however much is given back ends in the kill, not a loop.
static OOM_ADDR: AtomicU64 = AtomicU64::new(0);
static OOM_COUNT: AtomicU32 = AtomicU32::new(0);
const OOM_RETRIES: u32 = 8;

/// A user page fault at `addr` found no memory: whether something was given back
/// ([`relieve`]) so that the fault is worth taking again.
pub fn retry_after_oom(current: &Current, platform: &mut KernelPlatform, addr: u64) -> bool {
    if OOM_ADDR.swap(addr, Ordering::Relaxed) != addr {
        OOM_COUNT.store(0, Ordering::Relaxed);
    }
    if OOM_COUNT.fetch_add(1, Ordering::Relaxed) >= OOM_RETRIES {
        OOM_COUNT.store(0, Ordering::Relaxed);
        return false;
    }
    relieve(current, platform)
}

/// A user page fault was served: the out-of-memory retries start again.
pub fn fault_served() {
    if OOM_COUNT.load(Ordering::Relaxed) != 0 {
        OOM_COUNT.store(0, Ordering::Relaxed);
    }
}
