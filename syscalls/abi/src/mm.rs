//! Memory-management constants of x86_64.

/// The size of a base page.
pub const PAGE_SIZE: u64 = 4096;
