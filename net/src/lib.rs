//! Coracle's TCP/IP stack: smoltcp over `lo` and the NIC, with Linux's IP socket semantics.
//!
//! The kernel implements [`NetDevice`] over virtio-net and attaches it to a [`Network`], which
//! owns the interfaces (lo always, eth0, eth1... for the devices attached, routed by `route`), the smoltcp socket sets
//! and the port table. [`TcpSocket`] and [`UdpSocket`] are what the syscall layer's socket
//! files hold; their readiness is announced on the wait queue of their [`Shared`]. Unix
//! sockets live in the syscall layer, which knows files and processes.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod config;
mod device;
mod drain;
mod lo;
mod nic;
mod ports;
mod route;
mod stack;
mod tcp;
mod udp;

#[cfg(test)]
mod tests;

pub use config::IfConfig;
pub use device::{NetDevice, TxError};
pub use lo::Faults;
pub use ports::{Proto, EPHEMERAL};
pub use stack::{IfInfo, Network, Shared, MAX_NICS};
pub use tcp::{Congestion, TcpInfo, TcpOpts, TcpSocket};
pub use udp::{Received, UdpOpts, UdpSocket, MAX_DATAGRAM};
