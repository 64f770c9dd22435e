//! A fake [`Platform`]: user memory as a map of pages with permissions, output captured,
//! stdin from a buffer, fixed clocks. Deterministic and single-threaded.

use std::collections::BTreeMap;
use std::fmt;
use std::string::String;
use std::vec::Vec;

use std::sync::Arc;

use crate::platform::Page;
use crate::{dispatch, Errno, Outcome, Perms, Platform, Process, StartInfo, Stream};

pub const PAGE: u64 = 4096;
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// A mapped page's memory: the fake's own, or a file page it shares.
#[derive(Debug, Clone)]
pub enum Mem {
    Own(Vec<u8>),
    Shared(Arc<Page>),
}

impl Mem {
    fn read(&self, offset: usize, buf: &mut [u8]) {
        match self {
            Mem::Own(v) => buf.copy_from_slice(&v[offset..offset + buf.len()]),
            Mem::Shared(p) => p.read(offset, buf),
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        match self {
            Mem::Own(v) => v[offset..offset + data.len()].copy_from_slice(data),
            Mem::Shared(p) => p.write(offset, data),
        }
    }
}

/// One fake address space's pages (the current one lives in `Fake::pages`).
pub type FakeSpace = std::sync::Mutex<BTreeMap<u64, (Mem, Perms)>>;

#[derive(Default)]
pub struct Fake {
    pub pages: BTreeMap<u64, (Mem, Perms)>,
    /// The handle of the space `pages` belongs to (made on first use).
    pub space: Option<Arc<FakeSpace>>,
    /// Pages the fake may still hand out (`None`: no limit), to test running out of memory.
    pub frames_left: Option<u64>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdin: Vec<u8>,
    pub log: Vec<String>,
    pub fs_base: u64,
    pub gs_base: u64,
    pub now: u64,
    pub slept_until: Option<u64>,
    /// The "CPU's" FP registers.
    pub fpu: std::boxed::Box<crate::FpArea>,
    /// How the fake CPU saves FP state (None: XSAVE of x87, SSE and AVX, 832 bytes).
    pub fpu_layout: Option<crate::FpuLayout>,
}

/// The FP layout of the fake CPU unless a test picks another: XSAVE with x87, SSE and AVX.
pub const FAKE_XSAVE: crate::FpuLayout = crate::FpuLayout {
    xsave_size: 832,
    xfeatures: 7,
    mxcsr_mask: 0xffff,
};

pub const RW: Perms = Perms {
    read: true,
    write: true,
    exec: false,
};
pub const RO: Perms = Perms {
    read: true,
    write: false,
    exec: false,
};

impl Fake {
    /// Maps `[start, start+len)` zero-filled.
    pub fn map(&mut self, start: u64, len: u64, perms: Perms) {
        let mut a = start;
        while a < start + len {
            self.pages
                .insert(a, (Mem::Own(std::vec![0; PAGE as usize]), perms));
            a += PAGE;
        }
    }

    /// Takes one page from the fake's budget.
    fn take_frame(&mut self) -> Result<(), Errno> {
        match &mut self.frames_left {
            Some(0) => Err(Errno::ENOMEM),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Whether the page at `addr` is resident.
    pub fn resident(&self, addr: u64) -> bool {
        self.pages.contains_key(&addr)
    }

    /// Writes bytes regardless of permissions (test setup).
    pub fn poke(&mut self, addr: u64, data: &[u8]) {
        for (i, b) in data.iter().enumerate() {
            let a = addr + i as u64;
            let page = self
                .pages
                .get_mut(&(a & !(PAGE - 1)))
                .expect("poke into unmapped page");
            page.0.write((a % PAGE) as usize, &[*b]);
        }
    }

    pub fn peek(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = std::vec![0; len];
        self.read_user(addr, &mut v).expect("peek");
        v
    }

    fn access(&self, addr: u64, len: usize, write: bool) -> Result<(), Errno> {
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if end > USER_END {
            return Err(Errno::EFAULT);
        }
        let mut a = addr & !(PAGE - 1);
        while a < end {
            match self.pages.get(&a) {
                Some((_, p)) if (p.read || p.write || p.exec) && (!write || p.write) => {}
                _ => return Err(Errno::EFAULT),
            }
            a += PAGE;
        }
        Ok(())
    }
}

impl Platform for Fake {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.access(addr, buf.len(), false)?;
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            self.pages[&(a & !(PAGE - 1))]
                .0
                .read((a % PAGE) as usize, std::slice::from_mut(b));
        }
        Ok(())
    }

    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.access(addr, data.len(), true)?;
        self.poke(addr, data);
        Ok(())
    }

    fn save_fpu(&mut self, area: &mut crate::FpArea) {
        area.bytes.copy_from_slice(&self.fpu.bytes);
    }

    fn load_fpu(&mut self, area: &crate::FpArea) {
        self.fpu.bytes.copy_from_slice(&area.bytes);
    }

    fn fpu_layout(&self) -> crate::FpuLayout {
        self.fpu_layout.unwrap_or(FAKE_XSAVE)
    }

    fn write_stream(&mut self, stream: Stream, data: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(data),
            Stream::Stderr => self.stderr.extend_from_slice(data),
        }
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        n
    }

    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        let mut a = start;
        while a < start + len {
            self.take_frame()?;
            self.map(a, PAGE, perms);
            a += PAGE;
        }
        Ok(())
    }

    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        assert!(data.len() <= PAGE as usize);
        self.take_frame()?;
        let mut v = std::vec![0; PAGE as usize];
        v[..data.len()].copy_from_slice(data);
        self.pages.insert(va, (Mem::Own(v), perms));
        Ok(())
    }

    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.pages.insert(va, (Mem::Shared(page.clone()), perms));
        Ok(())
    }

    fn unmap(&mut self, start: u64, len: u64, _keep: Vec<Arc<Page>>) -> u64 {
        let gone: Vec<u64> = self
            .pages
            .range(start..start + len)
            .map(|(&a, _)| a)
            .collect();
        for a in &gone {
            if let Some((Mem::Own(_), _)) = self.pages.remove(a) {
                if let Some(n) = &mut self.frames_left {
                    *n += 1;
                }
            }
        }
        gone.len() as u64
    }

    fn protect(&mut self, start: u64, len: u64, perms: Perms) {
        for (_, p) in self.pages.range_mut(start..start + len) {
            p.1 = perms;
        }
    }

    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        let moved: Vec<u64> = self
            .pages
            .range(from..from + len)
            .map(|(&a, _)| a)
            .collect();
        for a in moved {
            let entry = self.pages.remove(&a).expect("listed");
            assert!(
                self.pages.insert(to + (a - from), entry).is_none(),
                "move_pages onto a mapped page"
            );
        }
        Ok(())
    }

    fn query(&self, va: u64) -> Option<Perms> {
        self.pages.get(&va).map(|(_, p)| *p)
    }

    fn space(&self) -> Option<crate::platform::Space> {
        self.space.clone().map(|s| s as crate::platform::Space)
    }

    fn fork_space(&mut self) -> Result<crate::platform::Space, Errno> {
        if self.space.is_none() {
            self.space = Some(Arc::default());
        }
        // An eager copy: private pages copied, shared pages shared.
        Ok(Arc::new(FakeSpace::new(self.pages.clone())))
    }

    fn new_space(&mut self) -> Result<crate::platform::Space, Errno> {
        Ok(Arc::new(FakeSpace::default()))
    }

    fn switch_space(&mut self, space: &crate::platform::Space) {
        let Ok(new) = space.clone().downcast::<FakeSpace>() else {
            return;
        };
        let old = self.space.get_or_insert_with(Arc::default).clone();
        if Arc::ptr_eq(&old, &new) {
            return;
        }
        *old.lock().unwrap() = std::mem::take(&mut self.pages);
        self.pages = std::mem::take(&mut *new.lock().unwrap());
        self.space = Some(new);
    }

    fn unmap_in(&mut self, space: &crate::platform::Space, start: u64, len: u64) {
        if let Ok(s) = space.clone().downcast::<FakeSpace>() {
            s.lock()
                .unwrap()
                .retain(|&a, _| a < start || a >= start + len);
        }
    }

    fn release_space(&mut self, space: &crate::platform::Space, _keep: Vec<Arc<Page>>) {
        let Ok(s) = space.clone().downcast::<FakeSpace>() else {
            return;
        };
        if self.space.as_ref().is_some_and(|c| Arc::ptr_eq(c, &s)) {
            self.pages.clear();
        } else {
            s.lock().unwrap().clear();
        }
    }

    fn set_fs_base(&mut self, base: u64) {
        self.fs_base = base;
    }

    fn fs_base(&self) -> u64 {
        self.fs_base
    }

    fn set_gs_base(&mut self, base: u64) {
        self.gs_base = base;
    }

    fn gs_base(&self) -> u64 {
        self.gs_base
    }

    fn realtime_ns(&self) -> u64 {
        1_700_000_000_000_000_000 + self.now
    }

    fn monotonic_ns(&self) -> u64 {
        self.now
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        self.slept_until = Some(deadline_ns);
        self.now = self.now.max(deadline_ns);
    }

    fn random(&mut self, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a;
        }
    }

    fn log(&mut self, args: fmt::Arguments<'_>) {
        self.log.push(std::format!("{args}"));
    }
}

/// Scratch memory for tests: a read-write buffer at `SCRATCH`.
pub const SCRATCH: u64 = 0x10_0000;

/// A process with the default start info and a fake with 4 pages of scratch memory.
pub fn setup() -> (Process, Fake) {
    setup_with(false, false)
}

/// Facts of a fake machine: 256 MiB, fixed clocks.
pub struct FakeInfo;

impl crate::SystemInfo for FakeInfo {
    fn uptime_ns(&self) -> u64 {
        5_000_000_000
    }
    fn realtime_ns(&self) -> u64 {
        1_700_000_005_000_000_000
    }
    fn mem_total(&self) -> u64 {
        256 << 20
    }
    fn mem_free(&self) -> u64 {
        200 << 20
    }
    fn cpuinfo(&self, _cpu: u32) -> Vec<u8> {
        b"vendor_id\t: FakeIntel\n".to_vec()
    }
    fn random(&self, buf: &mut [u8]) {
        buf.fill(0x42);
    }
}

/// A wall clock for the fake filesystems that ticks one second per reading.
pub struct TickClock(std::sync::atomic::AtomicI64);

impl coracle_vfs::Clock for TickClock {
    fn now(&self) -> coracle_vfs::Timespec {
        let s = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        coracle_vfs::Timespec { sec: s, nsec: 0 }
    }
}

/// One cpio newc entry (for building test initrds), by the shared writer.
pub fn cpio_entry(out: &mut Vec<u8>, name: &[u8], mode: u32, data: &[u8]) {
    let header = coracle_vfs::cpio::Header {
        name,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        nlink: 1,
        mtime: 0,
        filesize: data.len() as u32,
    };
    out.extend(header.encode().unwrap());
    out.extend_from_slice(data);
    out.resize(out.len() + coracle_vfs::cpio::padding(data.len() as u64), 0);
}

/// An initrd with /bin/app and /work, and the trailer.
pub fn test_initrd() -> Vec<u8> {
    let mut a = Vec::new();
    cpio_entry(&mut a, b"bin", 0o040_755, b"");
    cpio_entry(&mut a, b"bin/app", 0o100_755, b"\x7fELF not really");
    cpio_entry(&mut a, b"work", 0o040_755, b"");
    cpio_entry(&mut a, b"TRAILER!!!", 0, b"");
    a
}

pub fn setup_with(tty: bool, stdin_forwarded: bool) -> (Process, Fake) {
    setup_full(
        tty,
        stdin_forwarded,
        std::sync::Arc::new(FakeCpu::default()),
    )
}

/// A process on the CPU `cpu`, whose clock the test moves (keep `Fake::now` in step).
pub fn setup_on(cpu: std::sync::Arc<FakeCpu>) -> (Process, Fake) {
    setup_full(false, false, cpu)
}

fn setup_full(tty: bool, stdin_forwarded: bool, cpu: std::sync::Arc<FakeCpu>) -> (Process, Fake) {
    let info = StartInfo {
        pid: 1,
        tty,
        stdin_forwarded,
        hostname: b"box".to_vec(),
        exe: b"/bin/app".to_vec(),
        cmdline: b"/bin/app\0".to_vec(),
        environ: b"HOME=/\0".to_vec(),
        cpus: 2,
        brk: 0x60_0000,
        mmap_top: 0x7f00_0000_0000,
    };
    let booted = crate::setup::boot(
        &test_initrd(),
        std::sync::Arc::new(TickClock(std::sync::atomic::AtomicI64::new(1_000))),
        std::sync::Arc::new(FakeInfo),
        cpu,
        &crate::setup::BootOptions {
            tty,
            hostname: b"box".to_vec(),
            cpus: 2,
            cwd: b"/work".to_vec(),
        },
    )
    .expect("boot");
    let p = Process::new(booted.system, info, booted.cwd, 0);
    let (exe, _, path) = crate::setup::load_program(&p.sys, b"/bin/app").expect("exe");
    p.set_exe(exe, path);
    let mut k = Fake::default();
    k.map(SCRATCH, 4 * PAGE, RW);
    (p, k)
}

/// One CPU whose clock the tests move by hand; kicks are counted.
#[derive(Debug, Default)]
pub struct FakeCpu {
    pub now: std::sync::atomic::AtomicU64,
    pub kicks: std::sync::atomic::AtomicUsize,
}

impl crate::sched::CpuControl for FakeCpu {
    fn kick(&self, _cpu: usize) {
        self.kicks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn current_cpu(&self) -> usize {
        0
    }
    fn now_ns(&self) -> u64 {
        self.now.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Registers holding system call `nr` with `args`.
pub fn regs(nr: u64, args: &[u64]) -> crate::UserRegs {
    let mut a = [0u64; 6];
    a[..args.len()].copy_from_slice(args);
    crate::UserRegs {
        rax: nr,
        rdi: a[0],
        rsi: a[1],
        rdx: a[2],
        r10: a[3],
        r8: a[4],
        r9: a[5],
        trap: crate::TRAP_SYSCALL,
        ..Default::default()
    }
}

/// Makes system call `nr` and returns what the kernel would do.
pub fn call(p: &mut Process, k: &mut Fake, nr: u64, args: &[u64]) -> Outcome {
    dispatch(p, k, &mut regs(nr, args))
}

/// Makes system call `nr` and returns rax as a signed value.
pub fn sys(p: &mut Process, k: &mut Fake, nr: u64, args: &[u64]) -> i64 {
    match call(p, k, nr, args) {
        Outcome::Return(v) => v as i64,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Expects `-errno`.
pub fn err(e: Errno) -> i64 {
    e.as_return()
}
