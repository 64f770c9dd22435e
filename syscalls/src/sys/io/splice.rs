//! Moving data through pipes without a user buffer: splice, tee and vmsplice.
//!
//! One end of a splice is a pipe; each call moves what one step can (what the input pipe
//! holds, or what the output pipe has room for), waiting as read and write would unless
//! `SPLICE_F_NONBLOCK` or the pipe's `O_NONBLOCK` says `EAGAIN`. Data never leaves the
//! kernel but goes through the thread's bounce buffer; bytes the output did not take go back
//! to the front of the input pipe, so nothing is lost. Neighbours: `copy` (sendfile,
//! copy_file_range), `rw` (readv and writev, which vmsplice is here).

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use coracle_vfs::pipe::pipe_of;
use coracle_vfs::types::oflags::*;
use coracle_vfs::OpenFile;

use super::{wait_for_file, CHUNK};
use crate::signal::SIGPIPE;
use crate::uaccess::{read_u64, write_u64};
use crate::{Current, Errno, Platform, SysResult};

const SPLICE_F_NONBLOCK: u32 = 2;
/// MOVE, NONBLOCK, MORE and GIFT: the flags Linux knows.
const SPLICE_F_ALL: u32 = 0xf;

/// The offset a splice end was given: `None` for the file's own offset (a null pointer).
fn user_offset(k: &dyn Platform, ptr: u64, file: &OpenFile) -> Result<Option<u64>, Errno> {
    if ptr == 0 {
        return Ok(None);
    }
    if pipe_of(file.ops()).is_some() {
        return Err(Errno::ESPIPE);
    }
    if !file.ops().seekable() {
        return Err(Errno::EINVAL);
    }
    let o = read_u64(k, ptr)? as i64;
    u64::try_from(o).map(Some).map_err(|_| Errno::EINVAL)
}

/// Room in `file`'s pipe, or `None` when it is not a pipe.
fn pipe_room(file: &OpenFile) -> Option<usize> {
    let pipe = pipe_of(file.ops())?;
    let held = file.ops().readable_bytes().unwrap_or(0);
    Some(pipe.capacity().saturating_sub(held))
}

/// Waits on `file` (registering first and trying once more, as the read and write loops do),
/// or `EAGAIN` when the call may not block.
fn wait_or_again(
    p: &mut Current,
    file: &OpenFile,
    nonblock: bool,
    registered: &mut bool,
) -> Result<(), Errno> {
    if nonblock {
        return Err(Errno::EAGAIN);
    }
    match wait_for_file(p, file, registered) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

/// The two ends of a splice or tee, once the flags are known ones (`EINVAL`) and both
/// descriptors open (`EBADF`).
fn ends(
    p: &Current,
    fd_in: i32,
    fd_out: i32,
    flags: u32,
) -> Result<(Arc<OpenFile>, Arc<OpenFile>), Errno> {
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    Ok((p.file(fd_in)?, p.file(fd_out)?))
}

/// One read of up to `want` bytes of `input` (at `at`, or at its own offset) into the
/// thread's bounce buffer, which the caller gives back to `p.bounce`. An empty input pipe
/// (`EAGAIN` when `pipe`) is waited on, or is `EAGAIN` when `nonblock`, and answers
/// `Ok(None)`: the caller's loop starts over.
fn read_bounced(
    p: &mut Current,
    input: &OpenFile,
    at: Option<u64>,
    want: usize,
    (pipe, nonblock): (bool, bool),
    registered: &mut bool,
) -> Result<Option<(Vec<u8>, usize)>, Errno> {
    let mut buf = core::mem::take(&mut p.bounce);
    if buf.len() < CHUNK {
        buf = vec![0u8; CHUNK];
    }
    let r = match at {
        Some(o) => input.pread(o as i64, &mut buf[..want]),
        None => input.read(&mut buf[..want]),
    };
    match r {
        Ok(n) => Ok(Some((buf, n))),
        Err(e) => {
            p.bounce = buf;
            if e == Errno::EAGAIN && pipe {
                wait_or_again(p, input, nonblock, registered)?;
                return Ok(None);
            }
            Err(e)
        }
    }
}

pub(crate) fn splice(
    p: &mut Current,
    k: &mut dyn Platform,
    fd_in: i32,
    off_in: u64,
    fd_out: i32,
    off_out: u64,
    len: u64,
    flags: u32,
) -> SysResult {
    let (input, output) = ends(p, fd_in, fd_out, flags)?;
    if !input.readable() || !output.writable() {
        return Err(Errno::EBADF);
    }
    let (in_pipe, out_pipe) = (pipe_of(input.ops()), pipe_of(output.ops()));
    if in_pipe.is_none() && out_pipe.is_none() {
        return Err(Errno::EINVAL);
    }
    if let (Some(a), Some(b)) = (in_pipe, out_pipe) {
        if Arc::ptr_eq(a, b) {
            return Err(Errno::EINVAL);
        }
    }
    let mut in_off = user_offset(k, off_in, &input)?;
    let mut out_off = user_offset(k, off_out, &output)?;
    if out_pipe.is_none() && output.flags() & O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let nonblock = |f: &OpenFile| {
        flags & SPLICE_F_NONBLOCK != 0 || (pipe_of(f.ops()).is_some() && f.nonblocking())
    };
    // Each end has its own wait registration: a full output and an empty input are
    // different queues.
    let (mut wait_in, mut wait_out) = (false, false);
    loop {
        let mut want = (len as usize).min(CHUNK);
        if let Some(room) = pipe_room(&output) {
            if pipe_of(output.ops()).is_some_and(|pipe| pipe.readers() == 0) {
                crate::signal::raise(p, SIGPIPE);
                return Err(Errno::EPIPE);
            }
            if room == 0 {
                wait_or_again(p, &output, nonblock(&output), &mut wait_out)?;
                continue;
            }
            want = want.min(room);
        }
        let how = (in_pipe.is_some(), nonblock(&input));
        let Some((buf, n)) = read_bounced(p, &input, in_off, want, how, &mut wait_in)? else {
            continue;
        };
        if n == 0 {
            p.bounce = buf;
            return Ok(0);
        }
        let w = match out_off {
            Some(o) => output.pwrite(o as i64, &buf[..n]),
            None => output.write(&buf[..n]),
        };
        let written = match w {
            Ok(w) => w,
            Err(e) => {
                if in_pipe.is_some() {
                    input.ops().unread(&buf[..n]);
                }
                p.bounce = buf;
                if e == Errno::EPIPE {
                    crate::signal::raise(p, SIGPIPE);
                }
                return Err(e);
            }
        };
        if written < n && in_pipe.is_some() {
            input.ops().unread(&buf[written..n]);
        }
        p.bounce = buf;
        if let Some(o) = in_off.as_mut() {
            *o += written as u64;
            write_u64(k, off_in, *o)?;
        }
        if let Some(o) = out_off.as_mut() {
            *o += written as u64;
            write_u64(k, off_out, *o)?;
        }
        return Ok(written as u64);
    }
}

/// tee(2): copies what `fd_in`'s pipe holds into `fd_out`'s pipe without consuming it.
pub(crate) fn tee(
    p: &mut Current,
    _k: &mut dyn Platform,
    fd_in: i32,
    fd_out: i32,
    len: u64,
    flags: u32,
) -> SysResult {
    let (input, output) = ends(p, fd_in, fd_out, flags)?;
    let (Some(a), Some(b)) = (pipe_of(input.ops()), pipe_of(output.ops())) else {
        return Err(Errno::EINVAL);
    };
    if !input.readable() || !output.writable() {
        return Err(Errno::EBADF);
    }
    if Arc::ptr_eq(a, b) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let nonblock = |f: &OpenFile| flags & SPLICE_F_NONBLOCK != 0 || f.nonblocking();
    let (mut wait_in, mut wait_out) = (false, false);
    loop {
        if b.readers() == 0 {
            crate::signal::raise(p, SIGPIPE);
            return Err(Errno::EPIPE);
        }
        let room = pipe_room(&output).unwrap_or(0);
        if room == 0 {
            wait_or_again(p, &output, nonblock(&output), &mut wait_out)?;
            continue;
        }
        let want = (len as usize).min(CHUNK).min(room);
        let how = (true, nonblock(&input));
        let Some((buf, n)) = read_bounced(p, &input, None, want, how, &mut wait_in)? else {
            continue;
        };
        // Peeked, not consumed: the bytes go back before anyone else can read.
        input.ops().unread(&buf[..n]);
        let r = if n == 0 {
            Ok(0)
        } else {
            output.write(&buf[..n])
        };
        p.bounce = buf;
        return r.map(|w| w as u64);
    }
}

/// vmsplice(2): user memory into a pipe (as writev) or out of one (as readv).
pub(crate) fn vmsplice(
    p: &mut Current,
    k: &mut dyn Platform,
    fd: i32,
    iov: u64,
    nr_segs: u64,
    flags: u32,
) -> SysResult {
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let file = p.file(fd)?;
    if pipe_of(file.ops()).is_none() {
        return Err(Errno::EBADF);
    }
    if file.writable() {
        super::writev(p, k, fd, iov, nr_segs)
    } else if file.readable() {
        super::readv(p, k, fd, iov, nr_segs)
    } else {
        Err(Errno::EBADF)
    }
}
