//! Futexes between processes: a shared futex is keyed by what backs its word (Linux's
//! get_futex_key), so a wait in one process meets a wake in another on shared anonymous memory
//! inherited over fork and on one file mapped by both at different addresses; private futexes,
//! and futexes in private memory, stay within their process.

use crate::nr::*;

use super::fake::*;
use super::mman::{mmap, write, PROT_RW};
use super::process::{as_proc, fork};
use crate::{dispatch, resume, Current, Errno, Outcome};

const WAIT: u64 = 0;
const WAKE: u64 = 1;
const CMP_REQUEUE: u64 = 4;
const PRIVATE: u64 = 128;
const SHARED_ANON: u64 = 0x21;
const MAP_SHARED: u64 = 1;

/// Starts `who`'s FUTEX_WAIT (with `op`) for 0 at `addr`, in its own address space; it must
/// queue.
fn start_wait(who: &mut Current, back: &Current, k: &mut Fake, addr: u64, op: u64) {
    as_proc(who, back, k, |c, k| {
        let mut r = regs(SYS_futex, &[addr, op, 0, 0]);
        assert_eq!(dispatch(c, k, &mut r), Outcome::Wait);
    });
}

/// Whether `who`'s wait was woken; if so its call is finished (it returns 0).
fn woken(who: &mut Current, back: &Current, k: &mut Fake, addr: u64, op: u64) -> bool {
    as_proc(who, back, k, |c, k| {
        let Some(why) = c.thread.finish_wait() else {
            return false;
        };
        let mut r = regs(SYS_futex, &[addr, op, 0, 0]);
        assert_eq!(resume(c, k, &mut r, why), Outcome::Return(0));
        true
    })
}

/// A second thread of `p`'s process, as clone would make it.
fn sibling(p: &Current) -> Current {
    let tid = p.sys.sched.alloc_tid();
    p.new_thread(tid)
}

#[test]
fn shared_anonymous_memory_meets_across_fork_and_private_futexes_do_not() {
    let (mut p, mut k) = setup();
    let word = mmap(&mut p, &mut k, 0, 4096, PROT_RW, SHARED_ANON) as u64 + 8;
    write(&p, &mut k, word, &0u32.to_le_bytes()).unwrap();
    let (mut child, _) = fork(&mut p, &mut k);

    start_wait(&mut child, &p, &mut k, word, WAIT);
    // Before this change the key was (process, address): the parent's wake found nobody.
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[word, WAKE, 1]), 1);
    assert!(woken(&mut child, &p, &mut k, word, WAIT));

    // A private wait is the child's own: neither a private nor a shared wake of the parent's
    // reaches it.
    start_wait(&mut child, &p, &mut k, word, WAIT | PRIVATE);
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[word, WAKE | PRIVATE, 1]),
        0
    );
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[word, WAKE, 1]), 0);
    // A private wake of another thread of the child's does.
    let mut sibling = sibling(&child);
    let n = as_proc(&mut sibling, &p, &mut k, |c, k| {
        sys(c, k, SYS_futex, &[word, WAKE | PRIVATE, 1])
    });
    assert_eq!(n, 1);
    assert!(woken(&mut child, &p, &mut k, word, WAIT | PRIVATE));
}

#[test]
fn a_word_in_private_memory_is_each_processs_own() {
    let (mut p, mut k) = setup();
    let word = mmap(&mut p, &mut k, 0, 4096, PROT_RW, 0x22) as u64;
    write(&p, &mut k, word, &0u32.to_le_bytes()).unwrap();
    let (mut child, _) = fork(&mut p, &mut k);
    start_wait(&mut child, &p, &mut k, word, WAIT);
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[word, WAKE, 1]), 0);
    // Within the child a private wake meets a shared wait on private memory (the same key).
    let mut sibling = sibling(&child);
    let n = as_proc(&mut sibling, &p, &mut k, |c, k| {
        sys(c, k, SYS_futex, &[word, WAKE | PRIVATE, 1])
    });
    assert_eq!(n, 1, "a private wake meets a shared wait on private memory");
    assert!(woken(&mut child, &p, &mut k, word, WAIT));
}

#[test]
fn one_file_mapped_at_different_addresses_meets_by_offset() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"f\0");
    let fd = sys(&mut p, &mut k, SYS_memfd_create, &[SCRATCH, 0]) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_ftruncate, &[fd, 2 * 4096]), 0);
    let (mut child, _) = fork(&mut p, &mut k);
    let a = sys(
        &mut p,
        &mut k,
        SYS_mmap,
        &[0, 8192, PROT_RW, MAP_SHARED, fd, 0],
    ) as u64;
    assert!(a > 0);
    // The child maps only the second page, somewhere else.
    let b = as_proc(&mut child, &p, &mut k, |c, k| {
        assert!(mmap(c, k, 0, 3 * 4096, 1, 0x22) > 0);
        let b = sys(c, k, SYS_mmap, &[0, 4096, PROT_RW, MAP_SHARED, fd, 4096]) as u64;
        write(c, k, b + 4, &0u32.to_le_bytes()).unwrap();
        b
    });
    assert_ne!(a + 4096, b);
    start_wait(&mut child, &p, &mut k, b + 4, WAIT);
    // The same offset in the other page, or the same page at another offset: nobody.
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[a + 4, WAKE, 1]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[a + 4096, WAKE, 1]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[a + 4096 + 4, WAKE, 1]), 1);
    assert!(woken(&mut child, &p, &mut k, b + 4, WAIT));

    // CMP_REQUEUE finds the second word by its backing too.
    start_wait(&mut child, &p, &mut k, b + 4, WAIT);
    write(&p, &mut k, a + 4096 + 4, &0u32.to_le_bytes()).unwrap();
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[a + 4096 + 4, CMP_REQUEUE, 0, 1, a + 64, 0]
        ),
        1
    );
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[a + 4096 + 4, WAKE, 1]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[a + 64, WAKE, 1]), 1);
    assert!(woken(&mut child, &p, &mut k, b + 4, WAIT));
}

#[test]
fn a_shared_futex_needs_a_mapping_and_a_private_one_does_not() {
    let (mut p, mut k) = setup();
    let hole = 0x5000_0000u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[hole, WAKE, 1]),
        err(Errno::EFAULT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[hole, WAKE | PRIVATE, 1]),
        0
    );
    let none = mmap(&mut p, &mut k, 0, 4096, 0, 0x22) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[none, WAKE, 1]),
        err(Errno::EFAULT)
    );
}
