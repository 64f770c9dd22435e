//! The kernel's implementation of the syscall layer's platform traits
//! (`coracle_syscalls::platform`): user copies, page tables through the current address
//! space's handle, the console, clocks, RNG and log.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use coracle_syscalls::platform::{
    AddressSpaces, Clock, Console, Cpu, Entropy, KernelLog, Page, PageTables, Space, UserMemory,
    UserSpace, UserTls,
};
use coracle_syscalls::{Errno, FpArea, FpuLayout, Perms, Stream};

use crate::arch::{self, cpu};
use crate::mm::paging::AddressSpace;
use crate::mm::user;
use crate::{console, time};

/// The services one process gets from the kernel.
pub struct KernelPlatform {
    pub verbose: bool,
    /// The page tables this CPU translates through.
    space: Space,
    /// Whether the CPU has RDRAND.
    pub rdrand: bool,
    /// AT_HWCAP and AT_HWCAP2 for new programs.
    pub hwcaps: (u64, u64),
    rng: u64,
}

impl KernelPlatform {
    pub fn new(verbose: bool, space: Space) -> Self {
        let rdrand = cpu::cpuid(1, 0).ecx & (1 << 30) != 0;
        Self {
            verbose,
            space,
            rdrand,
            hwcaps: (0, 0),
            rng: cpu::rdtsc() | 1,
        }
    }

    fn random_u64(&mut self) -> u64 {
        if let Some(v) = crate::entropy::seeded() {
            return v;
        }
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
}

impl UserMemory for KernelPlatform {
    // Resident pages only: the syscall layer faults pages in and retries (its `mm::uaccess`).
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        user::read(addr, buf)
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        user::write(addr, data)
    }

    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        user::cmpxchg_u32(addr, expected, new)
    }
}

impl Cpu for KernelPlatform {
    fn save_fpu(&mut self, area: &mut FpArea) {
        arch::fpu::save(area);
    }

    fn load_fpu(&mut self, area: &FpArea) {
        arch::fpu::restore(area);
    }

    fn fpu_layout(&self) -> FpuLayout {
        arch::fpu::layout()
    }

    fn hwcaps(&self) -> (u64, u64) {
        self.hwcaps
    }
}

impl Console for KernelPlatform {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> usize {
        let s = match stream {
            Stream::Stdout => console::Stream::Stdout,
            Stream::Stderr => console::Stream::Stderr,
        };
        console::write_stream(s, data)
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
        // Taking input tells the driver (`console::Hooks::input_taken`).
        coracle_syscalls::console::take_input(buf)
    }
}

impl PageTables for KernelPlatform {
    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        self.space.map_zeroed(start, len, perms)
    }

    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        self.space.map_copy(va, data, perms)
    }

    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.space.map_shared(va, page, perms)
    }

    fn map_file_cow(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.space.map_file_cow(va, page, perms)
    }

    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        self.space.unmap(start, len, keep)
    }

    fn protect(&mut self, start: u64, len: u64, perms: Perms) {
        self.space.protect(start, len, perms);
    }

    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        self.space.move_pages(from, to, len)
    }

    fn query(&self, va: u64) -> Option<Perms> {
        self.space.query(va)
    }

    fn make_writable(&mut self, va: u64, perms: Perms) -> Result<(), Errno> {
        self.space.make_writable(va, perms)
    }

    fn map_vdso(&mut self, base: u64) -> Option<(u64, u64)> {
        self.space.map_vdso(base)
    }
}

impl AddressSpaces for KernelPlatform {
    fn space(&self) -> Space {
        self.space.clone()
    }

    fn new_space(&mut self) -> Result<Space, Errno> {
        let space = AddressSpace::new().map_err(|_| Errno::ENOMEM)?;
        Ok(Arc::new(space))
    }

    /// The CR3 switch, when `space` is another.
    fn switch_space(&mut self, space: &Space) {
        if !Arc::ptr_eq(&self.space, space) {
            space.clone().activate();
            self.space = space.clone();
        }
    }
}

impl UserTls for KernelPlatform {
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
}

impl Clock for KernelPlatform {
    fn realtime_ns(&self) -> u64 {
        time::realtime_ns()
    }

    fn monotonic_ns(&self) -> u64 {
        time::monotonic_ns()
    }

    fn realtime_offset_ns(&self) -> u64 {
        time::epoch_ns()
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        time::sleep_until(deadline_ns);
    }
}

impl Entropy for KernelPlatform {
    fn random(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let r = self.random_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }
}

impl KernelLog for KernelPlatform {
    fn log(&mut self, args: fmt::Arguments<'_>) {
        console::log_line(args);
    }

    fn verbose(&self) -> bool {
        self.verbose
    }
}

/// The kernel's page tables behind the syscall layer's [`Space`] handle.
impl UserSpace for AddressSpace {
    fn map_zeroed(&self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        AddressSpace::map_zeroed(self, start, len, perms).map_err(|_| Errno::ENOMEM)
    }

    fn map_copy(&self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        AddressSpace::map_copy(self, va, data, perms).map_err(|_| Errno::ENOMEM)
    }

    fn map_shared(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.map_borrowed(va, page.addr(), perms)
            .map_err(|_| Errno::ENOMEM)
    }

    fn map_file_cow(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        AddressSpace::map_file_cow(self, va, page.addr(), perms).map_err(|_| Errno::ENOMEM)
    }

    fn unmap(&self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        AddressSpace::unmap(self, start, len, keep)
    }

    fn unmap_file_pages(&self, pages: Vec<(u64, Arc<Page>)>) {
        AddressSpace::unmap_file_pages(self, pages);
    }

    fn protect(&self, start: u64, len: u64, perms: Perms) {
        AddressSpace::protect(self, start, len, perms);
    }

    fn move_pages(&self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        AddressSpace::move_pages(self, from, to, len).map_err(|_| Errno::ENOMEM)
    }

    fn query(&self, va: u64) -> Option<Perms> {
        AddressSpace::query(self, va)
    }

    fn make_writable(&self, va: u64, perms: Perms) -> Result<(), Errno> {
        AddressSpace::make_writable(self, va, perms).map_err(|_| Errno::ENOMEM)
    }

    fn map_vdso(&self, base: u64) -> Option<(u64, u64)> {
        crate::vdso::map_into(self, base)
    }

    fn fork(&self) -> Result<Space, Errno> {
        let child = AddressSpace::fork(self).map_err(|_| Errno::ENOMEM)?;
        Ok(Arc::new(child))
    }

    fn activate(self: Arc<Self>) {
        AddressSpace::activate(&self);
    }
}
