//! ioctl: the terminal requests on the console and the generic fd requests (FIONBIO...).

use coracle_abi::termios::*;
use coracle_vfs::types::{oflags::*, FileType};

use super::host::is_terminal;
use crate::uaccess::{read_struct, write_struct, write_u32};
use crate::{Current, Errno, Platform, SysResult};

pub(crate) fn ioctl(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    request: u32,
    arg: u64,
) -> SysResult {
    let file = p.file(fd)?;
    if file.is_path() {
        return Err(Errno::EBADF);
    }
    let terminal = file.ops().host_device().is_some_and(|d| is_terminal(p, d));
    match request {
        FIOCLEX | FIONCLEX => {
            p.process.files.lock().set_cloexec(fd, request == FIOCLEX)?;
            Ok(0)
        }
        FIONBIO | FIOASYNC => {
            let on = read_struct::<u32>(k, arg)? != 0;
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
        _ if crate::tty::file_tty(&file).is_some() => {
            let tf = crate::tty::file_tty(&file).ok_or(Errno::ENOTTY)?;
            crate::tty::ioctl::ioctl(p, k, tf, request, arg)
        }
        _ if !terminal => Err(Errno::ENOTTY),
        // The kernel's termios (36 bytes), which the libc converts to its own larger struct.
        TCGETS => write_struct(k, arg, &Termios::cooked()).map(|_| 0),
        TCGETS2 => {
            let t = Termios2 {
                termios: Termios::cooked(),
                c_ispeed: 38400,
                c_ospeed: 38400,
            };
            write_struct(k, arg, &t).map(|_| 0)
        }
        // The settings are checked for a readable struct and not kept: the console has one
        // fixed mode.
        TCSETS | TCSETSW | TCSETSF => read_struct::<Termios>(k, arg).map(|_| 0),
        TCSETS2 | TCSETSW2 | TCSETSF2 => read_struct::<Termios2>(k, arg).map(|_| 0),
        TIOCSWINSZ => read_struct::<Winsize>(k, arg).map(|_| 0),
        TIOCSPGRP => Ok(0),
        TIOCGWINSZ => {
            let w = Winsize {
                ws_row: 24,
                ws_col: 80,
                ..Winsize::default()
            };
            write_struct(k, arg, &w).map(|_| 0)
        }
        TIOCGPGRP => write_u32(k, arg, p.process.pid).map(|_| 0),
        _ => Err(Errno::ENOTTY),
    }
}
