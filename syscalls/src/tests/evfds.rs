//! eventfd and timerfd: counters, sizes, blocking through the scheduler, timers on the
//! scheduler's timer map, and both in epoll.

use crate::nr::*;
use std::sync::Arc;
use std::vec::Vec;

use super::epoll::*;
use crate::tests::fake::{call, err, regs, setup, setup_on, sys, Fake, FakeCpu, SCRATCH};
use crate::{dispatch, Current, Errno, Outcome};

// ---- eventfd ----

fn read_u64_from(p: &mut Current, k: &mut Fake, fd: u64) -> i64 {
    let n = sys(p, k, SYS_read, &[fd, SCRATCH + 0x400, 8]);
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
    assert_eq!(
        sys(&mut p, &mut k, SYS_eventfd2, &[0, 8]),
        err(Errno::EINVAL)
    );
    let nonblock = 0o4000;
    let fd = sys(&mut p, &mut k, SYS_eventfd2, &[3, nonblock]) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 3);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
    // A write takes 8 bytes whatever the length; u64::MAX itself is refused.
    k.poke(SCRATCH, &[&5u64.to_le_bytes()[..], &[9u8; 8]].concat());
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 16]), 8);
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 7]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &u64::MAX.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 8]),
        err(Errno::EINVAL)
    );
    // The counter stops at u64::MAX - 1.
    k.poke(SCRATCH, &(u64::MAX - 6).to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 8]), 8);
    k.poke(SCRATCH, &1u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH, 8]),
        err(Errno::EAGAIN)
    );
    // poll: readable, not writable when full.
    k.poke(
        SCRATCH,
        &[&(fd as u32).to_le_bytes()[..], &5u16.to_le_bytes(), &[0, 0]].concat(),
    );
    assert_eq!(sys(&mut p, &mut k, SYS_poll, &[SCRATCH, 1, 0]), 1);
    assert_eq!(k.peek(SCRATCH + 6, 2), 1u16.to_le_bytes());
    assert_eq!(read_u64_from(&mut p, &mut k, fd) as u64, u64::MAX - 1);
    let path = std::format!("/proc/self/fd/{fd}\0");
    k.poke(SCRATCH, path.as_bytes());
    let n = sys(
        &mut p,
        &mut k,
        SYS_readlink,
        &[SCRATCH, SCRATCH + 0x100, 64],
    );
    assert_eq!(k.peek(SCRATCH + 0x100, n as usize), b"anon_inode:[eventfd]");
}

#[test]
fn eventfd_semaphore_mode_reads_one_at_a_time() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, SYS_eventfd2, &[2, 1 | 0o4000]) as u64;
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 1);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 1);
    assert_eq!(read_u64_from(&mut p, &mut k, fd), err(Errno::EAGAIN));
}

#[test]
fn eventfd_blocking_read_and_overflowing_write_wait() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, SYS_eventfd, &[0]) as u64;
    let mut t = second(&p);
    let mut rt = regs(SYS_read, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    put(&mut p, &mut k, fd, &7u64.to_le_bytes());
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(8));
    assert_eq!(k.peek(SCRATCH + 0x200, 8), 7u64.to_le_bytes());
    // A write that would overflow waits for a read.
    put(&mut p, &mut k, fd, &(u64::MAX - 2).to_le_bytes());
    k.poke(SCRATCH + 0x200, &5u64.to_le_bytes());
    let mut wt = regs(SYS_write, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut wt), Outcome::Wait);
    assert_eq!(read_u64_from(&mut p, &mut k, fd) as u64, u64::MAX - 2);
    assert_eq!(finish(&mut t, &mut k, &mut wt), Outcome::Return(8));
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 5);
}

#[test]
fn eventfd_in_epoll_edge_triggered_fires_on_every_write() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, SYS_eventfd2, &[0, 0]) as u64;
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
fn advance(p: &Current, k: &mut Fake, cpu: &FakeCpu, ns: u64) {
    k.now = ns;
    cpu.now.store(ns, std::sync::atomic::Ordering::Relaxed);
    p.sys.sched.expire(ns);
}

#[test]
fn timerfd_argument_errors() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_create, &[2, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_create, &[1, 1]),
        err(Errno::EINVAL)
    );
    let fd = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 4, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[99, 0, ITS, 0]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[0, 0, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, 8, 0]),
        err(Errno::EFAULT)
    );
    k.poke(ITS + 24, &SEC.to_le_bytes()); // tv_nsec = 1e9
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH, 4]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH, 8]),
        err(Errno::EAGAIN)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_gettime, &[fd, 8]),
        err(Errno::EFAULT)
    );
}

#[test]
fn timerfd_one_shot_expires_once() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    advance(&p, &mut k, &cpu, 10 * SEC);
    let fd = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, 2 * SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        0
    );
    assert_eq!(p.sys.sched.next_deadline(), Some(12 * SEC));
    advance(&p, &mut k, &cpu, 11 * SEC);
    assert_eq!(sys(&mut p, &mut k, SYS_timerfd_gettime, &[fd, OLD]), 0);
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
    let fd = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, SEC, SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        0
    );
    advance(&p, &mut k, &cpu, SEC);
    // Not re-armed until read (Linux's timerfd does not restart from the timer).
    assert_eq!(p.sys.sched.next_deadline(), None);
    cpu.now
        .store(3 * SEC + SEC / 2, std::sync::atomic::Ordering::Relaxed);
    k.now = 3 * SEC + SEC / 2;
    // Expiries at 1, 2 and 3 s.
    assert_eq!(read_u64_from(&mut p, &mut k, fd), 3);
    assert_eq!(p.sys.sched.next_deadline(), Some(4 * SEC));
    assert_eq!(sys(&mut p, &mut k, SYS_timerfd_gettime, &[fd, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (SEC, SEC / 2));
    // settime hands back the old setting and disarms with a zero value.
    itimerspec(&mut k, ITS, 0, 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, OLD]),
        0
    );
    assert_eq!(read_itimerspec(&k, OLD), (SEC, SEC / 2));
    assert_eq!(p.sys.sched.next_deadline(), None);
    assert_eq!(sys(&mut p, &mut k, SYS_timerfd_gettime, &[fd, OLD]), 0);
    assert_eq!(read_itimerspec(&k, OLD), (0, 0));
}

#[test]
fn timerfd_absolute_times_on_both_clocks() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    advance(&p, &mut k, &cpu, 100 * SEC);
    // Monotonic, absolute, already past: it has expired by the time settime returns.
    let mono = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0o4000]) as u64;
    itimerspec(&mut k, ITS, 0, 50 * SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[mono, 1, ITS, 0]),
        0
    );
    assert_eq!(read_u64_from(&mut p, &mut k, mono), 1);
    // Realtime, absolute, 3 s from the wall clock's now (TFD_TIMER_CANCEL_ON_SET accepted).
    let real = sys(&mut p, &mut k, SYS_timerfd_create, &[0, 0o4000]) as u64;
    use crate::platform::Clock;
    let at = k.realtime_ns() + 3 * SEC;
    itimerspec(&mut k, ITS, 0, at);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[real, 3, ITS, 0]),
        0
    );
    assert_eq!(p.sys.sched.next_deadline(), Some(103 * SEC));
    advance(&p, &mut k, &cpu, 103 * SEC);
    assert_eq!(read_u64_from(&mut p, &mut k, real), 1);
}

#[test]
fn timerfd_wakes_a_blocked_reader_and_an_epoll_waiter() {
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    let fd = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0]) as u64;
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        0
    );
    let mut t = second(&p);
    let mut rt = regs(SYS_read, &[fd, SCRATCH + 0x200, 8]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    advance(&p, &mut k, &cpu, SEC);
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(8));
    assert_eq!(k.peek(SCRATCH + 0x200, 8), 1u64.to_le_bytes());
    // In an epoll.
    let ep = epoll(&mut p, &mut k);
    assert_eq!(ctl(&mut p, &mut k, ep, ADD, fd, EPOLLIN, 77), 0);
    itimerspec(&mut k, ITS, 0, SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        0
    );
    let mut rt = regs(SYS_epoll_wait, &[ep, EVENTS, 4, FOREVER]);
    assert_eq!(dispatch(&mut t, &mut k, &mut rt), Outcome::Wait);
    advance(&p, &mut k, &cpu, 2 * SEC);
    assert_eq!(finish(&mut t, &mut k, &mut rt), Outcome::Return(1));
    assert_eq!(events_at(&k, 1), [(EPOLLIN, 77)]);
}

#[test]
fn closing_a_timerfd_cancels_its_timer() {
    let (mut p, mut k) = setup();
    let fd = sys(&mut p, &mut k, SYS_timerfd_create, &[1, 0]) as u64;
    itimerspec(&mut k, ITS, SEC, SEC);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timerfd_settime, &[fd, 0, ITS, 0]),
        0
    );
    assert!(p.sys.sched.next_deadline().is_some());
    assert_eq!(call(&mut p, &mut k, SYS_close, &[fd]), Outcome::Return(0));
    assert_eq!(p.sys.sched.next_deadline(), None);
}
