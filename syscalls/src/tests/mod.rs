//! Host tests of the syscall layer against a fake platform: Linux semantics without a VM.

pub(crate) mod fake;
mod fs;
mod io;
mod misc;
mod mman;
mod signal;
mod threads;
