//! The kernel's implementation of the syscall layer's [`Platform`] trait.

use core::fmt;

use coracle_syscalls::{Errno, FpArea, FpuLayout, Perms, Platform, Stream};

use crate::arch::{self, cpu, port};
use crate::mm::{paging, user, PAGE_SIZE};
use crate::{console, time};

/// COM1, which carries the host's stdin (framed, see docs/guest-protocol.md).
const COM1: u16 = 0x3f8;

/// The services one process gets from the kernel.
#[derive(Debug)]
pub struct KernelPlatform {
    pub verbose: bool,
    /// The stack's lazily populated part: pages here are mapped on first touch.
    pub lazy_stack: (u64, u64),
    /// Whether the CPU has RDRAND.
    pub rdrand: bool,
    rng: u64,
    /// Stdin framing state: an escape byte (0xff) was read.
    escape: bool,
    /// The end-of-input mark was read: every later read returns 0 at once.
    stdin_ended: bool,
}

impl KernelPlatform {
    pub fn new(verbose: bool, lazy_stack: (u64, u64)) -> Self {
        let rdrand = cpu::cpuid(1, 0).ecx & (1 << 30) != 0;
        Self {
            verbose,
            lazy_stack,
            rdrand,
            rng: cpu::rdtsc() | 1,
            escape: false,
            stdin_ended: false,
        }
    }

    /// Maps the page holding `addr` if it is in the lazy stack range and not mapped yet.
    /// Returns whether it did.
    pub fn populate_stack(&self, addr: u64) -> bool {
        let (lo, hi) = self.lazy_stack;
        if !(lo..hi).contains(&addr) {
            return false;
        }
        let page = addr & !(PAGE_SIZE - 1);
        paging::map_user_zeroed(
            page,
            PAGE_SIZE,
            Perms {
                read: true,
                write: true,
                exec: false,
            },
        )
        .is_ok()
    }

    /// Retries a user copy after populating lazy stack pages it may have hit.
    fn with_stack_retry(
        &self,
        addr: u64,
        len: usize,
        mut f: impl FnMut() -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        match f() {
            Err(Errno::EFAULT) => {
                let (lo, hi) = self.lazy_stack;
                let end = addr.saturating_add(len as u64);
                if end <= lo || addr >= hi {
                    return Err(Errno::EFAULT);
                }
                let mut page = addr.max(lo) & !(PAGE_SIZE - 1);
                while page < end.min(hi) {
                    if user::read(page, &mut [0u8]).is_err() {
                        self.populate_stack(page);
                    }
                    page += PAGE_SIZE;
                }
                f()
            }
            r => r,
        }
    }

    fn random_u64(&mut self) -> u64 {
        if self.rdrand {
            let mut v: u64 = 0;
            for _ in 0..10 {
                if let Some(r) = cpu::rdrand() {
                    v = r;
                    break;
                }
            }
            if v != 0 {
                return v;
            }
        }
        // xorshift64*, seeded from the TSC: not cryptographic, only for CPUs without RDRAND.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// One byte of the host's stdin, waiting for it.
    fn stdin_byte() -> u8 {
        // No interrupts yet: poll the line status register until data is ready.
        while port::inb(COM1 + 5) & 1 == 0 {
            core::hint::spin_loop();
        }
        port::inb(COM1)
    }
}

impl Platform for KernelPlatform {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        // A never-touched stack page reads as zeros, as on Linux: populate it and retry.
        self.with_stack_retry(addr, buf.len(), || user::read(addr, buf))
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.with_stack_retry(addr, data.len(), || user::write(addr, data))
    }

    fn save_fpu(&mut self, area: &mut FpArea) {
        arch::fpu::save(area);
    }

    fn load_fpu(&mut self, area: &FpArea) {
        arch::fpu::restore(area);
    }

    fn fpu_layout(&self) -> FpuLayout {
        arch::fpu::layout()
    }

    fn write_stream(&mut self, stream: Stream, data: &[u8]) {
        let s = match stream {
            Stream::Stdout => console::Stream::Stdout,
            Stream::Stderr => console::Stream::Stderr,
        };
        console::write_stream(s, data);
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> usize {
        if self.stdin_ended {
            return 0;
        }
        let mut n = 0;
        while n < buf.len() {
            // Block for the first byte only; then take what is already there.
            if n > 0 && port::inb(COM1 + 5) & 1 == 0 {
                break;
            }
            let b = Self::stdin_byte();
            if self.escape {
                self.escape = false;
                match b {
                    0x00 => {
                        buf[n] = 0xff;
                        n += 1;
                    }
                    _ => {
                        // 0x01: end of input; what came before it is returned first.
                        self.stdin_ended = true;
                        return n;
                    }
                }
            } else if b == 0xff {
                self.escape = true;
            } else {
                buf[n] = b;
                n += 1;
            }
        }
        n
    }

    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        paging::map_user_zeroed(start, len, perms).map_err(|_| {
            console::log_line(format_args!(
                "out of memory mapping {len:#x} bytes at {start:#x}"
            ));
            Errno::ENOMEM
        })
    }

    fn unmap(&mut self, start: u64, len: u64) {
        paging::unmap_user(start, len);
    }

    fn protect(&mut self, start: u64, len: u64, perms: Perms) {
        paging::protect_user(start, len, perms);
    }

    fn set_fs_base(&mut self, base: u64) {
        arch::set_user_fs_base(base);
    }

    fn fs_base(&self) -> u64 {
        arch::user_fs_base()
    }

    fn set_gs_base(&mut self, base: u64) {
        arch::set_user_gs_base(base);
    }

    fn gs_base(&self) -> u64 {
        arch::user_gs_base()
    }

    fn realtime_ns(&self) -> u64 {
        time::realtime_ns()
    }

    fn monotonic_ns(&self) -> u64 {
        time::monotonic_ns()
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        time::sleep_until(deadline_ns);
    }

    fn random(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.random_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    fn log(&mut self, args: fmt::Arguments<'_>) {
        console::log_line(args);
    }

    fn verbose(&self) -> bool {
        self.verbose
    }
}
