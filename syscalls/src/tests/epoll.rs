//! epoll over pipes, eventfds, timerfds and other epolls, driven as the CPU loop drives
//! waits (see tests::threads).

use crate::nr::*;
use std::sync::Arc;
use std::vec::Vec;

use crate::tests::fake::{err, regs, setup, sys, Fake, SCRATCH};
use crate::{dispatch, resume, Current, Errno, Outcome, UserRegs};

pub(super) const ADD: u64 = 1;
pub(super) const DEL: u64 = 2;
pub(super) const MOD: u64 = 3;
pub(super) const EPOLLIN: u32 = 1;
pub(super) const EPOLLOUT: u32 = 4;
pub(super) const EPOLLERR: u32 = 8;
pub(super) const EPOLLHUP: u32 = 0x10;
pub(super) const EPOLLEXCLUSIVE: u32 = 1 << 28;
pub(super) const EPOLLONESHOT: u32 = 1 << 30;
pub(super) const EPOLLET: u32 = 1 << 31;
pub(super) const FOREVER: u64 = 0xffff_ffff; // timeout -1 as an int argument

/// Where tests keep an epoll_event for ctl, and the event array for wait.
pub(super) const EV: u64 = SCRATCH + 0x800;
pub(super) const EVENTS: u64 = SCRATCH + 0x1000;

/// A second thread of `p`'s process.
pub(super) fn second(p: &Current) -> Current {
    let tid = p.sys.sched.alloc_tid();
    p.new_thread(tid)
}

/// Ends `t`'s wait the way the CPU loop does and finishes its call.
pub(super) fn finish(t: &mut Current, k: &mut Fake, r: &mut UserRegs) -> Outcome {
    let why = t.thread.finish_wait().expect("the wait has ended");
    resume(t, k, r, why)
}

pub(super) fn pipe(p: &mut Current, k: &mut Fake) -> (u64, u64) {
    assert_eq!(sys(p, k, SYS_pipe, &[SCRATCH]), 0);
    let b = k.peek(SCRATCH, 8);
    (
        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]])),
    )
}

pub(super) fn ctl(
    p: &mut Current,
    k: &mut Fake,
    ep: u64,
    op: u64,
    fd: u64,
    events: u32,
    data: u64,
) -> i64 {
    let mut b = events.to_le_bytes().to_vec();
    b.extend_from_slice(&data.to_le_bytes());
    k.poke(EV, &b);
    sys(p, k, SYS_epoll_ctl, &[ep, op, fd, EV])
}

pub(super) fn events_at(k: &Fake, n: usize) -> Vec<(u32, u64)> {
    let b = k.peek(EVENTS, n * 12);
    b.chunks(12)
        .map(|c| {
            let ev = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let mut d = [0u8; 8];
            d.copy_from_slice(&c[4..]);
            (ev, u64::from_le_bytes(d))
        })
        .collect()
}

/// epoll_wait with timeout 0.
pub(super) fn ready(p: &mut Current, k: &mut Fake, ep: u64, max: u64) -> Vec<(u32, u64)> {
    let n = sys(p, k, SYS_epoll_wait, &[ep, EVENTS, max, 0]);
    assert!(n >= 0, "epoll_wait failed: {n}");
    events_at(k, n as usize)
}

pub(super) fn put(p: &mut Current, k: &mut Fake, fd: u64, data: &[u8]) {
    k.poke(SCRATCH + 0x400, data);
    assert_eq!(
        sys(p, k, SYS_write, &[fd, SCRATCH + 0x400, data.len() as u64]),
        data.len() as i64
    );
}

pub(super) fn take(p: &mut Current, k: &mut Fake, fd: u64, n: u64) -> i64 {
    sys(p, k, SYS_read, &[fd, SCRATCH + 0x400, n])
}

pub(super) fn epoll(p: &mut Current, k: &mut Fake) -> u64 {
    let ep = sys(p, k, SYS_epoll_create1, &[0]);
    assert!(ep >= 0);
    ep as u64
}

#[test]
fn epoll_create_flags_cloexec_and_name() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_create, &[0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_create1, &[1]),
        err(Errno::EINVAL)
    );
    let plain = sys(&mut p, &mut k, SYS_epoll_create, &[1]) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[plain, 1]), 0); // F_GETFD
    let ep = sys(&mut p, &mut k, SYS_epoll_create1, &[0o2000000]) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[ep, 1]), 1); // FD_CLOEXEC
    let path = std::format!("/proc/self/fd/{ep}\0");
    k.poke(SCRATCH, path.as_bytes());
    let n = sys(
        &mut p,
        &mut k,
        SYS_readlink,
        &[SCRATCH, SCRATCH + 0x100, 64],
    );
    assert_eq!(
        k.peek(SCRATCH + 0x100, n as usize),
        b"anon_inode:[eventpoll]"
    );
}

#[test]
fn epoll_ctl_errors_follow_linux() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, _w) = pipe(&mut p, &mut k);
    assert_eq!(
        ctl(&mut p, &mut k, 99, ADD, r, EPOLLIN, 0),
        err(Errno::EBADF)
    );
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, 99, EPOLLIN, 0),
        err(Errno::EBADF)
    );
    // The epfd must be an epoll, and not the target itself.
    assert_eq!(
        ctl(&mut p, &mut k, r, ADD, r, EPOLLIN, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, ep, EPOLLIN, 0),
        err(Errno::EINVAL)
    );
    // Regular files and directories cannot be polled.
    k.poke(SCRATCH, b"/work/f\0");
    let f = sys(
        &mut p,
        &mut k,
        SYS_openat,
        &[(-100i64) as u64, SCRATCH, 0o102, 0o644],
    ) as u64;
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, f, EPOLLIN, 0),
        err(Errno::EPERM)
    );
    k.poke(SCRATCH, b"/work/d\0");
    assert_eq!(sys(&mut p, &mut k, SYS_mkdir, &[SCRATCH, 0o755]), 0);
    let d = sys(
        &mut p,
        &mut k,
        SYS_openat,
        &[(-100i64) as u64, SCRATCH, 0o200000, 0],
    ) as u64;
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, d, EPOLLIN, 0),
        err(Errno::EPERM)
    );
    // MOD and DEL need an interest; ADD twice is EEXIST.
    assert_eq!(
        ctl(&mut p, &mut k, ep, MOD, r, EPOLLIN, 0),
        err(Errno::ENOENT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_ctl, &[ep, DEL, r, 0]),
        err(Errno::ENOENT)
    );
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 0), 0);
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 0),
        err(Errno::EEXIST)
    );
    assert_eq!(
        ctl(&mut p, &mut k, ep, 9, r, EPOLLIN, 0),
        err(Errno::EINVAL)
    );
    // The event is read first (EFAULT before EBADF); DEL may pass a null event.
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_ctl, &[99, ADD, r, 8]),
        err(Errno::EFAULT)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_epoll_ctl, &[ep, DEL, r, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_ctl, &[ep, DEL, r, 0]),
        err(Errno::ENOENT)
    );
}

#[test]
fn epoll_exclusive_has_linux_restrictions() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let inner = epoll(&mut p, &mut k);
    let (r, _w) = pipe(&mut p, &mut k);
    let ex = EPOLLIN | EPOLLEXCLUSIVE;
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, r, ex | EPOLLONESHOT, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, inner, ex, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, ex | EPOLLET, 0), 0);
    // An exclusive interest cannot be modified, and MOD cannot ask for exclusivity.
    assert_eq!(
        ctl(&mut p, &mut k, ep, MOD, r, EPOLLIN, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(ctl(&mut p, &mut k, ep, MOD, r, ex, 0), err(Errno::EINVAL));
}

#[test]
fn epoll_wait_argument_errors() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, _w) = pipe(&mut p, &mut k);
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_wait, &[ep, EVENTS, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_wait,
            &[ep, EVENTS, 0xffff_ffff, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_wait, &[99, EVENTS, 1, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_wait, &[r, EVENTS, 1, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_wait,
            &[ep, 0xffff_8000_0000_0000, 1, 0]
        ),
        err(Errno::EFAULT)
    );
    // epoll_pwait checks the mask size; epoll_pwait2 the timespec.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_pwait,
            &[ep, EVENTS, 1, 0, SCRATCH, 4]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_pwait,
            &[ep, EVENTS, 1, 0, SCRATCH, 8]
        ),
        0
    );
    k.poke(
        SCRATCH,
        &[&0u64.to_le_bytes()[..], &2_000_000_000u64.to_le_bytes()[..]].concat(),
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_pwait2,
            &[ep, EVENTS, 1, SCRATCH, 0, 8]
        ),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_epoll_pwait2,
            &[ep, EVENTS, 1, SCRATCH, 0, 8]
        ),
        0
    );
}

#[test]
fn level_triggered_reports_until_drained_with_the_data_round_trip() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    let data = 0xdead_beef_0123_4567;
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, data), 0);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, w, EPOLLOUT, 7), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLOUT, 7)]);
    put(&mut p, &mut k, w, b"ab");
    let got = ready(&mut p, &mut k, ep, 8);
    assert!(got.contains(&(EPOLLIN, data)), "{got:?}");
    assert!(got.contains(&(EPOLLOUT, 7)));
    assert_eq!(take(&mut p, &mut k, r, 1), 1);
    assert!(
        ready(&mut p, &mut k, ep, 8).contains(&(EPOLLIN, data)),
        "still one byte"
    );
    assert_eq!(take(&mut p, &mut k, r, 1), 1);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLOUT, 7)]);
}

#[test]
fn edge_triggered_reports_changes_only() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN | EPOLLET, 1), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), []);
    put(&mut p, &mut k, w, b"abc");
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [], "no new edge");
    // A partial read is no new data: still no event.
    assert_eq!(take(&mut p, &mut k, r, 1), 1);
    assert_eq!(ready(&mut p, &mut k, ep, 8), []);
    // New data is an edge even though the pipe was readable all along.
    put(&mut p, &mut k, w, b"d");
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
}

#[test]
fn oneshot_fires_once_until_mod_rearms_it() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN | EPOLLONESHOT, 5),
        0
    );
    put(&mut p, &mut k, w, b"x");
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 5)]);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [], "disabled");
    put(&mut p, &mut k, w, b"y");
    assert_eq!(ready(&mut p, &mut k, ep, 8), [], "still disabled");
    // Re-armed by MOD (with new data), and it reports at once since the pipe is readable.
    assert_eq!(
        ctl(&mut p, &mut k, ep, MOD, r, EPOLLIN | EPOLLONESHOT, 6),
        0
    );
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 6)]);
    assert_eq!(ready(&mut p, &mut k, ep, 8), []);
}

#[test]
fn level_triggered_events_take_turns() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r1, w1) = pipe(&mut p, &mut k);
    let (r2, w2) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r1, EPOLLIN, 1), 0);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r2, EPOLLIN, 2), 0);
    put(&mut p, &mut k, w1, b"a");
    put(&mut p, &mut k, w2, b"b");
    let order: Vec<u64> = (0..4).map(|_| ready(&mut p, &mut k, ep, 1)[0].1).collect();
    assert_eq!(order, [1, 2, 1, 2]);
}

#[test]
fn hangup_and_error_are_always_reported() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, 0, 1), 0);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, w, 0, 2), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), []);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[r]), 0);
    // The read end's interest went with its description; the write end sees the error.
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLERR, 2)]);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 3), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[w]), 0);
    assert!(ready(&mut p, &mut k, ep, 8).contains(&(EPOLLHUP, 3)));
}

#[test]
fn closing_the_last_fd_of_a_description_removes_the_interest() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 1), 0);
    let copy = sys(&mut p, &mut k, SYS_dup, &[r]) as u64;
    put(&mut p, &mut k, w, b"x");
    // Another fd keeps the description open: the interest (keyed by the old fd) stays.
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[r]), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
    // The old fd number is gone for epoll_ctl, though.
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_ctl, &[ep, DEL, r, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[copy]), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), []);
    // A new description at the same fd number is a new interest.
    let (r2, w2) = pipe(&mut p, &mut k);
    assert_eq!(r2, r);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r2, EPOLLIN, 9), 0);
    put(&mut p, &mut k, w2, b"y");
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 9)]);
}

#[test]
fn a_pipe_write_wakes_a_thread_blocked_in_epoll_wait() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN | EPOLLET, 42), 0);
    let mut t = second(&p);
    let mut rt = regs(SYS_epoll_wait, &[ep, EVENTS, 4, FOREVER]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), None, "no timeout");
    put(&mut p, &mut k, w, b"wake up");
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(1));
    assert_eq!(events_at(&k, 1), [(EPOLLIN, 42)]);
}

#[test]
fn epoll_wait_times_out_through_the_scheduler() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, _w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 1), 0);
    k.now = 1_000;
    let mut rt = regs(SYS_epoll_wait, &[ep, EVENTS, 4, 25]);
    assert_eq!(dispatch(&mut p, &mut k, &mut rt), Outcome::Wait);
    assert_eq!(p.sys.sched.next_deadline(), Some(1_000 + 25_000_000));
    p.sys.sched.expire(1_000 + 25_000_000);
    k.now = 1_000 + 25_000_000;
    assert_eq!(finish(&mut p, &mut k, &mut rt), Outcome::Return(0));
}

#[test]
fn one_event_wakes_one_of_the_threads_waiting_on_an_epoll() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN | EPOLLET, 1), 0);
    let mut a = second(&p);
    let mut b = second(&p);
    let mut ra = regs(SYS_epoll_wait, &[ep, EVENTS, 4, FOREVER]);
    let mut rb = regs(SYS_epoll_wait, &[ep, EVENTS + 0x100, 4, FOREVER]);
    assert_eq!(dispatch(&mut a, &mut k, &mut ra), Outcome::Wait);
    assert_eq!(dispatch(&mut b, &mut k, &mut rb), Outcome::Wait);
    put(&mut p, &mut k, w, b"x");
    let token_a = a.thread.begin_wait();
    let token_b = b.thread.begin_wait();
    use coracle_vfs::Waker;
    let woken = [!a.thread.is_waiting(token_a), !b.thread.is_waiting(token_b)];
    assert_eq!(woken, [true, false], "exclusive: the first waiter only");
    assert_eq!(finish(&mut a, &mut k, &mut ra), Outcome::Return(1));
    // The next event goes to the other one.
    put(&mut p, &mut k, w, b"y");
    assert_eq!(finish(&mut b, &mut k, &mut rb), Outcome::Return(1));
}

#[test]
fn epollexclusive_interests_wake_one_epoll() {
    let (mut p, mut k) = setup();
    let efd = sys(&mut p, &mut k, SYS_eventfd2, &[0, 0]) as u64;
    let ep1 = epoll(&mut p, &mut k);
    let ep2 = epoll(&mut p, &mut k);
    assert_eq!(
        ctl(&mut p, &mut k, ep1, ADD, efd, EPOLLIN | EPOLLEXCLUSIVE, 1),
        0
    );
    assert_eq!(
        ctl(&mut p, &mut k, ep2, ADD, efd, EPOLLIN | EPOLLEXCLUSIVE, 2),
        0
    );
    let mut a = second(&p);
    let mut b = second(&p);
    let mut ra = regs(SYS_epoll_wait, &[ep1, EVENTS, 4, FOREVER]);
    let mut rb = regs(SYS_epoll_wait, &[ep2, EVENTS + 0x100, 4, FOREVER]);
    assert_eq!(dispatch(&mut a, &mut k, &mut ra), Outcome::Wait);
    assert_eq!(dispatch(&mut b, &mut k, &mut rb), Outcome::Wait);
    put(&mut p, &mut k, efd, &1u64.to_le_bytes());
    assert!(
        a.thread.finish_wait().is_some(),
        "the first epoll's waiter woke"
    );
    assert_eq!(b.thread.finish_wait(), None, "the second did not");
    // Without EPOLLEXCLUSIVE both would have: check the contrast.
    let ep3 = epoll(&mut p, &mut k);
    let ep4 = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep3, ADD, efd, EPOLLIN | EPOLLET, 3), 0);
    assert_eq!(ctl(&mut p, &mut k, ep4, ADD, efd, EPOLLIN | EPOLLET, 4), 0);
    let _ = ready(&mut p, &mut k, ep3, 4);
    let _ = ready(&mut p, &mut k, ep4, 4);
    let mut rc = regs(SYS_epoll_wait, &[ep3, EVENTS, 4, FOREVER]);
    let mut rd = regs(SYS_epoll_wait, &[ep4, EVENTS + 0x100, 4, FOREVER]);
    assert_eq!(dispatch(&mut a, &mut k, &mut rc), Outcome::Wait);
    assert_eq!(dispatch(&mut b, &mut k, &mut rd), Outcome::Wait);
    put(&mut p, &mut k, efd, &1u64.to_le_bytes());
    assert_eq!(finish(&mut a, &mut k, &mut rc), Outcome::Return(1));
    assert_eq!(finish(&mut b, &mut k, &mut rd), Outcome::Return(1));
}

#[test]
fn nested_epolls_propagate_readiness_and_refuse_loops() {
    let (mut p, mut k) = setup();
    let inner = epoll(&mut p, &mut k);
    let outer = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, inner, ADD, r, EPOLLIN, 1), 0);
    assert_eq!(ctl(&mut p, &mut k, outer, ADD, inner, EPOLLIN, 2), 0);
    assert_eq!(
        ctl(&mut p, &mut k, inner, ADD, outer, EPOLLIN, 3),
        err(Errno::ELOOP)
    );
    assert_eq!(ready(&mut p, &mut k, outer, 4), []);
    // A thread blocked on the outer epoll is woken through the inner one.
    let mut t = second(&p);
    let mut rt = regs(SYS_epoll_wait, &[outer, EVENTS, 4, FOREVER]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    put(&mut p, &mut k, w, b"x");
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(1));
    assert_eq!(events_at(&k, 1), [(EPOLLIN, 2)]);
    // poll(2) sees the epoll fd readable.
    k.poke(
        SCRATCH,
        &[
            &(inner as u32).to_le_bytes()[..],
            &1u16.to_le_bytes(),
            &[0, 0],
        ]
        .concat(),
    );
    assert_eq!(sys(&mut p, &mut k, SYS_poll, &[SCRATCH, 1, 0]), 1);
    assert_eq!(k.peek(SCRATCH + 6, 2), 1u16.to_le_bytes());
}

#[test]
fn epoll_nesting_deeper_than_linux_allows_is_eloop() {
    let (mut p, mut k) = setup();
    let (r, _w) = pipe(&mut p, &mut k);
    // Five epolls in a chain (each watching the previous) are allowed; a sixth is not.
    let mut below = r;
    for _ in 0..5 {
        let ep = epoll(&mut p, &mut k);
        assert_eq!(ctl(&mut p, &mut k, ep, ADD, below, EPOLLIN, 0), 0);
        below = ep;
    }
    let top = epoll(&mut p, &mut k);
    assert_eq!(
        ctl(&mut p, &mut k, top, ADD, below, EPOLLIN, 0),
        err(Errno::ELOOP)
    );
    // The limit counts upwards too: under a watched epoll, a chain of 4 is too deep.
    let a = epoll(&mut p, &mut k);
    let b = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, a, ADD, b, EPOLLIN, 0), 0);
    let mut chain = r;
    for _ in 0..3 {
        let ep = epoll(&mut p, &mut k);
        assert_eq!(ctl(&mut p, &mut k, ep, ADD, chain, EPOLLIN, 0), 0);
        chain = ep;
    }
    assert_eq!(ctl(&mut p, &mut k, b, ADD, chain, EPOLLIN, 0), 0);
    let deeper = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, deeper, ADD, chain, EPOLLIN, 0), 0);
    assert_eq!(
        ctl(&mut p, &mut k, b, ADD, deeper, EPOLLIN, 0),
        err(Errno::ELOOP)
    );
}

#[test]
fn events_that_cannot_be_copied_out_are_not_lost() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(
        ctl(
            &mut p,
            &mut k,
            ep,
            ADD,
            r,
            EPOLLIN | EPOLLET | EPOLLONESHOT,
            1
        ),
        0
    );
    put(&mut p, &mut k, w, b"x");
    assert_eq!(
        sys(&mut p, &mut k, SYS_epoll_wait, &[ep, 8, 4, 0]),
        err(Errno::EFAULT)
    );
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
}

/// A file whose poll drops the last other reference to its own description, as a close on
/// another CPU would in the middle of an epoll scan; dropping it wakes its queue.
struct SelfClosing {
    me: spin::Mutex<Option<Arc<coracle_vfs::OpenFile>>>,
    queue: coracle_vfs::WaitQueue,
}

impl coracle_vfs::FileOps for SelfClosing {
    fn poll(&self) -> u32 {
        drop(self.me.lock().take());
        EPOLLIN
    }
    fn wait_queue(&self) -> Option<&coracle_vfs::WaitQueue> {
        Some(&self.queue)
    }
    fn as_any(&self) -> &dyn core::any::Any {
        self
    }
}

impl Drop for SelfClosing {
    fn drop(&mut self) {
        self.queue.wake_everyone();
    }
}

/// A [`SelfClosing`] file at a new fd.
fn self_closing(p: &mut Current) -> (u64, Arc<coracle_vfs::OpenFile>) {
    let file = crate::sys::anon::anon_file(
        "test",
        0,
        std::boxed::Box::new(SelfClosing {
            me: spin::Mutex::new(None),
            queue: coracle_vfs::WaitQueue::new(),
        }),
    );
    let fd = p.install(file.clone(), false).expect("fd") as u64;
    (fd, file)
}

/// Closes `fd`, leaving `file` held only by itself until its next poll.
fn close_behind(p: &mut Current, k: &mut Fake, fd: u64, file: Arc<coracle_vfs::OpenFile>) {
    let ops = file.ops().as_any().downcast_ref::<SelfClosing>();
    *ops.expect("a SelfClosing file").me.lock() = Some(file.clone());
    drop(file);
    assert_eq!(sys(p, k, SYS_close, &[fd]), 0);
}

#[test]
fn a_file_closed_during_a_scan_is_released_after_the_epoll_lock() {
    // Before the fix this deadlocked (the test hung): the scan's temporary reference was the
    // last, and dropping it under the epoll's lock woke a hook that takes that lock.
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (fd, file) = self_closing(&mut p);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, fd, EPOLLIN, 1), 0);
    close_behind(&mut p, &mut k, fd, file);
    // Only the file itself holds its description now; the interest is on the ready list.
    let n = sys(&mut p, &mut k, SYS_epoll_wait, &[ep, EVENTS, 4, 0]);
    assert_eq!(n, 1, "reported as it was polled");
    assert_eq!(ready(&mut p, &mut k, ep, 4), [], "then gone with its file");
}

#[test]
fn a_file_closed_during_a_nested_scan_does_not_block_the_outer_epoll() {
    // The inner epoll's scan runs inside the outer one's; the file it releases wakes the
    // inner epoll, whose wake reaches the outer epoll's hook while the outer scan goes on.
    let (mut p, mut k) = setup();
    let inner = epoll(&mut p, &mut k);
    let outer = epoll(&mut p, &mut k);
    let (fd, file) = self_closing(&mut p);
    assert_eq!(ctl(&mut p, &mut k, inner, ADD, fd, EPOLLIN, 1), 0);
    assert_eq!(ctl(&mut p, &mut k, outer, ADD, inner, EPOLLIN, 2), 0);
    close_behind(&mut p, &mut k, fd, file);
    assert_eq!(ready(&mut p, &mut k, outer, 4), [(EPOLLIN, 2)]);
    assert_eq!(ready(&mut p, &mut k, inner, 4), []);
}
