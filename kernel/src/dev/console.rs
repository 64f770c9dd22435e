//! virtio-console: the program's standard streams and the host's control records, as the
//! ports of one multiport virtio-serial device.
//!
//! The host gives one `virtio-serial` device with a `virtserialport` per stream at a fixed
//! port number ([`Role`], docs/guest-protocol.md "Devices and channels"). Ports, not
//! `virtconsole`s on port 0: QEMU drops a console's output when the host pipe is full (its
//! hvc driver cannot wait), while it holds a port's buffer until the host took all of it,
//! which is the flow control wanted. Ports other than 0 need the MULTIPORT feature and its
//! control queue (virtio 1.2 section 5.3.6.2): the driver says it is ready, then ready and
//! open for each port; the device's messages are read and not needed.
//!
//! Written on virtio-drivers' `VirtQueue` rather than its `VirtIOConsole`, which drives port
//! 0 only, spins in `send_bytes` until the device took the buffer, and hands input out one
//! byte per call from a single 4 KiB buffer. Here a write takes what fits in a free 64 KiB
//! transmit buffer ([`TX_BUFS`] per stream) and returns at once; with none free it returns 0
//! and the syscall layer waits on `console::writers()`, which the `console` work item wakes
//! when the device returns buffers. Received buffers are decoded by
//! `coracle_syscalls::console::feed_*`; when the input queue is full, the rest of a buffer
//! stays here and the buffer is not posted again, so QEMU stops reading the host's pipe until
//! the program reads ([`input_taken`]).

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{fence, AtomicBool, Ordering};

use spin::{Mutex, Once};
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

use super::hal::KernelHal;
use super::work::Work;
use crate::log;

/// Descriptors per queue.
const QUEUE: usize = 32;
/// One receive buffer (QEMU's character devices read at most 4 KiB at a time).
const RX_SIZE: usize = 4096;
/// One transmit buffer: the syscall layer's chunk, so a write moves in one buffer.
const TX_SIZE: usize = 64 * 1024;
/// Transmit buffers in flight per output stream (allocated as needed).
const TX_BUFS: usize = 4;
/// The control queues (MULTIPORT).
const CONTROL_RX: u16 = 2;
const CONTROL_TX: u16 = 3;
/// Control message events (virtio 1.2 section 5.3.6.2).
const DEVICE_READY: u16 = 0;
const PORT_READY: u16 = 3;
const PORT_OPEN: u16 = 6;
/// Control receive buffers (a message, or a port's name after it).
const CONTROL_BUFS: usize = 8;
const CONTROL_SIZE: usize = 256;

bitflags::bitflags! {
    /// The features this driver takes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Features: u64 {
        const MULTIPORT = 1 << 1;
        const VERSION_1 = 1 << 32;
    }
}

type Queue = VirtQueue<KernelHal, QUEUE>;

/// What a port carries: its number on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Stdout = 1,
    Stderr = 2,
    Stdin = 3,
    Control = 4,
    /// `coracle exec`'s messages from the host and to it (`coracle_syscalls::exec`).
    ExecIn = 5,
    ExecOut = 6,
}

impl Role {
    const ALL: [Role; 6] = [
        Role::Stdout,
        Role::Stderr,
        Role::Stdin,
        Role::Control,
        Role::ExecIn,
        Role::ExecOut,
    ];

    fn input(self) -> bool {
        matches!(self, Role::Stdin | Role::Control | Role::ExecIn)
    }

    /// Receive buffers an input port keeps posted (4 KiB each). Forwarded stdin may carry a
    /// stream, so it gets the whole queue; the control records and `coracle exec`'s messages
    /// are small and rare, and unforwarded stdin carries nothing: a few each, so that the
    /// ports do not take a MiB-sized share of a small VM's memory.
    fn rx_buffers(self, stdin_forwarded: bool) -> usize {
        match self {
            Role::Stdin if stdin_forwarded => QUEUE,
            Role::Stdin => 2,
            Role::ExecIn => 8,
            _ => 4,
        }
    }

    /// A port an older host's device may not have (its queues are missing): left out then.
    fn optional(self) -> bool {
        matches!(self, Role::ExecIn | Role::ExecOut)
    }

    /// The port's queue the driver uses: receive for input, transmit for output.
    fn queue(self) -> u16 {
        let id = self as u16;
        if self.input() {
            2 * id + 2
        } else {
            2 * id + 3
        }
    }
}

/// Buffers a queue holds, by descriptor token.
type Slots<T> = Vec<Option<T>>;

fn slots<T>() -> Slots<T> {
    (0..QUEUE).map(|_| None).collect()
}

struct Port {
    role: Role,
    queue: Queue,
    /// Input: receive buffers with the device.
    posted: Slots<Box<[u8]>>,
    /// Input: a received buffer not wholly decoded yet, where the rest starts, its end.
    held: Option<(Box<[u8]>, usize, usize)>,
    /// Output: buffers with the device, with the length handed over.
    sending: Slots<(Box<[u8]>, usize)>,
    spare: Vec<Box<[u8]>>,
    allocated: usize,
}

/// The device's transport, shared by the ports for notifications.
static TRANSPORT: Once<Mutex<SomeTransport<'static>>> = Once::new();
static PORTS: [Once<Mutex<Port>>; 6] = [const { Once::new() }; 6];
/// A receive queue and its buffers.
type RxQueue = (Queue, Slots<Box<[u8]>>);
/// The control receive queue and its buffers.
static CONTROL: Once<Mutex<RxQueue>> = Once::new();
static WORK: Work = Work::new("console", run_work);
/// Input is held back until the program reads.
static STALLED: AtomicBool = AtomicBool::new(false);
/// The same for the exec sessions' input.
static EXEC_STALLED: AtomicBool = AtomicBool::new(false);

fn notify(queue: u16) {
    if let Some(t) = TRANSPORT.get() {
        t.lock().notify(queue);
    }
}

/// Posts `buf` on `queue` for the device to fill, kept in `posted` under its token.
fn post(queue: &mut Queue, posted: &mut Slots<Box<[u8]>>, mut buf: Box<[u8]>) {
    // SAFETY: the buffer is kept in `posted` under its token, untouched, until the device
    // returns it and `pop_used` takes it back.
    match unsafe { queue.add(&[], &mut [&mut buf]) } {
        Ok(token) => {
            if let Some(slot) = posted.get_mut(usize::from(token)) {
                *slot = Some(buf);
            }
        }
        Err(e) => log!("console: posting a receive buffer: {e}"),
    }
}

/// Takes back the next buffer the device filled: the buffer and the length written.
fn pop_filled(queue: &mut Queue, posted: &mut Slots<Box<[u8]>>) -> Option<(Box<[u8]>, usize)> {
    let token = queue.peek_used()?;
    let Some(mut buf) = posted.get_mut(usize::from(token)).and_then(Option::take) else {
        log!("console: the device returned an unknown token {token}");
        return None;
    };
    // SAFETY: the buffer posted with this token, untouched since.
    match unsafe { queue.pop_used(token, &[], &mut [&mut buf]) } {
        Ok(len) => {
            let len = (len as usize).min(buf.len());
            Some((buf, len))
        }
        Err(e) => {
            log!("console: receive completion: {e}");
            None
        }
    }
}

impl Port {
    /// Takes back the transmit buffers the device is done with; returns whether any.
    fn reclaim(&mut self) -> bool {
        let mut any = false;
        while let Some(token) = self.queue.peek_used() {
            let Some((buf, len)) = self
                .sending
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                log!("console: the device completed an unknown token {token}");
                return any;
            };
            // SAFETY: the same buffer and length as given to `add` for this token.
            if let Err(e) = unsafe { self.queue.pop_used(token, &[&buf[..len]], &mut []) } {
                log!("console: transmit completion: {e}");
            }
            self.spare.push(buf);
            any = true;
        }
        any
    }

    /// Hands as much of `data` as one buffer holds to the device; 0 when none is free.
    fn write(&mut self, data: &[u8]) -> usize {
        self.put(|buf| {
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            (n, n)
        })
    }

    /// Hands `head` and `data` to the device in one buffer, all or nothing.
    fn send(&mut self, head: &[u8], data: &[u8]) -> bool {
        let len = head.len() + data.len();
        self.put(|buf| {
            if len > buf.len() {
                return (0, 0);
            }
            buf[..head.len()].copy_from_slice(head);
            buf[head.len()..len].copy_from_slice(data);
            (len, 1)
        }) == 1
    }

    /// Fills a free transmit buffer with `fill` (which returns the bytes it filled and what
    /// to report) and hands it to the device; 0 when no buffer is free or nothing was filled.
    fn put(&mut self, fill: impl FnOnce(&mut [u8]) -> (usize, usize)) -> usize {
        self.reclaim();
        let mut buf = match self.spare.pop() {
            Some(buf) => buf,
            None if self.allocated < TX_BUFS => {
                self.allocated += 1;
                vec![0u8; TX_SIZE].into_boxed_slice()
            }
            None => {
                // Full: the writer waits, and the device's next completion must interrupt.
                self.queue.set_dev_notify(true);
                fence(Ordering::SeqCst);
                if !self.reclaim() {
                    return 0;
                }
                match self.spare.pop() {
                    Some(buf) => buf,
                    None => return 0,
                }
            }
        };
        let (n, report) = fill(&mut buf);
        if n == 0 {
            self.spare.push(buf);
            return 0;
        }
        // SAFETY: the buffer is kept in `sending` under its token, untouched, until the
        // device reports it used (`reclaim`).
        match unsafe { self.queue.add(&[&buf[..n]], &mut []) } {
            Ok(token) => {
                if let Some(slot) = self.sending.get_mut(usize::from(token)) {
                    *slot = Some((buf, n));
                }
            }
            Err(e) => {
                log!("console: queueing output: {e}");
                self.spare.push(buf);
                return 0;
            }
        }
        if self.queue.should_notify() {
            notify(self.role.queue());
        }
        // Under TCG the device writes to the host during the notify: the buffer is free again.
        self.reclaim();
        report
    }

    /// Whether a write would find a free buffer now; when not, the device's next completion
    /// interrupts (and `output_ready` wakes the pollers).
    fn writable(&mut self) -> bool {
        self.reclaim();
        if !self.spare.is_empty() || self.allocated < TX_BUFS {
            return true;
        }
        self.queue.set_dev_notify(true);
        fence(Ordering::SeqCst);
        self.reclaim()
    }

    /// Whether output is still with the device.
    fn busy(&self) -> bool {
        self.sending.iter().any(Option::is_some)
    }

    /// Decodes what the device received, as far as the input queue takes it; returns whether
    /// some input is held back for lack of room.
    fn receive(&mut self) -> bool {
        // No interrupts while the queue is drained (as Linux's NAPI): a burst costs one.
        self.queue.set_dev_notify(false);
        let mut reposted = false;
        loop {
            if let Some((buf, start, end)) = self.held.take() {
                let used = match self.role {
                    Role::Stdin => coracle_syscalls::console::feed_stdin(&buf[start..end]),
                    Role::ExecIn => coracle_syscalls::exec::feed(&buf[start..end]),
                    _ => coracle_syscalls::console::feed_control(&buf[start..end]),
                };
                if start + used < end {
                    self.held = Some((buf, start + used, end));
                    break;
                }
                post(&mut self.queue, &mut self.posted, buf);
                reposted = true;
            }
            match pop_filled(&mut self.queue, &mut self.posted) {
                Some((buf, len)) => self.held = Some((buf, 0, len)),
                None => break,
            }
        }
        if reposted && self.queue.should_notify() {
            notify(self.role.queue());
        }
        if self.held.is_some() {
            // Stalled: the next read schedules the work (`input_taken`).
            return true;
        }
        self.queue.set_dev_notify(true);
        // What the device used before it could see the flag would raise no interrupt.
        fence(Ordering::SeqCst);
        if self.queue.can_pop() {
            WORK.raise();
        }
        false
    }
}

fn port(role: Role) -> Option<&'static Mutex<Port>> {
    PORTS[role as usize - 1].get()
}

/// Sends one control message and waits for the device to take it (set-up only).
fn send_control(queue: &mut Queue, transport: &mut SomeTransport<'static>, id: u32, event: u16) {
    let mut msg = [0u8; 8];
    msg[..4].copy_from_slice(&id.to_le_bytes());
    msg[4..6].copy_from_slice(&event.to_le_bytes());
    msg[6..].copy_from_slice(&1u16.to_le_bytes());
    if let Err(e) = queue.add_notify_wait_pop(&[&msg], &mut [], transport) {
        log!("console: control message {event} for port {id}: {e}");
    }
}

/// Sets up the console device, if the host gave one, and routes its interrupt.
/// `stdin_forwarded`: the host forwards its stdin (`coracle.stdin=1`), whose port then keeps
/// the most receive buffers ([`Role::rx_buffers`]).
pub fn init(stdin_forwarded: bool) {
    let mut found = super::claim(DeviceType::Console).into_iter();
    let Some(f) = found.next() else {
        return;
    };
    for extra in found {
        log!(
            "console: only one device is used; {} is left alone",
            extra.location
        );
    }
    let mut transport = f.transport;
    let features = transport.begin_init(Features::MULTIPORT | Features::VERSION_1);
    if !features.contains(Features::MULTIPORT) {
        log!("console: {} has no MULTIPORT feature; not used", f.location);
        return;
    }
    let new_queue = |t: &mut SomeTransport<'static>, index: u16| Queue::new(t, index, false, false);
    let queues = (|| -> Result<_, virtio_drivers::Error> {
        let control_rx = new_queue(&mut transport, CONTROL_RX)?;
        let control_tx = new_queue(&mut transport, CONTROL_TX)?;
        let mut ports = Vec::new();
        for role in Role::ALL {
            match new_queue(&mut transport, role.queue()) {
                Ok(q) => ports.push((role, q)),
                Err(e) if role.optional() => {
                    log!("console: no {role:?} port ({e}); `coracle exec` is not served");
                }
                Err(e) => return Err(e),
            }
        }
        Ok((control_rx, control_tx, ports))
    })();
    let (mut control_rx, mut control_tx, ports) = match queues {
        Ok(q) => q,
        Err(e) => {
            log!("console: {}: {e}", f.location);
            return;
        }
    };
    transport.finish_init();
    let mut control_bufs = slots();
    for _ in 0..CONTROL_BUFS {
        post(
            &mut control_rx,
            &mut control_bufs,
            vec![0u8; CONTROL_SIZE].into_boxed_slice(),
        );
    }
    transport.notify(CONTROL_RX);
    send_control(&mut control_tx, &mut transport, 0, DEVICE_READY);
    for (role, queue) in ports {
        let mut port = Port {
            role,
            queue,
            posted: slots(),
            held: None,
            sending: slots(),
            spare: Vec::new(),
            allocated: 0,
        };
        if !role.input() {
            // Completions are reclaimed by the next write; interrupts only when it waits.
            port.queue.set_dev_notify(false);
        }
        if role.input() {
            for _ in 0..role.rx_buffers(stdin_forwarded) {
                post(
                    &mut port.queue,
                    &mut port.posted,
                    vec![0u8; RX_SIZE].into_boxed_slice(),
                );
            }
            transport.notify(role.queue());
        }
        PORTS[role as usize - 1].call_once(|| Mutex::new(port));
        send_control(&mut control_tx, &mut transport, role as u32, PORT_READY);
        send_control(&mut control_tx, &mut transport, role as u32, PORT_OPEN);
    }
    CONTROL.call_once(|| Mutex::new((control_rx, control_bufs)));
    let transport = TRANSPORT.call_once(|| Mutex::new(transport));
    super::work::register(&WORK);
    let handler = Box::new(|| {
        if let Some(t) = TRANSPORT.get() {
            t.lock().ack_interrupt();
        }
        WORK.raise();
    });
    // Every queue of the device: port 0's, the control queues and the four ports'.
    let bound = {
        let _held = transport.lock();
        let ports = Role::ALL.iter().filter(|r| port(**r).is_some()).count() as u16;
        super::bind_irq(&f.irq, 2 * (ports + 2), handler)
    };
    match bound {
        Ok(v) => log!(
            "console: virtio-serial at {}, vector {:#x}",
            f.location,
            v.number()
        ),
        Err(e) => log!(
            "console: virtio-serial at {}: {e}; not interrupting",
            f.location
        ),
    }
    // Input may have arrived before the interrupt was routed.
    WORK.raise();
}

/// Whether output of `role` goes through the device (else the early debugcon ports).
pub fn has(role: Role) -> bool {
    port(role).is_some()
}

/// Hands output to the host: how many leading bytes of `data` were taken (0: wait for
/// `console::writers()`).
pub fn write(role: Role, data: &[u8]) -> usize {
    match port(role) {
        Some(p) => p.lock().write(data),
        None => 0,
    }
}

/// Whether a write of `role` would take bytes now.
pub fn writable(role: Role) -> bool {
    port(role).is_none_or(|p| p.lock().writable())
}

/// Writes all of `data`, polling the device when it is full (for the kernel's own messages).
pub fn write_all(role: Role, mut data: &[u8]) {
    while !data.is_empty() {
        let n = write(role, data);
        if n == 0 {
            core::hint::spin_loop();
        }
        data = &data[n..];
    }
}

/// Waits until the host took every byte of output (before the machine stops).
pub fn flush() {
    for role in [Role::Stdout, Role::Stderr] {
        let Some(p) = port(role) else { continue };
        loop {
            let mut p = p.lock();
            p.reclaim();
            if !p.busy() {
                break;
            }
            drop(p);
            core::hint::spin_loop();
        }
    }
}

/// The program took input: if some was held back, decode it now.
pub fn input_taken() {
    if STALLED.load(Ordering::Acquire) {
        WORK.schedule();
    }
}

/// `coracle_syscalls::exec`'s hooks: one message to the host, all or nothing.
pub fn exec_send(head: &[u8], data: &[u8]) -> bool {
    port(Role::ExecOut).is_some_and(|p| p.lock().send(head, data))
}

/// Whether an exec message would find a buffer now.
pub fn exec_writable() -> bool {
    port(Role::ExecOut).is_some_and(|p| p.lock().writable())
}

/// An exec'd program took input: if some was held back, decode it now.
pub fn exec_input_taken() {
    if EXEC_STALLED.load(Ordering::Acquire) {
        WORK.schedule();
    }
}

fn run_work(_now: u64) -> Option<u64> {
    if let Some(p) = port(Role::ExecOut) {
        let mut p = p.lock();
        if p.reclaim() {
            p.queue.set_dev_notify(false);
            drop(p);
            coracle_syscalls::exec::output_ready();
        }
    }
    if let Some(p) = port(Role::ExecIn) {
        EXEC_STALLED.store(true, Ordering::Release);
        let held = p.lock().receive();
        EXEC_STALLED.store(held, Ordering::Release);
    }
    let mut freed = false;
    for role in [Role::Stdout, Role::Stderr] {
        if let Some(p) = port(role) {
            let mut p = p.lock();
            if p.reclaim() {
                freed = true;
                // Writes find free buffers again without being told.
                p.queue.set_dev_notify(false);
            }
        }
    }
    if freed {
        coracle_syscalls::console::output_ready();
    }
    // The device's messages (ports added, named, opened) need no answer after set-up.
    if let Some(c) = CONTROL.get() {
        let mut c = c.lock();
        let (queue, posted) = &mut *c;
        let mut reposted = false;
        while let Some((buf, _)) = pop_filled(queue, posted) {
            post(queue, posted, buf);
            reposted = true;
        }
        if reposted && queue.should_notify() {
            notify(CONTROL_RX);
        }
    }
    if let Some(p) = port(Role::Control) {
        p.lock().receive();
    }
    if let Some(p) = port(Role::Stdin) {
        // Marked first: a read that frees room while the queue is being fed wakes this again.
        STALLED.store(true, Ordering::Release);
        let held = p.lock().receive();
        STALLED.store(held, Ordering::Release);
    }
    None
}
