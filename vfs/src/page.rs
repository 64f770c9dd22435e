//! File pages that can be shared with user mappings: one page-aligned 4 KiB heap block each.
//!
//! tmpfs keeps file contents in these, and MAP_SHARED mappings map the very same memory
//! into user space (the kernel heap lives in its direct map, so [`Page::addr`] is all the
//! kernel needs to find the physical page). A page is held by `Arc`: by its file while it is
//! part of the file, and by every mapping that shows it, so it outlives whichever lets go last.
//!
//! The kernel reads and writes a page only under its lock; a program may store to a page it
//! has mapped at any time, as on Linux: copies in and out are plain byte copies that see
//! whatever is there.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use crate::Errno;

/// Bytes in a page.
pub const PAGE_SIZE: usize = 4096;

#[repr(C, align(4096))]
struct Bytes([u8; PAGE_SIZE]);

/// One page of file data.
pub struct Page {
    /// Exactly one element: a boxed slice keeps the allocation fallible and page-aligned.
    bytes: Mutex<Box<[Bytes]>>,
    /// Where the bytes are (a kernel address), fixed for the page's life.
    addr: u64,
}

impl core::fmt::Debug for Page {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Page({:#x})", self.addr)
    }
}

impl Page {
    /// A zeroed page; `ENOMEM` when the heap has no room for it.
    pub fn new_zeroed() -> Result<Arc<Page>, Errno> {
        let mut v: Vec<Bytes> = Vec::new();
        v.try_reserve_exact(1).map_err(|_| Errno::ENOMEM)?;
        v.push(Bytes([0; PAGE_SIZE]));
        let bytes: Box<[Bytes]> = v.into_boxed_slice();
        let addr = core::ptr::from_ref::<Bytes>(&bytes[0]) as u64;
        Ok(Arc::new(Page {
            bytes: Mutex::new(bytes),
            addr,
        }))
    }

    /// The address of the page's first byte (page-aligned).
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Copies `buf.len()` bytes from `offset` (which must stay within the page).
    pub fn read(&self, offset: usize, buf: &mut [u8]) {
        buf.copy_from_slice(&self.bytes.lock()[0].0[offset..offset + buf.len()]);
    }

    /// Copies `data` to `offset` (which must stay within the page).
    pub fn write(&self, offset: usize, data: &[u8]) {
        self.bytes.lock()[0].0[offset..offset + data.len()].copy_from_slice(data);
    }

    /// Zeroes bytes `[from, to)` of the page.
    pub fn zero(&self, from: usize, to: usize) {
        self.bytes.lock()[0].0[from..to].fill(0);
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.bytes.lock()[0].0.iter().all(|&b| b == 0)
    }
}
