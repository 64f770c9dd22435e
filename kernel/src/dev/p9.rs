//! virtio-9p: the channels of `-v` volumes (docs/guest-protocol.md "Volumes"), as
//! `coracle_vfs::p9::Channel`s that the 9P client of each mounted volume talks through.
//!
//! The virtqueue is driven here with virtio-drivers' `VirtQueue` rather than its
//! `VirtIO9p`: that driver offers only a request that spins on the used ring until the reply
//! is there and no way to acknowledge the device's interrupt, which a shared interrupt line
//! needs. A request is added to the queue and the device notified; the caller then waits for
//! the reply: on the boot CPU (which takes device interrupts) halted until the device's
//! interrupt, on another CPU polling the used ring (letting IPIs in). The filesystem's
//! operations are synchronous calls (`coracle_vfs::Inode`), so the waiting CPU runs nothing
//! else meanwhile; a reply from QEMU's 9P server takes tens of microseconds. One request is
//! in flight per device at a time (the client's lock), so the queue needs two descriptors.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use coracle_vfs::p9::Channel;
use coracle_vfs::Errno;
use spin::Mutex;
use virtio_drivers::device::common::Feature;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

use super::hal::KernelHal;
use crate::log;

const QUEUE: u16 = 0;
const QUEUE_SIZE: usize = 4;

struct Device {
    transport: SomeTransport<'static>,
    queue: VirtQueue<KernelHal, QUEUE_SIZE>,
}

// SAFETY: the transport and queue are reached only under the channel's lock; nothing in them
// is tied to the CPU that made them.
unsafe impl Send for Device {}

/// One virtio-9p device: an export of the host with its mount tag.
pub struct P9Channel {
    pub tag: String,
    dev: Mutex<Device>,
}

impl core::fmt::Debug for P9Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("P9Channel")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl Channel for P9Channel {
    fn rpc(&self, request: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
        let token = {
            let mut d = self.dev.lock();
            let Device { transport, queue } = &mut *d;
            // SAFETY: `request` and `reply` stay borrowed, untouched, until `pop_used` below
            // returns them: this function does not return before the device answered.
            let token = unsafe { queue.add(&[request], &mut [&mut *reply]) }.map_err(|e| {
                log!("p9 {}: cannot queue a request: {e}", self.tag);
                Errno::EIO
            })?;
            if queue.should_notify() {
                transport.notify(QUEUE);
            }
            token
        };
        loop {
            {
                let mut d = self.dev.lock();
                if d.queue.can_pop() {
                    // SAFETY: the same buffers as given to `add` for `token`.
                    let used = unsafe { d.queue.pop_used(token, &[request], &mut [&mut *reply]) };
                    return match used {
                        Ok(len) => Ok((len as usize).min(reply.len())),
                        Err(e) => {
                            log!("p9 {}: {e}", self.tag);
                            Err(Errno::EIO)
                        }
                    };
                }
            }
            if crate::arch::cpu_index() == 0 {
                // The device's interrupt comes here; one that came since the look above is
                // pending and ends the halt at once.
                crate::arch::idle_wait();
            } else {
                crate::arch::interrupt::poll();
                core::hint::spin_loop();
            }
        }
    }
}

/// The mount tag in the device's configuration space (`tag_len[2]` then the bytes).
fn mount_tag(transport: &SomeTransport<'static>) -> Option<String> {
    transport
        .read_consistent(|| {
            let len: u16 = transport.read_config_space(0)?;
            let mut bytes = Vec::with_capacity(usize::from(len));
            for i in 0..usize::from(len) {
                bytes.push(transport.read_config_space::<u8>(2 + i)?);
            }
            Ok(bytes)
        })
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

/// Initialises every virtio-9p device and routes its interrupt; returns them by mount tag.
pub fn init() -> Vec<Arc<P9Channel>> {
    let mut channels = Vec::new();
    for found in super::claim(DeviceType::_9P) {
        let mut transport = found.transport;
        let features = transport.begin_init(Feature::VERSION_1);
        let queue = match VirtQueue::new(&mut transport, QUEUE, false, false) {
            Ok(q) => q,
            Err(e) => {
                log!("p9: virtio-9p at {}: {e}", found.location);
                continue;
            }
        };
        transport.finish_init();
        let _ = features;
        let Some(tag) = mount_tag(&transport) else {
            log!(
                "p9: virtio-9p at {} has no mount tag; not used",
                found.location
            );
            continue;
        };
        let chan = Arc::new(P9Channel {
            tag,
            dev: Mutex::new(Device { transport, queue }),
        });
        let me = chan.clone();
        let handler = Box::new(move || {
            me.dev.lock().transport.ack_interrupt();
        });
        match super::bind_irq(&found.irq, 1, handler) {
            Ok(vector) => {
                log!(
                    "p9: virtio-9p {:?} at {}, vector {:#x}",
                    chan.tag,
                    found.location,
                    vector.number()
                );
                channels.push(chan);
            }
            Err(e) => log!("p9: virtio-9p at {}: {e}; not used", found.location),
        }
    }
    channels
}

/// The root directories of the mounted volumes.
static VOLUMES: spin::Once<Vec<Arc<dyn coracle_vfs::Inode>>> = spin::Once::new();

/// Writes back what is still dirty in the volumes' page caches (at the machine's end).
pub fn sync_all() {
    for root in VOLUMES.get().into_iter().flatten() {
        coracle_vfs::p9::P9Fs::sync_all(root);
    }
}

/// Connects the volumes of `coracle.volume=TAG:PATH[:ro]` specs to the devices of their
/// tags; a spec that is malformed or whose device is missing or fails stops the boot.
pub fn mount_volumes(specs: &[Vec<u8>]) -> Vec<coracle_syscalls::setup::VolumeMount> {
    if specs.is_empty() {
        return Vec::new();
    }
    let channels = init();
    let volumes: Vec<_> = specs
        .iter()
        .map(|spec| {
            let text = core::str::from_utf8(spec).unwrap_or("?");
            let mut parts = text.split(':');
            let (tag, path, mode) = (parts.next(), parts.next(), parts.next());
            let read_only = match mode {
                None | Some("rw") => false,
                Some("ro") => true,
                Some(_) => crate::fatal(format_args!("coracle.volume={text}: bad mode")),
            };
            let (Some(tag), Some(path)) = (tag, path.filter(|p| p.starts_with('/'))) else {
                crate::fatal(format_args!("coracle.volume={text}: want TAG:/PATH[:ro]"));
            };
            let Some(chan) = channels.iter().find(|c| c.tag == tag) else {
                crate::fatal(format_args!(
                    "coracle.volume={text}: no virtio-9p device {tag:?}"
                ));
            };
            let root = coracle_vfs::p9::P9Fs::mount(chan.clone()).unwrap_or_else(|e| {
                crate::fatal(format_args!(
                    "cannot mount the volume {tag} on {path}: {}",
                    e.name()
                ))
            });
            coracle_syscalls::setup::VolumeMount {
                path: path.as_bytes().to_vec(),
                root,
                source: tag.as_bytes().to_vec(),
                read_only,
            }
        })
        .collect();
    VOLUMES.call_once(|| volumes.iter().map(|v| v.root.clone()).collect());
    volumes
}
