//! The host channels: program stdout/stderr, the kernel log and control records.
//!
//! The program's streams travel on virtio consoles (`dev::console`) once they are set up;
//! before that, and when a host gives none, on `isa-debugcon` ports, as the kernel log and
//! the control records always do (see docs/guest-protocol.md): those must work from the
//! first instruction and in a failing kernel. Port output is written with one `rep outsb`
//! per buffer, never byte by byte, so a VM exit is paid per write, not per byte.

use core::fmt::{self, Write};

use spin::Mutex;

use crate::arch::port;
use crate::dev::{self, console::Role};

const PORT_STDOUT: u16 = 0xe9;
const PORT_STDERR: u16 = 0xea;
const PORT_LOG: u16 = 0xeb;
const PORT_CONTROL: u16 = 0xec;

/// Where a program's output goes.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

fn role(stream: Stream) -> Role {
    match stream {
        Stream::Stdout => Role::Stdout,
        Stream::Stderr => Role::Stderr,
    }
}

/// Hands program output to the host, unchanged: how many leading bytes were taken (0 when
/// the host has not taken earlier output yet).
pub fn write_stream(stream: Stream, data: &[u8]) -> usize {
    if dev::console::has(role(stream)) {
        return dev::console::write(role(stream), data);
    }
    let port = match stream {
        Stream::Stdout => PORT_STDOUT,
        Stream::Stderr => PORT_STDERR,
    };
    port::outsb(port, data);
    data.len()
}

/// Whether a write of program output would take bytes now (poll's POLLOUT); the debugcon
/// ports always take them.
pub fn writable(stream: coracle_syscalls::Stream) -> bool {
    let role = match stream {
        coracle_syscalls::Stream::Stdout => Role::Stdout,
        coracle_syscalls::Stream::Stderr => Role::Stderr,
    };
    !dev::console::has(role) || dev::console::writable(role)
}

/// Writes all of `data` to the host, waiting for the host by polling (kernel messages).
pub fn write_stream_all(stream: Stream, data: &[u8]) {
    if dev::console::has(role(stream)) {
        dev::console::write_all(role(stream), data);
    } else {
        write_stream(stream, data);
    }
}

/// A line buffer in front of a port: formatting writes many small pieces, the port gets one
/// `rep outsb` per line (or per 256 bytes).
struct LineWriter {
    port: u16,
    buf: [u8; 256],
    len: usize,
}

impl LineWriter {
    const fn new(port: u16) -> Self {
        Self {
            port,
            buf: [0; 256],
            len: 0,
        }
    }

    fn flush(&mut self) {
        port::outsb(self.port, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
            if b == b'\n' {
                self.flush();
            }
        }
        Ok(())
    }
}

static LOG: Mutex<LineWriter> = Mutex::new(LineWriter::new(PORT_LOG));
static CONTROL: Mutex<LineWriter> = Mutex::new(LineWriter::new(PORT_CONTROL));

/// Writes one line to the kernel log.
pub fn log_line(args: fmt::Arguments<'_>) {
    let mut log = LOG.lock();
    let _ = log.write_fmt(args);
    let _ = log.write_str("\n");
}

/// Writes to the kernel log from a fault or panic handler: waits only a little for the lock
/// (another CPU may be in the middle of a line), then takes the buffer over, since the failing
/// code on this CPU may be the holder.
pub fn log_line_emergency(args: fmt::Arguments<'_>) {
    for _ in 0..(1 << 20) {
        if !LOG.is_locked() {
            break;
        }
        core::hint::spin_loop();
    }
    if LOG.is_locked() {
        // SAFETY: only called on the way to stopping the VM. The holder is this CPU, which will
        // never release it, or another CPU stuck for over a million spins; in that rare case
        // both write the line buffer (plain bytes, no pointers) and the text may come out
        // mixed, which is accepted for a last report.
        unsafe { LOG.force_unlock() };
    }
    log_line(args);
}

/// Writes one control record (docs/guest-protocol.md).
pub fn control(args: fmt::Arguments<'_>) {
    let mut ctl = CONTROL.lock();
    let _ = ctl.write_fmt(args);
    let _ = ctl.write_str("\n");
}

/// `log!("...", args)`: one line on the kernel log.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => { $crate::console::log_line(format_args!($($arg)*)) };
}
