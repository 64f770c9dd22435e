//! mmap, munmap, mprotect, brk and demand paging against the VMA list and the fake page tables.

use crate::nr::*;
use std::vec::Vec;

use super::fake::*;
use crate::mm::{handle_page_fault, Access, FaultResult};
use crate::{Current, Errno, Outcome, Perms};

pub const PROT_RW: u64 = 3;
pub const ANON: u64 = 0x22;
pub const FIXED: u64 = 0x10;
const NOREPLACE: u64 = 0x10_0000;
const NORESERVE: u64 = 0x4000;
const POPULATE: u64 = 0x8000;
const GROWSDOWN: u64 = 0x100;
pub const AT: u64 = 0x4000_0000;

pub fn mmap(p: &mut Current, k: &mut Fake, addr: u64, len: u64, prot: u64, flags: u64) -> i64 {
    sys(p, k, SYS_mmap, &[addr, len, prot, flags, u64::MAX, 0])
}

pub fn touch(p: &Current, k: &mut Fake, addr: u64, access: Access) -> FaultResult {
    handle_page_fault(&p.process, k, addr, access)
}

/// Reads user memory as a system call would: faulting pages in.
pub fn read(p: &Current, k: &mut Fake, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
    let mut v = std::vec![0; len];
    crate::mm::read_user(&p.process, k, addr, &mut v).map(|()| v)
}

pub fn write(p: &Current, k: &mut Fake, addr: u64, data: &[u8]) -> Result<(), Errno> {
    crate::mm::write_user(&p.process, k, addr, data)
}

/// The VMAs as (start, end, perms, shared).
pub fn maps(p: &Current) -> Vec<(u64, u64, Perms, bool)> {
    p.process
        .mm
        .get()
        .lock()
        .maps()
        .map(|m| (m.start, m.end, m.perms, m.shared))
        .collect()
}

fn segv(code: i32, addr: u64) -> FaultResult {
    FaultResult::Signal {
        signo: 11,
        code,
        addr,
    }
}

const NONE: Perms = Perms {
    read: false,
    write: false,
    exec: false,
};

#[test]
fn anonymous_memory_is_allocated_on_first_touch_and_zeroed() {
    let (mut p, mut k) = setup();
    let a = mmap(&mut p, &mut k, 0, 10_000, PROT_RW, ANON) as u64;
    assert!(a.is_multiple_of(PAGE), "{a:#x}");
    assert_eq!(
        a + 3 * PAGE,
        0x7f00_0000_0000,
        "top-down from the mmap base"
    );
    assert!(!k.resident(a), "nothing is allocated at mmap time");
    assert_eq!(touch(&p, &mut k, a + 5, Access::Write), FaultResult::Mapped);
    assert!(k.resident(a) && !k.resident(a + PAGE));
    assert_eq!(k.peek(a, 16), [0; 16]);
    // A second fault on a resident page (another CPU got there first) changes nothing.
    k.poke(a, b"kept");
    assert_eq!(touch(&p, &mut k, a, Access::Write), FaultResult::Mapped);
    assert_eq!(k.peek(a, 4), b"kept");
    let b = mmap(&mut p, &mut k, 0, PAGE, PROT_RW, ANON) as u64;
    assert_eq!(b + PAGE, a, "the next mapping goes just below");
    assert_eq!(
        maps(&p).len(),
        1,
        "adjacent anonymous mappings merge: {:?}",
        maps(&p)
    );
}

#[test]
fn a_huge_prot_none_reservation_costs_nothing() {
    let (mut p, mut k) = setup();
    let before = k.pages().len();
    let r = mmap(&mut p, &mut k, 0, 1 << 30, 0, ANON | NORESERVE) as u64;
    assert_eq!(k.pages().len(), before);
    assert_eq!(touch(&p, &mut k, r + 100, Access::Read), segv(2, r + 100));
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[r + 16 * PAGE, 4 * PAGE, 3]),
        0
    );
    for i in 0..4 {
        let at = r + (16 + i) * PAGE + 8;
        assert_eq!(touch(&p, &mut k, at, Access::Write), FaultResult::Mapped);
    }
    assert_eq!(k.pages().len(), before + 4);
    let m = maps(&p);
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!((m[1].0, m[1].1, m[1].2), (r + 16 * PAGE, r + 20 * PAGE, RW));
}

#[test]
fn faults_outside_what_a_vma_allows_are_signals() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, PAGE, 1, ANON | FIXED);
    assert_eq!(touch(&p, &mut k, AT + 3, Access::Read), FaultResult::Mapped);
    assert_eq!(touch(&p, &mut k, AT + 3, Access::Write), segv(2, AT + 3));
    assert_eq!(touch(&p, &mut k, AT, Access::Exec), segv(2, AT));
    assert_eq!(
        touch(&p, &mut k, AT + PAGE, Access::Read),
        segv(1, AT + PAGE)
    );
    assert_eq!(touch(&p, &mut k, 8, Access::Read), segv(1, 8));
    assert_eq!(touch(&p, &mut k, 1 << 47, Access::Read), segv(1, 1 << 47));
    // A copy into memory no VMA allows writing stays EFAULT; a readable one works.
    assert_eq!(write(&p, &mut k, AT, b"x"), Err(Errno::EFAULT));
    assert_eq!(read(&p, &mut k, AT, 2), Ok(std::vec![0, 0]));
    assert_eq!(read(&p, &mut k, AT + PAGE - 1, 2), Err(Errno::EFAULT));
}

#[test]
fn mmap_argument_errors_in_linux_order() {
    let (mut p, mut k) = setup();
    let e = |r: i64| r;
    assert_eq!(
        e(mmap(&mut p, &mut k, 0, 0, PROT_RW, ANON)),
        err(Errno::EINVAL)
    );
    assert_eq!(
        e(mmap(&mut p, &mut k, 0, PAGE, PROT_RW, 0x20)),
        err(Errno::EINVAL)
    );
    assert_eq!(
        e(mmap(&mut p, &mut k, 0, PAGE, PROT_RW, 0x23)),
        err(Errno::EINVAL),
        "MAP_SHARED_VALIDATE is not for anonymous memory"
    );
    assert!(
        mmap(&mut p, &mut k, 0, PAGE, 0x83, ANON) > 0,
        "unknown prot bits are ignored"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 3, ANON, u64::MAX, 5]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mmap(&mut p, &mut k, 0x1001, PAGE, PROT_RW, ANON | FIXED),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mmap(&mut p, &mut k, 0x1000, PAGE, PROT_RW, ANON | FIXED),
        err(Errno::EPERM),
        "below mmap_min_addr"
    );
    assert_eq!(
        mmap(&mut p, &mut k, 0, u64::MAX, PROT_RW, ANON),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        mmap(
            &mut p,
            &mut k,
            0x7fff_ffff_0000,
            0x10_0000,
            PROT_RW,
            ANON | FIXED
        ),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        mmap(&mut p, &mut k, 0, PAGE, PROT_RW, ANON | 0x4_0000),
        err(Errno::ENOMEM),
        "no huge pages"
    );
    // Overcommit heuristic: one private writable mapping over all of RAM (256 MiB here)...
    assert_eq!(
        mmap(&mut p, &mut k, 0, 512 << 20, PROT_RW, ANON),
        err(Errno::ENOMEM)
    );
    // ...unless MAP_NORESERVE or not writable.
    assert!(mmap(&mut p, &mut k, 0, 512 << 20, PROT_RW, ANON | NORESERVE) > 0);
    assert!(mmap(&mut p, &mut k, 0, 512 << 20, 1, ANON) > 0);
    // Address space exhausted.
    assert_eq!(
        mmap(&mut p, &mut k, 0, 1 << 47, 0, ANON | NORESERVE),
        err(Errno::ENOMEM)
    );
    // File mappings: a pipe (ENODEV), a write-only fd (EACCES), a closed fd (EBADF).
    assert_eq!(
        sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 1, 2, 0, 0]),
        err(Errno::ENODEV)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 1, 2, 1, 0]),
        err(Errno::EACCES)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 1, 2, 40, 0]),
        err(Errno::EBADF)
    );
}

#[test]
fn fixed_replaces_and_fixed_noreplace_refuses() {
    let (mut p, mut k) = setup();
    assert_eq!(
        mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED),
        AT as i64
    );
    write(&p, &mut k, AT, b"data").unwrap();
    assert_eq!(
        mmap(&mut p, &mut k, AT + PAGE, PAGE, PROT_RW, ANON | NOREPLACE),
        err(Errno::EEXIST)
    );
    assert_eq!(
        mmap(&mut p, &mut k, AT + 2 * PAGE, PAGE, 1, ANON | NOREPLACE),
        (AT + 2 * PAGE) as i64,
        "a free range is fine"
    );
    assert_eq!(
        mmap(&mut p, &mut k, AT, PAGE, PROT_RW, ANON | FIXED),
        AT as i64
    );
    assert!(!k.resident(AT), "the old page is gone");
    assert_eq!(read(&p, &mut k, AT, 4).unwrap(), [0; 4]);
    let m = maps(&p);
    assert_eq!(m.len(), 2, "the replacement merges with its twin: {m:?}");
    // A hint that is free is taken; one that is not is ignored.
    let hint = 0x5000_0000;
    assert_eq!(mmap(&mut p, &mut k, hint, PAGE, PROT_RW, ANON), hint as i64);
    assert_ne!(mmap(&mut p, &mut k, hint, PAGE, PROT_RW, ANON), hint as i64);
}

#[test]
fn munmap_splits_frees_and_checks() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 3 * PAGE, PROT_RW, ANON | FIXED);
    for i in 0..3 {
        write(&p, &mut k, AT + i * PAGE, b"x").unwrap();
    }
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[AT + PAGE, PAGE]), 0);
    assert!(k.resident(AT) && !k.resident(AT + PAGE) && k.resident(AT + 2 * PAGE));
    assert_eq!(maps(&p).len(), 2);
    assert_eq!(
        touch(&p, &mut k, AT + PAGE, Access::Read),
        segv(1, AT + PAGE)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_munmap, &[AT + 1, PAGE]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_munmap, &[AT, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_munmap, &[AT, u64::MAX - PAGE]),
        err(Errno::EINVAL)
    );
    // Unmapping a hole is fine; a range over two VMAs and the hole between takes both.
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[0x5000_0000, PAGE]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[AT, 3 * PAGE]), 0);
    assert!(maps(&p).is_empty() && !k.resident(AT) && !k.resident(AT + 2 * PAGE));
}

#[test]
fn mprotect_splits_merges_and_keeps_contents() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 3 * PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, AT + PAGE, b"keep").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_mprotect, &[AT + PAGE, PAGE, 1]), 0);
    assert_eq!(k.pages()[&(AT + PAGE)].1, RO);
    assert_eq!(maps(&p).len(), 3);
    assert_eq!(write(&p, &mut k, AT + PAGE, b"x"), Err(Errno::EFAULT));
    // PROT_NONE keeps the page, just out of reach.
    assert_eq!(sys(&mut p, &mut k, SYS_mprotect, &[AT + PAGE, PAGE, 0]), 0);
    assert_eq!(k.pages()[&(AT + PAGE)].1, NONE);
    assert_eq!(read(&p, &mut k, AT + PAGE, 1), Err(Errno::EFAULT));
    assert_eq!(sys(&mut p, &mut k, SYS_mprotect, &[AT + PAGE, PAGE, 3]), 0);
    assert_eq!(read(&p, &mut k, AT + PAGE, 4).unwrap(), b"keep");
    assert_eq!(
        maps(&p).len(),
        1,
        "the same flags merge back: {:?}",
        maps(&p)
    );
}

#[test]
fn mprotect_errors_and_partial_application() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED);
    mmap(&mut p, &mut k, AT + 3 * PAGE, PAGE, PROT_RW, ANON | FIXED);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT + 1, PAGE, 1]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT, PAGE, 0x10]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT, PAGE, 0x9]),
        0,
        "PROT_SEM is fine"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_mprotect, &[AT, 0, 1]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT + 2 * PAGE, PAGE, 1]),
        err(Errno::ENOMEM)
    );
    // Over a hole: the part before it changes, then ENOMEM.
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT, 4 * PAGE, 1]),
        err(Errno::ENOMEM)
    );
    let m = maps(&p);
    assert_eq!((m[0].1, m[0].2), (AT + 2 * PAGE, RO), "{m:?}");
    assert_eq!(m[1].2, RW);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[AT, PAGE, 0x0100_0001]),
        err(Errno::EINVAL),
        "PROT_GROWSDOWN on a VMA that does not grow down"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_pkey_mprotect, &[AT, PAGE, 1, 0]),
        err(Errno::EINVAL),
        "no protection key was allocated"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_pkey_mprotect, &[AT, PAGE, 3, u64::MAX]),
        0
    );
}

#[test]
fn brk_grows_without_allocating_and_shrinking_frees() {
    let (mut p, mut k) = setup();
    let start = sys(&mut p, &mut k, SYS_brk, &[0]) as u64;
    assert_eq!(start, 0x60_0000);
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[start + 10_000]),
        (start + 10_000) as i64
    );
    assert!(!k.resident(start));
    write(&p, &mut k, start + 9_000, b"x").unwrap();
    assert!(k.resident(start + 2 * PAGE));
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[0x10_0000]),
        (start + 10_000) as i64
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[start + PAGE]),
        (start + PAGE) as i64
    );
    assert!(!k.resident(start + 2 * PAGE), "shrinking frees");
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[start + 3 * PAGE]),
        (start + 3 * PAGE) as i64
    );
    assert_eq!(
        read(&p, &mut k, start + 9_000, 1).unwrap(),
        [0],
        "regrown pages are fresh"
    );
    assert_eq!(maps(&p).len(), 1, "the heap stays one VMA");
    // Growing to within a page of the next mapping fails and keeps the old break.
    mmap(
        &mut p,
        &mut k,
        start + 8 * PAGE,
        PAGE,
        PROT_RW,
        ANON | FIXED,
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[start + 7 * PAGE + 1]),
        (start + 3 * PAGE) as i64
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_brk, &[start + 7 * PAGE]),
        (start + 7 * PAGE) as i64
    );
}

#[test]
fn the_stack_grows_down_to_its_limit_and_keeps_a_guard_gap() {
    let (mut p, mut k) = setup();
    let top = 0x7fff_ffff_f000u64;
    p.process
        .mm
        .get()
        .lock()
        .record_named(top - 32 * PAGE, top, RW, crate::VmaName::Stack);
    let deep = top - (1 << 20);
    assert_eq!(touch(&p, &mut k, deep, Access::Write), FaultResult::Mapped);
    assert_eq!(maps(&p)[0].0, deep, "the stack VMA grew");
    assert!(k.resident(deep) && !k.resident(deep + PAGE));
    // Beyond RLIMIT_STACK (8 MiB): no growth.
    let far = top - (8 << 20) - PAGE;
    assert_eq!(touch(&p, &mut k, far, Access::Write), segv(1, far));
    // A mapping below the stack keeps it 256 pages away.
    let below = deep - (2 << 20);
    mmap(&mut p, &mut k, below, PAGE, PROT_RW, ANON | FIXED);
    let near = below + PAGE + 255 * PAGE;
    assert_eq!(touch(&p, &mut k, near, Access::Write), segv(1, near));
    let ok = below + PAGE + 256 * PAGE;
    assert_eq!(touch(&p, &mut k, ok, Access::Write), FaultResult::Mapped);
    // mmap's search and hints keep out of the guard gap too.
    let hint = ok - PAGE;
    assert_ne!(mmap(&mut p, &mut k, hint, PAGE, PROT_RW, ANON), hint as i64);
    // Copies fault in never-touched stack pages, and stop at the guard gap as stores do.
    assert_eq!(write(&p, &mut k, ok + 5 * PAGE, b"x"), Ok(()));
    assert_eq!(write(&p, &mut k, ok - 16 * PAGE, b"x"), Err(Errno::EFAULT));
}

#[test]
fn map_growsdown_grows_like_a_stack() {
    let (mut p, mut k) = setup();
    let a = mmap(
        &mut p,
        &mut k,
        AT,
        2 * PAGE,
        PROT_RW,
        ANON | FIXED | GROWSDOWN,
    ) as u64;
    assert_eq!(a, AT);
    assert_eq!(write(&p, &mut k, AT - 3 * PAGE, b"x"), Ok(()));
    assert_eq!(maps(&p)[0].0, AT - 3 * PAGE);
    assert_eq!(
        mmap(&mut p, &mut k, 0, PAGE, PROT_RW, 0x21 | GROWSDOWN),
        err(Errno::EINVAL),
        "shared memory never grows down"
    );
}

#[test]
fn out_of_memory_is_a_fault_result_enomem_or_a_kill() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 8 * PAGE, PROT_RW, ANON | FIXED);
    k.limit_frames(2);
    assert_eq!(touch(&p, &mut k, AT, Access::Write), FaultResult::Mapped);
    assert_eq!(
        touch(&p, &mut k, AT + PAGE, Access::Write),
        FaultResult::Mapped
    );
    assert_eq!(
        touch(&p, &mut k, AT + 2 * PAGE, Access::Write),
        FaultResult::OutOfMemory
    );
    // MAP_POPULATE that cannot be satisfied: ENOMEM, and nothing is left mapped.
    let r = mmap(
        &mut p,
        &mut k,
        0x5000_0000,
        4 * PAGE,
        PROT_RW,
        ANON | FIXED | POPULATE,
    );
    assert_eq!(r, err(Errno::ENOMEM));
    assert!(!p.process.mm.get().lock().overlaps(0x5000_0000, 0x5000_4000));
    // Unmapping gives pages back; MAP_POPULATE then works.
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[AT, 2 * PAGE]), 0);
    let r = mmap(
        &mut p,
        &mut k,
        0x5000_0000,
        2 * PAGE,
        PROT_RW,
        ANON | FIXED | POPULATE,
    );
    assert_eq!(r, 0x5000_0000);
    assert!(k.resident(0x5000_0000) && k.resident(0x5000_1000));
    // A system call copying into a page there is no memory for kills the process.
    match call(&mut p, &mut k, SYS_getcwd, &[AT + 4 * PAGE, 64]) {
        Outcome::Exit(status) => assert_eq!(status, 137),
        other => panic!("getcwd into an unpopulated page without memory: {other:?}"),
    }
    assert!(
        k.log
            .iter()
            .any(|l| l == "out of memory: killed process 1 (app)"),
        "{:?}",
        k.log
    );
}

#[test]
fn system_calls_copy_into_never_touched_pages() {
    let (mut p, mut k) = setup();
    let a = mmap(&mut p, &mut k, 0, 2 * PAGE, PROT_RW, ANON) as u64;
    // getcwd writes across the page boundary of two untouched pages.
    let at = a + PAGE - 3;
    assert_eq!(sys(&mut p, &mut k, SYS_getcwd, &[at, 64]), 6);
    assert_eq!(k.peek(at, 6), b"/work\0");
    // A buffer that runs into a hole is EFAULT.
    assert_eq!(
        sys(&mut p, &mut k, SYS_getcwd, &[a + 2 * PAGE - 2, 64]),
        err(Errno::EFAULT)
    );
}
