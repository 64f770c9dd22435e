//! Timers that send signals (alarm, itimers, POSIX timers) and signalfd.

use crate::nr::*;
use crate::tests::fake::{setup_on, FakeCpu};
use core::sync::atomic::Ordering;
use std::sync::Arc;

use super::*;
#[test]
fn itimer_real_and_alarm_send_sigalrm() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGALRM));
    // setitimer(ITIMER_REAL, {interval 0.5 s, value 1 s}).
    k.poke(
        SCRATCH,
        &[0u64, 500_000, 1, 0].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(sys(&mut p, &mut k, SYS_setitimer, &[0, SCRATCH, 0]), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(1_000_000_000));
    k.now = 250_000_000;
    assert_eq!(sys(&mut p, &mut k, SYS_getitimer, &[0, SCRATCH + 64]), 0);
    assert_eq!(
        k.peek(SCRATCH + 64, 32),
        [0u64, 500_000, 0, 750_000].map(u64::to_le_bytes).concat()
    );
    p.sys.sched.expire(1_000_000_000);
    assert_eq!(p.process.signals.pending(1), bit(SIGALRM));
    assert_eq!(p.sys.sched.next_deadline(), Some(1_500_000_000), "periodic");
    // alarm(5) replaces it and returns the seconds left, rounded: 0.5 s left → 1.
    k.now = 1_000_000_000;
    assert_eq!(sys(&mut p, &mut k, SYS_alarm, &[5]), 1);
    assert_eq!(p.sys.sched.next_deadline(), Some(6_000_000_000));
    k.now = 1_400_000_000;
    assert_eq!(sys(&mut p, &mut k, SYS_alarm, &[0]), 5, "4.6 s rounds to 5");
    assert_eq!(p.sys.sched.next_deadline(), None);
    assert_eq!(sys(&mut p, &mut k, SYS_alarm, &[0]), 0);
    // Errors: bad `which`, bad microseconds.
    assert_eq!(
        sys(&mut p, &mut k, SYS_getitimer, &[3, SCRATCH]),
        err(Errno::EINVAL)
    );
    k.poke(
        SCRATCH,
        &[0u64, 1_000_000, 1, 0].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_setitimer, &[0, SCRATCH, 0]),
        err(Errno::EINVAL)
    );
    k.poke(SCRATCH, &[0u64, 0, 1, 0].map(u64::to_le_bytes).concat());
    assert_eq!(
        sys(&mut p, &mut k, SYS_setitimer, &[3, SCRATCH, 0]),
        err(Errno::EINVAL)
    );
    // The SIGALRM from the itimer is the kernel's.
    k.poke(SCRATCH, &bit(SIGALRM).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigtimedwait,
            &[SCRATCH, SCRATCH + 0x200, SCRATCH + 8, 8]
        ),
        14
    );
    assert_eq!(u32_at(&k, SCRATCH + 0x208), 0x80, "SI_KERNEL");
}

/// timer_create(clock, sigevent) → the timer id.
fn timer_create(
    p: &mut Current,
    k: &mut Fake,
    clock: u64,
    notify: i32,
    signo: u32,
    tid: u32,
) -> i64 {
    let mut ev = [0u8; 64];
    ev[..8].copy_from_slice(&0xabcdu64.to_le_bytes());
    ev[8..12].copy_from_slice(&signo.to_le_bytes());
    ev[12..16].copy_from_slice(&notify.to_le_bytes());
    ev[16..20].copy_from_slice(&tid.to_le_bytes());
    k.poke(SCRATCH + 0x500, &ev);
    let r = sys(
        p,
        k,
        SYS_timer_create,
        &[clock, SCRATCH + 0x500, SCRATCH + 0x580],
    );
    if r < 0 {
        return r;
    }
    i64::from(u32_at(k, SCRATCH + 0x580))
}

fn timer_settime(
    p: &mut Current,
    k: &mut Fake,
    id: i64,
    flags: u64,
    interval: u64,
    value: u64,
) -> i64 {
    const NS: u64 = 1_000_000_000;
    let spec = [interval / NS, interval % NS, value / NS, value % NS];
    k.poke(SCRATCH + 0x600, &spec.map(u64::to_le_bytes).concat());
    sys(
        p,
        k,
        SYS_timer_settime,
        &[id as u64, flags, SCRATCH + 0x600, 0],
    )
}

#[test]
fn posix_timers_signal_count_overruns_and_can_target_a_thread() {
    let (mut p, mut k) = setup_stack();
    let rt = 40u32;
    set_mask(&mut p, &mut k, bit(u64::from(rt)));
    assert_eq!(
        timer_create(&mut p, &mut k, 1, 0, rt, 0),
        0,
        "ids count from 0"
    );
    assert_eq!(timer_settime(&mut p, &mut k, 0, 0, 100, 1000), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(1000));
    p.sys.sched.expire(1000);
    // Three more periods pass while the signal is still pending: overruns.
    for t in [1100, 1200, 1300] {
        p.sys.sched.expire(t);
    }
    k.poke(SCRATCH, &bit(u64::from(rt)).to_le_bytes());
    k.poke(SCRATCH + 8, &[0u8; 16]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigtimedwait,
            &[SCRATCH, SCRATCH + 0x200, SCRATCH + 8, 8]
        ),
        i64::from(rt)
    );
    let info = k.peek(SCRATCH + 0x200, 32);
    assert_eq!(
        i32::from_le_bytes(info[8..12].try_into().unwrap()),
        -2,
        "SI_TIMER"
    );
    assert_eq!(
        i32::from_le_bytes(info[16..20].try_into().unwrap()),
        0,
        "si_tid: timer id"
    );
    assert_eq!(
        i32::from_le_bytes(info[20..24].try_into().unwrap()),
        3,
        "si_overrun"
    );
    assert_eq!(
        u64::from_le_bytes(info[24..32].try_into().unwrap()),
        0xabcd,
        "si_value"
    );
    assert_eq!(sys(&mut p, &mut k, SYS_timer_getoverrun, &[0]), 3);
    // timer_gettime: the time to the next expiry and the interval.
    k.now = 1350;
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_gettime, &[0, SCRATCH + 0x700]),
        0
    );
    assert_eq!(
        k.peek(SCRATCH + 0x700, 32),
        [0u64, 100, 0, 50].map(u64::to_le_bytes).concat()
    );
    assert_eq!(sys(&mut p, &mut k, SYS_timer_delete, &[0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_delete, &[0]),
        err(Errno::EINVAL)
    );
    assert_eq!(p.sys.sched.next_deadline(), None);

    // SIGEV_THREAD_ID: the signal is the thread's own.
    let tid = p.sys.sched.alloc_tid();
    let other = p.new_thread(tid);
    let id = timer_create(&mut p, &mut k, 0, 4, SIGUSR2 as u32, tid);
    assert_eq!(id, 1);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 10), 0);
    p.sys.sched.expire(k.now + 10);
    assert!(other.thread.sig.flagged());
    assert_eq!(p.process.signals.pending(tid), bit(SIGUSR2));
    assert_eq!(p.process.signals.pending(1), 0);
    // Bad events, clocks and ids.
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 4, 10, 9999),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 0, 65, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 0, 7, 10, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 4, 0, 10, 0),
        err(Errno::EOPNOTSUPP)
    );
    assert_eq!(
        timer_create(&mut p, &mut k, 42, 0, 10, 0),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_settime(&mut p, &mut k, 77, 0, 0, 10),
        err(Errno::EINVAL)
    );
    assert_eq!(
        timer_settime(&mut p, &mut k, id, 0, 0, 1_000_000_000 * 3 + 5),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_gettime, &[99, SCRATCH]),
        err(Errno::EINVAL)
    );
    // A failed timer_create used up an id, as on Linux.
    assert_eq!(timer_create(&mut p, &mut k, 1, 1, 0, 0), 5);
}

#[test]
fn sigev_none_timers_only_count_down_and_abstime_is_absolute() {
    let (mut p, mut k) = setup_stack();
    let id = timer_create(&mut p, &mut k, 1, 1, 0, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 500), 0);
    assert_eq!(p.sys.sched.next_deadline(), None, "nothing to fire");
    k.now = 200;
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_gettime, &[id as u64, SCRATCH]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH + 24), 300);
    k.now = 900;
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_gettime, &[id as u64, SCRATCH]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH + 24), 0, "expired");
    // TIMER_ABSTIME on CLOCK_MONOTONIC.
    let id = timer_create(&mut p, &mut k, 1, 0, SIGUSR1 as u32, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 1, 0, 5000), 0);
    assert_eq!(p.sys.sched.next_deadline(), Some(5000));
}

#[test]
fn signalfd_reads_pending_signals_of_its_mask() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1) | bit(SIGUSR2));
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    let fd = sys(
        &mut p,
        &mut k,
        SYS_signalfd4,
        &[u64::MAX, SCRATCH, 8, 0o4000],
    );
    assert!(fd >= 3, "{fd}");
    let fd = fd as u64;
    let file = p.file(fd as i32).unwrap();
    assert_eq!(file.path(), b"anon_inode:[signalfd]");
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH + 0x100, 128]),
        err(Errno::EAGAIN)
    );
    assert_eq!(file.ops().poll(), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR2]), 0);
    assert_eq!(file.ops().poll(), 0, "not in its mask");
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    assert_eq!(file.ops().poll(), 1, "POLLIN");
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH + 0x100, 127]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH + 0x100, 300]),
        128
    );
    assert_eq!(u32_at(&k, SCRATCH + 0x100), 10, "ssi_signo");
    assert_eq!(u32_at(&k, SCRATCH + 0x108), 0, "ssi_code SI_USER");
    assert_eq!(u32_at(&k, SCRATCH + 0x10c), 1, "ssi_pid");
    // SIGUSR2 is still pending (not in the mask); the fd's mask can be changed.
    assert_eq!(p.process.signals.pending(1), bit(SIGUSR2));
    k.poke(SCRATCH, &bit(SIGUSR2).to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_signalfd4, &[fd, SCRATCH, 8, 0]),
        fd as i64
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH + 0x100, 128]),
        128
    );
    assert_eq!(u32_at(&k, SCRATCH + 0x100), 12);
    // Errors.
    assert_eq!(
        sys(&mut p, &mut k, SYS_signalfd4, &[u64::MAX, SCRATCH, 4, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_signalfd4, &[u64::MAX, SCRATCH, 8, 1]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_signalfd4, &[1, SCRATCH, 8, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_signalfd4, &[99, SCRATCH, 8, 0]),
        err(Errno::EBADF)
    );
}

#[test]
fn a_blocking_signalfd_read_waits_for_a_signal() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGUSR1));
    k.poke(SCRATCH, &bit(SIGUSR1).to_le_bytes());
    let fd = sys(&mut p, &mut k, SYS_signalfd, &[u64::MAX, SCRATCH, 8]) as u64;
    let mut r = crate::tests::fake::regs(SYS_read, &[fd, SCRATCH + 0x100, 256]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let tid = p.sys.sched.alloc_tid();
    let mut other = p.new_thread(tid);
    assert_eq!(sys(&mut other, &mut k, SYS_kill, &[1, SIGUSR1]), 0);
    let why = p.thread.finish_wait().expect("woken by the queued signal");
    assert_eq!(resume(&mut p, &mut k, &mut r, why), Outcome::Return(128));
    assert_eq!(
        u32_at(&k, SCRATCH + 0x10c),
        1,
        "ssi_pid: the sender's process"
    );
}

#[test]
fn cpu_time_itimers_and_timers_count_the_processs_cpu_time() {
    let (mut p, mut k) = setup_stack();
    set_mask(&mut p, &mut k, bit(SIGPROF) | bit(SIGVTALRM));
    // setitimer(ITIMER_PROF, 30 ms of CPU time).
    k.poke(
        SCRATCH,
        &[0u64, 0, 0, 30_000].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(sys(&mut p, &mut k, SYS_setitimer, &[2, SCRATCH, 0]), 0);
    // Checked when the CPU time could have got there (one thread: 30 ms of wall time).
    assert_eq!(p.sys.sched.next_deadline(), Some(30_000_000));
    p.sys.sched.expire(30_000_000);
    assert_eq!(
        p.process.signals.pending(1),
        0,
        "no CPU time was used: not yet"
    );
    p.thread.cpu_ns.store(10_000_000, Ordering::Relaxed);
    assert_eq!(sys(&mut p, &mut k, SYS_getitimer, &[2, SCRATCH + 64]), 0);
    assert_eq!(
        k.peek(SCRATCH + 64, 32),
        [0u64, 0, 0, 20_000].map(u64::to_le_bytes).concat(),
        "20 ms of CPU time left"
    );
    p.thread.cpu_ns.store(31_000_000, Ordering::Relaxed);
    p.sys.sched.expire(u64::MAX / 2);
    assert_eq!(p.process.signals.pending(1), bit(SIGPROF));
    // ITIMER_VIRTUAL sends SIGVTALRM.
    k.poke(SCRATCH, &[0u64, 0, 0, 1_000].map(u64::to_le_bytes).concat());
    assert_eq!(sys(&mut p, &mut k, SYS_setitimer, &[1, SCRATCH, 0]), 0);
    p.thread.cpu_ns.store(40_000_000, Ordering::Relaxed);
    p.sys.sched.expire(u64::MAX / 2);
    assert_eq!(p.process.signals.pending(1), bit(SIGPROF) | bit(SIGVTALRM));
    // A POSIX timer on the process CPU clock, by glibc's encoding of CLOCK_PROCESS_CPUTIME_ID
    // (MAKE_PROCESS_CPUCLOCK(0, CPUCLOCK_SCHED) = -6), and on the thread's (3).
    let id = timer_create(&mut p, &mut k, (-6i64) as u64, 0, SIGUSR1 as u32, 0);
    assert_eq!(id, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 5_000_000), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_timer_gettime, &[id as u64, SCRATCH]),
        0
    );
    assert_eq!(u64_at(&k, SCRATCH + 24), 5_000_000, "remaining CPU time");
    p.thread.cpu_ns.store(46_000_000, Ordering::Relaxed);
    p.sys.sched.expire(u64::MAX / 2);
    assert_eq!(p.process.signals.pending(1) & bit(SIGUSR1), bit(SIGUSR1));
    assert!(p.thread.sig.flagged(), "unblocked: the thread is told");
    assert_eq!(timer_create(&mut p, &mut k, 3, 1, 0, 0), 1);
    assert_eq!(
        timer_create(&mut p, &mut k, (-6i64 - 8 * 99) as u64, 0, 10, 0),
        err(Errno::EINVAL),
        "another process's CPU clock"
    );
}

#[test]
fn a_rearmed_or_deleted_timer_never_delivers_its_stale_signal() {
    let (mut p, mut k) = setup_stack();
    let rt = 40u32;
    set_mask(&mut p, &mut k, bit(u64::from(rt)));
    let pending = |p: &mut Current, k: &mut Fake| {
        assert_eq!(sys(p, k, SYS_rt_sigpending, &[SCRATCH + 0x800, 8]), 0); // rt_sigpending
        u64::from_le_bytes(k.peek(SCRATCH + 0x800, 8).try_into().unwrap())
    };
    let id = timer_create(&mut p, &mut k, 1, 0, rt, 0);
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 1000), 0);
    p.sys.sched.expire(1000);
    assert_eq!(
        pending(&mut p, &mut k),
        bit(u64::from(rt)),
        "queued while blocked"
    );
    // Re-arming drops the signal of the old setting (Linux 6.13 and later).
    assert_eq!(timer_settime(&mut p, &mut k, id, 0, 0, 2000), 0);
    assert_eq!(pending(&mut p, &mut k), 0);
    p.sys.sched.expire(2000);
    assert_eq!(pending(&mut p, &mut k), bit(u64::from(rt)));
    // So does deleting the timer.
    assert_eq!(sys(&mut p, &mut k, SYS_timer_delete, &[id as u64]), 0);
    assert_eq!(pending(&mut p, &mut k), 0);
}

#[test]
fn a_cpu_time_timer_fires_for_a_thread_spinning_in_user_mode_on_another_cpu() {
    // The thread runs user code without entering the kernel, so nothing charges its CPU time;
    // the timer is checked from another CPU's timer interrupt and must count the stretch it
    // is running now (a CI run once spun 60 s with ITIMER_PROF never firing).
    let cpu = Arc::new(FakeCpu::default());
    let (mut p, mut k) = setup_on(cpu.clone());
    set_mask(&mut p, &mut k, bit(SIGPROF));
    k.poke(
        SCRATCH,
        &[0u64, 0, 0, 30_000].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(sys(&mut p, &mut k, SYS_setitimer, &[2, SCRATCH, 0]), 0);
    p.thread.start_running(1_000);
    cpu.now.store(31_001_000, Ordering::Relaxed);
    p.sys.sched.expire(31_001_000);
    assert_eq!(
        p.process.signals.pending(1),
        bit(SIGPROF),
        "30 ms of the 31 it has been on the CPU count"
    );
    p.thread.stop_running(31_002_000);
    assert_eq!(
        p.thread.cpu_time(99_000_000),
        31_001_000,
        "charged as it left"
    );
}
