//! brk, mmap, munmap, mprotect, madvise against the VMA list and the fake page tables.

use super::fake::*;
use crate::Errno;

const PROT_RW: u64 = 3;
const ANON_PRIVATE: u64 = 0x22;
const FIXED: u64 = 0x10;
const NOREPLACE: u64 = 0x10_0000;

#[test]
fn anonymous_mmap_is_zeroed_page_aligned_and_top_down() {
    let (mut p, mut k) = setup();
    let a = sys(
        &mut p,
        &mut k,
        9,
        &[0, 10_000, PROT_RW, ANON_PRIVATE, u64::MAX, 0],
    );
    assert!(a > 0 && (a as u64).is_multiple_of(PAGE), "{a:#x}");
    assert_eq!(a as u64 + 3 * PAGE, 0x7f00_0000_0000);
    assert_eq!(k.peek(a as u64, 16), [0; 16]);
    let b = sys(
        &mut p,
        &mut k,
        9,
        &[0, PAGE, PROT_RW, ANON_PRIVATE, u64::MAX, 0],
    );
    assert_eq!(
        b as u64 + PAGE,
        a as u64,
        "the next mapping goes just below"
    );
}

#[test]
fn mmap_argument_errors() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[0, 0, PROT_RW, ANON_PRIVATE, u64::MAX, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, 9, &[0, PAGE, PROT_RW, 0x20, u64::MAX, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[0, PAGE, 0x80, ANON_PRIVATE, u64::MAX, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[0, PAGE, PROT_RW, ANON_PRIVATE, u64::MAX, 5]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[0x1001, PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[0, u64::MAX, PROT_RW, ANON_PRIVATE, u64::MAX, 0]
        ),
        err(Errno::ENOMEM)
    );
    // A file mapping of a pipe (ENODEV), of a write-only fd (EACCES), of a closed fd.
    assert_eq!(
        sys(&mut p, &mut k, 9, &[0, PAGE, 1, 2, 0, 0]),
        err(Errno::ENODEV)
    );
    assert_eq!(
        sys(&mut p, &mut k, 9, &[0, PAGE, 1, 2, 1, 0]),
        err(Errno::EACCES)
    );
    assert_eq!(
        sys(&mut p, &mut k, 9, &[0, PAGE, 1, 2, 40, 0]),
        err(Errno::EBADF)
    );
}

#[test]
fn fixed_replaces_and_fixed_noreplace_refuses() {
    let (mut p, mut k) = setup();
    let at = 0x4000_0000u64;
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[at, 2 * PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0]
        ),
        at as i64
    );
    k.poke(at, b"data");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[
                at + PAGE,
                PAGE,
                PROT_RW,
                ANON_PRIVATE | NOREPLACE,
                u64::MAX,
                0
            ]
        ),
        err(Errno::EEXIST)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            9,
            &[at, PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0]
        ),
        at as i64
    );
    assert_eq!(k.peek(at, 4), [0; 4], "MAP_FIXED gives fresh zero pages");
    let vmas: std::vec::Vec<_> = p.shared.mm.lock().vmas().collect();
    assert_eq!(vmas.len(), 2, "{vmas:?}");
}

#[test]
fn munmap_splits_and_frees() {
    let (mut p, mut k) = setup();
    let at = 0x4000_0000u64;
    sys(
        &mut p,
        &mut k,
        9,
        &[at, 3 * PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0],
    );
    assert_eq!(sys(&mut p, &mut k, 11, &[at + PAGE, PAGE]), 0);
    assert!(
        k.pages.contains_key(&at)
            && !k.pages.contains_key(&(at + PAGE))
            && k.pages.contains_key(&(at + 2 * PAGE))
    );
    assert_eq!(p.shared.mm.lock().vmas().count(), 2);
    assert_eq!(sys(&mut p, &mut k, 11, &[at + 1, PAGE]), err(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, 11, &[at, 0]), err(Errno::EINVAL));
    // Unmapping a hole is fine.
    assert_eq!(sys(&mut p, &mut k, 11, &[0x5000_0000, PAGE]), 0);
}

#[test]
fn mprotect_changes_permissions_and_needs_a_mapping() {
    let (mut p, mut k) = setup();
    let at = 0x4000_0000u64;
    sys(
        &mut p,
        &mut k,
        9,
        &[at, 2 * PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0],
    );
    assert_eq!(sys(&mut p, &mut k, 10, &[at, PAGE, 1]), 0);
    assert_eq!(k.pages[&at].1, RO);
    assert_eq!(k.pages[&(at + PAGE)].1, RW);
    assert_eq!(
        sys(&mut p, &mut k, 10, &[at, 3 * PAGE, 1]),
        err(Errno::ENOMEM)
    );
    assert_eq!(
        sys(&mut p, &mut k, 10, &[at + 1, PAGE, 1]),
        err(Errno::EINVAL)
    );
    // PROT_NONE reservations map nothing until made accessible.
    let r = sys(
        &mut p,
        &mut k,
        9,
        &[0, 16 * PAGE, 0, ANON_PRIVATE, u64::MAX, 0],
    ) as u64;
    assert!(!k.pages.contains_key(&r));
    assert_eq!(sys(&mut p, &mut k, 10, &[r, PAGE, 3]), 0);
    assert!(k.pages.contains_key(&r) && !k.pages.contains_key(&(r + PAGE)));
}

#[test]
fn brk_grows_shrinks_and_refuses_below_start() {
    let (mut p, mut k) = setup();
    let start = sys(&mut p, &mut k, 12, &[0]);
    assert_eq!(start, 0x60_0000);
    assert_eq!(
        sys(&mut p, &mut k, 12, &[0x60_0000 + 10_000]),
        0x60_0000 + 10_000
    );
    k.poke(0x60_0000 + 9_000, b"x");
    assert_eq!(sys(&mut p, &mut k, 12, &[0x10_0000]), 0x60_0000 + 10_000);
    assert_eq!(
        sys(&mut p, &mut k, 12, &[0x60_0000 + PAGE]),
        (0x60_0000 + PAGE) as i64
    );
    assert!(!k.pages.contains_key(&(0x60_0000 + 2 * PAGE)));
    // Growing into an existing mapping fails and keeps the old break.
    sys(
        &mut p,
        &mut k,
        9,
        &[
            0x60_0000 + 8 * PAGE,
            PAGE,
            PROT_RW,
            ANON_PRIVATE | FIXED,
            u64::MAX,
            0,
        ],
    );
    assert_eq!(
        sys(&mut p, &mut k, 12, &[0x60_0000 + 20 * PAGE]),
        (0x60_0000 + PAGE) as i64
    );
}

#[test]
fn madvise_dontneed_zeroes() {
    let (mut p, mut k) = setup();
    let at = 0x4000_0000u64;
    sys(
        &mut p,
        &mut k,
        9,
        &[at, PAGE, PROT_RW, ANON_PRIVATE | FIXED, u64::MAX, 0],
    );
    k.poke(at, b"abc");
    assert_eq!(sys(&mut p, &mut k, 28, &[at, PAGE, 4]), 0);
    assert_eq!(k.peek(at, 3), [0, 0, 0]);
}
