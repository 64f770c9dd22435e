//! The table itself, identity, time, signals, exit, arch_prctl.

use super::fake::*;
use crate::nr::*;
use coracle_vfs::{Wake, Waker};

use crate::platform::Clock;
use crate::tests::fake::regs;
use crate::{dispatch, implemented, resume, syscall_name, Errno, Outcome};

#[test]
fn unknown_syscalls_are_enosys_and_logged_once_by_name() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_kexec_load, &[]), err(Errno::ENOSYS)); // kexec_load
    assert_eq!(sys(&mut p, &mut k, SYS_kexec_load, &[]), err(Errno::ENOSYS));
    assert_eq!(sys(&mut p, &mut k, 9999, &[]), err(Errno::ENOSYS));
    assert_eq!(k.log.len(), 2, "{:?}", k.log);
    assert!(k.log[0].contains("kexec_load"), "{}", k.log[0]);
    assert!(k.log[1].contains("9999"));
}

#[test]
fn the_table_uses_linux_numbers() {
    let list = implemented();
    assert!(
        list.windows(2).all(|w| w[0].nr < w[1].nr),
        "sorted, no duplicates"
    );
    for s in list {
        assert_eq!(syscall_name(s.nr), Some(s.name), "syscall {}", s.nr);
    }
    assert!(list.len() > 50);
    // The calls that need the caller's registers are in the table too.
    for name in [
        "rt_sigreturn",
        "clone",
        "fork",
        "vfork",
        "execve",
        "sigaltstack",
        "execveat",
        "clone3",
    ] {
        let s = list.iter().find(|s| s.name == name).expect(name);
        assert!(s.regs, "{name} gets the registers");
    }
    assert_eq!(list.iter().filter(|s| s.regs).count(), 8);
}

#[test]
fn every_linux_number_has_one_name() {
    let others = crate::names::not_implemented();
    assert!(others.windows(2).all(|w| w[0].0 < w[1].0));
    for &(nr, name) in others {
        assert!(
            implemented().iter().all(|s| s.nr != nr && s.name != name),
            "{name} ({nr}) is both in the table and in names.rs"
        );
        assert_eq!(syscall_name(nr), Some(name));
    }
    // asm/unistd_64.h numbers 0..=334 and 424..=462, all named.
    let named = (0..=334)
        .chain(424..=462)
        .filter(|&nr| syscall_name(nr).is_some());
    assert_eq!(named.count(), 335 + 39);
    assert_eq!(crate::nr::SYS_openat, 257);
    assert_eq!(crate::nr::SYS_kexec_load, 246);
}

#[test]
fn exit_and_exit_group_encode_the_status() {
    let (mut p, mut k) = setup();
    assert_eq!(
        call(&mut p, &mut k, SYS_exit_group, &[0x1ff, 0, 0, 0, 0, 0]),
        Outcome::Exit(0xff)
    );
    let (mut p, mut k) = setup();
    assert_eq!(
        call(&mut p, &mut k, SYS_exit, &[3, 0, 0, 0, 0, 0]),
        Outcome::Exit(3)
    );
}

#[test]
fn uname_says_linux_x86_64() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_uname, &[SCRATCH]), 0);
    let u = k.peek(SCRATCH, 65 * 6);
    let field = |i: usize| {
        let f = &u[i * 65..(i + 1) * 65];
        f[..f.iter().position(|&b| b == 0).unwrap()].to_vec()
    };
    assert_eq!(field(0), b"Linux");
    assert_eq!(field(1), b"box");
    assert!(field(2).starts_with(b"6.6."));
    assert_eq!(field(4), b"x86_64");
    assert_eq!(
        sys(&mut p, &mut k, SYS_uname, &[0xffff_8000_0000_0000]),
        err(Errno::EFAULT)
    );
}

#[test]
fn clocks_and_sleep() {
    let (mut p, mut k) = setup();
    k.now = 5_000_000_123;
    assert_eq!(sys(&mut p, &mut k, SYS_clock_gettime, &[1, SCRATCH]), 0);
    assert_eq!(
        k.peek(SCRATCH, 16),
        [&5u64.to_le_bytes()[..], &123u64.to_le_bytes()[..]].concat()
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_clock_gettime, &[99, SCRATCH]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_clock_gettime, &[0, 8]),
        err(Errno::EFAULT)
    );
    // nanosleep: tv_nsec out of range is EINVAL; a good one sleeps to now + duration.
    k.poke(
        SCRATCH,
        &[&0u64.to_le_bytes()[..], &1_000_000_000u64.to_le_bytes()[..]].concat(),
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_nanosleep, &[SCRATCH, 0]),
        err(Errno::EINVAL)
    );
    k.poke(
        SCRATCH,
        &[&1u64.to_le_bytes()[..], &5u64.to_le_bytes()[..]].concat(),
    );
    // It waits with a deadline; the scheduler's timer ends the wait and the call returns 0.
    let mut r = regs(SYS_nanosleep, &[SCRATCH, 0]);
    assert_eq!(dispatch(&mut p, &mut k, &mut r), Outcome::Wait);
    let deadline = 5_000_000_123 + 1_000_000_005;
    assert_eq!(p.sys.sched.next_deadline(), Some(deadline));
    let token = p.thread.begin_wait();
    p.sys.sched.expire(deadline - 1);
    assert!(p.thread.is_waiting(token), "not yet due");
    p.sys.sched.expire(deadline);
    assert!(!p.thread.is_waiting(token));
    let why = p.thread.finish_wait().expect("a wake reason");
    assert_eq!(why, Wake::TimedOut);
    k.now = deadline;
    assert_eq!(resume(&mut p, &mut k, &mut r, why), Outcome::Return(0));
    assert_eq!(p.sys.sched.next_deadline(), None);
    let t = sys(&mut p, &mut k, SYS_time, &[0]);
    assert_eq!(t as u64, k.realtime_ns() / 1_000_000_000);
}

#[test]
fn arch_prctl_sets_fs_and_refuses_kernel_addresses() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_arch_prctl, &[0x1002, 0x1234_5000]),
        0
    );
    assert_eq!(k.fs_base, 0x1234_5000);
    assert_eq!(sys(&mut p, &mut k, SYS_arch_prctl, &[0x1003, SCRATCH]), 0);
    assert_eq!(k.peek(SCRATCH, 8), 0x1234_5000u64.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_arch_prctl,
            &[0x1002, 0xffff_8000_0000_0000]
        ),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_arch_prctl, &[0x9999, 0]),
        err(Errno::EINVAL)
    );
}

#[test]
fn identity_is_root_pid_1() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_getpid, &[]), 1);
    assert_eq!(sys(&mut p, &mut k, SYS_getuid, &[]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_set_tid_address, &[SCRATCH]), 1);
    assert_eq!(sys(&mut p, &mut k, SYS_set_robust_list, &[SCRATCH, 24]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_set_robust_list, &[SCRATCH, 16]),
        err(Errno::EINVAL)
    );
}

#[test]
fn getcwd_readlink_and_getrandom() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_getcwd, &[SCRATCH, 100]), 6);
    assert_eq!(k.peek(SCRATCH, 6), b"/work\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_getcwd, &[SCRATCH, 3]),
        err(Errno::ERANGE)
    );
    k.poke(SCRATCH, b"/proc/self/exe\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_readlink, &[SCRATCH, SCRATCH + 100, 64]),
        8
    );
    assert_eq!(k.peek(SCRATCH + 100, 8), b"/bin/app");
    assert_eq!(
        sys(&mut p, &mut k, SYS_readlink, &[SCRATCH, SCRATCH + 100, 4]),
        4
    );
    assert_eq!(sys(&mut p, &mut k, SYS_getrandom, &[SCRATCH, 300, 0]), 300);
    assert_eq!(
        sys(&mut p, &mut k, SYS_getrandom, &[SCRATCH, 10, 8]),
        err(Errno::EINVAL)
    );
}

#[test]
fn sched_getaffinity_reports_the_vm_cpus() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_getaffinity, &[0, 128, SCRATCH]),
        8
    );
    assert_eq!(k.peek(SCRATCH, 8), 3u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_sched_getaffinity, &[0, 4, SCRATCH]),
        err(Errno::EINVAL)
    );
}
