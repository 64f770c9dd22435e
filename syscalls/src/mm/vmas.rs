//! The VMA list's own operations: lookup, splitting, merging, and finding free room.
//!
//! VMAs never overlap. After every change, neighbours that Linux would merge (same flags,
//! same backing, contiguous file offsets) are merged, so /proc/<pid>/maps shows the same lines.

use alloc::vec::Vec;

use super::{Mm, Vma, VmaName, MAX_MAP_COUNT, MMAP_MIN_ADDR, PAGE, STACK_GUARD_GAP, USER_TOP};
use crate::Errno;

/// Where a VMA's guard gap starts: a stack that grows down keeps [`STACK_GUARD_GAP`] below
/// it free (vm_start_gap).
pub(crate) fn start_gap(start: u64, v: &Vma) -> u64 {
    if v.growsdown {
        start.saturating_sub(STACK_GUARD_GAP)
    } else {
        start
    }
}

/// Whether `b` (starting at `b_start`) can continue `a` (starting at `a_start`, ending at
/// `b_start`) as one VMA.
fn mergeable(a_start: u64, a: &Vma, b: &Vma) -> bool {
    let same_flags = a.perms == b.perms
        && a.shared == b.shared
        && a.may_write == b.may_write
        && a.growsdown == b.growsdown
        && a.locked == b.locked
        && a.dontfork == b.dontfork
        && a.wipeonfork == b.wipeonfork;
    same_flags
        && match (&a.name, &b.name) {
            (VmaName::Anon, VmaName::Anon) => true,
            (VmaName::File { .. }, VmaName::File { .. }) => {
                b.name == a.name.advanced(a.end - a_start)
            }
            _ => false,
        }
}

impl Mm {
    /// The first VMA ending above `addr` (find_vma): the one holding `addr`, or the next one.
    pub(crate) fn find(&self, addr: u64) -> Option<(u64, &Vma)> {
        if let Some((&s, v)) = self.vmas.range(..=addr).next_back() {
            if v.end > addr {
                return Some((s, v));
            }
        }
        self.vmas.range(addr..).next().map(|(&s, v)| (s, v))
    }

    /// The VMA holding `addr`.
    pub(crate) fn vma_at(&self, addr: u64) -> Option<(u64, &Vma)> {
        self.find(addr).filter(|&(s, _)| s <= addr)
    }

    /// Whether some VMA overlaps `[start, end)`.
    pub(crate) fn overlaps(&self, start: u64, end: u64) -> bool {
        self.find(start).is_some_and(|(s, _)| s < end)
    }

    /// The VMAs overlapping `[start, end)`, as `(start, end)` clipped to the range.
    pub(crate) fn pieces(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut cursor = start;
        while let Some((s, v)) = self.find(cursor) {
            if s >= end {
                break;
            }
            out.push((s.max(start), v.end.min(end)));
            cursor = v.end;
        }
        out
    }

    /// Splits the VMA holding `addr` strictly inside into two at `addr`. `ENOMEM` at the map
    /// count limit.
    pub(crate) fn split_at(&mut self, addr: u64) -> Result<(), Errno> {
        let Some((s, v)) = self.vma_at(addr) else {
            return Ok(());
        };
        if s == addr {
            return Ok(());
        }
        if self.vmas.len() >= MAX_MAP_COUNT {
            return Err(Errno::ENOMEM);
        }
        let tail = Vma {
            name: v.name.advanced(addr - s),
            ..v.clone()
        };
        if let Some(head) = self.vmas.get_mut(&s) {
            head.end = addr;
        }
        self.vmas.insert(addr, tail);
        Ok(())
    }

    /// Removes `[start, end)` from the VMA list, splitting VMAs at the edges; returns the
    /// removed VMAs by start. Only the list changes: the pages are the caller's.
    pub(crate) fn carve(&mut self, start: u64, end: u64) -> Result<Vec<(u64, Vma)>, Errno> {
        // Callers check their ranges; one that slipped through is refused, not a panic.
        if start > end || end > USER_TOP {
            return Err(Errno::EINVAL);
        }
        self.split_at(start)?;
        self.split_at(end)?;
        let keys: Vec<u64> = self.vmas.range(start..end).map(|(&s, _)| s).collect();
        Ok(keys
            .into_iter()
            .filter_map(|s| self.vmas.remove(&s).map(|v| (s, v)))
            .collect())
    }

    /// Inserts a VMA into a free range and merges it with its neighbours.
    pub(crate) fn insert(&mut self, start: u64, vma: Vma) {
        let end = vma.end;
        self.vmas.insert(start, vma);
        self.merge_around(start, end);
    }

    /// Merges mergeable neighbours among the VMAs touching `[start, end]`.
    pub(crate) fn merge_around(&mut self, start: u64, end: u64) {
        let from = self
            .vmas
            .range(..start)
            .next_back()
            .map_or(start, |(&s, _)| s);
        let keys: Vec<u64> = self.vmas.range(from..=end).map(|(&s, _)| s).collect();
        let mut cur: Option<u64> = None;
        for s in keys {
            let Some(prev) = cur else {
                cur = Some(s);
                continue;
            };
            let joined = {
                let (a, b) = (&self.vmas[&prev], &self.vmas[&s]);
                a.end == s && mergeable(prev, a, b)
            };
            if joined {
                if let Some(b) = self.vmas.remove(&s) {
                    if let Some(a) = self.vmas.get_mut(&prev) {
                        a.end = b.end;
                    }
                }
            } else {
                cur = Some(s);
            }
        }
    }

    /// Whether `[start, start+len)` may be used for a new mapping placed by hint: inside the
    /// user half, above mmap_min_addr, and clear of every VMA and its guard gap.
    pub(crate) fn hint_fits(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len).filter(|&e| e <= USER_TOP) else {
            return false;
        };
        start >= MMAP_MIN_ADDR
            && match self.find(start) {
                None => true,
                Some((s, v)) => end <= start_gap(s, v),
            }
    }

    /// A free range of `len` bytes: the highest below the mmap base, else the lowest above it
    /// (Linux's top-down search and its bottom-up fallback).
    pub(crate) fn find_gap(&self, len: u64) -> Option<u64> {
        self.gap_below(len, self.mmap_top)
            .or_else(|| self.gap_above(len, self.mmap_top))
    }

    fn gap_below(&self, len: u64, high: u64) -> Option<u64> {
        let mut above = self
            .find(high)
            .map_or(high, |(s, v)| start_gap(s, v).min(high));
        for (&s, v) in self.vmas.range(..high).rev() {
            let bottom = v.end.max(MMAP_MIN_ADDR);
            if above >= bottom && above - bottom >= len {
                return Some(above - len);
            }
            above = above.min(start_gap(s, v));
        }
        (above >= MMAP_MIN_ADDR.checked_add(len)?).then(|| above - len)
    }

    fn gap_above(&self, len: u64, low: u64) -> Option<u64> {
        let mut bottom = low;
        for (&s, v) in self.vmas.range(..USER_TOP) {
            if v.end <= bottom {
                continue;
            }
            let top = start_gap(s, v);
            if top >= bottom && top - bottom >= len {
                return Some(bottom);
            }
            bottom = bottom.max(v.end);
        }
        (USER_TOP >= bottom.checked_add(len)?).then_some(bottom)
    }

    /// Total mapped bytes (total_vm), for RLIMIT_AS.
    pub(crate) fn total_bytes(&self) -> u64 {
        self.vmas.iter().map(|(&s, v)| v.end - s).sum()
    }

    /// Locked bytes (locked_vm), for RLIMIT_MEMLOCK.
    pub(crate) fn locked_bytes(&self) -> u64 {
        self.vmas
            .iter()
            .filter(|(_, v)| v.locked)
            .map(|(&s, v)| v.end - s)
            .sum()
    }

    /// The VMA list's length (map_count).
    pub(crate) fn count(&self) -> usize {
        self.vmas.len()
    }

    /// For a forked child's copy: drops the MADV_DONTFORK VMAs and returns the ranges whose
    /// pages the child must not have (those, and the MADV_WIPEONFORK ones, which it gets as
    /// fresh zero pages).
    pub(crate) fn forked(&mut self) -> Vec<(u64, u64)> {
        let ranges: Vec<(u64, u64, bool)> = self
            .vmas
            .iter()
            .filter(|(_, v)| v.dontfork || v.wipeonfork)
            .map(|(&s, v)| (s, v.end, v.dontfork))
            .collect();
        for &(s, _, dontfork) in &ranges {
            if dontfork {
                self.vmas.remove(&s);
            }
        }
        ranges.into_iter().map(|(s, e, _)| (s, e)).collect()
    }

    pub(crate) fn vma_mut(&mut self, start: u64) -> Option<&mut Vma> {
        self.vmas.get_mut(&start)
    }

    /// Sets or clears the lock flag of every VMA (mlockall(MCL_CURRENT), munlockall).
    pub(crate) fn set_all_locked(&mut self, locked: bool) {
        for v in self.vmas.values_mut() {
            v.locked = locked;
        }
        self.merge_around(0, USER_TOP);
    }

    /// Whether new mappings are locked (mlockall(MCL_FUTURE)).
    pub(crate) fn locks_future(&self) -> bool {
        self.lock_future
    }

    pub(crate) fn set_lock_future(&mut self, on: bool) {
        self.lock_future = on;
    }

    /// Moves the program break (the caller changed the VMAs).
    pub(crate) fn set_brk(&mut self, brk: u64) {
        self.brk = brk;
    }
}

/// Rounds an address down to its page.
pub(crate) fn page_down(a: u64) -> u64 {
    a & !(PAGE - 1)
}
