//! Threads, futexes and waits, driven the way the kernel's CPU loop drives them: a call that
//! must wait returns `Outcome::Wait`; another thread's call wakes it; the woken thread's call
//! completes through `resume`.

use crate::nr::*;
use std::vec::Vec;

use coracle_vfs::{Wake, Waker};

use crate::tests::fake::{call, err, regs, sys, Fake, RW, SCRATCH};
use crate::{dispatch, resume, Current, Errno, Outcome};

const WAIT: u64 = 0;
const WAKE: u64 = 1;
const REQUEUE: u64 = 3;
const CMP_REQUEUE: u64 = 4;
const WAKE_OP: u64 = 5;
const WAIT_BITSET: u64 = 9;
const WAKE_BITSET: u64 = 10;
const PRIVATE: u64 = 128;

/// The fake process, with its scratch buffer recorded as a mapping: a shared futex looks its
/// word's mapping up (an unmapped word is EFAULT).
fn setup() -> (Current, Fake) {
    let (p, k) = crate::tests::fake::setup();
    p.process
        .mm
        .get()
        .lock()
        .record(SCRATCH, SCRATCH + 4 * crate::mm::PAGE, RW);
    (p, k)
}

/// A second thread of `p`'s process, as clone would make it.
fn second(p: &Current) -> Current {
    let tid = p.sys.sched.alloc_tid();
    p.new_thread(tid)
}

/// Ends `t`'s wait the way the CPU loop does and finishes its call.
fn finish(t: &mut Current, k: &mut Fake, r: &mut crate::UserRegs) -> Outcome {
    let why = t.thread.finish_wait().expect("the wait has ended");
    resume(t, k, r, why)
}

#[test]
fn futex_wait_is_woken_by_another_thread_with_zero() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    k.poke(SCRATCH, &7u32.to_le_bytes());
    let mut r = regs(SYS_futex, &[SCRATCH, WAIT | PRIVATE, 7, 0]);
    assert_eq!(dispatch(&mut t, &mut k, &mut r), Outcome::Wait);
    // A wake for another word, or a wake of nobody, leaves it waiting.
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH + 4, WAKE | PRIVATE, 1]),
        0
    );
    assert_eq!(t.thread.finish_wait(), None, "woken too early");
    // (finish_wait above ended the wait from the thread's side; start it again.)
    assert_eq!(dispatch(&mut t, &mut k, &mut r), Outcome::Wait);
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAKE | PRIVATE, 5]),
        1
    );
    assert_eq!(finish(&mut t, &mut k, &mut r), Outcome::Return(0));
    // Nobody waits any more.
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAKE | PRIVATE, 5]),
        0
    );
}

#[test]
fn futex_wait_checks_value_alignment_and_pointer() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, &1u32.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAIT, 2, 0]),
        err(Errno::EAGAIN)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH + 1, WAIT, 1, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[8, WAIT, 1, 0]),
        err(Errno::EFAULT)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAIT_BITSET, 1, 0, 0, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_futex, &[SCRATCH, 6, 0, 0]),
        err(Errno::ENOSYS)
    ); // LOCK_PI
}

#[test]
fn futex_timeout_is_relative_once_and_ends_with_etimedout() {
    let (mut p, mut k) = setup();
    k.now = 1_000;
    // timeout { 0 s, 500 ns } at SCRATCH + 64
    k.poke(
        SCRATCH + 64,
        &[&0u64.to_le_bytes()[..], &500u64.to_le_bytes()[..]].concat(),
    );
    let mut r = regs(SYS_futex, &[SCRATCH, WAIT, 0, SCRATCH + 64]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), Some(1_500));
    p.sys.sched.expire(1_500);
    k.now = 1_500;
    assert_eq!(
        finish(&mut p, &mut k, &mut r),
        Outcome::Return(err(Errno::ETIMEDOUT) as u64)
    );
    // The waiter is gone: a wake finds nobody.
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAKE, 1]), 0);
    assert_eq!(p.sys.sched.next_deadline(), None);
}

#[test]
fn futex_bitsets_select_waiters() {
    let (mut p, mut k) = setup();
    let mut a = second(&p);
    let mut b = second(&p);
    let mut ra = regs(SYS_futex, &[SCRATCH, WAIT_BITSET, 0, 0, 0, 0b01]);
    let mut rb = regs(SYS_futex, &[SCRATCH, WAIT_BITSET, 0, 0, 0, 0b10]);
    assert_eq!(dispatch(&mut a, &mut k, &mut ra), Outcome::Wait);
    assert_eq!(dispatch(&mut b, &mut k, &mut rb), Outcome::Wait);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAKE_BITSET, 9, 0, 0, 0b10]
        ),
        1
    );
    assert_eq!(finish(&mut b, &mut k, &mut rb), Outcome::Return(0));
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAKE_BITSET, 9, 0, 0, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAKE, 9]), 1);
    assert_eq!(finish(&mut a, &mut k, &mut ra), Outcome::Return(0));
}

#[test]
fn futex_requeue_moves_waiters_to_the_second_word() {
    let (mut p, mut k) = setup();
    let mut ts: std::vec::Vec<(Current, crate::UserRegs)> = (0..3)
        .map(|_| (second(&p), regs(SYS_futex, &[SCRATCH, WAIT, 0, 0])))
        .collect();
    for (t, r) in &mut ts {
        assert_eq!(dispatch(t, &mut k, r), Outcome::Wait);
    }
    // CMP_REQUEUE with a stale value fails; with the right one wakes 1 and moves up to 1.
    k.poke(SCRATCH, &3u32.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, CMP_REQUEUE, 1, 1, SCRATCH + 8, 4]
        ),
        err(Errno::EAGAIN)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, CMP_REQUEUE, 1, 1, SCRATCH + 8, 3]
        ),
        2
    );
    // Plain REQUEUE moves the last one too.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, REQUEUE, 0, 5, SCRATCH + 8]
        ),
        1
    );
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[SCRATCH, WAKE, 9]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_futex, &[SCRATCH + 8, WAKE, 9]), 2);
    for (t, r) in &mut ts {
        assert_eq!(finish(t, &mut k, r), Outcome::Return(0));
    }
}

#[test]
fn futex_wake_op_modifies_then_wakes_on_comparison() {
    let (mut p, mut k) = setup();
    let mut a = second(&p);
    let mut b = second(&p);
    let mut ra = regs(SYS_futex, &[SCRATCH, WAIT, 0, 0]);
    let mut rb = regs(SYS_futex, &[SCRATCH + 4, WAIT, 0, 0]);
    assert_eq!(dispatch(&mut a, &mut k, &mut ra), Outcome::Wait);
    assert_eq!(dispatch(&mut b, &mut k, &mut rb), Outcome::Wait);
    k.poke(SCRATCH + 4, &5u32.to_le_bytes());
    // op ADD 2 to *uaddr2; wake uaddr2's waiters if old == 5 (cmp EQ).
    let encoded: u64 = (1 << 28) | (2 << 12) | 5;
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAKE_OP, 1, 1, SCRATCH + 4, encoded]
        ),
        2
    );
    assert_eq!(k.peek(SCRATCH + 4, 4), 7u32.to_le_bytes());
    assert_eq!(finish(&mut a, &mut k, &mut ra), Outcome::Return(0));
    assert_eq!(finish(&mut b, &mut k, &mut rb), Outcome::Return(0));
    // Nobody waits now, but the operation still applies: ADD 2 (7 -> 9), then SET 2.
    let encoded_ne: u64 = (1 << 28) | (1 << 24) | (2 << 12) | 9;
    let encoded_eq: u64 = (1 << 24) | (2 << 12) | 9;
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAKE_OP, 1, 1, SCRATCH + 4, encoded_ne]
        ),
        0
    );
    assert_eq!(k.peek(SCRATCH + 4, 4), 9u32.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_futex,
            &[SCRATCH, WAKE_OP, 1, 1, SCRATCH + 4, encoded_eq]
        ),
        0
    );
    assert_eq!(k.peek(SCRATCH + 4, 4), 2u32.to_le_bytes());
}

#[test]
fn blocking_pipe_read_waits_for_a_writer_thread() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[SCRATCH]), 0); // pipe
    let fds = k.peek(SCRATCH, 8);
    let (rfd, wfd) = (
        u64::from(u32::from_le_bytes(fds[0..4].try_into().unwrap())),
        u64::from(u32::from_le_bytes(fds[4..8].try_into().unwrap())),
    );
    let mut r = regs(SYS_read, &[rfd, SCRATCH + 64, 16]);
    assert_eq!(dispatch(&mut t, &mut k, &mut r), Outcome::Wait);
    k.poke(SCRATCH + 128, b"hello");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[wfd, SCRATCH + 128, 5]), 5);
    assert_eq!(finish(&mut t, &mut k, &mut r), Outcome::Return(5));
    assert_eq!(k.peek(SCRATCH + 64, 5), b"hello");
    // Closing the last writer wakes a reader with end of file.
    assert_eq!(dispatch(&mut t, &mut k, &mut r), Outcome::Wait);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[wfd]), 0);
    assert_eq!(finish(&mut t, &mut k, &mut r), Outcome::Return(0));
}

#[test]
fn blocking_writev_larger_than_the_pipe_waits_until_all_is_written() {
    const BIG: u64 = 0x40_0000;
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[SCRATCH]), 0);
    let fds = k.peek(SCRATCH, 8);
    let rfd = u64::from(u32::from_le_bytes(fds[0..4].try_into().unwrap()));
    let wfd = u64::from(u32::from_le_bytes(fds[4..8].try_into().unwrap()));
    // 100 KiB in two buffers (40 KiB of 1s, 60 KiB of 2s), more than the pipe holds.
    k.map(BIG, 0x4_0000, crate::tests::fake::RW);
    k.poke(BIG, &[1u8; 40 << 10]);
    k.poke(BIG + 0x1_0000, &[2u8; 60 << 10]);
    let iov = [BIG, 40 << 10, BIG + 0x1_0000, 60 << 10];
    let iov: Vec<u8> = iov.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(SCRATCH + 64, &iov);
    let mut w = regs(SYS_writev, &[wfd, SCRATCH + 64, 2]); // writev
    assert_eq!(dispatch(&mut t, &mut k, &mut w), Outcome::Wait);
    // The reader drains the pipe as a readv over three buffers; the writer goes on each time.
    let out = BIG + 0x2_0000;
    let riov = [out, 10, out + 10, 0, out + 16, 0x1_8000];
    let riov: Vec<u8> = riov.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(SCRATCH + 256, &riov);
    let mut got = Vec::new();
    let mut wrote = None;
    while got.len() < 100 << 10 {
        let n = sys(&mut p, &mut k, SYS_readv, &[rfd, SCRATCH + 256, 3]); // readv
        assert!(n > 0, "readv: {n}");
        let n = n as usize;
        let mut chunk = k.peek(out, n.min(10));
        if n > 10 {
            chunk.extend(k.peek(out + 16, n - 10));
        }
        got.extend(chunk);
        if wrote.is_none() && t.thread.finish_wait().is_some() {
            match resume(&mut t, &mut k, &mut w, Wake::Retry) {
                Outcome::Return(n) => wrote = Some(n),
                Outcome::Wait => {}
                other => panic!("writev: {other:?}"),
            }
        }
    }
    assert_eq!(wrote, Some(100 << 10), "writev returns the whole count");
    assert!(got[..40 << 10].iter().all(|&b| b == 1));
    assert!(got[40 << 10..].iter().all(|&b| b == 2));
}

#[test]
fn writev_stops_at_a_bad_buffer_after_writing_what_came_before() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[SCRATCH]), 0);
    let fds = k.peek(SCRATCH, 8);
    let rfd = u64::from(u32::from_le_bytes(fds[0..4].try_into().unwrap()));
    let wfd = u64::from(u32::from_le_bytes(fds[4..8].try_into().unwrap()));
    k.poke(SCRATCH + 128, b"abc");
    let iov = [SCRATCH + 128, 3, 8, 4];
    let iov: Vec<u8> = iov.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(SCRATCH + 64, &iov);
    assert_eq!(sys(&mut p, &mut k, SYS_writev, &[wfd, SCRATCH + 64, 2]), 3);
    // With the bad buffer first, nothing is written: EFAULT.
    let iov = [8, 4, SCRATCH + 128, 3];
    let iov: Vec<u8> = iov.iter().flat_map(|v| v.to_le_bytes()).collect();
    k.poke(SCRATCH + 64, &iov);
    assert_eq!(
        sys(&mut p, &mut k, SYS_writev, &[wfd, SCRATCH + 64, 2]),
        err(Errno::EFAULT)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[rfd, SCRATCH + 512, 64]), 3);
    assert_eq!(k.peek(SCRATCH + 512, 3), b"abc");
}

#[test]
fn an_interrupt_ends_a_blocking_read_for_signal_delivery_to_finish() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[SCRATCH]), 0);
    let rfd = u64::from(u32::from_le_bytes(k.peek(SCRATCH, 4).try_into().unwrap()));
    let mut r = regs(SYS_read, &[rfd, SCRATCH + 64, 16]);
    r.rip = 0x40_1002;
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert!(p.thread.interrupt());
    assert!(!p.thread.interrupt(), "only one wake ends a wait");
    // -ERESTARTSYS: EINTR if a handler runs, the call again otherwise (tests/signal.rs).
    assert_eq!(
        finish(&mut p, &mut k, &mut r),
        Outcome::Return(err(Errno::ERESTARTSYS) as u64)
    );
    r.rax = err(Errno::ERESTARTSYS) as u64;
    assert_eq!(crate::signal::deliver(&mut p, &mut k, &mut r), None);
    assert_eq!(
        (r.rax, r.rip),
        (0, 0x40_1000),
        "no signal came: read runs again"
    );
}

#[test]
fn poll_waits_on_every_fd_and_times_out() {
    let (mut p, mut k) = setup();
    k.now = 10;
    assert_eq!(sys(&mut p, &mut k, SYS_pipe, &[SCRATCH]), 0);
    let fds = k.peek(SCRATCH, 8);
    let rfd = u32::from_le_bytes(fds[0..4].try_into().unwrap());
    let wfd = u64::from(u32::from_le_bytes(fds[4..8].try_into().unwrap()));
    // struct pollfd { fd, events = POLLIN, revents }
    let mut rec = std::vec::Vec::new();
    rec.extend_from_slice(&rfd.to_le_bytes());
    rec.extend_from_slice(&1u16.to_le_bytes());
    rec.extend_from_slice(&0u16.to_le_bytes());
    k.poke(SCRATCH + 64, &rec);
    let mut r = regs(SYS_poll, &[SCRATCH + 64, 1, 5]); // 5 ms
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    p.sys.sched.expire(10 + 5_000_000);
    assert_eq!(finish(&mut p, &mut k, &mut r), Outcome::Return(0));
    // Data from another thread ends the wait with the fd ready.
    let mut t = second(&p);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    k.poke(SCRATCH + 128, b"x");
    assert_eq!(sys(&mut t, &mut k, SYS_write, &[wfd, SCRATCH + 128, 1]), 1);
    assert_eq!(finish(&mut p, &mut k, &mut r), Outcome::Return(1));
    assert_eq!(k.peek(SCRATCH + 70, 2), 1u16.to_le_bytes());
}

#[test]
fn clone_makes_a_runnable_thread_with_the_callers_registers() {
    let (mut p, mut k) = setup();
    const FLAGS: u64 = 0x100
        | 0x200
        | 0x400
        | 0x800
        | 0x1_0000
        | 0x4_0000
        | 0x8_0000
        | 0x10_0000
        | 0x20_0000
        | 0x100_0000;
    let mut r = regs(
        SYS_clone,
        &[FLAGS, 0x7000_0000, SCRATCH, SCRATCH + 8, 0x1234_0000],
    );
    r.rip = 0x40_1000;
    r.rbx = 42;
    let Outcome::Return(tid) = dispatch(&mut p, &mut k, &mut r) else {
        panic!("clone failed")
    };
    assert!(tid > 1);
    assert_eq!(
        k.peek(SCRATCH, 4),
        (tid as u32).to_le_bytes(),
        "PARENT_SETTID"
    );
    assert_eq!(
        k.peek(SCRATCH + 8, 4),
        (tid as u32).to_le_bytes(),
        "CHILD_SETTID"
    );
    let task = p.sys.sched.pick(0).expect("the new thread is runnable");
    let body = task.body.lock();
    assert_eq!(body.current.tid as u64, tid);
    assert_eq!(body.current.clear_child_tid, SCRATCH + 8);
    assert_eq!(
        (body.regs.rax, body.regs.rsp, body.regs.rip, body.regs.rbx),
        (0, 0x7000_0000, 0x40_1000, 42)
    );
    assert_eq!(body.regs.fs_base, 0x1234_0000);
    assert_eq!(*p.process.threads.lock(), [1, tid as u32]);
}

#[test]
fn clone_checks_flag_dependencies() {
    let (mut p, mut k) = setup();
    // CLONE_THREAD without CLONE_SIGHAND, CLONE_SIGHAND without CLONE_VM.
    assert_eq!(
        sys(&mut p, &mut k, SYS_clone, &[0x1_0000 | 0x100]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_clone, &[0x800]), err(Errno::EINVAL));
    // clone3 with a too-small struct, or unknown non-zero trailing bytes.
    assert_eq!(
        sys(&mut p, &mut k, SYS_clone3, &[SCRATCH, 32]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH + 100, &[1]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_clone3, &[SCRATCH, 128]),
        err(Errno::E2BIG)
    );
    assert!(p.sys.sched.pick(0).is_none(), "nothing was created");
}

#[test]
fn thread_exit_clears_tid_wakes_joiner_and_the_last_exit_ends_the_process() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    t.clear_child_tid = SCRATCH + 16;
    k.poke(SCRATCH + 16, &t.tid.to_le_bytes());
    // The main thread joins: waits while the word holds the tid.
    let mut r = regs(SYS_futex, &[SCRATCH + 16, WAIT, u64::from(t.tid), 0]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(call(&mut t, &mut k, SYS_exit, &[3]), Outcome::ExitThread);
    assert_eq!(k.peek(SCRATCH + 16, 4), [0; 4]);
    assert_eq!(finish(&mut p, &mut k, &mut r), Outcome::Return(0));
    // The main thread's exit is the process's: status 9.
    assert_eq!(call(&mut p, &mut k, SYS_exit, &[9]), Outcome::Exit(9));
}

#[test]
fn robust_list_is_reported_and_walked_when_its_thread_exits() {
    const OWNER_DIED: u32 = 0x4000_0000;
    const WAITERS: u32 = 0x8000_0000;
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    p.process.threads.lock().push(t.tid);
    // get_robust_list tells whether the kernel has them (musl asks before making a mutex
    // robust): nothing registered yet.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_get_robust_list,
            &[0, SCRATCH, SCRATCH + 8]
        ),
        0
    );
    assert_eq!(
        k.peek(SCRATCH, 16),
        [[0u8; 8], 24u64.to_le_bytes()].concat()
    );
    // The head at SCRATCH+64 lists one lock, whose word is 8 bytes past its entry (entry at
    // SCRATCH+128, word at SCRATCH+136), held by t with a waiter.
    let (head, entry) = (SCRATCH + 64, SCRATCH + 128);
    k.poke(head, &entry.to_le_bytes());
    k.poke(head + 8, &8u64.to_le_bytes());
    k.poke(head + 16, &0u64.to_le_bytes());
    k.poke(entry, &head.to_le_bytes());
    k.poke(entry + 8, &(t.tid | WAITERS).to_le_bytes());
    assert_eq!(
        sys(&mut t, &mut k, SYS_set_robust_list, &[head, 23]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut t, &mut k, SYS_set_robust_list, &[head, 24]), 0);
    // Another thread of the process can read it; a tid outside the process cannot.
    let tid = u64::from(t.tid);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_get_robust_list,
            &[tid, SCRATCH, SCRATCH + 8]
        ),
        0
    );
    assert_eq!(k.peek(SCRATCH, 8), head.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_get_robust_list,
            &[tid + 1000, SCRATCH, SCRATCH + 8]
        ),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_get_robust_list, &[0, 8, SCRATCH + 8]),
        err(Errno::EFAULT)
    );
    // The main thread waits for the lock; t exits holding it: the word says its owner died
    // (the waiter bit kept) and the waiter is woken.
    let word = u64::from(t.tid | WAITERS);
    let mut r = regs(SYS_futex, &[entry + 8, WAIT, word, 0]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    assert_eq!(call(&mut t, &mut k, SYS_exit, &[0]), Outcome::ExitThread);
    assert_eq!(k.peek(entry + 8, 4), (OWNER_DIED | WAITERS).to_le_bytes());
    assert_eq!(finish(&mut p, &mut k, &mut r), Outcome::Return(0));
}

#[test]
fn set_tid_address_returns_the_callers_thread_id() {
    let (p, mut k) = setup();
    let mut t = second(&p);
    assert_eq!(
        sys(&mut t, &mut k, SYS_set_tid_address, &[SCRATCH]),
        i64::from(t.tid)
    );
    assert_ne!(t.tid, p.tid);
    assert_eq!(t.clear_child_tid, SCRATCH);
}

#[test]
fn gettid_is_per_thread_and_getpid_per_process() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    assert_eq!(sys(&mut p, &mut k, SYS_gettid, &[]), 1);
    assert_eq!(sys(&mut t, &mut k, SYS_gettid, &[]), i64::from(t.tid));
    assert_ne!(t.tid, 1);
    assert_eq!(sys(&mut t, &mut k, SYS_getpid, &[]), 1);
}

#[test]
fn main_thread_exit_status_wins_over_the_last_thread() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    assert_eq!(call(&mut p, &mut k, SYS_exit, &[4]), Outcome::ExitThread);
    assert_eq!(call(&mut t, &mut k, SYS_exit, &[0]), Outcome::Exit(4));
}

#[test]
fn stale_registrations_are_ignored() {
    let (p, _k) = setup();
    let token = p.thread.begin_wait();
    assert!(p.thread.wake(token, Wake::Retry));
    assert_eq!(p.thread.finish_wait(), Some(Wake::Retry));
    let next = p.thread.begin_wait();
    assert_ne!(next, token);
    assert!(
        !p.thread.wake(token, Wake::Retry),
        "an old token wakes nothing"
    );
    assert!(p.thread.is_waiting(next));
}
