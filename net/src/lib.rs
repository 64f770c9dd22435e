//! Sockets for Coracle: the Linux socket API over smoltcp and a virtio-net device.
//!
//! Not built yet: the foundation issue only fixes its place in the crate graph. The kernel
//! will implement [`NetDevice`] over virtio-net and this crate will own the smoltcp interface
//! and the socket table that `syscalls` calls into.
#![no_std]
#![forbid(unsafe_code)]

/// A network device as seen by the socket layer: the kernel implements it over virtio-net.
pub trait NetDevice {
    /// The device's MAC address.
    fn mac(&self) -> [u8; 6];
}
