//! The NIC as smoltcp sees it: a [`NetDevice`] behind smoltcp's `Device` trait.
//!
//! Received frames are copied once into a buffer the token owns; transmitted frames are built
//! in a reusable buffer and handed to [`NetDevice::transmit`]. While the transmit queue is
//! full smoltcp gets no transmit token and keeps its segments for a later poll (the device's
//! completion interrupt runs one); a frame that still finds it full is dropped.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::device::NetDevice;

/// Ethernet header bytes on top of the MTU.
const ETH_HEADER: usize = 14;

pub(crate) struct Nic {
    dev: Box<dyn NetDevice>,
    rx: Vec<u8>,
}

impl core::fmt::Debug for Nic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Nic").field("mac", &self.dev.mac()).finish()
    }
}

impl Nic {
    pub(crate) fn new(dev: Box<dyn NetDevice>) -> Self {
        let frame = dev.mtu() + ETH_HEADER;
        Nic {
            dev,
            rx: vec![0; frame.max(1514)],
        }
    }

    pub(crate) fn can_transmit(&mut self) -> bool {
        self.dev.can_transmit()
    }

    pub(crate) fn mac(&self) -> [u8; 6] {
        self.dev.mac()
    }
}

impl Device for Nic {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.max_transmission_unit = self.dev.mtu() + ETH_HEADER;
        caps.medium = Medium::Ethernet;
        caps
    }

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let n = self.dev.receive(&mut self.rx)?;
        let Nic { dev, rx } = self;
        Some((RxToken { frame: &rx[..n] }, TxToken { dev: &mut **dev }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        if !self.dev.can_transmit() {
            return None;
        }
        Some(TxToken {
            dev: &mut *self.dev,
        })
    }
}

pub(crate) struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

pub(crate) struct TxToken<'a> {
    dev: &'a mut dyn NetDevice,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        // A frame the device cannot take is lost, as on a wire.
        let _ = self.dev.transmit(&frame);
        r
    }
}
