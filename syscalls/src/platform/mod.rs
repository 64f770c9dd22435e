//! What the syscall layer needs from the kernel, as small traits by concern.
//!
//! The kernel implements them over real hardware; the tests implement them over plain memory.
//! Methods are the smallest operations the handlers need, so their Linux semantics (errors,
//! flags, struct layouts) stay in this crate. No method has a default body: a wrapper such as
//! the per-call `mm::Faulting` must forward every one, and a forgotten forward then fails to
//! compile instead of answering with a default (as `realtime_offset_ns` once did).
//!
//! [`Platform`] is the sum of them all, implemented for anything that implements each, so
//! handlers take `&mut dyn Platform`.

mod cpu;
mod memory;
mod services;
mod space;

pub use coracle_loader::Perms;
pub use coracle_vfs::page::Page;

pub use cpu::{Cpu, UserTls};
pub use memory::UserMemory;
pub use services::{Clock, Console, Entropy, KernelLog, Stream};
pub use space::{AddressSpaces, PageTables, Space, UserSpace};

/// Kernel services used by the syscall handlers: every concern's trait.
pub trait Platform:
    UserMemory + Cpu + Console + PageTables + AddressSpaces + UserTls + Clock + Entropy + KernelLog
{
}

impl<T> Platform for T where
    T: UserMemory
        + Cpu
        + Console
        + PageTables
        + AddressSpaces
        + UserTls
        + Clock
        + Entropy
        + KernelLog
        + ?Sized
{
}
