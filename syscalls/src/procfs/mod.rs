//! /proc and /sys: generated files that describe the processes and the machine.
//!
//! Both trees are made of [`node::Node`]s built on lookup. The fixed part of each tree is a
//! static table ([`tables`]); the parts that follow the system's state (a directory per
//! process, per fd, per thread, per CPU) are listed when read. A file's text is produced
//! when it is opened and served from that snapshot, as Linux's seq_file does on first read:
//! `read`, `pread` and `lseek` all see one consistent text. Formats follow Linux 6.1 byte for
//! byte (fs/proc/array.c, task_mmu.c, base.c, fd.c, meminfo.c, stat.c, proc_namespace.c);
//! the generators live in [`pid`] (one process) and [`system`] (the machine).
//!
//! Neighbours: [`crate::process`] (what a process is), [`crate::mm`] (its VMAs),
//! coracle-vfs (the `Inode` trait these nodes implement, the mount table).

/// Appends formatted text to an [`Out`].
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        $out.put_fmt(format_args!($($arg)*));
    }};
}

mod config;
mod file;
mod mem;
mod mounts;
mod node;
mod pid;
mod system;
mod tables;
mod task;

pub(crate) use mem::rw as mem_rw;
pub(crate) use task::resident_pages;
#[cfg(test)]
mod tests;

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use coracle_vfs::types::{PROC_SUPER_MAGIC, SYSFS_MAGIC};
use coracle_vfs::Inode;

use crate::process::System;

/// statfs `f_flags` bits (ST_*).
const ST_RDONLY: u64 = 0x1;
const ST_NOSUID: u64 = 0x2;
const ST_NODEV: u64 = 0x4;
const ST_NOEXEC: u64 = 0x8;
const ST_RELATIME: u64 = 0x1000;

/// A new /proc; its root directory. Docker mounts it `rw,nosuid,nodev,noexec,relatime`.
pub fn new_procfs(sys: Weak<System>) -> Arc<dyn Inode> {
    let flags = ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME;
    node::new_root(
        sys,
        PROC_SUPER_MAGIC,
        flags,
        &tables::PROC_ROOT,
        node::Area::Proc,
    )
}

/// A new /sys; its root directory. Docker mounts it `ro,nosuid,nodev,noexec,relatime`.
pub fn new_sysfs(sys: Weak<System>) -> Arc<dyn Inode> {
    let flags = ST_RDONLY | ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_RELATIME;
    node::new_root(sys, SYSFS_MAGIC, flags, &tables::SYS_ROOT, node::Area::Sys)
}

/// A generated file's text being built.
#[derive(Default)]
struct Out(Vec<u8>);

impl Out {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn put_fmt(&mut self, args: core::fmt::Arguments<'_>) {
        // Writing to memory cannot fail.
        let _ = core::fmt::Write::write_fmt(self, args);
    }
}

impl core::fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
