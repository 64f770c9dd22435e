//! select waits through the scheduler like poll; its fd sets are input and output at once.

use crate::nr::*;
use crate::tests::epoll::{finish, pipe, second};
use crate::tests::fake::{regs, setup, sys, SCRATCH};
use crate::{dispatch, Outcome};

#[test]
fn a_blocked_select_keeps_its_sets_until_it_returns() {
    // Regression: the first, unsuccessful look wrote empty sets back, so the run after the
    // wake watched nothing and slept for ever.
    let (mut p, mut k) = setup();
    let (r, w) = pipe(&mut p, &mut k);
    let set = SCRATCH + 0x100;
    k.poke(set, &(1u64 << r).to_le_bytes());
    let mut t = second(&p);
    let mut rt = regs(SYS_pselect6, &[r + 1, set, 0, 0, 0, 0]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    assert_eq!(
        k.peek(set, 8),
        (1u64 << r).to_le_bytes(),
        "untouched while waiting"
    );
    k.poke(SCRATCH, b"x");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[w, SCRATCH, 1]), 1);
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(1));
    assert_eq!(k.peek(set, 8), (1u64 << r).to_le_bytes());
    // A timeout clears the sets: watch the write end for reading (never ready) for 0 s.
    k.poke(set, &(1u64 << w).to_le_bytes());
    k.poke(SCRATCH + 0x200, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_select,
            &[w + 1, set, 0, 0, SCRATCH + 0x200]
        ),
        0
    );
    assert_eq!(k.peek(set, 8), [0u8; 8]);
}

/// A timeout too long to count in nanoseconds waits (for ever, in practice); it used to wrap
/// around: 2^62 s is 0 modulo 2^64 ns, and select returned at once (found by the random-call
/// test).
#[test]
fn a_huge_select_timeout_waits_instead_of_wrapping() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, &(1u64 << 62).to_le_bytes());
    k.poke(SCRATCH + 8, &0u64.to_le_bytes());
    let mut r = regs(SYS_select, &[0, 0, 0, 0, SCRATCH]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let deadline = p.sys.sched.next_deadline();
    assert!(
        deadline.is_none_or(|d| d > k.now + 1_000_000_000_000_000),
        "deadline {deadline:?} is not far off"
    );
}
