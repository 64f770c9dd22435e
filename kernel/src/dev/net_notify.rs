//! A virtio transport that notifies the device only when the device asked for it (the
//! `VIRTIO_RING_F_EVENT_IDX` rule of virtio 1.1 §2.6.7.2 and Linux's `vring_need_event`),
//! and, for one queue, only when the driver flushes.
//!
//! virtio-drivers 0.13 decides with `avail_idx >= avail_event + 1`, which is true for every
//! buffer added once the device has gone past `avail_event` at all: QEMU sets `avail_event` to
//! the next entry it will take, so with receive buffers posted ahead every re-posted buffer
//! rang the doorbell, and so did every transmitted frame. Each ring is an MMIO exit that,
//! under TCG, waits for QEMU's main loop (the user network's thread) to let go of its lock:
//! the samples of an nginx load had the guest in `notify` a third of the time. Linux kicks
//! only when a buffer added since its last kick is the one the device said it waits for; so
//! does this wrapper, after a full fence so that the device's last word on `avail_event` is
//! seen (the device fences between publishing it and re-reading the ring). virtio-drivers'
//! own test only ever errs towards calling it: the buffer that reaches `avail_event` passes.
//!
//! The transmit queue's notifications are held until [`Kicker::flush`] (the driver flushes
//! when the CPU goes idle, after its interrupt work, and a little later at the latest), so
//! the replies a server writes between two interrupts share one doorbell, as Linux's
//! `xmit_more` batches them. Without EVENT_IDX negotiated the device's flag decides.

use alloc::sync::Arc;
use core::sync::atomic::{fence, AtomicU16, Ordering};

use spin::Mutex;
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

impl Ring {
    /// The driver's avail index and the device's avail_event, after a full fence.
    fn indices(self) -> (u16, u16) {
        fence(Ordering::SeqCst);
        // SAFETY: both addresses point into the rings virtio-drivers allocated for this queue
        // (DMA frames in the direct map, alive while the queue is set: `queue_unset` forgets
        // them); the fields are 2-byte aligned u16 shared with the device, so they are read
        // atomically.
        unsafe {
            (
                (*(self.avail_idx as *const AtomicU16)).load(Ordering::Acquire),
                (*(self.avail_event as *const AtomicU16)).load(Ordering::Acquire),
            )
        }
    }
}

/// One queue's notification state.
#[derive(Debug, Clone, Copy, Default)]
struct Queue {
    ring: Option<Ring>,
    /// The avail index when the device was last considered for a notification.
    checked: u16,
    /// Buffers were added since, and the notification waits for [`Kicker::flush`].
    pending: bool,
}

#[derive(Debug)]
struct State<T> {
    inner: T,
    event_idx: bool,
    queues: [Queue; QUEUES],
    /// The queue whose notifications wait for [`Kicker::flush`].
    deferred: Option<u16>,
}

impl<T: Transport> State<T> {
    /// Notifies the device of queue `q` if a buffer added since the last check is the one it
    /// waits for: vring_need_event(avail_event, new, old).
    fn kick(&mut self, q: u16) {
        let event_idx = self.event_idx;
        let Some(queue) = self.queues.get_mut(usize::from(q)) else {
            return self.inner.notify(q);
        };
        queue.pending = false;
        let Some(ring) = queue.ring.filter(|_| event_idx) else {
            return self.inner.notify(q);
        };
        let old = queue.checked;
        let (new, event) = ring.indices();
        queue.checked = new;
        if new.wrapping_sub(event).wrapping_sub(1) < new.wrapping_sub(old) {
            crate::cpu_stats::add(crate::cpu_stats::Stat::Doorbells, 1);
            self.inner.notify(q);
        }
    }
}

/// `T` with notifications only where the device waits for them.
#[derive(Debug)]
pub struct EventIdx<T>(Arc<Mutex<State<T>>>);

/// Sends the held notifications of an [`EventIdx`] transport.
#[derive(Debug)]
pub struct Kicker<T>(Arc<Mutex<State<T>>>);

impl<T: Transport> EventIdx<T> {
    /// The transport, with the notifications of queue `deferred` held for the [`Kicker`].
    pub fn new(inner: T, deferred: Option<u16>) -> (Self, Kicker<T>) {
        let state = Arc::new(Mutex::new(State {
            inner,
            event_idx: false,
            queues: [Queue::default(); QUEUES],
            deferred,
        }));
        (EventIdx(state.clone()), Kicker(state))
    }
}

impl<T: Transport> Kicker<T> {
    /// Notifies the device of the buffers added to the held queue since the last flush, if
    /// it waits for one of them.
    pub fn flush(&self) {
        let mut state = self.0.lock();
        let Some(q) = state.deferred else { return };
        if state
            .queues
            .get(usize::from(q))
            .is_some_and(|queue| queue.pending)
        {
            state.kick(q);
        }
    }
}

impl<T: Transport> Transport for EventIdx<T> {
    fn device_type(&self) -> DeviceType {
        self.0.lock().inner.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        self.0.lock().inner.read_device_features()
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let mut state = self.0.lock();
        state.event_idx = driver_features & EVENT_IDX != 0;
        state.inner.write_driver_features(driver_features)
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.0.lock().inner.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        let mut state = self.0.lock();
        if state.deferred == Some(queue) {
            if let Some(q) = state.queues.get_mut(usize::from(queue)) {
                q.pending = true;
                return;
            }
        }
        state.kick(queue);
    }

    fn get_status(&self) -> DeviceStatus {
        self.0.lock().inner.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.0.lock().inner.set_status(status)
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.0.lock().inner.set_guest_page_size(guest_page_size)
    }

    fn requires_legacy_layout(&self) -> bool {
        self.0.lock().inner.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        let mut state = self.0.lock();
        if let Some(slot) = state.queues.get_mut(usize::from(queue)) {
            // avail: flags, idx, ring[size], used_event; used: flags, idx,
            // ring[size] of (id u32, len u32), avail_event.
            *slot = Queue {
                ring: Some(Ring {
                    avail_idx: phys_to_virt(driver_area + 2) as usize,
                    avail_event: phys_to_virt(device_area + 4 + 8 * u64::from(size)) as usize,
                }),
                ..Queue::default()
            };
        }
        state
            .inner
            .queue_set(queue, size, descriptors, driver_area, device_area)
    }

    fn queue_unset(&mut self, queue: u16) {
        let mut state = self.0.lock();
        if let Some(slot) = state.queues.get_mut(usize::from(queue)) {
            *slot = Queue::default();
        }
        state.inner.queue_unset(queue)
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.0.lock().inner.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.0.lock().inner.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.0.lock().inner.read_config_generation()
    }

    fn read_config_space<V: FromBytes + IntoBytes>(
        &self,
        offset: usize,
    ) -> virtio_drivers::Result<V> {
        self.0.lock().inner.read_config_space(offset)
    }

    fn write_config_space<V: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: V,
    ) -> virtio_drivers::Result<()> {
        self.0.lock().inner.write_config_space(offset, value)
    }
}
