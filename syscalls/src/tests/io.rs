//! read/write and friends over the console fds; the user-copy error paths.

use coracle_abi::IntoBytes;

use super::fake::*;
use crate::nr::*;
use crate::Errno;

#[test]
fn write_to_stdout_and_stderr_is_byte_exact() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"hi\0\xffthere");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[1, SCRATCH, 9]), 9);
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[2, SCRATCH, 2]), 2);
    assert_eq!(k.stdout, b"hi\0\xffthere");
    assert_eq!(k.stderr, b"hi");
}

#[test]
fn bad_pointers_are_efault() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[1, 16, 5]),
        err(Errno::EFAULT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[1, 0xffff_ffff_8100_0000, 5]),
        err(Errno::EFAULT)
    );
    // A range that wraps around the address space.
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[1, u64::MAX - 2, 5]),
        err(Errno::EFAULT)
    );
    // A range running from user memory into the kernel half.
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[1, USER_END - 2, 5]),
        err(Errno::EFAULT)
    );
    assert!(k.stdout.is_empty());
}

#[test]
fn write_running_into_an_unmapped_page_returns_the_partial_count() {
    let (mut p, mut k) = setup();
    let end = SCRATCH + 4 * PAGE;
    // A fault in the first chunk copied: nothing was written, EFAULT.
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[1, end - 100, 200]),
        err(Errno::EFAULT)
    );
    // With more than one chunk mapped, the chunks written before the fault count.
    k.map(0x20_0000, 17 * PAGE, RW);
    let n = sys(&mut p, &mut k, SYS_write, &[1, 0x20_0000, 17 * PAGE + 10]);
    assert_eq!(n, 16 * PAGE as i64);
}

/// A read whose buffer faults part-way returns what reached it; the rest stays in the file:
/// a pipe keeps it for the next read, a file's offset stops after what was copied (Linux's
/// pipe_read and filemap_read consume only what they copied out).
#[test]
fn read_into_a_faulting_buffer_keeps_what_it_could_not_copy() {
    let (mut p, mut k) = setup();
    let end = SCRATCH + 4 * PAGE;
    let (r, w) = super::epoll::pipe(&mut p, &mut k);
    k.poke(SCRATCH, b"hello world");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[w, SCRATCH, 11]), 11);
    // Nothing reaches an unmapped buffer: EFAULT, and nothing is lost.
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[r, 0x10, 5]),
        err(Errno::EFAULT)
    );
    // Three bytes fit before the unmapped page.
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[r, end - 3, 8]), 3);
    assert_eq!(k.peek(end - 3, 3), b"hel");
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[r, SCRATCH + 64, 64]), 8);
    assert_eq!(k.peek(SCRATCH + 64, 8), b"lo world");
    // A file: the offset moves only past the copied bytes.
    k.poke(SCRATCH, b"/tmp/f\0");
    let fd = sys(&mut p, &mut k, SYS_open, &[SCRATCH, 0o102, 0o644]) as u64;
    k.poke(SCRATCH + 64, b"0123456789");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, SCRATCH + 64, 10]), 10);
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[fd, 0, 0]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, end - 4, 10]), 4);
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[fd, 0, 1]), 4);
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, 0x10, 10]),
        err(Errno::EFAULT)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_lseek, &[fd, 0, 1]), 4);
}

#[test]
fn bad_fds_are_ebadf_and_wrong_direction_too() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[7, SCRATCH, 1]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_write,
            &[u64::from(u32::MAX), SCRATCH, 1]
        ),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[1, SCRATCH, 1]),
        err(Errno::EBADF)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_write, &[0, SCRATCH, 1]),
        err(Errno::EBADF)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_close, &[5]), err(Errno::EBADF));
}

#[test]
fn stdin_not_forwarded_reads_end_of_file() {
    let (mut p, mut k) = setup();
    k.stdin = b"ignored".to_vec();
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[0, SCRATCH, 10]), 0);
}

#[test]
fn forwarded_stdin_reads_then_ends() {
    let (mut p, mut k) = setup_with(false, true);
    k.stdin = b"abc".to_vec();
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[0, SCRATCH, 10]), 3);
    assert_eq!(k.peek(SCRATCH, 3), b"abc");
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[0, SCRATCH, 10]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[0, SCRATCH, 10]), 0);
}

#[test]
fn writev_gathers_and_checks_iovcnt() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH + 100, b"abcdef");
    let iov = SCRATCH;
    k.poke(iov, &(SCRATCH + 100).to_le_bytes());
    k.poke(iov + 8, &3u64.to_le_bytes());
    k.poke(iov + 16, &(SCRATCH + 103).to_le_bytes());
    k.poke(iov + 24, &3u64.to_le_bytes());
    assert_eq!(sys(&mut p, &mut k, SYS_writev, &[1, iov, 2]), 6);
    assert_eq!(k.stdout, b"abcdef");
    assert_eq!(
        sys(&mut p, &mut k, SYS_writev, &[1, iov, 1025]),
        err(Errno::EINVAL)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_writev, &[1, 16, 1]),
        err(Errno::EFAULT)
    );
}

#[test]
fn ioctl_tcgets_is_enotty_without_a_terminal_and_works_with_one() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_ioctl, &[1, 0x5401, SCRATCH]),
        err(Errno::ENOTTY)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_ioctl, &[1, 0x5413, SCRATCH]),
        err(Errno::ENOTTY)
    );
    let (mut p, mut k) = setup_with(true, false);
    assert_eq!(sys(&mut p, &mut k, SYS_ioctl, &[1, 0x5401, SCRATCH]), 0);
    assert_eq!(sys(&mut p, &mut k, SYS_ioctl, &[1, 0x5413, SCRATCH]), 0);
    assert_eq!(k.peek(SCRATCH, 4), [24, 0, 80, 0]);
}

/// TCGETS writes the kernel's 36-byte `struct termios`, not a libc's 60-byte one: writing more
/// smashed the stack of every tcgetattr caller under `-t`. TCGETS2 writes termios2 (44).
#[test]
fn tcgets_writes_exactly_the_kernel_termios() {
    use coracle_abi::termios::{Termios, ICANON, TCGETS, TCGETS2, VINTR};
    let (mut p, mut k) = setup_with(true, false);
    for (request, size) in [(TCGETS, 36), (TCGETS2, 44)] {
        k.poke(SCRATCH, &[0xa5; 64]);
        assert_eq!(
            sys(&mut p, &mut k, SYS_ioctl, &[1, u64::from(request), SCRATCH]),
            0
        );
        assert_eq!(
            k.peek(SCRATCH + size, 64 - size as usize),
            [0xa5; 64][size as usize..]
        );
        let mut t = Termios::default();
        t.as_mut_bytes().copy_from_slice(&k.peek(SCRATCH, 36));
        assert_ne!(t.c_lflag & ICANON, 0);
        assert_eq!(t.c_cc[VINTR], 3);
    }
}

#[test]
fn fstat_says_pipe_or_terminal() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[1, SCRATCH]), 0);
    let mode = u32::from_le_bytes(k.peek(SCRATCH + 24, 4).try_into().unwrap());
    assert_eq!(mode & 0o170000, 0o010000);
    let (mut p, mut k) = setup_with(true, false);
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[1, SCRATCH]), 0);
    let mode = u32::from_le_bytes(k.peek(SCRATCH + 24, 4).try_into().unwrap());
    assert_eq!(mode & 0o170000, 0o020000);
    assert_eq!(
        sys(&mut p, &mut k, SYS_fstat, &[9, SCRATCH]),
        err(Errno::EBADF)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_fstat, &[1, 8]), err(Errno::EFAULT));
}

#[test]
fn newfstatat_empty_path_is_fstat_and_paths_do_not_exist() {
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"\0");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_newfstatat,
            &[1, SCRATCH, SCRATCH + 64, 0x1000]
        ),
        0
    );
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_newfstatat,
            &[1, SCRATCH, SCRATCH + 64, 0]
        ),
        err(Errno::ENOENT)
    );
    k.poke(SCRATCH, b"/etc/passwd\0");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_newfstatat,
            &[1, SCRATCH, SCRATCH + 64, 0]
        ),
        err(Errno::ENOENT)
    );
}

#[test]
fn long_and_unterminated_paths() {
    let (mut p, mut k) = setup();
    // 5000 bytes without a NUL: ENAMETOOLONG (PATH_MAX is 4096).
    k.map(0x30_0000, 2 * PAGE, RW);
    k.poke(0x30_0000, &[b'a'; 5000]);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_openat,
            &[u64::from(u32::MAX - 99), 0x30_0000, 0, 0]
        ),
        err(Errno::ENAMETOOLONG)
    );
    // A string running into an unmapped page: EFAULT.
    k.poke(SCRATCH + 4 * PAGE - 3, b"abc");
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_openat,
            &[0, SCRATCH + 4 * PAGE - 3, 0, 0]
        ),
        err(Errno::EFAULT)
    );
}

#[test]
fn dup_family_and_cloexec() {
    let (mut p, mut k) = setup();
    assert_eq!(sys(&mut p, &mut k, SYS_dup, &[1]), 3);
    assert_eq!(sys(&mut p, &mut k, SYS_dup2, &[2, 10]), 10);
    k.poke(SCRATCH, b"x");
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[10, SCRATCH, 1]), 1);
    assert_eq!(k.stderr, b"x");
    assert_eq!(
        sys(&mut p, &mut k, SYS_dup3, &[1, 1, 0]),
        err(Errno::EINVAL)
    );
    assert_eq!(sys(&mut p, &mut k, SYS_dup3, &[1, 11, 0o2000000]), 11);
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[11, 1, 0]), 1); // F_GETFD: FD_CLOEXEC
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[1, 1030, 5]), 5); // F_DUPFD_CLOEXEC from 5
    assert_eq!(sys(&mut p, &mut k, SYS_fcntl, &[1, 3, 0]), 1); // F_GETFL: O_WRONLY
    assert_eq!(sys(&mut p, &mut k, SYS_dup2, &[1, 1]), 1); // dup2 onto itself
    assert_eq!(sys(&mut p, &mut k, SYS_dup2, &[99, 1]), err(Errno::EBADF));
}

#[test]
fn lseek_on_a_pipe_is_espipe() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_lseek, &[1, 0, 1]),
        err(Errno::ESPIPE)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_lseek, &[42, 0, 1]),
        err(Errno::EBADF)
    );
}

#[test]
fn poll_reports_writable_outputs_and_invalid_fds() {
    let (mut p, mut k) = setup();
    // pollfd { fd, events, revents }
    let mut pfds = std::vec::Vec::new();
    for (fd, ev) in [(1i32, 4u16), (77, 1), (-1, 1)] {
        pfds.extend_from_slice(&fd.to_le_bytes());
        pfds.extend_from_slice(&ev.to_le_bytes());
        pfds.extend_from_slice(&0u16.to_le_bytes());
    }
    k.poke(SCRATCH, &pfds);
    assert_eq!(sys(&mut p, &mut k, SYS_poll, &[SCRATCH, 3, 0]), 2);
    assert_eq!(k.peek(SCRATCH + 6, 2), [4, 0]);
    assert_eq!(k.peek(SCRATCH + 14, 2), [0x20, 0]);
    assert_eq!(k.peek(SCRATCH + 22, 2), [0, 0]);
}

#[test]
fn open_checks_the_path_pointer_first() {
    let (mut p, mut k) = setup();
    assert_eq!(
        sys(&mut p, &mut k, SYS_open, &[16, 0, 0]),
        err(Errno::EFAULT)
    );
    assert_eq!(
        sys(&mut p, &mut k, SYS_stat, &[16, SCRATCH]),
        err(Errno::EFAULT)
    );
    k.poke(SCRATCH, b"\0");
    assert_eq!(
        sys(&mut p, &mut k, SYS_open, &[SCRATCH, 0, 0]),
        err(Errno::ENOENT)
    );
}

/// Linux checks that a buffer lies in user space before anything is copied (access_ok), also
/// when nothing would be: a read at end of file into a kernel address is EFAULT, not 0.
#[test]
fn a_buffer_outside_user_space_is_efault_even_at_end_of_file() {
    const AT_FDCWD: u64 = -100i64 as u64;
    const O_RDWR_CREAT: u64 = 0o102;
    const O_WRONLY: u64 = 1;
    const KERNEL: u64 = 0xffff_8000_0000_0000;
    let (mut p, mut k) = setup();
    k.poke(SCRATCH, b"empty\0");
    let fd = sys(
        &mut p,
        &mut k,
        SYS_openat,
        &[AT_FDCWD, SCRATCH, O_RDWR_CREAT, 0o600],
    );
    assert!(fd >= 0, "openat: {fd}");
    let fd = fd as u64;
    let efault = err(Errno::EFAULT);
    // The file is empty: every read is at its end.
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, KERNEL, 16]), efault);
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, KERNEL, 0]), efault);
    // From the last page of user space across its top, and around the address space.
    let crossing = [0x7fff_ffff_f000, 0x2000];
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[fd, crossing[0], crossing[1]]),
        efault
    );
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, u64::MAX, 2]), efault);
    // A null-ish user address with nothing to copy is fine.
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, 16, 0]), 0);
    assert_eq!(
        sys(&mut p, &mut k, SYS_pread64, &[fd, KERNEL, 16, 0]),
        efault
    );
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[fd, KERNEL, 0]), efault);
    assert_eq!(
        sys(&mut p, &mut k, SYS_pwrite64, &[fd, KERNEL, 0, 0]),
        efault
    );
    // An iovec array whose second buffer is a kernel address (the first is empty).
    let iov = SCRATCH + 64;
    for (i, v) in [SCRATCH, 0, KERNEL, 16].iter().enumerate() {
        k.poke(iov + 8 * i as u64, &v.to_le_bytes());
    }
    assert_eq!(sys(&mut p, &mut k, SYS_readv, &[fd, iov, 2]), efault);
    assert_eq!(sys(&mut p, &mut k, SYS_writev, &[fd, iov, 2]), efault);
    // The file's mode is checked first.
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[99, KERNEL, 16]),
        err(Errno::EBADF)
    );
    let wo = sys(
        &mut p,
        &mut k,
        SYS_openat,
        &[AT_FDCWD, SCRATCH, O_WRONLY, 0],
    ) as u64;
    assert_eq!(
        sys(&mut p, &mut k, SYS_read, &[wo, KERNEL, 16]),
        err(Errno::EBADF)
    );
    // The console too.
    assert_eq!(sys(&mut p, &mut k, SYS_write, &[1, KERNEL, 0]), efault);
    // getrandom too, before it makes a byte.
    assert_eq!(sys(&mut p, &mut k, SYS_getrandom, &[KERNEL, 0, 0]), efault);
    assert_eq!(
        sys(
            &mut p,
            &mut k,
            SYS_getrandom,
            &[crossing[0], crossing[1], 0]
        ),
        efault
    );
    // Nothing was written.
    assert_eq!(sys(&mut p, &mut k, SYS_read, &[fd, SCRATCH, 4]), 0);
}
