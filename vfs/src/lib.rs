//! Coracle's filesystem layer.
//!
//! For now this is the reader of the initrd, a cpio `newc` archive that carries the root
//! filesystem and the run's configuration (docs/guest-protocol.md). The VFS proper — mounts,
//! path resolution, tmpfs, /dev and /proc — grows here next, behind traits the kernel
//! implements.
#![no_std]
#![forbid(unsafe_code)]

pub mod cpio;
