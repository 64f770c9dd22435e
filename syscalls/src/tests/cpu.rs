//! CPU time (clocks, getrusage, times), affinity, getcpu, policies and nice values.

use crate::nr::*;
use core::sync::atomic::Ordering;

use crate::sched::TaskBody;
use crate::tests::epoll::second;
use crate::tests::fake::{call, err, setup, sys, SCRATCH};
use crate::{Errno, Outcome};

const MS: u64 = 1_000_000;

fn timespec_at(k: &crate::tests::fake::Fake, addr: u64) -> u64 {
    let b = k.peek(addr, 16);
    let mut s = [0u8; 8];
    let mut n = [0u8; 8];
    s.copy_from_slice(&b[..8]);
    n.copy_from_slice(&b[8..]);
    u64::from_le_bytes(s) * 1_000_000_000 + u64::from_le_bytes(n)
}

/// Linux's MAKE_PROCESS_CPUCLOCK / MAKE_THREAD_CPUCLOCK with CPUCLOCK_SCHED.
fn process_clock(pid: u32) -> u64 {
    ((!(pid as i32) << 3) | 2) as u32 as u64
}
fn thread_clock(tid: u32) -> u64 {
    ((!(tid as i32) << 3) | 6) as u32 as u64
}

#[test]
fn cpu_clocks_sum_the_threads_and_keep_exited_ones() {
    let (mut p, mut k) = setup();
    let mut t = second(&p);
    p.thread.cpu_ns.store(1500 * MS, Ordering::Relaxed);
    t.thread.cpu_ns.store(250 * MS, Ordering::Relaxed);
    let clock = |p: &mut crate::Current, k: &mut _, id: u64| {
        assert_eq!(sys(p, k, SYS_clock_gettime, &[id, SCRATCH]), 0);
        timespec_at(k, SCRATCH)
    };
    assert_eq!(clock(&mut p, &mut k, 3), 1500 * MS);
    assert_eq!(clock(&mut t, &mut k, 3), 250 * MS);
    assert_eq!(clock(&mut p, &mut k, 2), 1750 * MS);
    // The encoded ids of clock_getcpuclockid and pthread_getcpuclockid.
    let (pid, tid) = (p.tid, t.tid);
    assert_eq!(clock(&mut p, &mut k, process_clock(pid)), 1750 * MS);
    assert_eq!(clock(&mut p, &mut k, process_clock(0)), 1750 * MS);
    assert_eq!(clock(&mut p, &mut k, thread_clock(tid)), 250 * MS);
    assert_eq!(clock(&mut t, &mut k, thread_clock(0)), 250 * MS);
    // Unknown tasks and clock fds are EINVAL.
    for bad in [
        thread_clock(999),
        process_clock(999),
        (!5i32 << 3 | 3) as u32 as u64,
    ] {
        assert_eq!(
            sys(&mut p, &mut k, SYS_clock_gettime, &[bad, SCRATCH]),
            err(Errno::EINVAL)
        );
        assert_eq!(
            sys(&mut p, &mut k, SYS_clock_getres, &[bad, SCRATCH]),
            err(Errno::EINVAL)
        );
    }
    // A process clock by a thread's id: only for that thread reading the time.
    assert_eq!(clock(&mut t, &mut k, process_clock(tid)), 1750 * MS);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_clock_gettime,
            &[process_clock(tid), SCRATCH]
        ),
        err(Errno::EINVAL)
    );
    // Resolution: SCHED clocks 1 ns, PROF clocks a tick.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_clock_getres,
            &[thread_clock(tid), SCRATCH]
        ),
        0
    );
    assert_eq!(timespec_at(&k, SCRATCH), 1);
    let prof = ((!(pid as i32) << 3) as u32) as u64;
    assert_eq!(sys(&mut p, &mut k, SYS_clock_getres, &[prof, SCRATCH]), 0);
    assert_eq!(timespec_at(&k, SCRATCH), 4 * MS);
    // An exited thread's time stays in the process's.
    assert_eq!(call(&mut t, &mut k, SYS_exit, &[0]), Outcome::ExitThread);
    drop(t);
    assert_eq!(clock(&mut p, &mut k, 2), 1750 * MS);
}

#[test]
fn getrusage_and_times_report_cpu_time() {
    let (mut p, mut k) = setup();
    let t = second(&p);
    p.thread
        .cpu_ns
        .store(1500 * MS + 123_456, Ordering::Relaxed);
    t.thread.cpu_ns.store(250 * MS, Ordering::Relaxed);
    let utime = |k: &crate::tests::fake::Fake| {
        let b = k.peek(SCRATCH, 16);
        let s = u64::from_le_bytes(b[..8].try_into().unwrap());
        let us = u64::from_le_bytes(b[8..].try_into().unwrap());
        (s, us)
    };
    // Some memory in use, for ru_maxrss.
    let map = sys(&mut p, &mut k, SYS_mmap, &[0, 8192, 3, 0x22, u64::MAX, 0]);
    assert!(map > 0, "mmap: {map}");
    assert_eq!(sys(&mut p, &mut k, SYS_getrusage, &[0, SCRATCH]), 0);
    assert_eq!(utime(&k), (1, 750_123));
    let maxrss = u64::from_le_bytes(k.peek(SCRATCH + 32, 8).try_into().unwrap());
    assert!(maxrss > 0, "ru_maxrss is set");
    assert_eq!(sys(&mut p, &mut k, SYS_getrusage, &[1, SCRATCH]), 0);
    assert_eq!(utime(&k), (1, 500_123));
    k.poke(SCRATCH, &[0xff; 144]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getrusage, &[(-1i64) as u64, SCRATCH]),
        0
    );
    assert_eq!(k.peek(SCRATCH, 144), [0u8; 144]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getrusage, &[2, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_getrusage, &[0, 8]),
        err(Errno::EFAULT)
    );
    // times: 100 ticks a second; the return value is the uptime in ticks.
    k.now = 4_000 * MS;
    assert_eq!(sys(&mut p, &mut k, SYS_times, &[SCRATCH]), 400);
    let b = k.peek(SCRATCH, 32);
    assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), 175);
    assert_eq!(&b[8..], &[0u8; 24]);
    assert_eq!(sys(&mut p, &mut k, SYS_times, &[0]), 400);
    assert_eq!(sys(&mut p, &mut k, SYS_times, &[8]), err(Errno::EFAULT));
}

#[test]
fn affinity_is_per_thread_and_steers_the_scheduler() {
    let (mut p, mut k) = setup();
    let t = second(&p);
    let mask = |k: &crate::tests::fake::Fake| k.peek(SCRATCH + 0x100, 8);
    // Pin the other thread to CPU 1 (of 2): a short mask is zero-extended.
    k.poke(SCRATCH, &[0b10]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_sched_setaffinity,
            &[t.tid as u64, 1, SCRATCH]
        ),
        0
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_sched_getaffinity,
            &[t.tid as u64, 8, SCRATCH + 0x100]
        ),
        8
    );
    assert_eq!(mask(&k), 2u64.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_sched_getaffinity,
            &[0, 8, SCRATCH + 0x100]
        ),
        8
    );
    assert_eq!(mask(&k), 3u64.to_le_bytes(), "the caller is not pinned");
    // No CPU of the machine in the mask: EINVAL; no such thread: ESRCH; bad pointer EFAULT.
    k.poke(SCRATCH, &0b100u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setaffinity, &[0, 8, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setaffinity, &[999, 8, SCRATCH]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setaffinity, &[0, 8, 8]),
        err(Errno::EFAULT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_getaffinity, &[0, 4, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_getaffinity, &[999, 8, SCRATCH]),
        err(Errno::ESRCH)
    );
    // The scheduler puts the pinned thread on CPU 1 only.
    let tid = t.tid;
    let task = p.sys.sched.make_task(TaskBody {
        current: t,
        regs: Default::default(),
        fpu: Default::default(),
    });
    p.sys.sched.enqueue(task);
    assert!(p.sys.sched.pick(0).is_none(), "CPU 0 may not take it");
    let task = p.sys.sched.pick(1).expect("CPU 1 takes it");
    assert_eq!(task.thread.tid, tid);
    // Preempted on CPU 0 (it ran there before the change), it goes back to CPU 1.
    p.sys.sched.requeue(0, task);
    assert!(p.sys.sched.pick(0).is_none());
    assert_eq!(p.sys.sched.pick(1).map(|t| t.thread.tid), Some(tid));
    // Pinning the caller away from its CPU makes the call yield, so that it moves at once.
    p.thread.last_cpu.store(0, Ordering::Relaxed);
    k.poke(SCRATCH, &[0b10]);
    assert_eq!(
        call(&mut p, &mut k, SYS_sched_setaffinity, &[0, 1, SCRATCH]),
        Outcome::Yield(0)
    );
    k.poke(SCRATCH, &[0b11]);
    assert_eq!(
        call(&mut p, &mut k, SYS_sched_setaffinity, &[0, 1, SCRATCH]),
        Outcome::Return(0)
    );
}

#[test]
fn getcpu_reports_the_cpu_the_thread_runs_on() {
    let (mut p, mut k) = setup();
    p.thread.last_cpu.store(1, Ordering::Relaxed);
    k.poke(SCRATCH, &[0xff; 8]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getcpu, &[SCRATCH, SCRATCH + 4, 0]),
        0
    );
    assert_eq!(k.peek(SCRATCH, 8), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(sys(&mut p, &mut k, SYS_getcpu, &[0, 0, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getcpu, &[8, 0, 0]),
        err(Errno::EFAULT)
    );
}

#[test]
fn only_normal_policies_can_be_set() {
    let (mut p, mut k) = setup();
    let param = |k: &mut crate::tests::fake::Fake, prio: i32| k.poke(SCRATCH, &prio.to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, SYS_sched_getscheduler, &[0]), 0);
    param(&mut k, 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 3, SCRATCH]),
        0
    ); // BATCH
    assert_eq!(sys(&mut p, &mut k, SYS_sched_getscheduler, &[0]), 3);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 1, SCRATCH]),
        err(Errno::EINVAL)
    );
    param(&mut k, 10);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 1, SCRATCH]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 0, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 42, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[0, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_sched_setscheduler,
            &[0xffff_ffff, 0, SCRATCH]
        ),
        err(Errno::EINVAL)
    );
    param(&mut k, 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setscheduler, &[999, 0, SCRATCH]),
        err(Errno::ESRCH)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_sched_setparam, &[0, SCRATCH]), 0);
    param(&mut k, 5);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_setparam, &[0, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_sched_getparam, &[0, SCRATCH]), 0);
    assert_eq!(k.peek(SCRATCH, 4), [0u8; 4]);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_getparam, &[0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_sched_get_priority_max, &[1]), 99);
    assert_eq!(sys(&mut p, &mut k, SYS_sched_get_priority_min, &[2]), 1);
    assert_eq!(sys(&mut p, &mut k, SYS_sched_get_priority_max, &[0]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_sched_get_priority_min, &[5]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_get_priority_max, &[4]),
        err(Errno::EINVAL)
    );
    // sched_rr_get_interval: the time slice.
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_rr_get_interval, &[0, SCRATCH]),
        0
    );
    assert_eq!(
        k.peek(SCRATCH, 16),
        [&0u64.to_le_bytes()[..], &10_000_000u64.to_le_bytes()[..]].concat()
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_rr_get_interval, &[999, SCRATCH]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_rr_get_interval, &[0, 8]),
        err(Errno::EFAULT)
    );
}

#[test]
fn nice_values_are_stored_per_thread_and_inherited() {
    let (mut p, mut k) = setup();
    // The raw call answers 20 - nice.
    assert_eq!(sys(&mut p, &mut k, SYS_getpriority, &[0, 0]), 20);
    assert_eq!(sys(&mut p, &mut k, SYS_setpriority, &[0, 0, 5]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_getpriority, &[0, 0]), 15);
    // Going back down needs privileges a container lacks.
    assert_eq!(
        sys(&mut p, &mut k, SYS_setpriority, &[0, 0, 1]),
        err(Errno::EACCES)
    );
    // Out-of-range values are clamped.
    assert_eq!(sys(&mut p, &mut k, SYS_setpriority, &[0, 0, 40]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_getpriority, &[0, 0]), 1);
    p.thread.affinity.store(0b10, Ordering::Relaxed);
    let mut t = second(&p);
    assert_eq!(
        sys(&mut t, &mut k, SYS_getpriority, &[0, 0]),
        1,
        "inherited"
    );
    assert_eq!(t.thread.affinity.load(Ordering::Relaxed), 0b10, "inherited");
    assert_eq!(sys(&mut p, &mut k, SYS_getpriority, &[0, t.tid as u64]), 1);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getpriority, &[0, 999]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_getpriority, &[1, 999]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_getpriority, &[7, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_getpriority, &[2, 0]), 1);
}
