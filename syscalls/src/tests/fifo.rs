//! FIFO opens wait for the other end (fifo(7)), through the scheduler's wait path.

use crate::nr::*;
use crate::tests::epoll::{finish, second};
use crate::tests::fake::{err, regs, setup, sys, Fake, SCRATCH};
use crate::{dispatch, Current, Errno, Outcome, UserRegs};

const O_RDONLY: u64 = 0;
const O_WRONLY: u64 = 1;
const O_RDWR: u64 = 2;
const O_NONBLOCK: u64 = 0o4000;
const PATH: u64 = SCRATCH;

fn fifo(p: &mut Current, k: &mut Fake) {
    k.poke(PATH, b"/work/fifo\0");
    assert_eq!(sys(p, k, SYS_mknod, &[PATH, 0o010_644, 0]), 0);
}

fn open(flags: u64) -> UserRegs {
    regs(SYS_open, &[PATH, flags, 0])
}

#[test]
fn nonblocking_fifo_opens_follow_the_rules() {
    let (mut p, mut k) = setup();
    fifo(&mut p, &mut k);
    // No reader: a non-blocking writer gets ENXIO, a non-blocking reader opens at once.
    assert_eq!(
        sys(&mut p, &mut k, SYS_open, &[PATH, O_WRONLY | O_NONBLOCK, 0]),
        err(Errno::ENXIO)
    );
    let r = sys(&mut p, &mut k, SYS_open, &[PATH, O_RDONLY | O_NONBLOCK, 0]);
    assert!(r >= 0);
    // Now there is a reader.
    assert!(sys(&mut p, &mut k, SYS_open, &[PATH, O_WRONLY | O_NONBLOCK, 0]) >= 0);
    // O_RDWR never waits.
    assert!(sys(&mut p, &mut k, SYS_open, &[PATH, O_RDWR, 0]) >= 0);
}

#[test]
fn a_blocking_reader_waits_for_a_writer_and_counts_as_a_reader_meanwhile() {
    let (mut p, mut k) = setup();
    fifo(&mut p, &mut k);
    let mut t = second(&p);
    let mut rt = open(O_RDONLY);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    // The waiting reader is a reader: a non-blocking writer may open, and that ends the wait.
    let w = sys(&mut p, &mut k, SYS_open, &[PATH, O_WRONLY | O_NONBLOCK, 0]);
    assert!(w >= 0, "{w}");
    let Outcome::Return(r) = finish(&mut t, &mut k, &mut rt) else {
        panic!("the open did not complete");
    };
    assert!((r as i64) >= 0);
    // They are connected.
    k.poke(SCRATCH + 0x100, b"hi");
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[w as u64, SCRATCH + 0x100, 2]),
        2
    );
    assert_eq!(sys(&mut t, &mut k, SYS_read, &[r, SCRATCH + 0x200, 8]), 2);
    assert_eq!(k.peek(SCRATCH + 0x200, 2), b"hi");
}

#[test]
fn a_blocking_writer_waits_for_a_reader() {
    let (mut p, mut k) = setup();
    fifo(&mut p, &mut k);
    let mut t = second(&p);
    let mut rt = open(O_WRONLY);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    // A blocking reader finds the waiting writer and does not wait.
    let r = sys(&mut p, &mut k, SYS_open, &[PATH, O_RDONLY, 0]);
    assert!(r >= 0, "{r}");
    let Outcome::Return(w) = finish(&mut t, &mut k, &mut rt) else {
        panic!("the open did not complete");
    };
    assert!((w as i64) >= 0);
}

#[test]
fn an_interrupted_fifo_open_undoes_itself() {
    let (mut p, mut k) = setup();
    fifo(&mut p, &mut k);
    let mut t = second(&p);
    let mut rt = open(O_RDONLY);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    assert!(t.thread.interrupt());
    // -ERESTARTSYS: signal delivery makes it EINTR, or opens again (tests/signal).
    assert_eq!(
        finish(&mut t, &mut k, &mut rt),
        Outcome::Return(err(Errno::ERESTARTSYS) as u64)
    );
    // The reader it had opened is gone again.
    assert_eq!(
        sys(&mut p, &mut k, SYS_open, &[PATH, O_WRONLY | O_NONBLOCK, 0]),
        err(Errno::ENXIO)
    );
}

#[test]
fn a_pipe_reopened_through_proc_never_waits() {
    // bash's `cat <(echo a)`: the writer has written and gone when cat opens /dev/fd/63.
    let (mut p, mut k) = setup();
    let fds = SCRATCH + 0x400;
    assert_eq!(sys(&mut p, &mut k, SYS_pipe2, &[fds, 0]), 0);
    let fd = |k: &Fake, i: u64| u32::from_le_bytes(k.peek(fds + 4 * i, 4).try_into().unwrap());
    let (r, w) = (fd(&k, 0), fd(&k, 1));
    k.poke(SCRATCH + 0x100, b"abc");
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[w.into(), SCRATCH + 0x100, 3]),
        3
    );
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[w.into()]), 0);
    k.poke(PATH, alloc::format!("/proc/self/fd/{r}\0").as_bytes());
    let again = sys(&mut p, &mut k, SYS_open, &[PATH, O_RDONLY, 0]);
    assert!(again >= 0, "{again}");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_read,
            &[again as u64, SCRATCH + 0x200, 8]
        ),
        3
    );
    assert_eq!(k.peek(SCRATCH + 0x200, 3), b"abc");
    // The other way round: a writer without a reader opens too (and its write gets EPIPE).
    let fds2 = SCRATCH + 0x500;
    assert_eq!(sys(&mut p, &mut k, SYS_pipe2, &[fds2, 0]), 0);
    let (r2, w2) = (fd(&k, 0x40), fd(&k, 0x41));
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[r2.into()]), 0);
    k.poke(PATH, alloc::format!("/proc/self/fd/{w2}\0").as_bytes());
    assert!(sys(&mut p, &mut k, SYS_open, &[PATH, O_WRONLY, 0]) >= 0);
}
