//! mremap, madvise, mincore, msync, the mlock family, and shared and file mappings.

use super::fake::*;
use super::mman::{maps, mmap, read, touch, write, ANON, AT, FIXED, PROT_RW};
use crate::mm::{Access, FaultResult};
use crate::nr::*;
use crate::{Current, Errno};

const MAYMOVE: u64 = 1;
const MREMAP_FIXED: u64 = 2;
const DONTUNMAP: u64 = 4;
const SHARED: u64 = 1;
const PRIVATE: u64 = 2;

fn mremap(p: &mut Current, k: &mut Fake, old: u64, ol: u64, nl: u64, flags: u64, new: u64) -> i64 {
    sys(p, k, SYS_mremap, &[old, ol, nl, flags, new])
}

/// A memfd holding `data`, sized `size`.
fn memfd(p: &mut Current, k: &mut Fake, data: &[u8], size: u64) -> u64 {
    k.poke(SCRATCH, b"m\0");
    let fd = sys(p, k, SYS_memfd_create, &[SCRATCH, 0]);
    assert!(fd >= 0);
    k.poke(SCRATCH + 64, data);
    assert_eq!(
        sys(
            p,
            k,
            SYS_write,
            &[fd as u64, SCRATCH + 64, data.len() as u64]
        ),
        data.len() as i64
    );
    assert_eq!(sys(p, k, SYS_ftruncate, &[fd as u64, size]), 0);
    fd as u64
}

fn mmap_fd(
    p: &mut Current,
    k: &mut Fake,
    len: u64,
    prot: u64,
    flags: u64,
    fd: u64,
    off: u64,
) -> i64 {
    sys(p, k, SYS_mmap, &[0, len, prot, flags, fd, off])
}

#[test]
fn mremap_grows_in_place_moves_with_content_and_shrinks() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, AT + PAGE, b"page two").unwrap();
    assert_eq!(
        mremap(&mut p, &mut k, AT, 2 * PAGE, 4 * PAGE, 0, 0),
        AT as i64
    );
    assert_eq!(maps(&p)[0].1, AT + 4 * PAGE, "grown in place");
    // Something in the way: without MAYMOVE ENOMEM, with it the pages move, not copied.
    mmap(&mut p, &mut k, AT + 4 * PAGE, PAGE, 1, ANON | FIXED);
    assert_eq!(
        mremap(&mut p, &mut k, AT, 4 * PAGE, 8 * PAGE, 0, 0),
        err(Errno::ENOMEM)
    );
    let frames = k.pages().len();
    let to = mremap(&mut p, &mut k, AT, 4 * PAGE, 8 * PAGE, MAYMOVE, 0) as u64;
    assert_ne!(to, AT);
    assert_eq!(k.pages().len(), frames, "no page was copied");
    assert_eq!(read(&p, &mut k, to + PAGE, 8).unwrap(), b"page two");
    assert!(!k.resident(AT + PAGE));
    assert_eq!(
        touch(&p, &mut k, AT, Access::Read),
        FaultResult::Signal {
            signo: 11,
            code: 1,
            addr: AT
        }
    );
    // Shrinking unmaps the tail.
    assert_eq!(mremap(&mut p, &mut k, to, 8 * PAGE, PAGE, 0, 0), to as i64);
    assert!(!k.resident(to + PAGE));
    assert!(!p.process.mm.get().lock().overlaps(to + PAGE, to + 8 * PAGE));
}

#[test]
fn mremap_fixed_dontunmap_and_errors() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, AT, b"abc").unwrap();
    let dst = 0x5000_0000;
    mmap(&mut p, &mut k, dst, PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, dst, b"old").unwrap();
    assert_eq!(
        mremap(&mut p, &mut k, AT, 2 * PAGE, 2 * PAGE, MREMAP_FIXED, dst),
        err(Errno::EINVAL),
        "FIXED needs MAYMOVE"
    );
    assert_eq!(
        mremap(
            &mut p,
            &mut k,
            AT,
            2 * PAGE,
            2 * PAGE,
            MAYMOVE | MREMAP_FIXED,
            AT + PAGE
        ),
        err(Errno::EINVAL),
        "overlapping ranges"
    );
    assert_eq!(
        mremap(
            &mut p,
            &mut k,
            AT,
            2 * PAGE,
            2 * PAGE,
            MAYMOVE | MREMAP_FIXED,
            dst
        ),
        dst as i64
    );
    assert_eq!(
        read(&p, &mut k, dst, 3).unwrap(),
        b"abc",
        "replaced what was there"
    );
    assert!(!p.process.mm.get().lock().overlaps(AT, AT + 2 * PAGE));
    // DONTUNMAP: the old range stays mapped, its pages gone (zeros on the next touch).
    assert_eq!(
        mremap(&mut p, &mut k, dst, 2 * PAGE, PAGE, MAYMOVE | DONTUNMAP, 0),
        err(Errno::EINVAL),
        "DONTUNMAP cannot resize"
    );
    let moved = mremap(
        &mut p,
        &mut k,
        dst,
        2 * PAGE,
        2 * PAGE,
        MAYMOVE | DONTUNMAP,
        0,
    ) as u64;
    assert_eq!(read(&p, &mut k, moved, 3).unwrap(), b"abc");
    assert_eq!(read(&p, &mut k, dst, 3).unwrap(), [0; 3]);
    // Errors: unaligned, zero new length, unknown flags, not mapped, beyond the VMA.
    assert_eq!(
        mremap(&mut p, &mut k, dst + 1, PAGE, PAGE, 0, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mremap(&mut p, &mut k, dst, PAGE, 0, 0, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mremap(&mut p, &mut k, dst, PAGE, PAGE, 8, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mremap(&mut p, &mut k, 0x6000_0000, PAGE, 2 * PAGE, MAYMOVE, 0),
        err(Errno::EFAULT)
    );
    assert_eq!(
        mremap(&mut p, &mut k, dst, 3 * PAGE, 4 * PAGE, MAYMOVE, 0),
        err(Errno::EFAULT)
    );
    assert_eq!(
        mremap(&mut p, &mut k, dst, 0, PAGE, MAYMOVE, 0),
        err(Errno::EINVAL),
        "only shared mappings can be duplicated"
    );
}

/// Ranges that end past the top of the address space (found by the random-call test: the
/// shrink wrapped around and the VMA lookup panicked) are errors.
#[test]
fn mremap_ranges_past_the_top_are_errors() {
    let (mut p, mut k) = setup();
    let top = 0xffff_ffff_ffff_f000;
    assert_eq!(
        mremap(&mut p, &mut k, top, 0x2000, 0x1000, 0, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mremap(&mut p, &mut k, top, 0x1000, 0x1000, 0, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        mremap(&mut p, &mut k, top, 0x1000, 0x2000, MAYMOVE, 0),
        err(Errno::EFAULT)
    );
    assert_eq!(
        mremap(
            &mut p,
            &mut k,
            top,
            0x2000,
            0x1000,
            MAYMOVE | MREMAP_FIXED,
            0x10_0000
        ),
        err(Errno::EINVAL)
    );
}

#[test]
fn madvise_dontneed_zeroes_anonymous_and_rereads_files() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, AT, b"abc").unwrap();
    write(&p, &mut k, AT + PAGE, b"def").unwrap();
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 4]), 0);
    assert!(!k.resident(AT) && k.resident(AT + PAGE));
    assert_eq!(read(&p, &mut k, AT, 3).unwrap(), [0; 3]);
    assert_eq!(read(&p, &mut k, AT + PAGE, 3).unwrap(), b"def");
    // A private file page written, then dropped: the file's bytes come back.
    let fd = memfd(&mut p, &mut k, b"file bytes", PAGE);
    let m = mmap_fd(&mut p, &mut k, PAGE, 3, PRIVATE, fd, 0) as u64;
    write(&p, &mut k, m, b"FILE").unwrap();
    assert_eq!(read(&p, &mut k, m, 10).unwrap(), b"FILE bytes");
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[m, PAGE, 4]), 0);
    assert_eq!(read(&p, &mut k, m, 10).unwrap(), b"file bytes");
    // MADV_FREE is for anonymous memory only.
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[m, PAGE, 8]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[AT + PAGE, PAGE, 8]), 0);
    assert!(!k.resident(AT + PAGE));
    // Checks: bad advice, unaligned, a hole (ENOMEM after the rest was done), HWPOISON.
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 999]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT + 1, PAGE, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[AT, 0, 4]), 0);
    write(&p, &mut k, AT, b"z").unwrap();
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, 4 * PAGE, 4]),
        err(Errno::ENOMEM)
    );
    assert!(!k.resident(AT));
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 100]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 14]),
        0,
        "MADV_HUGEPAGE"
    );
}

#[test]
fn madvise_populate_faults_in_or_refuses() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, 1, ANON | FIXED);
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[AT, 2 * PAGE, 22]), 0);
    assert!(k.resident(AT) && k.resident(AT + PAGE));
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 23]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, 3 * PAGE, 22]),
        err(Errno::ENOMEM)
    );
}

#[test]
fn mincore_reports_resident_pages() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 3 * PAGE, PROT_RW, ANON | FIXED);
    write(&p, &mut k, AT + 2 * PAGE, b"x").unwrap();
    let vec = SCRATCH + 128;
    assert_eq!(
        sys(&mut p, &mut k, SYS_mincore, &[AT, 3 * PAGE - 5, vec]),
        0
    );
    assert_eq!(k.peek(vec, 3), [0, 0, 1]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mincore, &[AT + 1, PAGE, vec]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mincore, &[AT, 4 * PAGE, vec]),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mincore, &[AT + 3 * PAGE, 0, vec]),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mincore, &[AT, PAGE, 0x7fff_ffff_f000]),
        err(Errno::EFAULT)
    );
    // A file's pages count when the file has them, mapped here or not.
    let fd = memfd(&mut p, &mut k, b"x", 2 * PAGE);
    let m = mmap_fd(&mut p, &mut k, 2 * PAGE, 1, SHARED, fd, 0) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_mincore, &[m, 2 * PAGE, vec]), 0);
    assert_eq!(k.peek(vec, 2), [1, 0]);
}

#[test]
fn msync_checks_in_linux_order() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 3 * PAGE, PROT_RW, ANON | FIXED);
    sys(&mut p, &mut k, SYS_munmap, &[AT + PAGE, PAGE]);
    assert_eq!(sys(&mut p, &mut k, SYS_msync, &[AT, PAGE, 4]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT, PAGE, 5]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT, PAGE, 8]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT + 1, PAGE, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT, 3 * PAGE, 1]),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT, 3 * PAGE, 4]),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT + PAGE, PAGE, 4]),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_msync, &[AT, u64::MAX, 4]),
        0,
        "the length wraps to 0"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_msync, &[AT, 0, 4]), 0);
}

#[test]
fn mlock_family_validates_and_populates() {
    let (mut p, mut k) = setup();
    mmap(&mut p, &mut k, AT, 2 * PAGE, PROT_RW, ANON | FIXED);
    assert_eq!(sys(&mut p, &mut k, SYS_mlock, &[AT + 5, PAGE]), 0);
    assert!(
        k.resident(AT) && k.resident(AT + PAGE),
        "the range rounds out to pages"
    );
    assert_eq!(maps(&p).len(), 1);
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 4]),
        err(Errno::EINVAL),
        "locked"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_munlock, &[AT, 2 * PAGE]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_madvise, &[AT, PAGE, 4]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_mlock, &[AT, 3 * PAGE]),
        err(Errno::ENOMEM),
        "a hole"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mlock2, &[AT, PAGE, 2]),
        err(Errno::EINVAL)
    );
    let big = mmap(&mut p, &mut k, 0, 16 << 20, PROT_RW, ANON) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_mlock, &[big, 16 << 20]),
        err(Errno::ENOMEM),
        "over RLIMIT_MEMLOCK (8 MiB)"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_mlockall, &[0]), err(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, SYS_mlockall, &[4]), err(Errno::EINVAL));
    assert_eq!(
        sys(&mut p, &mut k, SYS_mlockall, &[1]),
        err(Errno::ENOMEM),
        "16 MiB mapped"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_munlockall, &[]), 0);
}

#[test]
fn shared_file_pages_are_the_file() {
    let (mut p, mut k) = setup();
    let fd = memfd(&mut p, &mut k, b"hello", 2 * PAGE);
    let a = mmap_fd(&mut p, &mut k, 2 * PAGE, 3, SHARED, fd, 0) as u64;
    let b = mmap_fd(&mut p, &mut k, PAGE, 1, SHARED, fd, PAGE) as u64;
    let private = mmap_fd(&mut p, &mut k, PAGE, 3, PRIVATE, fd, 0) as u64;
    assert_eq!(read(&p, &mut k, a, 5).unwrap(), b"hello");
    assert_eq!(read(&p, &mut k, private, 5).unwrap(), b"hello");
    // A store through the mapping is what read(2) sees...
    write(&p, &mut k, a + PAGE + 7, b"shared!").unwrap();
    assert_eq!(
        sys(&mut p, &mut k, SYS_pread64, &[fd, SCRATCH, 7, PAGE + 7]),
        7
    );
    assert_eq!(k.peek(SCRATCH, 7), b"shared!");
    assert_eq!(
        read(&p, &mut k, b + 7, 7).unwrap(),
        b"shared!",
        "and the other mapping"
    );
    // ...and write(2) shows through the mapping; the private copy keeps its own bytes.
    write(&p, &mut k, private, b"mine").unwrap();
    k.poke(SCRATCH, b"HELLO");
    assert_eq!(sys(&mut p, &mut k, SYS_pwrite64, &[fd, SCRATCH, 5, 0]), 5);
    assert_eq!(read(&p, &mut k, a, 5).unwrap(), b"HELLO");
    assert_eq!(read(&p, &mut k, private, 5).unwrap(), b"mineo");
    // Unmapping lets go of the page; the file keeps it.
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[a, 2 * PAGE]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_pread64, &[fd, SCRATCH, 7, PAGE + 7]),
        7
    );
    assert_eq!(k.peek(SCRATCH, 7), b"shared!");
    let m = maps(&p);
    assert!(m.iter().any(|&(s, _, _, shared)| s == b && shared), "{m:?}");
    assert!(m.iter().any(|&(s, _, _, shared)| s == private && !shared));
}

#[test]
fn file_mapping_rules() {
    let (mut p, mut k) = setup();
    let fd = memfd(&mut p, &mut k, b"x", PAGE + 10);
    // Past the end of the file: SIGBUS (the page holding the end is fine).
    let m = mmap_fd(&mut p, &mut k, 4 * PAGE, 1, SHARED, fd, 0) as u64;
    assert_eq!(
        touch(&p, &mut k, m + PAGE + 100, Access::Read),
        FaultResult::Mapped
    );
    assert_eq!(
        touch(&p, &mut k, m + 2 * PAGE, Access::Read),
        FaultResult::Signal {
            signo: 7,
            code: 2,
            addr: m + 2 * PAGE
        }
    );
    let pm = mmap_fd(&mut p, &mut k, 4 * PAGE, 1, PRIVATE, fd, 0) as u64;
    assert!(matches!(
        touch(&p, &mut k, pm + 3 * PAGE, Access::Read),
        FaultResult::Signal { signo: 7, .. }
    ));
    // A read-only open file: shared writable maps refused, and mprotect cannot add write.
    k.poke(SCRATCH, std::format!("/proc/self/fd/{fd}\0").as_bytes());
    let ro = sys(&mut p, &mut k, SYS_open, &[SCRATCH, 0, 0]) as u64;
    assert_eq!(
        mmap_fd(&mut p, &mut k, PAGE, 3, SHARED, ro, 0),
        err(Errno::EACCES)
    );
    let r = mmap_fd(&mut p, &mut k, PAGE, 1, SHARED, ro, 0) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[r, PAGE, 3]),
        err(Errno::EACCES)
    );
    assert_eq!(
        mmap_fd(&mut p, &mut k, PAGE, 3, 0x3 | 0x8_0000, fd, 0),
        err(Errno::EOPNOTSUPP),
        "MAP_SHARED_VALIDATE with MAP_SYNC"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 1, SHARED, fd, !0xfff]),
        err(Errno::EOVERFLOW)
    );
}

#[test]
fn shared_anonymous_memory_is_shared_by_its_duplicates() {
    let (mut p, mut k) = setup();
    let a = mmap(&mut p, &mut k, 0, 2 * PAGE, PROT_RW, 0x21) as u64;
    write(&p, &mut k, a + PAGE, b"both").unwrap();
    let dup = mremap(&mut p, &mut k, a, 0, 2 * PAGE, MAYMOVE, 0) as u64;
    assert_ne!(dup, a);
    assert_eq!(read(&p, &mut k, dup + PAGE, 4).unwrap(), b"both");
    write(&p, &mut k, dup, b"back").unwrap();
    assert_eq!(read(&p, &mut k, a, 4).unwrap(), b"back");
    let names: std::vec::Vec<std::string::String> = p
        .process
        .mm
        .get()
        .lock()
        .maps()
        .map(|m| std::format!("{:?} {}", m.name, m.shared))
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.contains("/dev/zero (deleted)") && n.ends_with("true")),
        "{names:?}"
    );
    // Growing past the object's size gives SIGBUS there, as on Linux.
    let grown = mremap(&mut p, &mut k, a, 2 * PAGE, 3 * PAGE, MAYMOVE, 0) as u64;
    assert!(matches!(
        touch(&p, &mut k, grown + 2 * PAGE, Access::Read),
        FaultResult::Signal { signo: 7, .. }
    ));
}

#[test]
fn write_seals_and_shared_writable_maps_exclude_each_other() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"s\0");
    let fd = sys(&mut p, &mut k, SYS_memfd_create, &[SCRATCH, 2]) as u64; // MFD_ALLOW_SEALING
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd, PAGE]), 0);
    let m = mmap_fd(&mut p, &mut k, PAGE, 3, SHARED, fd, 0) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_fcntl, &[fd, 1033, 8]),
        err(Errno::EBUSY)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_munmap, &[m, PAGE]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[fd, 1033, 8]), 0);
    assert_eq!(
        mmap_fd(&mut p, &mut k, PAGE, 3, SHARED, fd, 0),
        err(Errno::EPERM)
    );
    let r = mmap_fd(&mut p, &mut k, PAGE, 1, SHARED, fd, 0) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_mprotect, &[r, PAGE, 3]),
        err(Errno::EACCES)
    );
}
