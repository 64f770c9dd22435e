//! Coracle's program loader: untrusted ELF bytes in, a load plan and an initial stack out.
//!
//! The kernel calls [`Executable::parse`] on the file an `execve` names, maps what
//! [`Executable::plan`] describes, and writes the [`build_stack`] image below the stack top;
//! the host CLI calls the same parser to refuse a binary with a readable reason before packing
//! it. An executable with an interpreter is parsed as an [`ElfFile`], which the kernel places
//! (with its interpreter) at addresses it chooses, randomised or not. This crate knows nothing
//! of page tables or files: it works on byte slices and addresses only, and mirrors what
//! Linux's fs/binfmt_elf.c and fs/exec.c do for x86_64.
//!
//! Modules: `elf` (checked parsing), `plan` (regions and copies), `auxv` (auxiliary vector),
//! `stack` (initial stack image), `error` (why something was refused).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod auxv;
mod elf;
mod error;
mod plan;
mod stack;

#[cfg(test)]
mod tests;

pub use auxv::*;
pub use elf::{headers_len, interp_path, ElfFile, ExecKind, Executable, InterpRef};
pub use error::{ElfError, StackError, StringKind};
pub use plan::{Copy, FileMap, LoadPlan, Perms, Region};
pub use stack::{build_stack, InitialStack, StackParams, MAX_ALIGN_PAD, MAX_ARG_STRLEN};

/// The x86_64 page size; every region of a [`LoadPlan`] is aligned to it.
pub const PAGE_SIZE: u64 = 4096;

/// Highest user address + 1 usable by an image (Linux TASK_SIZE for 4-level paging minus a page).
pub const USER_TOP: u64 = 0x7fff_ffff_f000;

/// Where an ET_DYN executable is placed with ASLR off: Linux's ELF_ET_DYN_BASE (two thirds of
/// TASK_SIZE), page-aligned as `load_elf_binary` aligns it.
pub const PIE_BASE: u64 = 0x5555_5555_4000;

/// Lowest address an image may occupy: Linux's default `vm.mmap_min_addr` on x86_64, which keeps
/// page zero (and a margin above it) unmapped so that NULL dereferences fault.
pub const MMAP_MIN_ADDR: u64 = 0x1_0000;

/// `addr` rounded down to its page.
const fn page_start(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// `addr` rounded up to a page boundary, or `None` if that overflows.
const fn page_end(addr: u64) -> Option<u64> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(page_start(v)),
        None => None,
    }
}
