//! A virtio transport that notifies the device only when the device asked for it (the
//! `VIRTIO_RING_F_EVENT_IDX` rule of virtio 1.1 §2.6.7.2 and Linux's `vring_need_event`).
//!
//! virtio-drivers 0.13 decides with `avail_idx >= avail_event + 1`, which is true for every
//! buffer added once the device has gone past `avail_event` at all: QEMU sets `avail_event` to
//! the next entry it will take, so with receive buffers posted ahead every re-posted buffer
//! rang the doorbell, and so did every transmitted frame. Each ring is an MMIO write that,
//! under TCG, waits for QEMU's main loop (the user network's thread) to let go of its lock:
//! the samples of an nginx load had the guest in `notify` a third of the time. Linux kicks
//! only when the new buffer is the one the device said it waits for; this wrapper keeps
//! virtio-drivers' (over-eager, never too late) decision as a first filter and applies the
//! exact rule to what it lets through, after a full fence so that the device's last word on
//! `avail_event` is seen (the device fences between publishing it and re-reading the ring).
//! Without EVENT_IDX negotiated the device's own flag already decides and notify passes.

use core::sync::atomic::{fence, AtomicU16, Ordering};

use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::PhysAddr;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::mm::phys_to_virt;

/// VIRTIO_RING_F_EVENT_IDX.
const EVENT_IDX: u64 = 1 << 29;
/// The queues whose rings are watched (a NIC has two).
const QUEUES: usize = 2;

/// Where one queue's indices live: the driver's `avail.idx` and the device's `avail_event`.
#[derive(Debug, Clone, Copy)]
struct Ring {
    avail_idx: usize,
    avail_event: usize,
}

/// `T` with notifications only where the device waits for them.
#[derive(Debug)]
pub struct EventIdx<T> {
    inner: T,
    event_idx: bool,
    rings: [Option<Ring>; QUEUES],
}

impl<T: Transport> EventIdx<T> {
    pub fn new(inner: T) -> Self {
        EventIdx {
            inner,
            event_idx: false,
            rings: [None; QUEUES],
        }
    }

    /// Whether the buffer just made available on `ring` is the one the device waits for.
    fn wanted(ring: Ring) -> bool {
        fence(Ordering::SeqCst);
        // SAFETY: both addresses point into the rings virtio-drivers allocated for this queue
        // (DMA frames in the direct map, alive while the queue is set: `queue_unset` forgets
        // them); the fields are 2-byte aligned u16 shared with the device, so they are read
        // atomically.
        let (new, event) = unsafe {
            (
                (*(ring.avail_idx as *const AtomicU16)).load(Ordering::Acquire),
                (*(ring.avail_event as *const AtomicU16)).load(Ordering::Acquire),
            )
        };
        // vring_need_event(event, new, old) with old = new - 1: one buffer was added.
        new.wrapping_sub(event).wrapping_sub(1) < 1
    }
}

impl<T: Transport> Transport for EventIdx<T> {
    fn device_type(&self) -> DeviceType {
        self.inner.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.inner.read_device_features()
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.event_idx = driver_features & EVENT_IDX != 0;
        self.inner.write_driver_features(driver_features)
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.inner.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        let ring = self.rings.get(usize::from(queue)).copied().flatten();
        match ring {
            Some(ring) if self.event_idx && !Self::wanted(ring) => {}
            _ => self.inner.notify(queue),
        }
    }

    fn get_status(&self) -> DeviceStatus {
        self.inner.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.inner.set_status(status)
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.inner.set_guest_page_size(guest_page_size)
    }

    fn requires_legacy_layout(&self) -> bool {
        self.inner.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        if let Some(slot) = self.rings.get_mut(usize::from(queue)) {
            // avail: flags, idx, ring[size], used_event; used: flags, idx,
            // ring[size] of (id u32, len u32), avail_event.
            *slot = Some(Ring {
                avail_idx: phys_to_virt(driver_area + 2) as usize,
                avail_event: phys_to_virt(device_area + 4 + 8 * u64::from(size)) as usize,
            });
        }
        self.inner
            .queue_set(queue, size, descriptors, driver_area, device_area)
    }

    fn queue_unset(&mut self, queue: u16) {
        if let Some(slot) = self.rings.get_mut(usize::from(queue)) {
            *slot = None;
        }
        self.inner.queue_unset(queue)
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.inner.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.inner.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.inner.read_config_generation()
    }

    fn read_config_space<V: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<V> {
        self.inner.read_config_space(offset)
    }

    fn write_config_space<V: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: V,
    ) -> virtio_drivers::Result<()> {
        self.inner.write_config_space(offset, value)
    }
}
