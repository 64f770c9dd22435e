//! A fake platform (every trait of [`crate::platform`]): user memory as a map of pages with permissions, output captured,
//! stdin from a buffer, fixed clocks. Deterministic and single-threaded.

use std::collections::BTreeMap;
use std::fmt;
use std::string::String;
use std::vec::Vec;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::platform::{
    AddressSpaces, Clock, Console, Cpu, Entropy, KernelLog, Page, PageTables, Space, UserMemory,
    UserSpace, UserTls,
};
use crate::{dispatch, Current, Errno, Outcome, Perms, StartInfo, Stream};

pub const PAGE: u64 = 4096;
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// A mapped page's memory: the fake's own, or a file page it shares.
#[derive(Debug, Clone)]
pub enum Mem {
    Own(Vec<u8>),
    Shared(Arc<Page>),
    /// A file page a private mapping shows until its first write copies it.
    FileCow(Arc<Page>),
}

impl Mem {
    fn read(&self, offset: usize, buf: &mut [u8]) {
        match self {
            Mem::Own(v) => buf.copy_from_slice(&v[offset..offset + buf.len()]),
            Mem::Shared(p) | Mem::FileCow(p) => p.read(offset, buf),
        }
    }

    fn write(&mut self, offset: usize, data: &[u8]) {
        if let Mem::FileCow(p) = self {
            // Test setup writing into a private file page: it becomes the process's own.
            let mut v = std::vec![0; PAGE as usize];
            p.read(0, &mut v);
            *self = Mem::Own(v);
        }
        match self {
            Mem::Own(v) => v[offset..offset + data.len()].copy_from_slice(data),
            Mem::Shared(p) => p.write(offset, data),
            Mem::FileCow(_) => unreachable!("copied above"),
        }
    }
}

/// One fake address space's pages by address.
pub type Pages = BTreeMap<u64, (Mem, Perms)>;

/// What the fake's address spaces share: the space the "CPU" translates through (its CR3) and
/// the pages left to hand out (`None`: no limit), to test running out of memory.
#[derive(Default)]
pub struct Machine {
    current: Mutex<Option<Arc<FakeSpace>>>,
    frames_left: Mutex<Option<u64>>,
}

impl Machine {
    /// Takes one page from the budget.
    fn take_frame(&self) -> Result<(), Errno> {
        match &mut *self.frames_left.lock().unwrap() {
            Some(0) => Err(Errno::ENOMEM),
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn give_frame(&self) {
        if let Some(n) = &mut *self.frames_left.lock().unwrap() {
            *n += 1;
        }
    }
}

/// One fake address space: pages in a map.
pub struct FakeSpace {
    pages: Mutex<Pages>,
    machine: Arc<Machine>,
}

impl FakeSpace {
    fn new(machine: &Arc<Machine>, pages: Pages) -> Arc<Self> {
        Arc::new(Self {
            pages: Mutex::new(pages),
            machine: machine.clone(),
        })
    }

    fn pages(&self) -> MutexGuard<'_, Pages> {
        self.pages.lock().unwrap()
    }
}

impl UserSpace for FakeSpace {
    fn map_zeroed(&self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        let mut a = start;
        while a < start + len {
            self.machine.take_frame()?;
            self.pages()
                .insert(a, (Mem::Own(std::vec![0; PAGE as usize]), perms));
            a += PAGE;
        }
        Ok(())
    }

    fn map_copy(&self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        assert!(data.len() <= PAGE as usize);
        self.machine.take_frame()?;
        let mut v = std::vec![0; PAGE as usize];
        v[..data.len()].copy_from_slice(data);
        self.pages().insert(va, (Mem::Own(v), perms));
        Ok(())
    }

    fn map_shared(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.pages().insert(va, (Mem::Shared(page.clone()), perms));
        Ok(())
    }

    fn map_file_cow(&self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        let perms = Perms {
            write: false,
            ..perms
        };
        self.pages().insert(va, (Mem::FileCow(page.clone()), perms));
        Ok(())
    }

    fn unmap(&self, start: u64, len: u64, _keep: Vec<Arc<Page>>) -> u64 {
        let mut pages = self.pages();
        let gone: Vec<u64> = pages.range(start..start + len).map(|(&a, _)| a).collect();
        for a in &gone {
            if let Some((Mem::Own(_), _)) = pages.remove(a) {
                self.machine.give_frame();
            }
        }
        gone.len() as u64
    }

    fn unmap_file_pages(&self, pages: Vec<(u64, Arc<Page>)>) {
        let mut mapped = self.pages();
        for (va, page) in pages {
            let shows = match mapped.get(&va) {
                Some((Mem::Shared(p) | Mem::FileCow(p), _)) => Arc::ptr_eq(p, &page),
                _ => false,
            };
            if shows {
                mapped.remove(&va);
            }
        }
    }

    fn protect(&self, start: u64, len: u64, perms: Perms) {
        for (_, p) in self.pages().range_mut(start..start + len) {
            // A private file page stays read-only until a write fault copies it.
            let cow = matches!(p.0, Mem::FileCow(_));
            p.1 = Perms {
                write: perms.write && !cow,
                ..perms
            };
        }
    }

    fn move_pages(&self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        let mut pages = self.pages();
        let moved: Vec<u64> = pages.range(from..from + len).map(|(&a, _)| a).collect();
        for a in moved {
            let entry = pages.remove(&a).expect("listed");
            assert!(
                pages.insert(to + (a - from), entry).is_none(),
                "move_pages onto a mapped page"
            );
        }
        Ok(())
    }

    fn query(&self, va: u64) -> Option<Perms> {
        self.pages().get(&va).map(|(_, p)| *p)
    }

    fn make_writable(&self, va: u64, perms: Perms) -> Result<(), Errno> {
        // Forks copy eagerly: only private file pages are shown copy-on-write.
        let file_page = match self.pages().get(&va) {
            Some((Mem::FileCow(p), _)) => Some(p.clone()),
            _ => None,
        };
        if let Some(p) = file_page {
            self.machine.take_frame()?;
            let mut v = std::vec![0; PAGE as usize];
            p.read(0, &mut v);
            self.pages().insert(va, (Mem::Own(v), perms));
            return Ok(());
        }
        self.protect(va, PAGE, perms);
        Ok(())
    }

    fn map_vdso(&self, _base: u64) -> Option<(u64, u64)> {
        None
    }

    fn fork(&self) -> Result<Space, Errno> {
        // An eager copy: private pages copied, shared pages shared.
        Ok(FakeSpace::new(&self.machine, self.pages().clone()))
    }

    fn activate(self: Arc<Self>) {
        *self.machine.current.lock().unwrap() = Some(self.clone());
    }
}

pub struct Fake {
    /// The address spaces' shared state; the current space is `machine.current`.
    pub machine: Arc<Machine>,
    pub stdout: Vec<u8>,
    /// How many more bytes the host's stdout takes (`None`: all): a full console port.
    pub stdout_room: Option<usize>,
    pub stderr: Vec<u8>,
    pub stdin: Vec<u8>,
    pub log: Vec<String>,
    pub fs_base: u64,
    pub gs_base: u64,
    pub now: u64,
    /// How much later than the monotonic clock's reading the realtime clock is read, as on a
    /// CPU where time passes between two reads: then realtime minus monotonic is not the
    /// exact offset that [`Clock::realtime_offset_ns`] gives.
    pub realtime_read_gap: u64,
    pub slept_until: Option<u64>,
    /// The "CPU's" FP registers.
    pub fpu: std::boxed::Box<crate::FpArea>,
    /// How the fake CPU saves FP state (None: XSAVE of x87, SSE and AVX, 832 bytes).
    pub fpu_layout: Option<crate::FpuLayout>,
    /// `None`: "random" bytes are the same fixed pattern on every call; `Some(n)`: a
    /// different pattern on each call (a counter from `n`), for tests of randomisation.
    pub entropy: Option<u64>,
}

impl Default for Fake {
    fn default() -> Self {
        let machine = Arc::new(Machine::default());
        FakeSpace::new(&machine, Pages::new()).activate();
        Self {
            machine,
            stdout: Vec::new(),
            stdout_room: None,
            stderr: Vec::new(),
            stdin: Vec::new(),
            log: Vec::new(),
            fs_base: 0,
            gs_base: 0,
            now: 0,
            realtime_read_gap: 0,
            slept_until: None,
            fpu: std::boxed::Box::default(),
            fpu_layout: None,
            entropy: None,
        }
    }
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
    /// The space the fake CPU works on.
    pub fn current(&self) -> Arc<FakeSpace> {
        self.machine
            .current
            .lock()
            .unwrap()
            .clone()
            .expect("the fake always has a current space")
    }

    /// The current space's pages.
    pub fn pages(&self) -> Pages {
        self.current().pages().clone()
    }

    /// Lets the fake hand out only `n` more pages.
    pub fn limit_frames(&mut self, n: u64) {
        *self.machine.frames_left.lock().unwrap() = Some(n);
    }

    /// Maps `[start, start+len)` zero-filled.
    pub fn map(&mut self, start: u64, len: u64, perms: Perms) {
        let cur = self.current();
        let mut pages = cur.pages();
        let mut a = start;
        while a < start + len {
            pages.insert(a, (Mem::Own(std::vec![0; PAGE as usize]), perms));
            a += PAGE;
        }
    }

    /// Whether the page at `addr` is resident.
    pub fn resident(&self, addr: u64) -> bool {
        self.current().pages().contains_key(&addr)
    }

    /// Writes bytes regardless of permissions (test setup).
    pub fn poke(&mut self, addr: u64, data: &[u8]) {
        let cur = self.current();
        let mut pages = cur.pages();
        for (i, b) in data.iter().enumerate() {
            let a = addr + i as u64;
            let page = pages
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
        let cur = self.current();
        let pages = cur.pages();
        let mut a = addr & !(PAGE - 1);
        while a < end {
            match pages.get(&a) {
                Some((_, p)) if (p.read || p.write || p.exec) && (!write || p.write) => {}
                _ => return Err(Errno::EFAULT),
            }
            a += PAGE;
        }
        Ok(())
    }
}

impl UserMemory for Fake {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.access(addr, buf.len(), false)?;
        let cur = self.current();
        let pages = cur.pages();
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            pages[&(a & !(PAGE - 1))]
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

    /// Not atomic: the fake runs one thread at a time.
    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.read_user(addr, &mut b)?;
        let old = u32::from_le_bytes(b);
        if old == expected {
            self.write_user(addr, &new.to_le_bytes())?;
        }
        Ok(old)
    }
}

impl Cpu for Fake {
    fn save_fpu(&mut self, area: &mut crate::FpArea) {
        area.bytes.copy_from_slice(&self.fpu.bytes);
    }

    fn load_fpu(&mut self, area: &crate::FpArea) {
        self.fpu.bytes.copy_from_slice(&area.bytes);
    }

    fn fpu_layout(&self) -> crate::FpuLayout {
        self.fpu_layout.unwrap_or(FAKE_XSAVE)
    }

    fn hwcaps(&self) -> (u64, u64) {
        (0, 0)
    }
}

impl Console for Fake {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> usize {
        match stream {
            Stream::Stdout => {
                let n = self.stdout_room.map_or(data.len(), |r| r.min(data.len()));
                if let Some(r) = self.stdout_room.as_mut() {
                    *r -= n;
                }
                self.stdout.extend_from_slice(&data[..n]);
                n
            }
            Stream::Stderr => {
                self.stderr.extend_from_slice(data);
                data.len()
            }
        }
    }

    /// The whole of `stdin`, then the end of input.
    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
        let n = buf.len().min(self.stdin.len());
        buf[..n].copy_from_slice(&self.stdin[..n]);
        self.stdin.drain(..n);
        Some(n)
    }
}

impl PageTables for Fake {
    fn map_zeroed(&mut self, start: u64, len: u64, perms: Perms) -> Result<(), Errno> {
        self.current().map_zeroed(start, len, perms)
    }

    fn map_copy(&mut self, va: u64, data: &[u8], perms: Perms) -> Result<(), Errno> {
        self.current().map_copy(va, data, perms)
    }

    fn map_shared(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.current().map_shared(va, page, perms)
    }

    fn map_file_cow(&mut self, va: u64, page: &Arc<Page>, perms: Perms) -> Result<(), Errno> {
        self.current().map_file_cow(va, page, perms)
    }

    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        self.current().unmap(start, len, keep)
    }

    fn protect(&mut self, start: u64, len: u64, perms: Perms) {
        self.current().protect(start, len, perms);
    }

    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        self.current().move_pages(from, to, len)
    }

    fn query(&self, va: u64) -> Option<Perms> {
        self.current().query(va)
    }

    fn make_writable(&mut self, va: u64, perms: Perms) -> Result<(), Errno> {
        self.current().make_writable(va, perms)
    }

    fn map_vdso(&mut self, base: u64) -> Option<(u64, u64)> {
        self.current().map_vdso(base)
    }
}

impl AddressSpaces for Fake {
    fn space(&self) -> Space {
        self.current()
    }

    fn new_space(&mut self) -> Result<Space, Errno> {
        Ok(FakeSpace::new(&self.machine, Pages::new()))
    }

    fn switch_space(&mut self, space: &Space) {
        space.clone().activate();
    }
}

impl UserTls for Fake {
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
}

impl Clock for Fake {
    fn realtime_ns(&self) -> u64 {
        FAKE_EPOCH_NS + self.now + self.realtime_read_gap
    }

    fn monotonic_ns(&self) -> u64 {
        self.now
    }

    fn realtime_offset_ns(&self) -> u64 {
        FAKE_EPOCH_NS
    }

    fn sleep_until(&mut self, deadline_ns: u64) {
        self.slept_until = Some(deadline_ns);
        self.now = self.now.max(deadline_ns);
    }
}

impl Entropy for Fake {
    fn random(&mut self, buf: &mut [u8]) {
        let salt = self.entropy.map_or(0, |n| {
            self.entropy = Some(n + 1);
            // Spread the counter over every bit, so that masks of any width see it change.
            n.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        for (i, b) in buf.iter_mut().enumerate() {
            *b = i as u8 ^ 0x5a ^ (salt >> ((i % 8) * 8)) as u8;
        }
    }
}

impl KernelLog for Fake {
    fn log(&mut self, args: fmt::Arguments<'_>) {
        self.log.push(std::format!("{args}"));
    }

    fn verbose(&self) -> bool {
        false
    }
}

/// CLOCK_REALTIME at the fake's boot (CLOCK_MONOTONIC 0): the exact realtime offset.
pub const FAKE_EPOCH_NS: u64 = 1_700_000_000_000_000_000;

/// Scratch memory for tests: a read-write buffer at `SCRATCH`.
pub const SCRATCH: u64 = 0x10_0000;

/// A process with the default start info and a fake with 4 pages of scratch memory.
pub fn setup() -> (Current, Fake) {
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

pub fn setup_with(tty: bool, stdin_forwarded: bool) -> (Current, Fake) {
    setup_full(
        tty,
        stdin_forwarded,
        std::sync::Arc::new(FakeCpu::default()),
    )
}

/// A process on the CPU `cpu`, whose clock the test moves (keep `Fake::now` in step).
pub fn setup_on(cpu: std::sync::Arc<FakeCpu>) -> (Current, Fake) {
    setup_full(false, false, cpu)
}

fn setup_full(tty: bool, stdin_forwarded: bool, cpu: std::sync::Arc<FakeCpu>) -> (Current, Fake) {
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
        creds: crate::creds::Creds::container(0, 0, &[]),
    };
    let booted = crate::setup::boot(
        &test_initrd(),
        &mut |_| {},
        std::sync::Arc::new(TickClock(std::sync::atomic::AtomicI64::new(1_000))),
        std::sync::Arc::new(FakeInfo),
        cpu,
        &crate::setup::BootOptions {
            tty,
            hostname: b"box".to_vec(),
            cpus: 2,
            cwd: b"/work".to_vec(),
            etc_files: Vec::new(),
            root: Default::default(),
            read_only: false,
            tmpfs: Vec::new(),
            volumes: Vec::new(),
            disk: None,
        },
    )
    .expect("boot");
    let p = Current::new(booted.system, info, booted.cwd, 0);
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
pub fn call(p: &mut Current, k: &mut Fake, nr: u64, args: &[u64]) -> Outcome {
    dispatch(p, k, &mut regs(nr, args))
}

/// Makes system call `nr` and returns rax as a signed value.
pub fn sys(p: &mut Current, k: &mut Fake, nr: u64, args: &[u64]) -> i64 {
    match call(p, k, nr, args) {
        Outcome::Return(v) => v as i64,
        other => panic!("unexpected outcome {other:?}"),
    }
}

/// Expects `-errno`.
pub fn err(e: Errno) -> i64 {
    e.as_return()
}
