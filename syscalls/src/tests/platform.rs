//! The platform traits as the handlers see them: wrappers forward every method, and the
//! kernel's exact values reach the system calls.

use core::cell::RefCell;
use std::sync::Arc;
use std::vec::Vec;

use super::fake::*;
use crate::mm::Faulting;
use crate::nr::SYS_clock_nanosleep;
use crate::platform::{
    AddressSpaces, Clock, Console, Cpu, Entropy, KernelLog, Page, PageTables, Space, UserMemory,
    UserSpace, UserTls,
};
use crate::{dispatch, Errno, FpArea, FpuLayout, Outcome, Perms, Platform, Stream};

const CLOCK_REALTIME: u64 = 0;
const TIMER_ABSTIME: u64 = 1;

/// An absolute CLOCK_REALTIME sleep waits until the monotonic time the platform's exact
/// offset gives, not one computed from two clock reads taken at different moments (the
/// per-call wrapper once dropped the platform's `realtime_offset_ns`).
#[test]
fn absolute_realtime_deadline_uses_the_platforms_exact_offset() {
    let (mut p, mut k) = setup();
    k.now = 1_000_000_000;
    k.realtime_read_gap = 250_000_000;
    // Wake at realtime epoch + 10 s: monotonic 10 s.
    let at = FAKE_EPOCH_NS + 10_000_000_000;
    let ts = [
        &(at / 1_000_000_000).to_le_bytes()[..],
        &(at % 1_000_000_000).to_le_bytes()[..],
    ]
    .concat();
    k.poke(SCRATCH, &ts);
    let mut r = regs(
        SYS_clock_nanosleep,
        &[CLOCK_REALTIME, TIMER_ABSTIME, SCRATCH, 0],
    );
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), Some(10_000_000_000));
}

/// A platform that records each call by name and answers each with a value no other method
/// gives, so a wrapper that forwards a call to the wrong method (or answers it itself) shows.
#[derive(Default)]
struct Recorder {
    calls: RefCell<Vec<&'static str>>,
    /// What the last call that takes a value was given.
    got: RefCell<Vec<u64>>,
    space: Option<Space>,
}

impl Recorder {
    fn saw(&self, name: &'static str, args: &[u64]) {
        self.calls.borrow_mut().push(name);
        self.got.borrow_mut().clear();
        self.got.borrow_mut().extend_from_slice(args);
    }
}

/// A space handle that is only compared by identity.
struct Opaque;

impl UserSpace for Opaque {
    fn map_zeroed(&self, _: u64, _: u64, _: Perms) -> Result<(), Errno> {
        unreachable!()
    }
    fn map_copy(&self, _: u64, _: &[u8], _: Perms) -> Result<(), Errno> {
        unreachable!()
    }
    fn map_shared(&self, _: u64, _: &Arc<Page>, _: Perms) -> Result<(), Errno> {
        unreachable!()
    }
    fn map_file_cow(&self, _: u64, _: &Arc<Page>, _: Perms) -> Result<(), Errno> {
        unreachable!()
    }
    fn unmap(&self, _: u64, _: u64, _: Vec<Arc<Page>>) -> u64 {
        unreachable!()
    }
    fn unmap_file_pages(&self, _: Vec<(u64, Arc<Page>)>) {
        unreachable!()
    }
    fn protect(&self, _: u64, _: u64, _: Perms) {
        unreachable!()
    }
    fn move_pages(&self, _: u64, _: u64, _: u64) -> Result<(), Errno> {
        unreachable!()
    }
    fn query(&self, _: u64) -> Option<Perms> {
        unreachable!()
    }
    fn make_writable(&self, _: u64, _: Perms) -> Result<(), Errno> {
        unreachable!()
    }
    fn map_vdso(&self, _: u64) -> Option<(u64, u64)> {
        unreachable!()
    }
    fn fork(&self) -> Result<Space, Errno> {
        unreachable!()
    }
    fn activate(self: Arc<Self>) {
        unreachable!()
    }
}

const X: Perms = Perms {
    read: false,
    write: false,
    exec: true,
};

impl UserMemory for Recorder {
    fn read_user(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        self.saw("read_user", &[addr, buf.len() as u64]);
        buf.fill(0xa1);
        Ok(())
    }
    fn write_user(&mut self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.saw("write_user", &[addr, data.len() as u64]);
        Err(Errno::ENOSPC)
    }
    fn cmpxchg_user_u32(&mut self, addr: u64, expected: u32, new: u32) -> Result<u32, Errno> {
        self.saw("cmpxchg_user_u32", &[addr, expected.into(), new.into()]);
        Ok(0xa3)
    }
}

impl Cpu for Recorder {
    fn save_fpu(&mut self, area: &mut FpArea) {
        self.saw("save_fpu", &[]);
        area.bytes[0] = 0xb1;
    }
    fn load_fpu(&mut self, area: &FpArea) {
        self.saw("load_fpu", &[area.bytes[0].into()]);
    }
    fn fpu_layout(&self) -> FpuLayout {
        self.saw("fpu_layout", &[]);
        FpuLayout {
            xsave_size: 0xb3,
            xfeatures: 0,
            mxcsr_mask: 0,
        }
    }
    fn hwcaps(&self) -> (u64, u64) {
        self.saw("hwcaps", &[]);
        (0xb4, 0xb5)
    }
}

impl Console for Recorder {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> usize {
        self.saw(
            "write_stream",
            &[(stream == Stream::Stderr).into(), data.len() as u64],
        );
        0xc1
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> Option<usize> {
        self.saw("read_stdin", &[buf.len() as u64]);
        Some(0xc2)
    }
}

impl PageTables for Recorder {
    fn map_zeroed(&mut self, start: u64, len: u64, _: Perms) -> Result<(), Errno> {
        self.saw("map_zeroed", &[start, len]);
        Err(Errno::E2BIG)
    }
    fn map_copy(&mut self, va: u64, data: &[u8], _: Perms) -> Result<(), Errno> {
        self.saw("map_copy", &[va, data.len() as u64]);
        Err(Errno::EACCES)
    }
    fn map_shared(&mut self, va: u64, _: &Arc<Page>, _: Perms) -> Result<(), Errno> {
        self.saw("map_shared", &[va]);
        Err(Errno::EAGAIN)
    }
    fn map_file_cow(&mut self, va: u64, _: &Arc<Page>, _: Perms) -> Result<(), Errno> {
        self.saw("map_file_cow", &[va]);
        Err(Errno::EAGAIN)
    }
    fn unmap(&mut self, start: u64, len: u64, keep: Vec<Arc<Page>>) -> u64 {
        self.saw("unmap", &[start, len, keep.len() as u64]);
        0xd4
    }
    fn protect(&mut self, start: u64, len: u64, _: Perms) {
        self.saw("protect", &[start, len]);
    }
    fn move_pages(&mut self, from: u64, to: u64, len: u64) -> Result<(), Errno> {
        self.saw("move_pages", &[from, to, len]);
        Err(Errno::EBUSY)
    }
    fn query(&self, va: u64) -> Option<Perms> {
        self.saw("query", &[va]);
        Some(X)
    }
    fn make_writable(&mut self, va: u64, _: Perms) -> Result<(), Errno> {
        self.saw("make_writable", &[va]);
        Err(Errno::ECHILD)
    }
    fn map_vdso(&mut self, base: u64) -> Option<(u64, u64)> {
        self.saw("map_vdso", &[base]);
        Some((0xd9, 0xda))
    }
}

impl AddressSpaces for Recorder {
    fn space(&self) -> Space {
        self.saw("space", &[]);
        self.space.clone().expect("set up")
    }
    fn new_space(&mut self) -> Result<Space, Errno> {
        self.saw("new_space", &[]);
        Err(Errno::EDOM)
    }
    fn switch_space(&mut self, space: &Space) {
        let same = self.space.as_ref().is_some_and(|s| Arc::ptr_eq(s, space));
        self.saw("switch_space", &[same.into()]);
    }
}

impl UserTls for Recorder {
    fn set_fs_base(&mut self, base: u64) {
        self.saw("set_fs_base", &[base]);
    }
    fn fs_base(&self) -> u64 {
        self.saw("fs_base", &[]);
        0xf2
    }
    fn set_gs_base(&mut self, base: u64) {
        self.saw("set_gs_base", &[base]);
    }
    fn gs_base(&self) -> u64 {
        self.saw("gs_base", &[]);
        0xf4
    }
}

impl Clock for Recorder {
    fn realtime_ns(&self) -> u64 {
        self.saw("realtime_ns", &[]);
        0x1_0001
    }
    fn monotonic_ns(&self) -> u64 {
        self.saw("monotonic_ns", &[]);
        0x1_0002
    }
    fn realtime_offset_ns(&self) -> u64 {
        self.saw("realtime_offset_ns", &[]);
        0x1_0003
    }
    fn sleep_until(&mut self, deadline_ns: u64) {
        self.saw("sleep_until", &[deadline_ns]);
    }
}

impl Entropy for Recorder {
    fn random(&mut self, buf: &mut [u8]) {
        self.saw("random", &[buf.len() as u64]);
        buf.fill(0x2a);
    }
}

impl KernelLog for Recorder {
    fn log(&mut self, args: core::fmt::Arguments<'_>) {
        self.saw("log", &[std::format!("{args}").len() as u64]);
    }
    fn verbose(&self) -> bool {
        self.saw("verbose", &[]);
        true
    }
}

/// Every platform method called through the per-call wrapper reaches the wrapped platform's
/// own method, with the caller's arguments, and its answer comes back unchanged.
#[test]
fn the_faulting_wrapper_forwards_every_method() {
    let (p, _) = setup();
    let space: Space = Arc::new(Opaque);
    let mut rec = Recorder {
        space: Some(space.clone()),
        ..Recorder::default()
    };
    let page = Page::new_zeroed().expect("a page");
    let mut expect = |name: &str, args: &[u64], call: &dyn Fn(&mut dyn Platform) -> bool| {
        rec.calls.borrow_mut().clear();
        let answered = {
            let mut w = Faulting::new(&p.process, &mut rec);
            call(&mut w)
        };
        assert!(answered, "{name}: the wrapper changed the answer");
        assert_eq!(*rec.calls.borrow(), [name], "{name} reached another method");
        assert_eq!(*rec.got.borrow(), args, "{name} got other arguments");
    };
    // Each check: the call, and whether its answer is the recorder's own.
    expect("read_user", &[7, 3], &|k| {
        let mut b = [0; 3];
        k.read_user(7, &mut b) == Ok(()) && b == [0xa1; 3]
    });
    expect("write_user", &[8, 2], &|k| {
        k.write_user(8, &[1, 2]) == Err(Errno::ENOSPC)
    });
    expect("cmpxchg_user_u32", &[12, 5, 6], &|k| {
        k.cmpxchg_user_u32(12, 5, 6) == Ok(0xa3)
    });
    expect("save_fpu", &[], &|k| {
        let mut a = FpArea::default();
        k.save_fpu(&mut a);
        a.bytes[0] == 0xb1
    });
    expect("load_fpu", &[0xb2], &|k| {
        let mut a = FpArea::default();
        a.bytes[0] = 0xb2;
        k.load_fpu(&a);
        true
    });
    expect("fpu_layout", &[], &|k| k.fpu_layout().xsave_size == 0xb3);
    expect("hwcaps", &[], &|k| k.hwcaps() == (0xb4, 0xb5));
    expect("write_stream", &[1, 4], &|k| {
        k.write_stream(Stream::Stderr, b"oops") == 0xc1
    });
    expect("read_stdin", &[9], &|k| {
        k.read_stdin(&mut [0; 9]) == Some(0xc2)
    });
    expect("map_zeroed", &[0x1000, 0x2000], &|k| {
        k.map_zeroed(0x1000, 0x2000, X) == Err(Errno::E2BIG)
    });
    expect("map_copy", &[0x3000, 5], &|k| {
        k.map_copy(0x3000, b"bytes", X) == Err(Errno::EACCES)
    });
    expect("map_shared", &[0x4000], &|k| {
        k.map_shared(0x4000, &page, X) == Err(Errno::EAGAIN)
    });
    expect("map_file_cow", &[0x4000], &|k| {
        k.map_file_cow(0x4000, &page, X) == Err(Errno::EAGAIN)
    });
    expect("unmap", &[0x5000, 0x1000, 1], &|k| {
        k.unmap(0x5000, 0x1000, std::vec![page.clone()]) == 0xd4
    });
    expect("protect", &[0x6000, 0x1000], &|k| {
        k.protect(0x6000, 0x1000, X);
        true
    });
    expect("move_pages", &[1, 2, 3], &|k| {
        k.move_pages(1, 2, 3) == Err(Errno::EBUSY)
    });
    expect("query", &[0x7000], &|k| k.query(0x7000) == Some(X));
    expect("make_writable", &[0x8000], &|k| {
        k.make_writable(0x8000, X) == Err(Errno::ECHILD)
    });
    expect("map_vdso", &[0x9000], &|k| {
        k.map_vdso(0x9000) == Some((0xd9, 0xda))
    });
    expect("space", &[], &|k| Arc::ptr_eq(&k.space(), &space));
    expect("new_space", &[], &|k| {
        k.new_space().err() == Some(Errno::EDOM)
    });
    expect("switch_space", &[1], &|k| {
        k.switch_space(&space);
        true
    });
    expect("set_fs_base", &[0xf1], &|k| {
        k.set_fs_base(0xf1);
        true
    });
    expect("fs_base", &[], &|k| k.fs_base() == 0xf2);
    expect("set_gs_base", &[0xf3], &|k| {
        k.set_gs_base(0xf3);
        true
    });
    expect("gs_base", &[], &|k| k.gs_base() == 0xf4);
    expect("realtime_ns", &[], &|k| k.realtime_ns() == 0x1_0001);
    expect("monotonic_ns", &[], &|k| k.monotonic_ns() == 0x1_0002);
    expect("realtime_offset_ns", &[], &|k| {
        k.realtime_offset_ns() == 0x1_0003
    });
    expect("sleep_until", &[77], &|k| {
        k.sleep_until(77);
        true
    });
    expect("random", &[4], &|k| {
        let mut b = [0; 4];
        k.random(&mut b);
        b == [0x2a; 4]
    });
    expect("log", &[5], &|k| {
        k.log(format_args!("hello"));
        true
    });
    expect("verbose", &[], &|k| k.verbose());
}
