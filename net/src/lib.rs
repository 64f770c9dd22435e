//! Sockets for Coracle: the Linux socket API over smoltcp and a virtio-net device.
//!
//! Not built yet beyond the device seam: the kernel implements [`NetDevice`] over virtio-net and
//! this crate will own the smoltcp interface and the socket table that `syscalls` calls into.
#![no_std]
#![forbid(unsafe_code)]

mod device;

pub use device::{NetDevice, TxError};
