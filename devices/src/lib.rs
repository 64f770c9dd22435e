//! Coracle's device descriptions: untrusted firmware and configuration bytes in, checked
//! device lists out.
//!
//! The kernel reads the bytes (ACPI tables through its direct map, PCI configuration space
//! through ports) and hands them here; this crate never touches hardware. It is `no_std` with
//! no `unsafe`, so every parser is tested on the host with hand-made and hostile input, and a
//! malformed table is an error, never a panic.
//!
//! Modules: `aml` (the device objects of a DSDT/SSDT: `_HID`, `_UID`, `_STA`, `_CRS`),
//! `resource` (ACPI resource templates: memory ranges and interrupts), `pci` (capability
//! lists, MSI-X, virtio's vendor capabilities), `netconfig` (the network settings on the
//! kernel command line).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod aml;
pub mod netconfig;
pub mod pci;
pub mod resource;
