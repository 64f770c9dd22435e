//! The machine's services that are not memory: the host console, clocks, randomness and the
//! kernel log.

use core::fmt;

/// A program output stream on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The host's console: program output and the forwarded stdin. Neither call blocks: a
/// caller that got nothing waits on `console::writers()` or `console::readers()`.
pub trait Console {
    /// Hands program output to the host; returns how many leading bytes of `data` it took,
    /// 0 when the host has not taken earlier output yet.
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> usize;
    /// Reads the host's stdin (only called when it is forwarded): `Some(n)` bytes, `Some(0)`
    /// at the end of input, `None` when nothing has arrived yet.
    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize>;
}

/// The clocks, and waiting on them.
pub trait Clock {
    /// CLOCK_REALTIME in nanoseconds since the epoch.
    fn realtime_ns(&self) -> u64;
    /// CLOCK_MONOTONIC in nanoseconds since boot.
    fn monotonic_ns(&self) -> u64;
    /// CLOCK_REALTIME minus CLOCK_MONOTONIC, exactly: what moves an absolute wall-clock
    /// deadline onto the monotonic timeline. Not computed from two reads, which a moment
    /// between them would skew.
    fn realtime_offset_ns(&self) -> u64;
    /// Busy or idle wait until CLOCK_MONOTONIC reaches `deadline_ns`.
    fn sleep_until(&mut self, deadline_ns: u64);
}

/// Random bytes (getrandom, AT_RANDOM).
pub trait Entropy {
    /// Fills `buf` with random bytes.
    fn random(&mut self, buf: &mut [u8]);
}

/// The kernel's own log.
pub trait KernelLog {
    /// Writes one line to the kernel log.
    fn log(&mut self, args: fmt::Arguments<'_>);
    /// Whether per-syscall debug logging is on.
    fn verbose(&self) -> bool;
}
