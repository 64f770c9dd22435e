//! One memory map held by every process that uses it: Linux's mm_struct with its mm_users.
//!
//! The threads of a process share its [`Mm`]; processes share one too when clone was given
//! CLONE_VM without CLONE_THREAD (vfork, posix_spawn, clone(CLONE_VM)). Each such process
//! holds a reference ([`MmRef`], `Process::mm`) to the same [`SharedMm`], so what any of them
//! maps, unmaps, protects or faults in is everyone's at once, as on Linux (a vfork child's
//! mmap is its parent's; a second thread of the parent mapping memory during the vfork is
//! seen by the child). Their page tables (`Process::space`) are one space as well.
//!
//! A process lets go of its map when it calls execve (it gets a new one) or ends; the last
//! one to let go unmaps the user half (Linux's mmput).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::{Mutex, MutexGuard};

use super::Mm;
use crate::platform::Page;

/// A memory map and how many processes use it.
#[derive(Debug)]
pub struct SharedMm {
    map: Mutex<Mm>,
    /// The processes holding it (mm_users); the last to let go tears it down.
    users: AtomicUsize,
}

impl SharedMm {
    /// Locks the map: every page-table change happens under this lock.
    pub fn lock(&self) -> MutexGuard<'_, Mm> {
        self.map.lock()
    }

    /// An identity for the map as long as it lives (private futex keys).
    pub(crate) fn id(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }
}

/// A map with one user.
fn own(mm: Mm) -> Arc<SharedMm> {
    Arc::new(SharedMm {
        map: Mutex::new(mm),
        users: AtomicUsize::new(1),
    })
}

/// A process's hold on the memory map it uses.
#[derive(Debug)]
pub struct MmRef(Mutex<Arc<SharedMm>>);

impl MmRef {
    /// A process's own map, used by it alone.
    pub fn new(mm: Mm) -> Self {
        MmRef(Mutex::new(own(mm)))
    }

    /// The map the process uses now (lock it to read or change it).
    pub fn get(&self) -> Arc<SharedMm> {
        self.0.lock().clone()
    }

    /// A hold on the same map for a new process (clone with CLONE_VM).
    pub fn share(&self) -> Self {
        let shared = self.get();
        shared.users.fetch_add(1, Ordering::AcqRel);
        MmRef(Mutex::new(shared))
    }

    /// Lets go of the map (exit, or execve before the new image): the process is left an empty
    /// map of its own. When it was the last user, the old map is emptied and the pages its
    /// mappings held are returned, for the caller to drop once the user half is unmapped;
    /// `None` while other processes still use it.
    pub fn leave(&self) -> Option<Vec<Arc<Page>>> {
        let old = core::mem::replace(&mut *self.0.lock(), own(Mm::new(0, 0)));
        if old.users.fetch_sub(1, Ordering::AcqRel) != 1 {
            return None;
        }
        let pinned = old.lock().clear();
        Some(pinned)
    }
}
