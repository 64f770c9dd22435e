//! Terminals through the system calls: the console under `-t`, ptys from /dev/ptmx, termios,
//! the controlling terminal and job control, window sizes, poll.

use std::vec::Vec;

use coracle_abi::signal::{SIGINT, SIGTTIN, SIGTTOU, SIGWINCH};
use coracle_abi::termios::*;
use coracle_abi::IntoBytes;
use coracle_vfs::types::oflags::*;

use super::fake::{call, err, setup, setup_with, sys, Fake, SCRATCH};
use super::process::{as_proc, fork};
use crate::mm::PAGE;
use crate::nr::*;
use crate::{Current, Errno, Outcome};

const AT_FDCWD: u64 = -100i64 as u64;
const PATH: u64 = SCRATCH + 3 * PAGE;
const BUF: u64 = SCRATCH;
const ARG: u64 = SCRATCH + 2 * PAGE;

fn open(p: &mut Current, k: &mut Fake, path: &str, flags: u32) -> i64 {
    let mut bytes = path.as_bytes().to_vec();
    bytes.push(0);
    k.poke(PATH, &bytes);
    sys(p, k, SYS_openat, &[AT_FDCWD, PATH, u64::from(flags), 0])
}

fn write(p: &mut Current, k: &mut Fake, fd: i64, data: &[u8]) -> i64 {
    k.poke(BUF, data);
    sys(p, k, SYS_write, &[fd as u64, BUF, data.len() as u64])
}

fn read(p: &mut Current, k: &mut Fake, fd: i64, n: usize) -> Result<Vec<u8>, i64> {
    let r = sys(p, k, SYS_read, &[fd as u64, BUF, n as u64]);
    if r < 0 {
        return Err(r);
    }
    Ok(k.peek(BUF, r as usize))
}

fn ioctl(p: &mut Current, k: &mut Fake, fd: i64, req: u32, arg: u64) -> i64 {
    sys(p, k, SYS_ioctl, &[fd as u64, u64::from(req), arg])
}

fn get_u32(p: &mut Current, k: &mut Fake, fd: i64, req: u32) -> u32 {
    assert_eq!(ioctl(p, k, fd, req, ARG), 0);
    u32::from_le_bytes(k.peek(ARG, 4).try_into().unwrap())
}

fn set_i32(p: &mut Current, k: &mut Fake, fd: i64, req: u32, v: i32) -> i64 {
    k.poke(ARG, &v.to_le_bytes());
    ioctl(p, k, fd, req, ARG)
}

fn set_termios(p: &mut Current, k: &mut Fake, fd: i64, t: &Termios) {
    k.poke(ARG, t.as_bytes());
    assert_eq!(ioctl(p, k, fd, TCSETS, ARG), 0);
}

/// Opens a pty pair: (master, slave), the slave without becoming the controlling terminal.
fn openpty(p: &mut Current, k: &mut Fake) -> (i64, i64, u32) {
    let m = open(p, k, "/dev/ptmx", O_RDWR | O_NOCTTY);
    assert!(m >= 0, "ptmx: {m}");
    let n = get_u32(p, k, m, TIOCGPTN);
    let name = std::format!("/dev/pts/{n}");
    assert_eq!(
        open(p, k, &name, O_RDWR | O_NOCTTY),
        err(Errno::EIO),
        "locked"
    );
    assert_eq!(set_i32(p, k, m, TIOCSPTLCK, 0), 0);
    let s = open(p, k, &name, O_RDWR | O_NOCTTY);
    assert!(s >= 0, "{name}: {s}");
    (m, s, n)
}

/// Whether `sig` is pending for `p`'s thread or process.
fn pending(p: &Current, sig: u32) -> bool {
    p.process.signals.pending(p.tid) & (1 << (sig - 1)) != 0
}

#[test]
fn console_is_pts0_and_pid1s_controlling_terminal() {
    let (mut p, mut k) = setup_with(true, false);
    let tty = open(&mut p, &mut k, "/dev/tty", O_RDWR);
    assert!(tty >= 0);
    assert_eq!(get_u32(&mut p, &mut k, 0, TIOCGPGRP), 1);
    assert_eq!(get_u32(&mut p, &mut k, tty, TIOCGSID), 1);
    // fd 0 and /dev/pts/0 are one file (what ttyname compares).
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[0, BUF]), 0);
    let fd0 = k.peek(BUF, 48);
    let pts0 = open(&mut p, &mut k, "/dev/pts/0", O_RDWR);
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[pts0 as u64, BUF]), 0);
    assert_eq!(k.peek(BUF, 48), fd0);
    assert_eq!(
        u64::from_le_bytes(fd0[40..48].try_into().unwrap()),
        coracle_vfs::makedev(136, 0)
    );
}

#[test]
fn console_input_is_edited_echoed_and_read_by_lines() {
    let (mut p, mut k) = setup_with(true, false);
    let console = p.sys.ttys.console.lock().clone().unwrap();
    console.receive(b"hx\x7fi\r", true);
    assert_eq!(read(&mut p, &mut k, 0, 100).unwrap(), b"hi\n");
    assert_eq!(k.stdout, b"hx\x08 \x08i\r\n", "echo, through OPOST");
    assert_eq!(write(&mut p, &mut k, 1, b"out\n"), 4);
    assert_eq!(&k.stdout[8..], b"out\r\n");
    // FIONREAD counts complete lines only.
    console.receive(b"ab", true);
    assert_eq!(get_u32(&mut p, &mut k, 0, FIONREAD), 0);
    console.receive(b"\n", true);
    assert_eq!(get_u32(&mut p, &mut k, 0, FIONREAD), 3);
    // pread on a terminal is ESPIPE.
    assert_eq!(
        sys(&mut p, &mut k, SYS_pread64, &[0, BUF, 4, 0]),
        err(Errno::ESPIPE)
    );
}

#[test]
fn console_output_waits_for_the_host_and_keeps_its_order() {
    let (mut p, mut k) = setup_with(true, false);
    // The host's port takes 3 bytes: a blocking writer waits for the rest.
    k.stdout_room = Some(3);
    k.poke(BUF, b"hello\n");
    let args = [1, BUF, 6];
    assert_eq!(call(&mut p, &mut k, SYS_write, &args), Outcome::Wait);
    assert_eq!(k.stdout, b"hel");
    // The host took it (console::output_ready wakes the writer): the write completes.
    k.stdout_room = None;
    let mut r = super::fake::regs(SYS_write, &args);
    let done = crate::table::resume(&mut p, &mut k, &mut r, coracle_abi::Wake::Retry);
    assert_eq!(done, Outcome::Return(6));
    assert_eq!(k.stdout, b"hello\r\n");
    // Echoes held back while the port is full go out before the next write, in order.
    let console = p.sys.ttys.console.lock().clone().unwrap();
    k.stdout_room = Some(0);
    console.receive(b"ab", true);
    k.stdout_room = None;
    assert_eq!(write(&mut p, &mut k, 1, b"ok\n"), 3);
    assert_eq!(k.stdout, b"hello\r\nabok\r\n");
}

#[test]
fn termios_round_trips_and_raw_mode_reads_at_once() {
    let (mut p, mut k) = setup_with(true, false);
    assert_eq!(ioctl(&mut p, &mut k, 0, TCGETS, ARG), 0);
    let mut t = Termios::default();
    t.as_mut_bytes().copy_from_slice(&k.peek(ARG, 36));
    assert_eq!(t, Termios::cooked());
    t.c_lflag &= !(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    set_termios(&mut p, &mut k, 0, &t);
    assert_eq!(ioctl(&mut p, &mut k, 0, TCGETS2, ARG), 0);
    let mut t2 = Termios2::default();
    t2.as_mut_bytes().copy_from_slice(&k.peek(ARG, 44));
    assert_eq!(t2.termios, t);
    assert_eq!(t2.c_ospeed, 38400);
    // VMIN = VTIME = 0: a read returns at once, with nothing.
    assert_eq!(read(&mut p, &mut k, 0, 10).unwrap(), b"");
    let console = p.sys.ttys.console.lock().clone().unwrap();
    console.receive(b"q", true);
    assert_eq!(read(&mut p, &mut k, 0, 10).unwrap(), b"q");
    assert!(k.stdout.is_empty(), "no echo");
    // VMIN = 1: nothing there, the reader waits.
    t.c_cc[VMIN] = 1;
    set_termios(&mut p, &mut k, 0, &t);
    k.poke(ARG, &[0; 4]);
    assert_eq!(call(&mut p, &mut k, SYS_read, &[0, BUF, 10]), Outcome::Wait);
}

#[test]
fn pty_pair_moves_bytes_both_ways_and_hangs_up() {
    let (mut p, mut k) = setup();
    let (m, s, n) = openpty(&mut p, &mut k);
    assert_eq!(n, 0);
    assert_eq!(write(&mut p, &mut k, m, b"hello\r"), 6);
    assert_eq!(read(&mut p, &mut k, s, 100).unwrap(), b"hello\n");
    assert_eq!(read(&mut p, &mut k, m, 100).unwrap(), b"hello\r\n", "echo");
    assert_eq!(write(&mut p, &mut k, s, b"out\n"), 4);
    assert_eq!(get_u32(&mut p, &mut k, m, FIONREAD), 5);
    assert_eq!(read(&mut p, &mut k, m, 100).unwrap(), b"out\r\n");
    // Settings asked of the master are the slave's.
    let mut t = Termios::cooked();
    t.c_oflag &= !OPOST;
    set_termios(&mut p, &mut k, m, &t);
    assert_eq!(write(&mut p, &mut k, s, b"raw\n"), 4);
    assert_eq!(read(&mut p, &mut k, m, 100).unwrap(), b"raw\n");
    // Closing the master hangs the slave up and removes its node.
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[m as u64]), 0);
    assert_eq!(read(&mut p, &mut k, s, 100).unwrap(), b"");
    assert_eq!(write(&mut p, &mut k, s, b"x"), err(Errno::EIO));
    assert_eq!(
        open(&mut p, &mut k, "/dev/pts/0", O_RDWR),
        err(Errno::ENOENT)
    );
    // Closing the slave: the master reads EIO.
    let (m, s, _) = openpty(&mut p, &mut k);
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[s as u64]), 0);
    assert_eq!(read(&mut p, &mut k, m, 100), Err(err(Errno::EIO)));
    // TIOCGPTPEER opens the slave without its name.
    let (m2, _, n2) = openpty(&mut p, &mut k);
    assert_ne!(n2, 0);
    let peer = ioctl(
        &mut p,
        &mut k,
        m2,
        TIOCGPTPEER,
        u64::from(O_RDWR | O_NOCTTY),
    );
    assert!(peer >= 0);
    assert_eq!(write(&mut p, &mut k, peer, b"z"), 1);
    assert_eq!(read(&mut p, &mut k, m2, 10).unwrap(), b"z");
}

#[test]
fn no_controlling_terminal_without_one() {
    let (mut p, mut k) = setup();
    assert_eq!(open(&mut p, &mut k, "/dev/tty", O_RDWR), err(Errno::ENXIO));
    let (_m, s, _) = openpty(&mut p, &mut k);
    assert_eq!(ioctl(&mut p, &mut k, s, TIOCGPGRP, ARG), err(Errno::ENOTTY));
    // PID 1 leads its session: TIOCSCTTY makes the pty its terminal, and /dev/tty opens.
    assert_eq!(ioctl(&mut p, &mut k, s, TIOCSCTTY, 0), 0);
    assert_eq!(get_u32(&mut p, &mut k, s, TIOCGPGRP), 1);
    assert!(open(&mut p, &mut k, "/dev/tty", O_RDWR) >= 0);
    assert_eq!(ioctl(&mut p, &mut k, s, TIOCNOTTY, 0), 0);
    assert_eq!(open(&mut p, &mut k, "/dev/tty", O_RDWR), err(Errno::ENXIO));
}

#[test]
fn typed_signals_and_window_changes_reach_the_foreground_group() {
    let (mut p, mut k) = setup();
    let (m, _s, n) = openpty(&mut p, &mut k);
    let (mut c, _pid) = fork(&mut p, &mut k);
    let name = std::format!("/dev/pts/{n}");
    as_proc(&mut c, &p, &mut k, |c, k| {
        assert!(sys(c, k, SYS_setsid, &[]) > 0);
        // A session leader opening a terminal without O_NOCTTY acquires it.
        let fd = open(c, k, &name, O_RDWR);
        assert!(fd >= 0);
        assert_eq!(get_u32(c, k, fd, TIOCGPGRP), c.process.pid);
        // Handlers, as a shell has (SIGWINCH's default action ignores it, SIGINT's ends the
        // process).
        let act: Vec<u8> = [0x40_1000u64, 0x0400_0000, 0x40_1000, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        k.poke(ARG, &act);
        for sig in [SIGINT, SIGWINCH] {
            assert_eq!(sys(c, k, SYS_rt_sigaction, &[u64::from(sig), ARG, 0, 8]), 0);
        }
    });
    assert_eq!(write(&mut p, &mut k, m, b"\x03"), 1);
    assert!(pending(&c, SIGINT));
    assert!(!pending(&c, SIGWINCH));
    k.poke(
        ARG,
        Winsize {
            ws_row: 50,
            ws_col: 132,
            ..Default::default()
        }
        .as_bytes(),
    );
    assert_eq!(ioctl(&mut p, &mut k, m, TIOCSWINSZ, ARG), 0);
    assert!(pending(&c, SIGWINCH));
    assert_eq!(ioctl(&mut p, &mut k, m, TIOCGWINSZ, SCRATCH + 100), 0);
    assert_eq!(k.peek(SCRATCH + 100, 4), [50, 0, 132, 0]);
}

#[test]
fn background_jobs_get_sigttin_and_sigttou() {
    let (mut p, mut k) = setup();
    let (_m, s, _) = openpty(&mut p, &mut k);
    assert_eq!(ioctl(&mut p, &mut k, s, TIOCSCTTY, 0), 0);
    let (mut c, pid) = fork(&mut p, &mut k);
    // The child in a group of its own, in the background.
    assert_eq!(sys(&mut p, &mut k, SYS_setpgid, &[u64::from(pid), 0]), 0);
    as_proc(&mut c, &p, &mut k, |c, k| {
        assert_ne!(
            call(c, k, SYS_read, &[s as u64, BUF, 10]),
            Outcome::Return(0)
        );
        assert!(pending(c, SIGTTIN));
        // Writes go through without TOSTOP, setting changes do not.
        assert_eq!(write(c, k, s, b"bg"), 2);
        k.poke(ARG, Termios::cooked().as_bytes());
        assert_ne!(
            call(c, k, SYS_ioctl, &[s as u64, u64::from(TCSETS), ARG]),
            Outcome::Return(0)
        );
        assert!(pending(c, SIGTTOU));
    });
    assert_eq!(
        set_i32(&mut p, &mut k, s, TIOCSPGRP, 999),
        err(Errno::ESRCH)
    );
    assert_eq!(
        set_i32(&mut p, &mut k, s, TIOCSPGRP, -1),
        err(Errno::EINVAL)
    );
    assert_eq!(set_i32(&mut p, &mut k, s, TIOCSPGRP, pid as i32), 0);
    assert_eq!(get_u32(&mut p, &mut k, s, TIOCGPGRP), pid);
    // Now PID 1 is in the background, and its group is orphaned (no parent outside it):
    // changing the terminal fails (EIO, which TIOCSPGRP reports as ENOTTY).
    assert_eq!(set_i32(&mut p, &mut k, s, TIOCSPGRP, 1), err(Errno::ENOTTY));
}

#[test]
fn poll_sees_lines_in_canonical_mode_and_output_on_the_master() {
    let (mut p, mut k) = setup();
    let (m, s, _) = openpty(&mut p, &mut k);
    let poll_one = |p: &mut Current, k: &mut Fake, fd: i64| -> u16 {
        let mut pfd = Vec::new();
        pfd.extend_from_slice(&(fd as i32).to_le_bytes());
        pfd.extend_from_slice(&1u16.to_le_bytes());
        pfd.extend_from_slice(&0u16.to_le_bytes());
        k.poke(ARG, &pfd);
        assert!(sys(p, k, SYS_poll, &[ARG, 1, 0]) >= 0);
        u16::from_le_bytes(k.peek(ARG + 6, 2).try_into().unwrap())
    };
    assert_eq!(poll_one(&mut p, &mut k, s), 0);
    write(&mut p, &mut k, m, b"abc");
    assert_eq!(poll_one(&mut p, &mut k, s), 0, "no line yet");
    write(&mut p, &mut k, m, b"\n");
    assert_eq!(poll_one(&mut p, &mut k, s), 1);
    assert_eq!(poll_one(&mut p, &mut k, m), 1, "the echo");
}
