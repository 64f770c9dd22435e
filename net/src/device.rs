//! The seam between the stack and a network card: Ethernet frames in and out.
//!
//! The kernel implements [`NetDevice`] over virtio-net (through virtio-drivers); host tests
//! implement it with a fake or smoltcp's loopback. The stack never waits on the device: it
//! takes what [`NetDevice::receive`] has and queues what it sends, and the kernel calls the
//! stack's poll again when the device interrupts or the stack's next timer falls due.

/// Why a frame could not be queued for transmission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxError {
    /// The transmit queue is full; try again after the device's next interrupt.
    Full,
    /// The frame is larger than the device accepts.
    TooLong,
    /// The device failed (it was reset or reported an error); the frame is dropped.
    Failed,
}

/// A network device as seen by the stack: whole Ethernet frames, no headers of the device's own.
pub trait NetDevice: Send {
    /// The device's MAC address.
    fn mac(&self) -> [u8; 6];

    /// The largest Ethernet payload the device carries (1500 for virtio-net without
    /// VIRTIO_NET_F_MTU).
    fn mtu(&self) -> usize;

    /// Copies the next received frame into `buf` and returns its length, or `None` when no frame
    /// is waiting. A frame longer than `buf` is dropped (and the next one tried).
    fn receive(&mut self, buf: &mut [u8]) -> Option<usize>;

    /// Queues one frame for transmission.
    fn transmit(&mut self, frame: &[u8]) -> Result<(), TxError>;

    /// Whether a frame can be queued now. While it cannot, the stack keeps its segments
    /// (smoltcp sends them at a later poll) instead of losing them to a full queue, which
    /// under load cost retransmission timeouts of seconds.
    fn can_transmit(&mut self) -> bool {
        true
    }
}
