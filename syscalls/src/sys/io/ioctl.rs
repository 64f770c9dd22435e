//! ioctl: the terminal requests on the console and the generic fd requests (FIONBIO...).

use coracle_vfs::types::{oflags::*, FileType};

use super::host::is_terminal;
use crate::uaccess::write_u32;
use crate::{Errno, Platform, Process, SysResult};

pub(crate) fn ioctl(
    p: &mut Process,
    k: &mut dyn Platform,
    fd: i32,
    request: u32,
    arg: u64,
) -> SysResult {
    const TCGETS: u32 = 0x5401;
    const TCSETS: u32 = 0x5402;
    const TCSETSW: u32 = 0x5403;
    const TCSETSF: u32 = 0x5404;
    const TIOCGPGRP: u32 = 0x540f;
    const TIOCSPGRP: u32 = 0x5410;
    const TIOCGWINSZ: u32 = 0x5413;
    const TIOCSWINSZ: u32 = 0x5414;
    const FIONREAD: u32 = 0x541b;
    const FIONBIO: u32 = 0x5421;
    const FIOASYNC: u32 = 0x5452;
    const FIOCLEX: u32 = 0x5451;
    const FIONCLEX: u32 = 0x5450;
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let terminal = file.ops().host_device().is_some_and(|d| is_terminal(p, d));
    match request {
        FIOCLEX | FIONCLEX => {
            p.shared.files.lock().set_cloexec(fd, request == FIOCLEX)?;
            Ok(0)
        }
        FIONBIO | FIOASYNC => {
            let mut v = [0u8; 4];
            k.read_user(arg, &mut v)?;
            let on = u32::from_le_bytes(v) != 0;
            let bit = if request == FIONBIO {
                O_NONBLOCK
            } else {
                O_ASYNC
            };
            let flags = file.flags();
            file.set_flags(if on { flags | bit } else { flags & !bit });
            Ok(0)
        }
        FIONREAD => {
            let n = if let Some(n) = file.ops().readable_bytes() {
                n as u64
            } else {
                let st = file.inode().stat();
                match st.file_type() {
                    // i_size - f_pos, negative past the end, as Linux reports it.
                    FileType::Regular => {
                        st.size.wrapping_sub(file.offset()) as i64 as i32 as u32 as u64
                    }
                    _ if file.ops().host_device().is_some() => 0,
                    _ => return Err(Errno::ENOTTY),
                }
            };
            write_u32(k, arg, n as u32).map(|_| 0)
        }
        _ if !terminal => Err(Errno::ENOTTY),
        TCGETS => k.write_user(arg, &default_termios()).map(|_| 0),
        TCSETS | TCSETSW | TCSETSF | TIOCSWINSZ | TIOCSPGRP => Ok(0),
        TIOCGWINSZ => k.write_user(arg, &winsize(24, 80)).map(|_| 0),
        TIOCGPGRP => write_u32(k, arg, p.shared.pid).map(|_| 0),
        _ => Err(Errno::ENOTTY),
    }
}

/// A cooked-mode terminal as a fresh pty has it (`struct termios` of the kernel ABI, 60 bytes).
fn default_termios() -> [u8; 60] {
    let mut t = [0u8; 60];
    let iflag: u32 = 0o2400 | 0o400; // ICRNL | IXON | IUTF8 (approximately a pty's default)
    let oflag: u32 = 0o5; // OPOST | ONLCR
    let cflag: u32 = 0o277; // B38400 | CS8 | CREAD
    let lflag: u32 = 0o105_073; // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    t[0..4].copy_from_slice(&iflag.to_le_bytes());
    t[4..8].copy_from_slice(&oflag.to_le_bytes());
    t[8..12].copy_from_slice(&cflag.to_le_bytes());
    t[12..16].copy_from_slice(&lflag.to_le_bytes());
    // c_cc: VINTR ^C, VQUIT ^\, VERASE DEL, VKILL ^U, VEOF ^D, VTIME 0, VMIN 1.
    let cc: [u8; 7] = [3, 0x1c, 0x7f, 0x15, 4, 0, 1];
    t[17..24].copy_from_slice(&cc);
    t
}

fn winsize(rows: u16, cols: u16) -> [u8; 8] {
    let mut w = [0u8; 8];
    w[0..2].copy_from_slice(&rows.to_le_bytes());
    w[2..4].copy_from_slice(&cols.to_le_bytes());
    w
}
