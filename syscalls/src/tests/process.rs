//! Processes: fork, exit and wait (status words, options, zombies, reparenting, SIGCHLD),
//! `#!` parsing, execve's argument limits and close-on-exec.

use crate::nr::*;
use std::sync::Arc;
use std::vec::Vec;

use super::fake::{call, err, setup, sys, Fake, RW, SCRATCH};
use crate::process::ExitStatus;
use crate::sys::process::exec::{parse_shebang, Shebang};
use crate::{exit_process, thread_gone, Current, Errno, Outcome};

const WNOHANG: u64 = 1;
const WNOWAIT: u64 = 0x0100_0000;
const WEXITED: u64 = 4;
const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const SIGCHLD: i32 = 17;

/// The parent's space handle, so the fake can switch between parent and child.
fn own_space(p: &Current, k: &mut Fake) {
    if p.process.space.lock().is_none() {
        *p.process.space.lock() = Some(crate::platform::AddressSpaces::space(k));
    }
}

/// Forks `p` and returns the child's handle (taken from the run queue) and pid.
pub(super) fn fork(p: &mut Current, k: &mut Fake) -> (Current, u32) {
    own_space(p, k);
    let pid = sys(p, k, SYS_fork, &[]);
    assert!(pid > 1, "fork returned {pid}");
    let task = p.sys.sched.pick(0).expect("the child is runnable");
    let body = Arc::try_unwrap(task)
        .map(|t| t.body.into_inner())
        .expect("only the run queue held the task");
    assert_eq!(body.regs.rax, 0, "the child returns 0");
    (body.current, pid as u32)
}

/// Runs `f` as `who` (its address space current), then switches back to `back`.
pub(super) fn as_proc<T>(
    who: &mut Current,
    back: &Current,
    k: &mut Fake,
    f: impl FnOnce(&mut Current, &mut Fake) -> T,
) -> T {
    let space = who
        .process
        .space
        .lock()
        .clone()
        .expect("a live process has a space");
    crate::platform::AddressSpaces::switch_space(k, &space);
    let r = f(who, k);
    if let Some(s) = back.process.space.lock().clone() {
        crate::platform::AddressSpaces::switch_space(k, &s);
    }
    r
}

/// The child exits with `code` through exit_group, as the kernel's loop would end it.
fn exit_child(child: &mut Current, parent: &Current, k: &mut Fake, code: u64) {
    as_proc(child, parent, k, |c, k| {
        assert_eq!(
            call(c, k, SYS_exit_group, &[code]),
            Outcome::Exit(code as u32)
        );
        assert_eq!(exit_process(c), None, "not PID 1: the VM goes on");
        assert_eq!(thread_gone(c), None);
    });
}

fn read_u32(k: &Fake, addr: u64) -> u32 {
    u32::from_le_bytes(k.peek(addr, 4).try_into().unwrap())
}

#[test]
fn status_words_are_linux_encodings() {
    assert_eq!(ExitStatus::Exited(3).wait_status(), 0x300);
    assert_eq!(ExitStatus::Exited(0).wait_status(), 0);
    assert_eq!(
        ExitStatus::Signaled {
            sig: 9,
            core: false
        }
        .wait_status(),
        9
    );
    assert_eq!(
        ExitStatus::Signaled {
            sig: 11,
            core: true
        }
        .wait_status(),
        0x8b
    );
    assert_eq!(
        ExitStatus::Signaled {
            sig: 15,
            core: false
        }
        .docker(),
        143
    );
    assert_eq!(ExitStatus::Exited(300 & 0xff).docker(), 44);
}

#[test]
fn fork_copies_memory_and_wait4_reaps_the_status() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"parent");
    let (mut child, pid) = fork(&mut p, &mut k);
    assert_eq!(child.process.ppid(), 1);
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(k.peek(SCRATCH, 6), b"parent");
        k.poke(SCRATCH, b"child!");
        assert_eq!(sys(c, k, SYS_getppid, &[]), 1);
    });
    assert_eq!(
        k.peek(SCRATCH, 6),
        b"parent",
        "the parent's memory is its own"
    );
    // Nothing to report yet: WNOHANG returns 0.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_wait4,
            &[u64::MAX, SCRATCH + 64, WNOHANG, 0]
        ),
        0
    );
    exit_child(&mut child, &p, &mut k, 3);
    let got = sys(&mut p, &mut k, SYS_wait4, &[u64::MAX, SCRATCH + 64, 0, 0]);
    assert_eq!(got, pid as i64);
    assert_eq!(read_u32(&k, SCRATCH + 64), 0x300);
    // Reaped: nothing is left.
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[u64::MAX, 0, 0, 0]),
        err(Errno::ECHILD)
    );
    assert!(p.sys.process(pid).is_none());
}

#[test]
fn wait4_without_children_or_for_a_stranger_is_echild() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[u64::MAX, 0, 0, 0]),
        err(Errno::ECHILD)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[12345, 0, 0, 0]),
        err(Errno::ECHILD)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[u64::MAX, 0, 0x10, 0]),
        err(Errno::EINVAL)
    );
}

#[test]
fn a_wait_with_live_children_blocks_until_one_ends() {
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    assert_eq!(
        call(&mut p, &mut k, SYS_wait4, &[pid as u64, SCRATCH, 0, 0]),
        Outcome::Wait
    );
    exit_child(&mut child, &p, &mut k, 7);
    let why = p
        .thread
        .finish_wait()
        .expect("the child's end woke the parent");
    let mut r = super::fake::regs(SYS_wait4, &[pid as u64, SCRATCH, 0, 0]);
    assert_eq!(
        crate::resume(&mut p, &mut k, &mut r, why),
        Outcome::Return(pid as u64)
    );
    assert_eq!(read_u32(&k, SCRATCH), 0x700);
}

#[test]
fn waitid_reports_siginfo_and_wnowait_leaves_the_zombie() {
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    // WNOHANG with nothing to report zeroes the siginfo.
    k.poke(SCRATCH, &[0xff; 128]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_waitid,
            &[P_ALL, 0, SCRATCH, WEXITED | WNOHANG, 0]
        ),
        0
    );
    assert_eq!(k.peek(SCRATCH, 128), [0u8; 128]);
    // waitid needs one of WEXITED, WSTOPPED, WCONTINUED.
    assert_eq!(
        sys(&mut p, &mut k, SYS_waitid, &[P_ALL, 0, SCRATCH, WNOHANG, 0]),
        err(Errno::EINVAL)
    );
    exit_child(&mut child, &p, &mut k, 5);
    for _ in 0..2 {
        let r = sys(
            &mut p,
            &mut k,
            SYS_waitid,
            &[P_PID, pid as u64, SCRATCH, WEXITED | WNOWAIT, 0],
        );
        assert_eq!(r, 0);
        assert_eq!(read_u32(&k, SCRATCH), 17, "si_signo SIGCHLD");
        assert_eq!(read_u32(&k, SCRATCH + 8), 1, "si_code CLD_EXITED");
        assert_eq!(read_u32(&k, SCRATCH + 16), pid, "si_pid");
        assert_eq!(read_u32(&k, SCRATCH + 24), 5, "si_status");
    }
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_waitid,
            &[P_PID, pid as u64, SCRATCH, WEXITED, 0]
        ),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_waitid, &[P_ALL, 0, SCRATCH, WEXITED, 0]),
        err(Errno::ECHILD)
    );
}

#[test]
fn a_child_killed_by_a_signal_reports_it() {
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    as_proc(&mut child, &p, &mut k, |c, _| {
        c.process.set_exit(ExitStatus::Signaled {
            sig: 15,
            core: false,
        });
        assert_eq!(exit_process(c), None);
        assert_eq!(thread_gone(c), None);
    });
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[pid as u64, SCRATCH, 0, 0]),
        pid as i64
    );
    assert_eq!(read_u32(&k, SCRATCH), 15);
}

#[test]
fn the_parent_gets_sigchld_with_the_status() {
    let (mut p, mut k) = setup();
    let (mut child, _) = fork(&mut p, &mut k);
    // A handler makes SIGCHLD pending instead of ignored.
    k.poke(SCRATCH + 256, &0x1234u64.to_le_bytes());
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigaction,
            &[SIGCHLD as u64, SCRATCH + 256, 0, 8]
        ),
        0
    );
    exit_child(&mut child, &p, &mut k, 2);
    let pending = p.process.signals.pending(p.tid);
    assert_ne!(pending & (1 << (SIGCHLD - 1)), 0);
}

#[test]
fn a_parent_ignoring_sigchld_leaves_no_zombie() {
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    k.poke(SCRATCH + 256, &1u64.to_le_bytes()); // SIG_IGN
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_rt_sigaction,
            &[SIGCHLD as u64, SCRATCH + 256, 0, 8]
        ),
        0
    );
    exit_child(&mut child, &p, &mut k, 0);
    assert!(p.sys.process(pid).is_none());
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[u64::MAX, 0, 0, 0]),
        err(Errno::ECHILD)
    );
}

#[test]
fn orphans_go_to_pid_1_and_pid_1_reaps_them() {
    let (mut init, mut k) = setup();
    let (mut a, a_pid) = fork(&mut init, &mut k);
    let (mut b, b_pid) = as_proc(&mut a, &init, &mut k, |a, k| {
        let (b, pid) = fork(a, k);
        (b, pid)
    });
    assert_eq!(b.process.ppid(), a_pid);
    exit_child(&mut a, &init, &mut k, 0);
    assert_eq!(b.process.ppid(), 1, "reparented to init");
    assert_eq!(
        sys(&mut init, &mut k, SYS_wait4, &[a_pid as u64, 0, 0, 0]),
        a_pid as i64
    );
    exit_child(&mut b, &init, &mut k, 4);
    assert_eq!(
        sys(&mut init, &mut k, SYS_wait4, &[u64::MAX, SCRATCH, 0, 0]),
        b_pid as i64
    );
    assert_eq!(read_u32(&k, SCRATCH), 0x400);
}

#[test]
fn shebang_lines_parse_as_binfmt_script() {
    let sb = |i: &[u8], a: Option<&[u8]>| {
        Some(Shebang {
            interp: i.to_vec(),
            arg: a.map(<[u8]>::to_vec),
        })
    };
    assert_eq!(parse_shebang(b"#!/bin/sh\necho"), Ok(sb(b"/bin/sh", None)));
    assert_eq!(
        parse_shebang(b"#! /bin/sh -e -x \n"),
        Ok(sb(b"/bin/sh", Some(b"-e -x")))
    );
    assert_eq!(
        parse_shebang(b"#!\t/usr/bin/env  python3\t\n"),
        Ok(sb(b"/usr/bin/env", Some(b"python3")))
    );
    assert_eq!(parse_shebang(b"#!/bin/sh"), Ok(sb(b"/bin/sh", None)));
    assert_eq!(parse_shebang(b"\x7fELF"), Ok(None));
    assert_eq!(parse_shebang(b"#!   \n"), Err(Errno::ENOEXEC));
    assert_eq!(parse_shebang(b"#!\n"), Err(Errno::ENOEXEC));
    // An interpreter name cut by the 256-byte limit is refused; an argument may be cut.
    let mut long = b"#!/".to_vec();
    long.extend(std::iter::repeat_n(b'a', 300));
    assert_eq!(parse_shebang(&long), Err(Errno::ENOEXEC));
    let mut cut_arg = b"#!/bin/sh ".to_vec();
    cut_arg.extend(std::iter::repeat_n(b'x', 300));
    let got = parse_shebang(&cut_arg).unwrap().unwrap();
    assert_eq!(got.interp, b"/bin/sh");
    assert_eq!(got.arg.unwrap().len(), 256 - 2 - 8);
}

#[test]
fn execve_refuses_arguments_over_the_limit_before_anything_changes() {
    let (mut p, mut k) = setup();
    // 17 strings of 128 KiB - 1 bytes exceed a quarter of the 8 MiB stack limit.
    let base = 0x4000_0000u64;
    let len = 128 << 10;
    k.map(base, 17 * len + 4096, RW);
    let mut ptrs = Vec::new();
    for i in 0..17u64 {
        let s = base + i * len;
        k.poke(s, &std::vec![b'a'; len as usize - 1]);
        ptrs.push(s);
    }
    let array = base + 17 * len;
    for (i, s) in ptrs.iter().enumerate() {
        k.poke(array + i as u64 * 8, &s.to_le_bytes());
    }
    k.poke(array + 17 * 8, &0u64.to_le_bytes());
    k.poke(SCRATCH, b"/bin/app\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_execve, &[SCRATCH, array, 0]),
        err(Errno::E2BIG)
    );
    // One string longer than MAX_ARG_STRLEN is E2BIG too.
    k.poke(base + len - 1, b"b");
    k.poke(array + 8, &0u64.to_le_bytes());
    assert_eq!(
        sys(&mut p, &mut k, SYS_execve, &[SCRATCH, array, 0]),
        err(Errno::E2BIG)
    );
    // A file that is neither ELF nor script is ENOEXEC, one that is not there ENOENT, a
    // directory EACCES.
    assert_eq!(
        sys(&mut p, &mut k, SYS_execve, &[SCRATCH, 0, 0]),
        err(Errno::ENOEXEC)
    );
    k.poke(SCRATCH, b"/nonexistent\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_execve, &[SCRATCH, 0, 0]),
        err(Errno::ENOENT)
    );
    k.poke(SCRATCH, b"/\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_execve, &[SCRATCH, 0, 0]),
        err(Errno::EACCES)
    );
}

#[test]
fn close_on_exec_closes_only_the_marked_fds() {
    let (mut p, mut k) = setup();
    const O_CLOEXEC: u64 = 0o2000000;
    assert_eq!(sys(&mut p, &mut k, SYS_pipe2, &[SCRATCH, O_CLOEXEC]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_pipe2, &[SCRATCH + 8, 0]), 0);
    let (a, b) = (
        read_u32(&k, SCRATCH) as i32,
        read_u32(&k, SCRATCH + 8) as i32,
    );
    crate::sys::process::exec::close_on_exec(&p);
    assert_eq!(p.file(a).err(), Some(Errno::EBADF));
    assert!(p.file(b).is_ok());
    assert!(p.file(0).is_ok());
}

#[test]
fn process_groups_and_sessions_follow_setpgid_and_setsid_rules() {
    let (mut init, mut k) = setup();
    // PID 1 leads its session and group: it cannot make a new session.
    assert_eq!(sys(&mut init, &mut k, SYS_setsid, &[]), err(Errno::EPERM));
    let (mut child, pid) = fork(&mut init, &mut k);
    assert_eq!(sys(&mut init, &mut k, SYS_getpgid, &[pid as u64]), 1);
    // The parent may move its child to a new group named after it.
    assert_eq!(sys(&mut init, &mut k, SYS_setpgid, &[pid as u64, 0]), 0);
    assert_eq!(
        sys(&mut init, &mut k, SYS_getpgid, &[pid as u64]),
        pid as i64
    );
    // A group that does not exist in the session is EPERM; a stranger is ESRCH.
    assert_eq!(
        sys(&mut init, &mut k, SYS_setpgid, &[pid as u64, 4242]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut init, &mut k, SYS_setpgid, &[4242, 0]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut init, &mut k, SYS_setpgid, &[0, u64::MAX]),
        err(Errno::EINVAL)
    );
    as_proc(&mut child, &init, &mut k, |c, k| {
        // A group leader cannot start a session; back in group 1 it can.
        assert_eq!(sys(c, k, SYS_setsid, &[]), err(Errno::EPERM));
        assert_eq!(sys(c, k, SYS_setpgid, &[0, 1]), 0);
        assert_eq!(sys(c, k, SYS_setsid, &[]), pid as i64);
        assert_eq!(sys(c, k, SYS_getsid, &[0]), pid as i64);
        assert_eq!(sys(c, k, SYS_getpgid, &[0]), pid as i64);
    });
    // In another session now: the parent can no longer move it.
    assert_eq!(
        sys(&mut init, &mut k, SYS_setpgid, &[pid as u64, 1]),
        err(Errno::EPERM)
    );
    assert_eq!(
        sys(&mut init, &mut k, SYS_getsid, &[pid as u64]),
        pid as i64
    );
}

#[test]
fn kill_reaches_a_group_and_skips_init_for_minus_one() {
    let (mut init, mut k) = setup();
    let (child, pid) = fork(&mut init, &mut k);
    assert_eq!(sys(&mut init, &mut k, SYS_setpgid, &[pid as u64, 0]), 0);
    const SIGUSR1: u64 = 10;
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_kill,
            &[(-(pid as i64)) as u64, SIGUSR1]
        ),
        0
    );
    assert_ne!(child.process.signals.pending(child.tid) & (1 << 9), 0);
    // No such group, no such process.
    assert_eq!(
        sys(&mut init, &mut k, SYS_kill, &[(-4242i64) as u64, SIGUSR1]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut init, &mut k, SYS_kill, &[4242, 0]),
        err(Errno::ESRCH)
    );
    // kill(-1) from init reaches the child, not init itself.
    const SIGUSR2: u64 = 12;
    assert_eq!(sys(&mut init, &mut k, SYS_kill, &[u64::MAX, SIGUSR2]), 0);
    assert_ne!(child.process.signals.pending(child.tid) & (1 << 11), 0);
    assert_eq!(init.process.signals.pending(init.tid) & (1 << 11), 0);
}

#[test]
fn thread_and_queued_signals_reach_another_process() {
    const SI_QUEUE: i32 = -1;
    let (mut init, mut k) = setup();
    let (child, pid) = fork(&mut init, &mut k);
    let pending = |sig: u32| child.process.signals.pending(child.tid) & (1 << (sig - 1)) != 0;
    // tkill and tgkill name the child's thread; a wrong thread group is ESRCH.
    assert_eq!(sys(&mut init, &mut k, SYS_tkill, &[pid as u64, 10]), 0);
    assert!(pending(10));
    assert_eq!(
        sys(&mut init, &mut k, SYS_tgkill, &[pid as u64, pid as u64, 12]),
        0
    );
    assert!(pending(12));
    assert_eq!(
        sys(&mut init, &mut k, SYS_tgkill, &[1, pid as u64, 12]),
        err(Errno::ESRCH)
    );
    assert_eq!(
        sys(&mut init, &mut k, SYS_tgkill, &[4242, 4242, 0]),
        err(Errno::ESRCH)
    );
    // A queued signal with SI_QUEUE and a value; claiming to be kill (si_code 0) for another
    // process is EPERM.
    let mut info = [0u8; 128];
    info[8..12].copy_from_slice(&SI_QUEUE.to_le_bytes());
    info[24..32].copy_from_slice(&77u64.to_le_bytes());
    k.poke(SCRATCH, &info);
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[pid as u64, 34, SCRATCH]
        ),
        0
    );
    assert!(pending(34));
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_rt_tgsigqueueinfo,
            &[pid as u64, pid as u64, 35, SCRATCH]
        ),
        0
    );
    assert!(pending(35));
    k.poke(SCRATCH + 8, &0i32.to_le_bytes());
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_rt_sigqueueinfo,
            &[pid as u64, 36, SCRATCH]
        ),
        err(Errno::EPERM)
    );
    assert!(!pending(36));
    // pidfd_send_signal with a siginfo: si_signo must match.
    let fd = sys(&mut init, &mut k, SYS_pidfd_open, &[pid as u64, 0]);
    assert!(fd >= 0);
    k.poke(SCRATCH + 8, &SI_QUEUE.to_le_bytes());
    k.poke(SCRATCH, &37i32.to_le_bytes());
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_pidfd_send_signal,
            &[fd as u64, 38, SCRATCH, 0]
        ),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_pidfd_send_signal,
            &[fd as u64, 37, SCRATCH, 0]
        ),
        0
    );
    assert!(pending(37));
    assert!(!pending(38));
}

#[test]
fn init_drops_default_action_signals_from_other_processes() {
    let (mut init, mut k) = setup();
    let (mut child, _) = fork(&mut init, &mut k);
    const SIGTERM: u64 = 15;
    as_proc(&mut child, &init, &mut k, |c, k| {
        assert_eq!(sys(c, k, SYS_kill, &[1, SIGTERM]), 0);
    });
    assert_eq!(init.process.signals.pending(init.tid) & (1 << 14), 0);
    // With a handler it is delivered.
    k.poke(SCRATCH + 256, &0x1234u64.to_le_bytes());
    assert_eq!(
        sys(
            &mut init,
            &mut k,
            SYS_rt_sigaction,
            &[SIGTERM, SCRATCH + 256, 0, 8]
        ),
        0
    );
    as_proc(&mut child, &init, &mut k, |c, k| {
        assert_eq!(sys(c, k, SYS_kill, &[1, SIGTERM]), 0);
    });
    assert_ne!(init.process.signals.pending(init.tid) & (1 << 14), 0);
}

#[test]
fn prctl_names_pdeathsig_and_subreaper() {
    let (mut p, mut k) = setup();
    const PR_SET_PDEATHSIG: u64 = 1;
    const PR_GET_PDEATHSIG: u64 = 2;
    const PR_SET_NAME: u64 = 15;
    const PR_GET_NAME: u64 = 16;
    const PR_SET_CHILD_SUBREAPER: u64 = 36;
    const PR_GET_CHILD_SUBREAPER: u64 = 37;
    k.poke(SCRATCH, b"a-very-long-thread-name\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_prctl, &[PR_SET_NAME, SCRATCH, 0, 0, 0]),
        0
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_prctl,
            &[PR_GET_NAME, SCRATCH + 64, 0, 0, 0]
        ),
        0
    );
    assert_eq!(k.peek(SCRATCH + 64, 16), b"a-very-long-thr\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_prctl, &[PR_SET_PDEATHSIG, 9, 0, 0, 0]),
        0
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_prctl,
            &[PR_GET_PDEATHSIG, SCRATCH, 0, 0, 0]
        ),
        0
    );
    assert_eq!(read_u32(&k, SCRATCH), 9);
    assert_eq!(
        sys(&mut p, &mut k, SYS_prctl, &[PR_SET_PDEATHSIG, 65, 0, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_prctl,
            &[PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0]
        ),
        0
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_prctl,
            &[PR_GET_CHILD_SUBREAPER, SCRATCH, 0, 0, 0]
        ),
        0
    );
    assert_eq!(read_u32(&k, SCRATCH), 1);
}

#[test]
fn prctl_switches_read_back_and_survive_fork() {
    let (mut p, mut k) = setup();
    let mut prctl = |p: &mut Current, args: [u64; 5]| sys(p, &mut k, SYS_prctl, &args);
    const PR_GET_KEEPCAPS: u64 = 7;
    const PR_SET_KEEPCAPS: u64 = 8;
    const PR_GET_SECCOMP: u64 = 21;
    const PR_CAPBSET_READ: u64 = 23;
    const PR_SET_TIMERSLACK: u64 = 29;
    const PR_GET_TIMERSLACK: u64 = 30;
    const PR_SET_NO_NEW_PRIVS: u64 = 38;
    const PR_GET_NO_NEW_PRIVS: u64 = 39;
    const PR_SET_THP_DISABLE: u64 = 41;
    const PR_GET_THP_DISABLE: u64 = 42;
    // Linux's answers, as compat-tests' debian/python3-runtime prints them on the host.
    assert_eq!(prctl(&mut p, [PR_GET_SECCOMP, 0, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_GET_KEEPCAPS, 0, 0, 0, 0]), 0);
    assert_eq!(
        prctl(&mut p, [PR_SET_KEEPCAPS, 2, 0, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(prctl(&mut p, [PR_SET_KEEPCAPS, 1, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_GET_KEEPCAPS, 0, 0, 0, 0]), 1);
    assert_eq!(prctl(&mut p, [PR_CAPBSET_READ, 0, 0, 0, 0]), 1);
    // Docker's bounding set: CAP_CHOWN is in it, CAP_SYS_ADMIN (21) and 40 are not.
    assert_eq!(prctl(&mut p, [PR_CAPBSET_READ, 21, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_CAPBSET_READ, 40, 0, 0, 0]), 0);
    assert_eq!(
        prctl(&mut p, [PR_CAPBSET_READ, 41, 0, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(prctl(&mut p, [PR_GET_TIMERSLACK, 0, 0, 0, 0]), 50_000);
    assert_eq!(prctl(&mut p, [PR_SET_TIMERSLACK, 1000, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_GET_TIMERSLACK, 0, 0, 0, 0]), 1000);
    assert_eq!(prctl(&mut p, [PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0]), 0);
    assert_eq!(
        prctl(&mut p, [PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        prctl(&mut p, [PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(prctl(&mut p, [PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0]), 1);
    assert_eq!(prctl(&mut p, [PR_GET_THP_DISABLE, 0, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_SET_THP_DISABLE, 1, 0, 0, 0]), 0);
    assert_eq!(prctl(&mut p, [PR_GET_THP_DISABLE, 0, 0, 0, 0]), 1);
    assert_eq!(prctl(&mut p, [0x7fff, 0, 0, 0, 0]), err(Errno::EINVAL));
    // A child inherits them.
    let (mut child, _) = fork(&mut p, &mut k);
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(sys(c, k, SYS_prctl, &[PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0]), 1);
        assert_eq!(sys(c, k, SYS_prctl, &[PR_GET_THP_DISABLE, 0, 0, 0, 0]), 1);
        assert_eq!(sys(c, k, SYS_prctl, &[PR_GET_TIMERSLACK, 0, 0, 0, 0]), 1000);
    });
}

#[test]
fn orphans_go_to_the_nearest_subreaper() {
    let (mut init, mut k) = setup();
    let (mut a, a_pid) = fork(&mut init, &mut k);
    let (mut b, _) = as_proc(&mut a, &init, &mut k, |a, k| {
        assert_eq!(sys(a, k, SYS_prctl, &[36, 1, 0, 0, 0]), 0);
        fork(a, k)
    });
    let (c, _) = as_proc(&mut b, &init, &mut k, fork);
    exit_child(&mut b, &init, &mut k, 0);
    assert_eq!(
        c.process.ppid(),
        a_pid,
        "the subreaper takes the grandchild"
    );
}

#[test]
fn stop_and_continue_are_reported_to_wait() {
    const SIGSTOP: u64 = 19;
    const SIGCONT: u64 = 18;
    const WUNTRACED: u64 = 2;
    const WCONTINUED: u64 = 8;
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[pid as u64, SIGSTOP]), 0);
    // The child takes the stop on its way back to user mode and then waits.
    as_proc(&mut child, &p, &mut k, |c, k| {
        let mut regs = super::fake::regs(SYS_getpid, &[]);
        assert_eq!(crate::signal::deliver(c, k, &mut regs), None);
        assert!(crate::stop_wait(c), "a stopped thread parks");
    });
    let st = SCRATCH + 512;
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[pid as u64, st, WNOHANG, 0]),
        0,
        "a stop is not an exit"
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[pid as u64, st, WUNTRACED, 0]),
        pid as i64
    );
    assert_eq!(read_u32(&k, st), (19 << 8) | 0x7f);
    // Reported once.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_wait4,
            &[pid as u64, st, WUNTRACED | WNOHANG, 0]
        ),
        0
    );
    assert_eq!(sys(&mut p, &mut k, SYS_kill, &[pid as u64, SIGCONT]), 0);
    assert!(
        child.thread.finish_wait().is_some(),
        "SIGCONT woke the stopped thread"
    );
    assert!(!crate::stop_wait(&mut child));
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[pid as u64, st, WCONTINUED, 0]),
        pid as i64
    );
    assert_eq!(read_u32(&k, st), 0xffff);
    // The continued child is still there to be waited for.
    assert_eq!(
        sys(&mut p, &mut k, SYS_wait4, &[pid as u64, st, WNOHANG, 0]),
        0
    );
}

/// A group that a parent's end orphans gets SIGHUP and SIGCONT if a member is stopped
/// (POSIX job control; Linux's kill_orphaned_pgrp), and nothing if none is.
#[test]
fn an_orphaned_group_with_a_stopped_member_is_hung_up_and_continued() {
    const SIGSTOP: u64 = 19;
    for stop in [true, false] {
        let (mut init, mut k) = setup();
        let (mut a, _) = fork(&mut init, &mut k);
        let (mut b, b_pid) = as_proc(&mut a, &init, &mut k, fork);
        as_proc(&mut b, &init, &mut k, |b, k| {
            assert_eq!(sys(b, k, SYS_setpgid, &[0, 0]), 0);
        });
        if stop {
            as_proc(&mut a, &init, &mut k, |a, k| {
                assert_eq!(sys(a, k, SYS_kill, &[b_pid as u64, SIGSTOP]), 0);
            });
            as_proc(&mut b, &init, &mut k, |b, k| {
                let mut regs = super::fake::regs(SYS_getpid, &[]);
                assert_eq!(crate::signal::deliver(b, k, &mut regs), None);
                assert!(crate::stop_wait(b), "B stops");
            });
        }
        exit_child(&mut a, &init, &mut k, 0);
        assert_eq!(b.process.ppid(), 1, "B went to init");
        // (SIGCONT continues B when sent; with its default action it is not left pending.)
        let hup = b.process.signals.pending(b.tid) & 1 != 0;
        if stop {
            assert!(hup, "SIGHUP is pending");
            assert!(!b.process.stopped.load(std::sync::atomic::Ordering::SeqCst));
            assert!(b.thread.finish_wait().is_some(), "SIGCONT woke B");
        } else {
            assert!(!hup, "nothing stopped, nothing sent");
        }
    }
}

#[test]
fn a_process_ends_when_its_last_thread_does() {
    let (mut p, mut k) = setup();
    let (mut child, pid) = fork(&mut p, &mut k);
    let tid = p.sys.sched.alloc_tid();
    let mut second = child.new_thread(tid);
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(call(c, k, SYS_exit_group, &[6]), Outcome::Exit(6));
        assert_eq!(exit_process(c), None);
        assert_eq!(thread_gone(c), None);
    });
    assert!(
        second
            .thread
            .killed
            .load(std::sync::atomic::Ordering::SeqCst),
        "exit_group kills the others"
    );
    // Not a zombie while a thread is left.
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_wait4,
            &[pid as u64, SCRATCH, WNOHANG, 0]
        ),
        0
    );
    assert_eq!(thread_gone(&mut second), None);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_wait4,
            &[pid as u64, SCRATCH, WNOHANG, 0]
        ),
        pid as i64
    );
    assert_eq!(read_u32(&k, SCRATCH), 0x600);
}

#[test]
fn init_ending_stops_the_machine_with_its_status() {
    let (mut init, mut k) = setup();
    let (_child, _) = fork(&mut init, &mut k);
    assert_eq!(
        call(&mut init, &mut k, SYS_exit_group, &[9]),
        Outcome::Exit(9)
    );
    assert_eq!(exit_process(&mut init), Some(9));
}

#[test]
fn fork_leaves_out_dontfork_mappings_and_wipes_wipeonfork_ones() {
    const PAGE: u64 = 4096;
    let (mut p, mut k) = setup();
    own_space(&p, &mut k);
    // Three private anonymous pages: kept, MADV_DONTFORK, MADV_WIPEONFORK.
    let base = sys(
        &mut p,
        &mut k,
        SYS_mmap,
        &[0, 3 * PAGE, 3, 0x22, u64::MAX, 0],
    );
    assert!(base > 0, "mmap: {base}");
    let base = base as u64;
    for i in 0..3 {
        sys(&mut p, &mut k, SYS_madvise, &[base + i * PAGE, PAGE, 23]); // MADV_POPULATE_WRITE
        k.poke(base + i * PAGE, b"data");
    }
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[base + PAGE, PAGE, 10]),
        0
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[base + 2 * PAGE, PAGE, 18]),
        0
    );
    let (mut child, _) = fork(&mut p, &mut k);
    as_proc(&mut child, &p, &mut k, |c, k| {
        assert_eq!(k.peek(base, 4), b"data", "an ordinary page is copied");
        assert!(!k.resident(base + PAGE) && !k.resident(base + 2 * PAGE));
        // The DONTFORK page has no mapping at all; the WIPEONFORK one is mapped, empty.
        assert_eq!(
            sys(c, k, SYS_mincore, &[base + PAGE, PAGE, SCRATCH]),
            err(Errno::ENOMEM)
        );
        assert_eq!(sys(c, k, SYS_mincore, &[base + 2 * PAGE, PAGE, SCRATCH]), 0);
        assert_eq!(
            k.peek(SCRATCH, 1),
            [0],
            "not resident: a fault gives a zero page"
        );
    });
    // The parent keeps all three.
    for i in 0..3 {
        assert_eq!(k.peek(base + i * PAGE, 4), b"data");
    }
    // MADV_WIPEONFORK is for private anonymous memory only.
    let file_like = sys(&mut p, &mut k, SYS_mmap, &[0, PAGE, 3, 0x21, u64::MAX, 0]); // shared
    assert_eq!(
        sys(&mut p, &mut k, SYS_madvise, &[file_like as u64, PAGE, 18]),
        err(Errno::EINVAL)
    );
}
