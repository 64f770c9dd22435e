//! epoll over pipes, eventfds, timerfds and other epolls, driven as the CPU loop drives
//! waits (see tests::threads).

use std::sync::Arc;
use std::vec::Vec;

use crate::tests::fake::{call, err, regs, setup, setup_on, sys, Fake, FakeCpu, SCRATCH};
use crate::{dispatch, resume, Errno, Outcome, Process, UserRegs};

const READ: u64 = 0;
const WRITE: u64 = 1;
const CLOSE: u64 = 3;
const POLL: u64 = 7;
const PIPE: u64 = 22;
const DUP: u64 = 32;
const FCNTL: u64 = 72;
const READLINK: u64 = 89;
const EPOLL_CREATE: u64 = 213;
const EPOLL_WAIT: u64 = 232;
const EPOLL_CTL: u64 = 233;
const EPOLL_PWAIT: u64 = 281;
const EVENTFD: u64 = 284;
const EVENTFD2: u64 = 290;
const EPOLL_CREATE1: u64 = 291;
const OPENAT: u64 = 257;
const EPOLL_PWAIT2: u64 = 441;
const MKDIR: u64 = 83;

const ADD: u64 = 1;
const DEL: u64 = 2;
const MOD: u64 = 3;
const EPOLLIN: u32 = 1;
const EPOLLOUT: u32 = 4;
const EPOLLERR: u32 = 8;
const EPOLLHUP: u32 = 0x10;
const EPOLLEXCLUSIVE: u32 = 1 << 28;
const EPOLLONESHOT: u32 = 1 << 30;
const EPOLLET: u32 = 1 << 31;
const FOREVER: u64 = 0xffff_ffff; // timeout -1 as an int argument

/// Where tests keep an epoll_event for ctl, and the event array for wait.
const EV: u64 = SCRATCH + 0x800;
const EVENTS: u64 = SCRATCH + 0x1000;

/// A second thread of `p`'s process.
pub(super) fn second(p: &Process) -> Process {
    let tid = p.sys.sched.alloc_tid();
    p.new_thread(tid)
}

/// Ends `t`'s wait the way the CPU loop does and finishes its call.
pub(super) fn finish(t: &mut Process, k: &mut Fake, r: &mut UserRegs) -> Outcome {
    let why = t.thread.finish_wait().expect("the wait has ended");
    resume(t, k, r, why)
}

pub(super) fn pipe(p: &mut Process, k: &mut Fake) -> (u64, u64) {
    assert_eq!(sys(p, k, PIPE, &[SCRATCH]), 0);
    let b = k.peek(SCRATCH, 8);
    (
        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        u64::from(u32::from_le_bytes([b[4], b[5], b[6], b[7]])),
    )
}

fn ctl(p: &mut Process, k: &mut Fake, ep: u64, op: u64, fd: u64, events: u32, data: u64) -> i64 {
    let mut b = events.to_le_bytes().to_vec();
    b.extend_from_slice(&data.to_le_bytes());
    k.poke(EV, &b);
    sys(p, k, EPOLL_CTL, &[ep, op, fd, EV])
}

fn events_at(k: &Fake, n: usize) -> Vec<(u32, u64)> {
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
fn ready(p: &mut Process, k: &mut Fake, ep: u64, max: u64) -> Vec<(u32, u64)> {
    let n = sys(p, k, EPOLL_WAIT, &[ep, EVENTS, max, 0]);
    assert!(n >= 0, "epoll_wait failed: {n}");
    events_at(k, n as usize)
}

fn put(p: &mut Process, k: &mut Fake, fd: u64, data: &[u8]) {
    k.poke(SCRATCH + 0x400, data);
    assert_eq!(
        sys(p, k, WRITE, &[fd, SCRATCH + 0x400, data.len() as u64]),
        data.len() as i64
    );
}

fn take(p: &mut Process, k: &mut Fake, fd: u64, n: u64) -> i64 {
    sys(p, k, READ, &[fd, SCRATCH + 0x400, n])
}

fn epoll(p: &mut Process, k: &mut Fake) -> u64 {
    let ep = sys(p, k, EPOLL_CREATE1, &[0]);
    assert!(ep >= 0);
    ep as u64
}

#[test]
fn epoll_create_flags_cloexec_and_name() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, EPOLL_CREATE, &[0]), err(Errno::EINVAL));
    assert_eq!(sys(&mut p, &mut k, EPOLL_CREATE1, &[1]), err(Errno::EINVAL));
    let plain = sys(&mut p, &mut k, EPOLL_CREATE, &[1]) as u64;
    assert_eq!(sys(&mut p, &mut k, FCNTL, &[plain, 1]), 0); // F_GETFD
    let ep = sys(&mut p, &mut k, EPOLL_CREATE1, &[0o2000000]) as u64;
    assert_eq!(sys(&mut p, &mut k, FCNTL, &[ep, 1]), 1); // FD_CLOEXEC
    let path = std::format!("/proc/self/fd/{ep}\0");
    k.poke(SCRATCH, path.as_bytes());
    let n = sys(&mut p, &mut k, READLINK, &[SCRATCH, SCRATCH + 0x100, 64]);
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
        OPENAT,
        &[(-100i64) as u64, SCRATCH, 0o102, 0o644],
    ) as u64;
    assert_eq!(
        ctl(&mut p, &mut k, ep, ADD, f, EPOLLIN, 0),
        err(Errno::EPERM)
    );
    k.poke(SCRATCH, b"/work/d\0");
    assert_eq!(sys(&mut p, &mut k, MKDIR, &[SCRATCH, 0o755]), 0);
    let d = sys(
        &mut p,
        &mut k,
        OPENAT,
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
        sys(&mut p, &mut k, EPOLL_CTL, &[ep, DEL, r, 0]),
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
        sys(&mut p, &mut k, EPOLL_CTL, &[99, ADD, r, 8]),
        err(Errno::EFAULT)
    );
    assert_eq!(sys(&mut p, &mut k, EPOLL_CTL, &[ep, DEL, r, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_CTL, &[ep, DEL, r, 0]),
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
        sys(&mut p, &mut k, EPOLL_WAIT, &[ep, EVENTS, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_WAIT, &[ep, EVENTS, 0xffff_ffff, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_WAIT, &[99, EVENTS, 1, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_WAIT, &[r, EVENTS, 1, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            EPOLL_WAIT,
            &[ep, 0xffff_8000_0000_0000, 1, 0]
        ),
        err(Errno::EFAULT)
    );
    // epoll_pwait checks the mask size; epoll_pwait2 the timespec.
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_PWAIT, &[ep, EVENTS, 1, 0, SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_PWAIT, &[ep, EVENTS, 1, 0, SCRATCH, 8]),
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
            EPOLL_PWAIT2,
            &[ep, EVENTS, 1, SCRATCH, 0, 8]
        ),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            EPOLL_PWAIT2,
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
    assert_eq!(sys(&mut p, &mut k, CLOSE, &[r]), 0);
    // The read end's interest went with its description; the write end sees the error.
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLERR, 2)]);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 3), 0);
    assert_eq!(sys(&mut p, &mut k, CLOSE, &[w]), 0);
    assert!(ready(&mut p, &mut k, ep, 8).contains(&(EPOLLHUP, 3)));
}

#[test]
fn closing_the_last_fd_of_a_description_removes_the_interest() {
    let (mut p, mut k) = setup();
    let ep = epoll(&mut p, &mut k);
    let (r, w) = pipe(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, r, EPOLLIN, 1), 0);
    let copy = sys(&mut p, &mut k, DUP, &[r]) as u64;
    put(&mut p, &mut k, w, b"x");
    // Another fd keeps the description open: the interest (keyed by the old fd) stays.
    assert_eq!(sys(&mut p, &mut k, CLOSE, &[r]), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
    // The old fd number is gone for epoll_ctl, though.
    assert_eq!(
        sys(&mut p, &mut k, EPOLL_CTL, &[ep, DEL, r, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(sys(&mut p, &mut k, CLOSE, &[copy]), 0);
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
    let mut rt = regs(EPOLL_WAIT, &[ep, EVENTS, 4, FOREVER]);
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
    let mut rt = regs(EPOLL_WAIT, &[ep, EVENTS, 4, 25]);
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
    let mut ra = regs(EPOLL_WAIT, &[ep, EVENTS, 4, FOREVER]);
    let mut rb = regs(EPOLL_WAIT, &[ep, EVENTS + 0x100, 4, FOREVER]);
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
    let efd = sys(&mut p, &mut k, EVENTFD2, &[0, 0]) as u64;
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
    let mut ra = regs(EPOLL_WAIT, &[ep1, EVENTS, 4, FOREVER]);
    let mut rb = regs(EPOLL_WAIT, &[ep2, EVENTS + 0x100, 4, FOREVER]);
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
    let mut rc = regs(EPOLL_WAIT, &[ep3, EVENTS, 4, FOREVER]);
    let mut rd = regs(EPOLL_WAIT, &[ep4, EVENTS + 0x100, 4, FOREVER]);
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
    let mut rt = regs(EPOLL_WAIT, &[outer, EVENTS, 4, FOREVER]);
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
    assert_eq!(sys(&mut p, &mut k, POLL, &[SCRATCH, 1, 0]), 1);
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
        sys(&mut p, &mut k, EPOLL_WAIT, &[ep, 8, 4, 0]),
        err(Errno::EFAULT)
    );
    assert_eq!(ready(&mut p, &mut k, ep, 8), [(EPOLLIN, 1)]);
}

// ---- eventfd ----

fn read_u64_from(p: &mut Process, k: &mut Fake, fd: u64) -> i64 {
    let n = sys(p, k, READ, &[fd, SCRATCH + 0x400, 8]);
    if n < 0 {
        return n;
    }
    assert_eq!(n, 8);
    let mut b = [0u8; 8];
    b.copy_from_slice(&k.peek(SCRATCH + 0x400, 8));
    u64::from_le_bytes(b) as i64
}

#[test]
fn eventfd_counts_and_checks_sizes() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, EVENTFD2, &[0, 8]), err(Errno::EINVAL));
    let nonblock = 0o4000;
    let fd = sys(&mut p, &mut k, EVENTFD2, &[3, nonblock]) as u64;
    assert_eq!(
        sys(&mut p, &mut k, READ, &[fd, SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 3);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
    // A write takes 8 bytes whatever the length; u64::MAX itself is refused.
    k.poke(SCRATCH, &[&5u64.to_le_bytes()[..], &[9u8; 8]].concat());
    assert_eq!(sys(&mut p, &mut k, WRITE, &[fd, SCRATCH, 16]), 8);
    assert_eq!(
        sys(&mut p, &mut k, WRITE, &[fd, SCRATCH, 7]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &u64::MAX.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, WRITE, &[fd, SCRATCH, 8]),
        err(Errno::EINVAL)
    );
    // The counter stops at u64::MAX - 1.
    k.poke(SCRATCH, &(u64::MAX - 6).to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, WRITE, &[fd, SCRATCH, 8]), 8);
    k.poke(SCRATCH, &1u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, WRITE, &[fd, SCRATCH, 8]),
        err(Errno::EAGAIN)
    );
    // poll: readable, not writable when full.
    k.poke(
        SCRATCH,
        &[&(fd as u32).to_le_bytes()[..], &5u16.to_le_bytes(), &[0, 0]].concat(),
    );
    assert_eq!(sys(&mut p, &mut k, POLL, &[SCRATCH, 1, 0]), 1);
    assert_eq!(k.peek(SCRATCH + 6, 2), 1u16.to_le_bytes());
    assert_eq!(read_u64_from(&mut p, &mut k, fd) as u64, u64::MAX - 1);
    let path = std::format!("/proc/self/fd/{fd}\0");
    k.poke(SCRATCH, path.as_bytes());
    let n = sys(&mut p, &mut k, READLINK, &[SCRATCH, SCRATCH + 0x100, 64]);
    assert_eq!(k.peek(SCRATCH + 0x100, n as usize), b"anon_inode:[eventfd]");
}

#[test]
fn eventfd_semaphore_mode_reads_one_at_a_time() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, EVENTFD2, &[2, 1 | 0o4000]) as u64;
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 1);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 1);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
}

#[test]
fn eventfd_blocking_read_and_overflowing_write_wait() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, EVENTFD, &[0]) as u64;
    let mut t = second(&p);
    let mut rt = regs(READ, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    put(&mut p, &mut k, fd, &7u64.to_le_bytes());
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(8));
    assert_eq!(k.peek(SCRATCH + 0x200, 8), 7u64.to_le_bytes());
    // A write that would overflow waits for a read.
    put(&mut p, &mut k, fd, &(u64::MAX - 2).to_le_bytes());
    k.poke(SCRATCH + 0x200, &5u64.to_le_bytes());
    let mut wt = regs(WRITE, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut wt), Outcome::Wait);
    assert_eq!(read_u64_from(&mut p, &mut k, fd) as u64, u64::MAX - 2);
    assert_eq!(finish(&mut t, &mut k, &mut wt), Outcome::Return(8));
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 5);
}

#[test]
fn eventfd_in_epoll_edge_triggered_fires_on_every_write() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, EVENTFD2, &[0, 0]) as u64;
    let ep = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, fd, EPOLLIN | EPOLLET, 1), 0);
    assert_eq!(ready(&mut p, &mut k, ep, 4), []);
    put(&mut p, &mut k, fd, &1u64.to_le_bytes());
    assert_eq!(ready(&mut p, &mut k, ep, 4), [(EPOLLIN, 1)]);
    assert_eq!(ready(&mut p, &mut k, ep, 4), []);
    // Even adding 0 is a wake-up (Linux's eventfd_write always wakes).
    put(&mut p, &mut k, fd, &0u64.to_le_bytes());
    assert_eq!(ready(&mut p, &mut k, ep, 4), [(EPOLLIN, 1)]);
}

// ---- timerfd ----

const TIMERFD_CREATE: u64 = 283;
const TIMERFD_SETTIME: u64 = 286;
const TIMERFD_GETTIME: u64 = 287;
const ITS: u64 = SCRATCH + 0x600;
const OLD: u64 = SCRATCH + 0x700;
const SEC: u64 = 1_000_000_000;

fn itimerspec(k: &mut Fake, addr: u64, interval: u64, value: u64) {
    let mut b = Vec::new();
    for ns in [interval, value] {
        b.extend_from_slice(&(ns / SEC).to_le_bytes());
        b.extend_from_slice(&(ns % SEC).to_le_bytes());
    }
    k.poke(addr, &b);
}

fn read_itimerspec(k: &Fake, addr: u64) -> (u64, u64) {
    let b = k.peek(addr, 32);
    let f = |i: usize| {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[i * 8..i * 8 + 8]);
        u64::from_le_bytes(x)
    };
    (f(0) * SEC + f(1), f(2) * SEC + f(3))
}

/// Moves both clocks of the fake machine to `ns` and runs the due timers.
fn advance(p: &Process, k: &mut Fake, cpu: &FakeCpu, ns: u64) {
    k.now = ns;
    cpu.now.store(ns, std::sync::atomic::Ordering::Relaxed);
    p.sys.sched.expire(ns);
}

#[test]
fn timerfd_argument_errors() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_CREATE, &[2, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 1]),
        err(Errno::EINVAL)
    );
    let fd = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 4, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_SETTIME, &[99, 0, ITS, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_SETTIME, &[0, 0, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, 8, 0]),
        err(Errno::EFAULT)
    );
    k.poke(ITS + 24, &SEC.to_le_bytes()); // tv_nsec = 1e9
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, READ, &[fd, SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, READ, &[fd, SCRATCH, 8]),
        err(Errno::EAGAIN)
    );
    assert_eq!(
        sys(&mut p, &mut k, TIMERFD_GETTIME, &[fd, 8]),
        err(Errno::EFAULT)
    );
}

#[test]
fn timerfd_one_shot_expires_once() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    advance(&p, &mut k, &cpu, 10 * SEC);
    let fd = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, 2 * SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(12 * SEC));
    advance(&p, &mut k, &cpu, 11 * SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_GETTIME, &[fd, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (0, SEC));
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
    advance(&p, &mut k, &cpu, 12 * SEC);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 1);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
    assert_eq!(p.sys.sched.next_deadline(), None);
}

#[test]
fn timerfd_interval_counts_missed_periods_on_read() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    let fd = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, SEC, SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]), 0);
    advance(&p, &mut k, &cpu, SEC);
    // Not re-armed until read (Linux's timerfd does not restart from the timer).
    assert_eq!(p.sys.sched.next_deadline(), None);
    cpu.now
        .store(3 * SEC + SEC / 2, std::sync::atomic::Ordering::Relaxed);
    k.now = 3 * SEC + SEC / 2;
    // Expiries at 1, 2 and 3 s.
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 3);
    assert_eq!(p.sys.sched.next_deadline(), Some(4 * SEC));
    assert_eq!(sys(&mut p, &mut k, TIMERFD_GETTIME, &[fd, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (SEC, SEC / 2));
    // settime hands back the old setting and disarms with a zero value.
    itimerspec(&mut k, ITS, 0, 0);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (SEC, SEC / 2));
    assert_eq!(p.sys.sched.next_deadline(), None);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_GETTIME, &[fd, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (0, 0));
}

#[test]
fn timerfd_absolute_times_on_both_clocks() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    advance(&p, &mut k, &cpu, 100 * SEC);
    // Monotonic, absolute, already past: it has expired by the time settime returns.
    let mono = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, 50 * SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[mono, 1, ITS, 0]), 0);
    assert_eq!(read_u64_from(&mut p, &mut k, mono), 1);
    // Realtime, absolute, 3 s from the wall clock's now (TFD_TIMER_CANCEL_ON_SET accepted).
    let real = sys(&mut p, &mut k, TIMERFD_CREATE, &[0, 0o4000]) as u64;
    use crate::Platform;
    let at = k.realtime_ns() + 3 * SEC;
    itimerspec(&mut k, ITS, 0, at);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[real, 3, ITS, 0]), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(103 * SEC));
    advance(&p, &mut k, &cpu, 103 * SEC);
    assert_eq!(read_u64_from(&mut p, &mut k, real), 1);
}

#[test]
fn timerfd_wakes_a_blocked_reader_and_an_epoll_waiter() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    let fd = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0]) as u64;
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]), 0);
    let mut t = second(&p);
    let mut rt = regs(READ, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    advance(&p, &mut k, &cpu, SEC);
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(8));
    assert_eq!(k.peek(SCRATCH + 0x200, 8), 1u64.to_le_bytes());
    // In an epoll.
    let ep = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, fd, EPOLLIN, 77), 0);
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]), 0);
    let mut rt = regs(EPOLL_WAIT, &[ep, EVENTS, 4, FOREVER]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    advance(&p, &mut k, &cpu, 2 * SEC);
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(1));
    assert_eq!(events_at(&k, 1), [(EPOLLIN, 77)]);
}

#[test]
fn closing_a_timerfd_cancels_its_timer() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, TIMERFD_CREATE, &[1, 0]) as u64;
    itimerspec(&mut k, ITS, SEC, SEC);
    assert_eq!(sys(&mut p, &mut k, TIMERFD_SETTIME, &[fd, 0, ITS, 0]), 0);
    assert!(p.sys.sched.next_deadline().is_some());
    assert_eq!(call(&mut p, &mut k, CLOSE, &[fd]), Outcome::Return(0));
    assert_eq!(p.sys.sched.next_deadline(), None);
}
