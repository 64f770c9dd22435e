//! TLB shootdown: the one function every unmap, protection downgrade or page move calls
//! before the old translation's frame may be reused.
//!
//! TODO(smp): this flushes the local CPU only. With threads of one process on several CPUs it
//! must also interrupt every other CPU that may hold the address space's translations and wait
//! until each has flushed, before returning (an IPI shootdown).

use x86_64::instructions::tlb;
use x86_64::VirtAddr;

use super::PAGE_SIZE;

/// Beyond this many pages a whole flush (a CR3 reload) is cheaper than one `invlpg` each.
const INVLPG_MAX_PAGES: u64 = 32;

/// Makes every CPU forget the user translations of `[start, start+len)`; when it returns,
/// no CPU can reach the frames that were mapped there.
pub fn flush(start: u64, len: u64) {
    let pages = len.div_ceil(PAGE_SIZE);
    if pages > INVLPG_MAX_PAGES {
        // User pages are never global, so a CR3 reload drops them all.
        tlb::flush_all();
        return;
    }
    for i in 0..pages {
        tlb::flush(VirtAddr::new(start + i * PAGE_SIZE));
    }
}
